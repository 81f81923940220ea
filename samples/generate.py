#!/usr/bin/env python3
"""Generate the sample Base44 apps used to exercise offbase.

    python3 samples/generate.py

Writes samples/{crm,tasks,marketplace}/ (Base44 CLI layout: base44/.app.jsonc,
base44/config.jsonc, base44/entities/*.jsonc, plus data/<Entity>.jsonl records as the
Base44 entity API returns them), samples/manifest.json (record counts and planted
cases, machine-readable) and samples/README.md.

Standard library only. Deterministic: every random choice comes from a
random.Random with a fixed seed and every date from fixed base dates, so running the
script twice gives byte-identical files. The generated parts of each app directory
(GENERATED below) are removed and rewritten on every run; everything else in it is
hand-written and kept (the exported source code of `tasks`: src/, base44/functions/,
functions/, public/, index.html, package.json, ..., with `// expect:` markers for
`offbase assess`). After writing, the script re-reads everything it wrote and checks it
(JSONC parses after stripping comments and trailing commas, every JSONL line is JSON,
built-in fields, ordering, timestamps) and checks the hand-written markers; it exits
non-zero if a check fails.
"""

import hashlib
import json
import os
import random
import re
import shutil
import sys
import unicodedata
import uuid
from datetime import datetime, timedelta, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
BASE = datetime(2025, 9, 1, 8, 0, 0)  # earliest created_date of any record
END = datetime(2026, 6, 1, 0, 0, 0)  # no created_date/updated_date at or after this
I64_MAX = 9223372036854775807
I64_MIN = -9223372036854775808
BUILTINS = ["id", "created_date", "updated_date", "created_by", "created_by_id", "is_sample"]
ABSENT = object()  # a field value that means "leave the key out of the record"
# What generate.py writes inside samples/<app>/ (relative paths; folders end with "/").
# Everything else there is hand-written source code and is never touched.
GENERATED = ["base44/.app.jsonc", "base44/config.jsonc", "base44/entities/", "data/"]


def dumps_line(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def ascii_fold(text):
    text = (text.replace("Ø", "O").replace("ø", "o").replace("Ł", "L").replace("ł", "l")
            .replace("ß", "ss").replace("'", ""))
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^A-Za-z0-9]+", "", text).lower()


def fmt_ts(dt, z):
    """Base44 timestamp text: stored form `...SS.ffffff` (fraction left out when zero),
    or the freshly-created form `...SS.sssZ`."""
    base = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if z:
        return base + ".%03dZ" % (dt.microsecond // 1000)
    if dt.microsecond == 0:
        return base
    return base + ".%06d" % dt.microsecond


def parse_ts(text):
    t = text[:-1] if text.endswith("Z") else text
    for f in ("%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(t, f)
        except ValueError:
            pass
    raise ValueError("bad timestamp %r" % text)


# --------------------------------------------------------------------------- JSONC

def jsonc(obj, comments=None, trailing=()):
    """Pretty-print obj as JSONC.

    comments: {path tuple: [lines]}; a line starting with "//" or "/*" is written on its own
    line before the key at that path (path () = before the opening brace); a line starting
    with "@eol " is appended after the key's value on the same line.
    trailing: paths of objects/arrays that get a trailing comma after their last member.
    """
    comments = comments or {}

    def scalar_list(v):
        return all(not isinstance(x, (dict, list)) for x in v)

    def emit(v, path, ind):
        pad = "  " * ind
        if isinstance(v, dict) and v:
            lines = ["{"]
            items = list(v.items())
            for n, (key, val) in enumerate(items):
                p = path + (key,)
                eol = ""
                for c in comments.get(p, []):
                    if c.startswith("@eol "):
                        eol = "  " + c[5:]
                    else:
                        lines.append(pad + "  " + c)
                comma = "," if n < len(items) - 1 or path in trailing else ""
                lines.append(pad + "  " + json.dumps(key, ensure_ascii=False) + ": "
                             + emit(val, p, ind + 1) + comma + eol)
            lines.append(pad + "}")
            return "\n".join(lines)
        if isinstance(v, list) and v:
            if scalar_list(v):
                inner = ", ".join(json.dumps(x, ensure_ascii=False) for x in v)
                return "[" + inner + (", " if path in trailing else "") + "]"
            lines = ["["]
            for n, x in enumerate(v):
                comma = "," if n < len(v) - 1 or path in trailing else ""
                lines.append(pad + "  " + emit(x, path + (n,), ind + 1) + comma)
            lines.append(pad + "]")
            return "\n".join(lines)
        return json.dumps(v, ensure_ascii=False)

    head = "".join(c + "\n" for c in comments.get((), []))
    return head + emit(obj, (), 0) + "\n"


def strip_jsonc(text):
    """Remove // and /* */ comments (outside strings), then trailing commas."""
    out = []
    i, n, in_str = 0, len(text), False
    while i < n:
        c = text[i]
        if in_str:
            out.append(c)
            if c == "\\":
                out.append(text[i + 1])
                i += 2
                continue
            if c == '"':
                in_str = False
            i += 1
            continue
        if c == '"':
            in_str = True
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j < 0:
                raise ValueError("unterminated block comment")
            i = j + 2
            continue
        out.append(c)
        i += 1
    s = "".join(out)
    out = []
    i, n, in_str = 0, len(s), False
    while i < n:
        c = s[i]
        if in_str:
            out.append(c)
            if c == "\\":
                out.append(s[i + 1])
                i += 2
                continue
            if c == '"':
                in_str = False
            i += 1
            continue
        if c == '"':
            in_str = True
        elif c == ",":
            j = i + 1
            while j < n and s[j] in " \t\r\n":
                j += 1
            if j < n and s[j] in "}]":
                i += 1
                continue
        out.append(c)
        i += 1
    return "".join(out)


# --------------------------------------------------------------------------- app model

class App:
    def __init__(self, name, seed):
        self.name = name
        self.rng = random.Random(seed)
        self.app_id = hashlib.sha256(("offbase-sample:" + name).encode()).hexdigest()[:24]
        self.used_ids = set()
        self.schemas = []  # (file name, schema dict, comments, trailing)
        self.data = {}  # entity -> list of (created dt, record)
        self.planted = []  # dicts: entity, id, case, what
        self.config_comment = "// Base44 project configuration (generated by samples/generate.py)"

    # ids ---------------------------------------------------------------
    def new_id(self, dt):
        """ObjectId-like: 8 hex of the creation second, 16 random hex."""
        secs = int(dt.replace(tzinfo=timezone.utc).timestamp())
        while True:
            rid = "%08x%016x" % (secs, self.rng.getrandbits(64))
            if rid not in self.used_ids:
                self.used_ids.add(rid)
                return rid

    def ghost_id(self, dt=None):
        """An id shaped like a real one that belongs to no record (for orphans)."""
        dt = dt or self.rand_dt(BASE, END - timedelta(days=1))
        return self.new_id(dt)

    def hex9(self):
        return "%09x" % self.rng.getrandbits(36)

    def service_id(self):
        return "service_" + str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    # time --------------------------------------------------------------
    def rand_dt(self, lo, hi):
        lo = max(lo, BASE)
        if hi <= lo:
            return lo.replace(microsecond=self.rng.randrange(1000) * 1000)
        span = int((hi - lo).total_seconds())
        dt = lo + timedelta(seconds=self.rng.randrange(max(span, 1)))
        return dt.replace(microsecond=self.rng.randrange(1000) * 1000)

    def after(self, dt, max_days=30):
        hi = min(dt + timedelta(days=max_days), END - timedelta(hours=1))
        return self.rand_dt(dt + timedelta(seconds=1), hi)

    # records -----------------------------------------------------------
    def record(self, entity, created, creator, fields, rid=None, form=None):
        """Build a record with built-ins first. creator = (email, user id).
        form: 'stored' (6 fractional digits, no Z), 'z' (...sssZ), 'nofrac' (fraction 0,
        left out); chosen at random when None."""
        rng = self.rng
        if form is None:
            r = rng.random()
            form = "z" if r < 0.07 else ("nofrac" if r < 0.11 else "stored")
        if form == "nofrac":
            created = created.replace(microsecond=0)
        elif created.microsecond == 0:
            created = created.replace(microsecond=rng.randrange(1, 1000) * 1000)
        if rng.random() < 0.55:
            updated = created
        else:
            hi = min(created + timedelta(days=60), END - timedelta(seconds=1))
            updated = self.rand_dt(created + timedelta(seconds=1), hi)
            if rng.random() < 0.04:
                updated = updated.replace(microsecond=0)
            if updated < created:
                updated = created
        z = form == "z"
        rec = {
            "id": rid or self.new_id(created),
            "created_date": fmt_ts(created, z),
            "updated_date": fmt_ts(updated, z),
            "created_by": creator[0],
            "created_by_id": creator[1],
            "is_sample": False,
        }
        for k, v in fields.items():
            if v is not ABSENT:
                rec[k] = v
        self.data.setdefault(entity, []).append((created, rec))
        return rec

    def plant(self, entity, rec, case, what):
        self.planted.append({"entity": entity, "id": rec["id"], "case": case, "what": what})

    def opt(self, value, p_absent=0.1, p_null=0.03):
        r = self.rng.random()
        if r < p_absent:
            return ABSENT
        if r < p_absent + p_null:
            return None
        return value

    def pick_distinct(self, entity, k, exclude=(), pred=None):
        """k records of an entity, chosen deterministically, not already planted."""
        taken = {p["id"] for p in self.planted} | set(exclude)
        pool = [rec for _, rec in self.data[entity]
                if rec["id"] not in taken and (pred is None or pred(rec))]
        return self.rng.sample(pool, k)

    def schema(self, file_name, schema, comments=None, trailing=()):
        self.schemas.append((file_name, schema, comments or {}, set(trailing)))

    # output ------------------------------------------------------------
    def write(self):
        root = os.path.join(HERE, self.name)
        for rel in GENERATED:
            path = os.path.join(root, rel)
            if rel.endswith("/"):
                if os.path.isdir(path):
                    shutil.rmtree(path)
            elif os.path.exists(path):
                os.remove(path)
        ent_dir = os.path.join(root, "base44", "entities")
        data_dir = os.path.join(root, "data")
        os.makedirs(ent_dir)
        os.makedirs(data_dir)
        write_text(os.path.join(root, "base44", ".app.jsonc"),
                   jsonc({"id": self.app_id}))
        write_text(os.path.join(root, "base44", "config.jsonc"),
                   jsonc({"entitiesDir": "entities"}, comments={(): [self.config_comment]}))
        for file_name, schema, comments, trailing in self.schemas:
            write_text(os.path.join(ent_dir, file_name), jsonc(schema, comments, trailing))
        for entity in sorted(self.data):
            rows = sorted(self.data[entity], key=lambda t: (t[0], t[1]["id"]))
            write_text(os.path.join(data_dir, entity + ".jsonl"),
                       "".join(dumps_line(rec) + "\n" for _, rec in rows))

    def counts(self):
        return {e: len(self.data[e]) for e in sorted(self.data)}


def write_text(path, text):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


def money(x, digits):
    """Round like a JS client would send it: whole amounts as integers."""
    return int(round(x)) if digits == 0 else round(x, digits)


def ref(desc_entity):
    return {"type": "string", "description": "Reference to %s.id" % desc_entity}


def people(rng, n, domain, first, last, used=None):
    used = set() if used is None else used
    out = []
    while len(out) < n:
        f, l = rng.choice(first), rng.choice(last)
        email = "%s.%s@%s" % (ascii_fold(f), ascii_fold(l), domain)
        if email in used:
            continue
        used.add(email)
        out.append((f, l, email))
    return out


FIRST = ["Alice", "Bob", "Carlos", "Diana", "Ethan", "Fatima", "George", "Hannah", "Ivan",
         "Julia", "Kenji", "Laura", "Mohammed", "Nina", "Oscar", "Priya", "Quentin", "Rosa",
         "Samuel", "Tanya", "Umar", "Valentina", "William", "Xin", "Yara", "Zoe", "José",
         "Zoë", "François", "Søren", "Łukasz", "Ana", "Björn", "Chloé", "Renée", "Jürgen",
         "Maya", "Noah", "Olivia", "Lucas", "Amara", "Mateo", "Ingrid", "Raj", "Sofia"]
LAST = ["Anderson", "Brown", "Chen", "Dubois", "Evans", "Fischer", "García", "Hansen",
        "Ivanova", "Jensen", "Kowalski", "López", "Martin", "Nakamura", "O'Brien", "Patel",
        "Quinn", "Rossi", "Schmidt", "Tanaka", "Ueda", "Vargas", "Weber", "Xu", "Young",
        "Zimmermann", "Núñez", "Ødegaard", "Müller", "Çelik", "Levi", "Okafor", "Silva"]


# --------------------------------------------------------------------------- crm

def build_crm():
    app = App("crm", 44001)
    rng = app.rng
    dom = "northwind-sales.example"
    reps = [(e, app.new_id(BASE - timedelta(days=90 + i))) for i, (_, _, e) in
            enumerate(people(rng, 6, dom, FIRST, LAST))]
    service = ("integrations@" + dom, app.service_id())

    def creator():
        return service if rng.random() < 0.02 else rng.choice(reps)

    industries = ["Software", "Manufacturing", "Healthcare", "Finance", "Retail",
                  "Education", "Logistics", "Energy"]

    # schemas -----------------------------------------------------------
    app.schema("Company.jsonc", {
        "name": "Company", "type": "object", "title": "Company",
        "description": "An organisation we sell to",
        "properties": {
            "name": {"type": "string", "description": "Legal or trading name"},
            "domain": {"type": "string", "format": "hostname"},
            "industry": {"type": "string", "enum": industries},
            "employee_count": {"type": "integer", "minimum": 0},
            "annual_revenue": {"type": "number", "description": "USD"},
            "address": {"type": "object", "properties": {
                "street": {"type": "string"}, "city": {"type": "string"},
                "state": {"type": "string"}, "postal_code": {"type": "string"},
                "country": {"type": "string"}}, "required": ["city"]},
            "tags": {"type": "array", "items": {"type": "string"}},
            "is_customer": {"type": "boolean", "default": False},
        },
        "required": ["name"],
        "rls": {"create": True, "read": True, "update": True,
                "delete": {"user_condition": {"role": "admin"}}},
    }, comments={(): ["// Company: one row per organisation in the pipeline."],
                 ("properties", "employee_count"): ["// Headcount as reported by the customer"]})

    app.schema("contact.jsonc", {
        "name": "Contact", "type": "object",
        "properties": {
            "first_name": {"type": "string"},
            "last_name": {"type": "string"},
            "email": {"type": "string", "format": "email"},
            "phone": {"type": "string"},
            "company_id": {"type": "string", "description": "Reference to Company.id"},
            "title": {"type": "string", "description": "Job title"},
            "linkedinUrl": {"type": "string", "format": "uri",
                            "description": "Profile URL, e.g. https://www.linkedin.com/in/someone"},
            "notes": {"type": "string", "format": "richtext"},
        },
        "required": ["first_name", "last_name"],
    }, comments={(): ["// Contacts belong to a Company (company_id); nothing enforces it."],
                 ("properties", "linkedinUrl"): ["/* camelCase on purpose: the field was",
                                                 "   added from the Base44 editor */"]},
        trailing={("properties",)})

    app.schema("Deal.jsonc", {
        "name": "Deal", "type": "object",
        "properties": {
            "title": {"type": "string"},
            "company_id": ref("Company"),
            "contact_id": ref("Contact"),
            "stage": {"type": "string",
                      "enum": ["Lead", "Qualified", "Proposal", "Closed Won", "Closed Lost"],
                      "default": "Lead"},
            "amount": {"type": "number", "minimum": 0},
            "close_date": {"type": "string", "format": "date"},
            "probability": {"type": "integer", "minimum": 0, "maximum": 100},
            "owner_email": {"type": "string", "format": "email"},
        },
        "required": ["title"],
    }, comments={("properties", "stage"): ["@eol // \"Negotiation\" was removed in 2025"]})

    app.schema("activity-log.jsonc", {
        "name": "Activity", "type": "object", "description": "Calls, emails, meetings, notes",
        "properties": {
            "type": {"type": "string", "enum": ["call", "email", "meeting", "note"],
                     "enumNames": ["Call", "Email", "Meeting", "Note"]},
            "subject": {"type": "string"},
            "body": {"type": "string"},
            "deal_id": ref("Deal"),
            "contact_id": ref("Contact"),
            "due_at": {"type": "string", "format": "date-time"},
            "completed": {"type": "boolean", "default": False},
        },
        "required": ["type", "subject"],
    }, comments={(): ["// File name differs from the entity name on purpose: read \"name\"."]},
        trailing={(), ("properties", "type", "enum")})

    # companies ---------------------------------------------------------
    stems = ["Northwind", "Blue Harbor", "Summit", "Acme", "Globex", "Initech", "Vandelay",
             "Hooli", "Cyberdyne", "Tyrell", "Oceanic", "Aperture", "Granite", "Redwood",
             "Silverline", "Brightwater", "Ironclad", "Lumen", "Polaris", "Cobalt"]
    suffixes = ["Labs", "Systems", "Logistics", "Health", "Capital", "Foods", "Energy",
                "Robotics", "Analytics", "Partners"]
    combos = [s + " " + x for s in stems for x in suffixes]
    rng.shuffle(combos)
    special_names = ["Café Lumière SARL", "Müller & Söhne GmbH", "Ñandú Logística S.A.",
                     "אורות טכנולוגיות בע״מ", "شركة النخيل للتجارة", "O'Reilly & Daughters"]
    cities = [("Seattle", "WA", "US"), ("Austin", "TX", "US"), ("Boston", "MA", "US"),
              ("Paris", None, "FR"), ("München", "BY", "DE"), ("São Paulo", "SP", "BR"),
              ("Tel Aviv", None, "IL"), ("Dubai", None, "AE"), ("Toronto", "ON", "CA"),
              ("London", None, "GB")]
    tag_pool = ["enterprise", "smb", "partner", "churn-risk", "upsell", "reference", "trial"]
    companies = []
    for i in range(60):
        name = special_names[i // 10] if i % 10 == 7 else combos[i]
        created = app.rand_dt(BASE, BASE + timedelta(days=100))
        city, state, country = rng.choice(cities)
        address = {"street": "%d %s" % (rng.randrange(1, 999), rng.choice(
            ["Main St", "Market St", "Rue de Rivoli", "Harbor Rd", "Oak Ave"])),
            "city": city, "postal_code": "%05d" % rng.randrange(100000), "country": country}
        if state:
            address["state"] = state
        fields = {
            "name": name,
            "domain": (ascii_fold(name)[:14] or "company%d" % i) + rng.choice([".com", ".io", ".example"]),
            "industry": rng.choice(industries),
            "employee_count": app.opt(rng.choice([5, 12, 40, 85, 250, 1200, 4800]) + rng.randrange(5), 0.08),
            "annual_revenue": app.opt(money(rng.uniform(2e5, 5e7), rng.choice([0, 2])), 0.15),
            "address": app.opt(address, 0.1, 0.05),
            "tags": rng.sample(tag_pool, rng.randrange(0, 4)),
            "is_customer": app.opt(rng.random() < 0.4, 0.2, 0.0),
        }
        rid = None
        form = None
        if i < 3:  # seeded by the template: seed-ish ids, round timestamps
            rid = "seed-company-%d" % (i + 1)
            created = BASE + timedelta(minutes=i)
            form = "nofrac"
        companies.append(app.record("Company", created, creator(), fields, rid=rid, form=form))
    for c in companies[:3]:
        app.plant("Company", c, "seed-id", "id is not ObjectId-like (seed record)")
    for c in companies:
        if c.get("name") in special_names:
            app.plant("Company", c, "non-ascii", "name %s" % json.dumps(c["name"], ensure_ascii=False))

    # contacts ----------------------------------------------------------
    contacts = []
    titles = ["CEO", "CTO", "VP Sales", "Head of Procurement", "Engineering Manager",
              "Office Manager", "CFO", "Product Lead", None]
    notes_pool = ["<p>Met at the spring trade show.</p>", "<p>Prefers email over calls.</p>",
                  "<p>Decision maker for <strong>all</strong> tooling purchases.</p>",
                  "<p>Introduced by a partner.</p>", "<ul><li>Budget Q3</li><li>Needs SSO</li></ul>"]
    for i in range(200):
        comp = rng.choice(companies)
        f, l, _ = people(rng, 1, "x", FIRST, LAST)[0]
        cdom = comp["domain"]
        created = app.after(parse_ts(comp["created_date"]), 60)
        fields = {
            "first_name": f, "last_name": l,
            "email": "%s.%s@%s" % (ascii_fold(f), ascii_fold(l), cdom),
            "phone": app.opt("+1-%03d-%03d-%04d" % (rng.randrange(200, 999), rng.randrange(1000),
                                                    rng.randrange(10000)), 0.2, 0.05),
            "company_id": comp["id"],
            "title": app.opt(rng.choice(titles), 0.1),
            "linkedinUrl": app.opt("https://www.linkedin.com/in/%s-%s-%s" % (
                ascii_fold(f), ascii_fold(l), app.hex9()[:6]), 0.4, 0.05),
            "notes": app.opt(rng.choice(notes_pool), 0.5, 0.05),
        }
        contacts.append(app.record("Contact", created, creator(), fields))
    contact_by_company = {}
    for c in contacts:
        contact_by_company.setdefault(c["company_id"], []).append(c)

    # deals -------------------------------------------------------------
    stages = ["Lead", "Qualified", "Proposal", "Closed Won", "Closed Lost"]
    prob = {"Lead": 10, "Qualified": 25, "Proposal": 50, "Closed Won": 100, "Closed Lost": 0,
            "Negotiation": 75}
    products = ["Platform licence", "Support renewal", "Onboarding package", "Data add-on",
                "Enterprise upgrade", "Pilot", "Multi-year deal", "Expansion seats"]
    deals = []
    for i in range(150):
        comp = rng.choice(companies)
        cands = contact_by_company.get(comp["id"], [])
        contact = rng.choice(cands) if cands else None
        created = app.after(parse_ts(contact["created_date"] if contact else comp["created_date"]), 45)
        stage = rng.choice(stages)
        fields = {
            "title": "%s – %s" % (comp.get("name", "Unknown"), rng.choice(products)),
            "company_id": comp["id"],
            "contact_id": contact["id"] if contact else None,
            "stage": app.opt(stage, 0.05, 0.0),
            "amount": app.opt(money(rng.uniform(1000, 250000), rng.choice([0, 2])), 0.05),
            "close_date": app.opt((created + timedelta(days=rng.randrange(10, 180))).strftime("%Y-%m-%d"), 0.1, 0.1),
            "probability": prob[stage],
            "owner_email": rng.choice(reps)[0],
        }
        deals.append(app.record("Deal", created, creator(), fields))

    # activities --------------------------------------------------------
    subjects = {"call": ["Call with {n}", "Discovery call: {n}", "Pricing call with {n}"],
                "email": ["Sent proposal to {n}", "Follow-up email to {n}", "Re: contract terms"],
                "meeting": ["Demo for {n}", "On-site meeting with {n}", "QBR with {n}"],
                "note": ["Note about {n}", "Internal note", "Account plan update"]}
    bodies = ["Discussed timeline and budget.", "They want a second demo for the ops team.",
              "Waiting on legal review.", "Asked for a discount on the annual plan.",
              "Good call, next step is a technical deep dive.", "No answer, left a voicemail.",
              "Shared the security questionnaire.", "Champion is leaving the company.",
              "Agreed to a pilot starting next month.", "Sent the updated quote."]
    deal_contacts = [d for d in deals if d.get("contact_id")]
    for i in range(3000):
        deal = rng.choice(deal_contacts)
        typ = rng.choice(["call", "call", "email", "email", "meeting", "note"])
        cname = next(c for c in contacts if c["id"] == deal["contact_id"])["first_name"]
        created = app.after(parse_ts(deal["created_date"]), 60)
        due = created + timedelta(days=rng.randrange(-3, 21), hours=rng.randrange(0, 9))
        due = due.replace(minute=rng.choice([0, 15, 30, 45]), second=0, microsecond=0)
        r = rng.random()
        if r < 0.7:
            due_at = due.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        elif r < 0.9:
            due_at = due.strftime("%Y-%m-%dT%H:%M:%SZ")
        else:
            due_at = due.strftime("%Y-%m-%dT%H:%M")  # datetime-local input
        fields = {
            "type": typ,
            "subject": rng.choice(subjects[typ]).format(n=cname),
            "body": app.opt(" ".join(rng.sample(bodies, rng.randrange(1, 3))), 0.15, 0.05),
            "deal_id": deal["id"],
            "contact_id": app.opt(deal["contact_id"], 0.1, 0.0),
            "due_at": app.opt(due_at, 0.1, 0.05),
            "completed": rng.random() < 0.6,
        }
        app.record("Activity", created, creator(), fields)

    # planted trouble ---------------------------------------------------
    for c in app.pick_distinct("Contact", 3):
        c["company_id"] = app.ghost_id()
        app.plant("Contact", c, "orphan-ref", "company_id %s matches no Company" % c["company_id"])
    c = app.pick_distinct("Contact", 1)[0]
    c["company_id"] = ""
    app.plant("Contact", c, "orphan-ref", "company_id is the empty string \"\"")

    for d in app.pick_distinct("Deal", 2, pred=lambda d: "stage" in d):
        d["stage"] = "Negotiation"
        d["probability"] = 75
        app.plant("Deal", d, "enum-outside", "stage \"Negotiation\" is not in the stage enum")
    d = app.pick_distinct("Deal", 1)[0]
    del d["title"]
    app.plant("Deal", d, "missing-required", "required field title is absent")
    d = app.pick_distinct("Deal", 1)[0]
    d["title"] = "[URGENT] " + d["title"]
    app.plant("Deal", d, "text-bracket", "title starts with \"[URGENT]\" (plain text, not JSON)")

    c = app.pick_distinct("Company", 1, exclude=[x["id"] for x in companies if x["name"] in special_names])[0]
    del c["name"]
    app.plant("Company", c, "missing-required", "required field name is absent")
    for c in app.pick_distinct("Company", 3):
        c["legacy_score"] = rng.randrange(1, 100)
        app.plant("Company", c, "undeclared-field", "has legacy_score = %d, not in the schema" % c["legacy_score"])
    cands = app.pick_distinct("Company", 3, pred=lambda c: "employee_count" in c)
    cands[0]["employee_count"] = "about 50"
    app.plant("Company", cands[0], "wrong-type", "employee_count is the string \"about 50\" (schema: integer)")
    cands[1]["employee_count"] = I64_MAX
    app.plant("Company", cands[1], "bigint-bound", "employee_count = 9223372036854775807 (i64 max)")
    cands[2]["employee_count"] = I64_MIN
    app.plant("Company", cands[2], "bigint-bound", "employee_count = -9223372036854775808 (i64 min; also below minimum 0)")

    k = app.pick_distinct("Contact", 6)
    k[0]["first_name"], k[0]["last_name"] = "דוד", "כהן"
    app.plant("Contact", k[0], "non-ascii", "Hebrew (right-to-left) first_name/last_name")
    k[1]["first_name"], k[1]["last_name"] = "ليلى", "حداد"
    app.plant("Contact", k[1], "non-ascii", "Arabic (right-to-left) first_name/last_name")
    k[2]["first_name"], k[2]["last_name"] = "Zoë", "Ødegaard-Núñez"
    app.plant("Contact", k[2], "non-ascii", "accented first_name/last_name")
    k[3]["notes"] = "<p>Loves the product 🚀🎉</p>"
    app.plant("Contact", k[3], "non-ascii", "notes contain emoji outside the BMP (U+1F680, U+1F389)")
    k[4]["notes"] = "Call back after the board meeting.\nAsk about the renewal budget."
    app.plant("Contact", k[4], "newline", "notes contain an embedded newline (LF)")
    k[5]["first_name"] = "  Maria "
    app.plant("Contact", k[5], "whitespace", "first_name has leading and trailing spaces")

    k = app.pick_distinct("Activity", 7)
    k[0]["subject"] = "[URGENT] Contract expires Friday"
    app.plant("Activity", k[0], "text-bracket", "subject starts with \"[URGENT]\"")
    k[1]["body"] = "Summary:\n- budget approved\n- legal next week"
    app.plant("Activity", k[1], "newline", "body has embedded newlines (LF)")
    k[2]["body"] = "Line one from Outlook\r\nLine two"
    app.plant("Activity", k[2], "newline", "body has a CRLF line break")
    k[3]["body"] = "{not json} just braces in text"
    app.plant("Activity", k[3], "text-bracket", "body starts with \"{\" but is plain text")
    k[4]["type"] = "sms"
    app.plant("Activity", k[4], "enum-outside", "type \"sms\" is not in the type enum")
    k[5]["outcome"] = "positive"
    app.plant("Activity", k[5], "undeclared-field", "has outcome = \"positive\", not in the schema")
    k[6]["deal_id"] = app.ghost_id()
    app.plant("Activity", k[6], "orphan-ref", "deal_id %s matches no Deal" % k[6]["deal_id"])
    return app


# --------------------------------------------------------------------------- tasks

def build_tasks():
    app = App("tasks", 44002)
    rng = app.rng
    dom = "brightloop.example"
    team = people(rng, 12, dom, FIRST, LAST)
    team_emails = [e for _, _, e in team]
    members = [(e, app.new_id(BASE - timedelta(days=30 + i))) for i, e in enumerate(team_emails)]
    service = ("automations@" + dom, app.service_id())

    def creator():
        return service if rng.random() < 0.02 else rng.choice(members)

    app.schema("project.jsonc", {
        "name": "Project", "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 120},
            "description": {"type": "string"},
            "status": {"type": "string", "enum": ["active", "on_hold", "archived"], "default": "active"},
            "color": {"type": "string", "pattern": "^#[0-9a-fA-F]{6}$"},
            "owner_email": {"type": "string", "format": "email"},
            "start_date": {"type": "string", "format": "date"},
            "member_emails": {"type": "array", "items": {"type": "string", "format": "email"}},
        },
        "required": ["name"],
        "rls": {"read": True, "write": {"$or": [{"data.owner_email": "{{user.email}}"},
                                                {"user_condition": {"role": "admin"}}]}},
    }, comments={(): ["// Projects group tasks. \"write\" = create + update + delete."]},
        trailing={("rls",)})

    app.schema("Task.jsonc", {
        "name": "Task", "type": "object",
        "properties": {
            "title": {"type": "string"},
            "project_id": {"type": "string", "description": "Reference to Project.id"},
            "status": {"type": "string", "enum": ["todo", "in_progress", "done"], "default": "todo"},
            "priority": {"type": "integer", "enum": [1, 2, 3], "enumNames": ["High", "Medium", "Low"]},
            "due_date": {"type": "string", "format": "date"},
            "due_time": {"type": "string", "format": "time"},
            "assignee_email": {"type": "string", "format": "email"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "estimateHours": {"type": "number", "minimum": 0},
            "parent_task_id": {"type": "string", "description": "Reference to Task.id (sub-task)"},
            "checklist": {"type": "array", "items": {"type": "object", "properties": {
                "text": {"type": "string"}, "done": {"type": "boolean", "default": False}},
                "required": ["text"]}},
            "created_date": {"type": "string", "format": "date-time",
                             "description": "Declared so the list view can sort on it; set by the platform"},
        },
        "required": ["title"],
        "rls": {"create": True,
                "read": {"$or": [{"created_by": "{{user.email}}"},
                                 {"data.assignee_email": "{{user.email}}"},
                                 {"user_condition": {"role": "admin"}}]}},
    }, comments={("properties", "created_date"): ["// re-declares a built-in field"],
                 ("properties", "estimateHours"): ["// camelCase: legacy from the first version"]},
        trailing={("properties", "checklist", "items", "properties")})

    app.schema("task-comment.jsonc", {
        "name": "Comment", "type": "object",
        "properties": {
            "task_id": ref("Task"),
            "body": {"type": "string"},
            "author_email": {"type": "string", "format": "email"},
            "mentions": {"type": "array", "items": {"type": "string"},
                         "description": "Emails of mentioned people"},
        },
        "required": ["task_id", "body"],
    }, comments={(): ["/*", " * Comments on tasks.", " * Entity name is \"Comment\"; the file name is not.", " */"]})

    names = ["Website Redesign", "Mobile App v2", "Q1 Marketing Campaign", "Data Warehouse Migration",
             "Customer Onboarding", "Security Audit", "Office Move", "Hiring Pipeline", "API Gateway",
             "Billing Revamp", "Launch 🚀 Spring Release", "השקת אתר חדש", "Documentation Overhaul",
             "Partner Portal", "Analytics Dashboard", "Support Chatbot", "Infrastructure Cost Cuts",
             "Localization (i18n)", "Accessibility Review", "Année fiscale 2026 – clôture"]
    projects = []
    for i, name in enumerate(names):
        created = app.rand_dt(BASE, BASE + timedelta(days=150))
        fields = {
            "name": name,
            "description": app.opt("Goals, scope and milestones for %s." % name, 0.2, 0.05),
            "status": rng.choice(["active", "active", "active", "on_hold", "archived"]),
            "color": "#%06x" % rng.getrandbits(24),
            "owner_email": rng.choice(team_emails),
            "start_date": app.opt(created.strftime("%Y-%m-%d"), 0.1, 0.0),
            "member_emails": rng.sample(team_emails, rng.randrange(1, 7)),
        }
        p = app.record("Project", created, creator(), fields)
        projects.append(p)
    for p in projects:
        if p["name"] in ("Launch 🚀 Spring Release", "השקת אתר חדש", "Année fiscale 2026 – clôture"):
            app.plant("Project", p, "non-ascii", "name %s" % json.dumps(p["name"], ensure_ascii=False))

    verbs = ["Draft", "Review", "Update", "Fix", "Design", "Test", "Deploy", "Write", "Plan", "Refactor"]
    objs = ["login page", "onboarding email", "pricing table", "release notes", "database indexes",
            "CI pipeline", "landing page copy", "user survey", "error handling", "invoice template",
            "search filters", "dark mode"]
    tag_pool = ["frontend", "backend", "design", "copy", "ops", "bug", "research", "quick-win"]
    check_pool = ["Write spec", "Get sign-off", "Implement", "Add tests", "Update docs", "Demo"]
    tasks = []
    for i in range(400):
        proj = rng.choice(projects)
        created = app.after(parse_ts(proj["created_date"]), 60)
        siblings = [t for t in tasks if t.get("project_id") == proj["id"]]
        parent = rng.choice(siblings) if siblings and rng.random() < 0.15 else None
        if parent is not None and parse_ts(parent["created_date"]) > created:
            parent = None
        due = created + timedelta(days=rng.randrange(1, 45))
        fields = {
            "title": "%s %s" % (rng.choice(verbs), rng.choice(objs)),
            "project_id": proj["id"],
            "status": rng.choice(["todo", "in_progress", "done", "done"]),
            "priority": app.opt(rng.choice([1, 2, 2, 3]), 0.1, 0.0),
            "due_date": app.opt(due.strftime("%Y-%m-%d"), 0.2, 0.05),
            "due_time": app.opt(rng.choice(["09:00", "14:30", "17:00", "10:15:00", "23:59:59"]), 0.6, 0.05),
            "assignee_email": app.opt(rng.choice(proj["member_emails"]), 0.1, 0.05),
            "tags": rng.sample(tag_pool, rng.randrange(0, 3)),
            "estimateHours": app.opt(rng.choice([0.5, 1, 2, 3, 4.5, 8, 13]), 0.3, 0.0),
            "parent_task_id": parent["id"] if parent else ABSENT,
            "checklist": app.opt([{"text": t, "done": rng.random() < 0.5}
                                  for t in rng.sample(check_pool, rng.randrange(1, 4))], 0.6, 0.0),
        }
        tasks.append(app.record("Task", created, creator(), fields))

    bodies = ["Looks good to me.", "Can we push this to next week?", "I'll pick this up tomorrow.",
              "Blocked on the API change.", "Updated the mockups, please review.",
              "Done, see the PR.", "Who owns this now?", "Added a few edge cases to the checklist."]
    for i in range(600):
        task = rng.choice(tasks)
        created = app.after(parse_ts(task["created_date"]), 30)
        author = rng.choice(members)
        mentions = rng.sample(team_emails, rng.choice([0, 0, 0, 1, 2]))
        app.record("Comment", created, author if rng.random() < 0.98 else service, {
            "task_id": task["id"],
            "body": rng.choice(bodies),
            "author_email": author[0],
            "mentions": app.opt(mentions, 0.2, 0.0),
        })

    # planted trouble ---------------------------------------------------
    for t in app.pick_distinct("Task", 3):
        t["project_id"] = app.ghost_id()
        app.plant("Task", t, "orphan-ref", "project_id %s matches no Project" % t["project_id"])
    t = app.pick_distinct("Task", 1)[0]
    t["parent_task_id"] = app.ghost_id()
    app.plant("Task", t, "orphan-ref", "parent_task_id %s matches no Task (deleted parent)" % t["parent_task_id"])
    for t in app.pick_distinct("Task", 3):
        t["status"] = "blocked"
        app.plant("Task", t, "enum-outside", "status \"blocked\" is not in the status enum")
    for t in app.pick_distinct("Task", 2):
        del t["title"]
        app.plant("Task", t, "missing-required", "required field title is absent")
    t = app.pick_distinct("Task", 1, pred=lambda t: "priority" in t)[0]
    t["priority"] = "high"
    app.plant("Task", t, "wrong-type", "priority is the string \"high\" (schema: integer enum [1,2,3])")
    t = app.pick_distinct("Task", 1, pred=lambda t: "priority" in t)[0]
    t["priority"] = 2.5
    app.plant("Task", t, "wrong-type", "priority is the non-integer number 2.5")
    for t in app.pick_distinct("Task", 4):
        t["sprint"] = "2025-S%d" % rng.randrange(1, 20)
        app.plant("Task", t, "undeclared-field", "has sprint = %s, not in the schema" % json.dumps(t["sprint"]))
    k = app.pick_distinct("Task", 4)
    k[0]["title"] = "[URGENT] Fix checkout crash"
    app.plant("Task", k[0], "text-bracket", "title starts with \"[URGENT]\"")
    k[1]["title"] = "مراجعة الترجمة العربية"
    app.plant("Task", k[1], "non-ascii", "Arabic (right-to-left) title")
    k[2]["title"] = "Ship it 🚢 before Friday"
    app.plant("Task", k[2], "non-ascii", "title has an emoji outside the BMP (U+1F6A2)")
    k[3]["tags"] = ["überarbeiten", "日本語", "design"]
    app.plant("Task", k[3], "non-ascii", "tags contain accented and CJK strings")

    k = app.pick_distinct("Comment", 7)
    for c in k[:2]:
        c["task_id"] = app.ghost_id()
        app.plant("Comment", c, "orphan-ref", "task_id %s matches no Task" % c["task_id"])
    k[2]["body"] = "צריך לבדוק את זה שוב לפני השחרור"
    app.plant("Comment", k[2], "non-ascii", "Hebrew (right-to-left) body")
    k[3]["body"] = "Great work! 🎉👍"
    app.plant("Comment", k[3], "non-ascii", "body has emoji outside the BMP")
    k[4]["body"] = "Steps to reproduce:\n1. open the app\n2. click save\n\nExpected: no crash"
    app.plant("Comment", k[4], "newline", "body has embedded newlines, including a blank line")
    k[5]["body"] = "[URGENT] customer escalation, see ticket"
    app.plant("Comment", k[5], "text-bracket", "body starts with \"[URGENT]\"")
    del k[6]["body"]
    app.plant("Comment", k[6], "missing-required", "required field body is absent")
    return app


# --------------------------------------------------------------------------- marketplace

def build_marketplace():
    app = App("marketplace", 44003)
    rng = app.rng
    aid = app.app_id

    app.schema("User.jsonc", {
        "name": "User", "type": "object",
        "properties": {
            "display_name": {"type": "string"},
            "avatar_url": {"type": "string", "format": "uri"},
            "bio": {"type": "string", "maxLength": 500},
            "seller_rating": {"type": "number", "minimum": 0, "maximum": 5},
            "is_seller": {"type": "boolean", "default": False},
            "role": {"type": "string", "enum": ["admin", "user", "seller"], "default": "user",
                     "description": "Redefines the built-in role"},
        },
        "required": [],
    }, comments={(): ["// User schema: only the extra fields. email, full_name and role are built in;",
                      "// role is redefined here to add \"seller\"."]})

    categories = ["Electronics", "Home & Garden", "Fashion", "Books", "Collector's Items",
                  "Toys", "Sports"]
    app.schema("listing.jsonc", {
        "name": "Listing", "type": "object",
        "properties": {
            "title": {"type": "string", "maxLength": 140},
            "description": {"type": "string"},
            "price": {"type": "number", "minimum": 0},
            "currency": {"type": "string", "enum": ["USD", "EUR", "GBP"], "default": "USD"},
            "category": {"type": "string", "enum": categories},
            "images": {"type": "array", "items": {"type": "string", "format": "file"}},
            "seller_id": {"type": "string", "description": "Reference to User.id"},
            "status": {"type": "string", "enum": ["draft", "active", "sold"], "default": "draft"},
            "stock": {"type": "integer", "minimum": 0},
            "attributes": {"type": "object", "description": "Free-form key/value pairs"},
        },
        "required": ["title", "price"],
        "rls": {
            "create": True,
            "read": {"$or": [{"data.status": "active"}, {"created_by": "{{user.email}}"},
                             {"user_condition": {"role": "admin"}}]},
            "update": {"$or": [{"data.seller_id": "{{user.id}}"}, {"user_condition": {"role": "admin"}}]},
            "delete": {"user_condition": {"role": "admin"}},
        },
    }, comments={("rls",): ["// Sellers edit their own listings; admins edit everything"]},
        trailing={("properties", "category")})

    app.schema("Order.jsonc", {
        "name": "Order", "type": "object",
        "properties": {
            "buyer_id": {"type": "string", "description": "Reference to User.id"},
            "listing_ids": {"type": "array", "items": {"type": "string"},
                            "description": "References to Listing.id"},
            "line_items": {"type": "array", "items": {"type": "object", "properties": {
                "listing_id": {"type": "string"}, "quantity": {"type": "integer", "minimum": 1},
                "unit_price": {"type": "number"}}, "required": ["listing_id", "quantity"]}},
            "total": {"type": "number"},
            "status": {"type": "string", "enum": ["pending", "paid", "shipped", "cancelled"],
                       "default": "pending"},
            "shipping_address": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "line1": {"type": "string"},
                               "city": {"type": "string"}, "postal_code": {"type": "string"},
                               "country": {"type": "string"}},
                "rls": {"read": {"$or": [{"created_by": "{{user.email}}"},
                                         {"user_condition": {"role": "admin"}}]},
                        "update": {"user_condition": {"role": "admin"}}},
            },
            "paid_at": {"type": "string", "format": "date-time"},
        },
        "required": ["buyer_id", "line_items"],
        "rls": {
            "create": True,
            "read": {"$or": [{"created_by": "{{user.email}}"}, {"user_condition": {"role": "admin"}}]},
            "update": {"$or": [{"data.buyer_id": "{{user.id}}"}, {"user_condition": {"role": "admin"}}]},
            "delete": {"user_condition": {"role": "admin"}},
        },
    }, comments={("properties", "shipping_address", "rls"): ["// field-level rule: only the buyer and admins see the address"]})

    app.schema("product-review.jsonc", {
        "name": "Review", "type": "object",
        "properties": {
            "listing_id": ref("Listing"),
            "order_id": ref("Order"),
            "reviewer_id": ref("User"),
            "rating": {"type": "integer", "enum": [1, 2, 3, 4, 5]},
            "comment": {"type": "string"},
        },
        "required": ["listing_id", "rating"],
        "rls": {
            "create": True,
            "read": {"$or": [{"created_by": "{{user.email}}"}, {"user_condition": {"role": "admin"}},
                             {"user_condition": {"role": "seller"}}]},
            "update": {"$or": [{"data.reviewer_id": "{{user.id}}"}, {"user_condition": {"role": "admin"}}]},
            "delete": {"user_condition": {"role": "admin"}},
        },
    }, comments={(): ["// Reviews of listings, written by buyers"]}, trailing={("rls",), ()})

    # users -------------------------------------------------------------
    domains = ["mail.example", "inbox.example", "post.example"]
    users = []
    used = set()
    bios = ["Collector of odd things.", "Selling what I no longer use.", "Vintage lover.",
            "Fast shipping, well packed.", "Weekend maker.", None]
    for i in range(80):
        f, l, _ = people(rng, 1, "x", FIRST, LAST)[0]
        email = "%s.%s@%s" % (ascii_fold(f), ascii_fold(l), rng.choice(domains))
        while email in used:
            email = email.replace("@", str(rng.randrange(10)) + "@", 1)
        used.add(email)
        created = app.rand_dt(BASE, BASE + timedelta(days=150))
        form = "nofrac" if rng.random() < 0.05 else ("z" if rng.random() < 0.07 else "stored")
        if form == "nofrac":
            created = created.replace(microsecond=0)
        updated = created if rng.random() < 0.5 else app.after(created, 60)
        is_seller = i < 28
        role = "admin" if i in (0, 1) else ("seller" if is_seller and i % 5 else "user")
        rec = {"id": app.new_id(created), "created_date": fmt_ts(created, form == "z"),
               "updated_date": fmt_ts(updated, form == "z"), "email": email,
               "full_name": "%s %s" % (f, l), "role": role,
               "display_name": "%s %s." % (f, l[0]),
               "avatar_url": app.opt("https://media.base44.com/images/public/%s/%s_avatar_%s.png"
                                     % (aid, app.hex9(), ascii_fold(f)), 0.3, 0.05),
               "bio": app.opt(rng.choice(bios), 0.3, 0.0),
               "seller_rating": round(rng.uniform(3.2, 5.0), 1) if is_seller else ABSENT,
               "is_seller": is_seller}
        rec = {k: v for k, v in rec.items() if v is not ABSENT}
        app.data.setdefault("User", []).append((created, rec))
        users.append(rec)
    sellers = [u for u in users if u["is_seller"]]
    creator_of = {u["id"]: (u["email"], u["id"]) for u in users}
    service = ("ops@marketplace.example", app.service_id())

    # listings ----------------------------------------------------------
    adjs = ["Vintage", "Handmade", "Refurbished", "Signed", "Limited Edition", "Rare", "Like-new"]
    items = [("Film Camera", "Electronics"), ("Mechanical Keyboard", "Electronics"),
             ("Desk Lamp", "Home & Garden"), ("Ceramic Mug", "Home & Garden"),
             ("Leather Wallet", "Fashion"), ("Wool Scarf", "Fashion"), ("Poetry Book", "Books"),
             ("Cookbook", "Books"), ("Comic Book #1", "Collector's Items"),
             ("Trading Card", "Collector's Items"), ("Vinyl Record", "Collector's Items"),
             ("Board Game", "Toys"), ("Wooden Train", "Toys"), ("Road Bike", "Sports"),
             ("Tennis Racket", "Sports")]
    listings = []
    for i in range(300):
        seller = rng.choice(sellers)
        adj, (item, cat) = rng.choice(adjs), rng.choice(items)
        created = app.after(parse_ts(seller["created_date"]), 60)
        slug = ascii_fold(item)
        images = []
        for n in range(rng.randrange(0, 4)):
            r = rng.random()
            if r < 0.55:
                images.append("https://base44.app/api/apps/%s/files/public/%s/%s_%s_%d.jpg" % (aid, aid, app.hex9(), slug, n))
            elif r < 0.9:
                images.append("https://media.base44.com/images/public/%s/%s_%s_%d.png" % (aid, app.hex9(), slug, n))
            elif r < 0.95:
                images.append("https://base44.app/api/apps/%s/files/mp/public/%s/%s_%s_%d.jpg" % (aid, aid, app.hex9(), slug, n))
            else:
                images.append("https://qtrypzzcjebvfcihiynt.supabase.co/storage/v1/object/public/base44-prod/public/%s/%s_%s_%d.webp" % (aid, app.hex9(), slug, n))
        attrs = {}
        if rng.random() < 0.6:
            attrs["condition"] = rng.choice(["new", "used", "refurbished"])
        if rng.random() < 0.3:
            attrs["color"] = rng.choice(["black", "red", "natural", "blue"])
        if rng.random() < 0.2:
            attrs["dimensions_cm"] = [rng.randrange(5, 60), rng.randrange(5, 60)]
        fields = {
            "title": "%s %s" % (adj, item),
            "description": app.opt("%s %s in %s condition." % (adj, item.lower(), attrs.get("condition", "good")), 0.15, 0.05),
            "price": round(rng.uniform(3, 900), 2),
            "currency": app.opt(rng.choice(["USD", "USD", "USD", "EUR", "GBP"]), 0.1, 0.0),
            "category": cat,
            "images": images,
            "seller_id": seller["id"],
            "status": rng.choice(["draft", "active", "active", "active", "sold"]),
            "stock": rng.randrange(0, 12),
            "attributes": app.opt(attrs, 0.2, 0.05),
        }
        who = service if rng.random() < 0.02 else creator_of[seller["id"]]
        listings.append(app.record("Listing", created, who, fields))
    collectors = [l for l in listings if l["category"] == "Collector's Items"]
    app.plant("Listing", collectors[0], "enum-apostrophe", "category \"Collector's Items\" (apostrophe in an enum value; %d listings have it)" % len(collectors))

    # orders ------------------------------------------------------------
    places = [("Portland", "97201", "US"), ("Lyon", "69001", "FR"), ("Zürich", "8001", "CH"),
              ("Kraków", "30-001", "PL"), ("תל אביב", "6100000", "IL"), ("القاهرة", "11511", "EG"),
              ("Manchester", "M1 1AE", "GB")]
    orders = []
    buyers = users[2:]
    for i in range(250):
        buyer = rng.choice(buyers)
        chosen = rng.sample(listings, rng.choice([1, 1, 1, 2, 2, 3]))
        latest = max([parse_ts(buyer["created_date"])] + [parse_ts(l["created_date"]) for l in chosen])
        created = app.after(latest, 30)
        line_items = [{"listing_id": l["id"], "quantity": rng.choice([1, 1, 1, 2, 3]),
                       "unit_price": l["price"]} for l in chosen]
        total = round(sum(li["quantity"] * li["unit_price"] for li in line_items), 2)
        status = rng.choice(["pending", "paid", "paid", "shipped", "shipped", "cancelled"])
        paid_at = ABSENT if status == "pending" else None
        if status in ("paid", "shipped"):
            pd = created + timedelta(minutes=rng.randrange(1, 600), seconds=rng.randrange(60),
                                     milliseconds=rng.randrange(1000))
            r = rng.random()
            paid_at = (pd.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (pd.microsecond // 1000) if r < 0.75
                       else pd.strftime("%Y-%m-%dT%H:%M:00Z") if r < 0.9 else pd.strftime("%Y-%m-%dT%H:%M"))
        city, postal, country = rng.choice(places)
        fields = {
            "buyer_id": buyer["id"],
            "listing_ids": [l["id"] for l in chosen],
            "line_items": line_items,
            "total": total,
            "status": status,
            "shipping_address": app.opt({"name": buyer["full_name"], "line1": "%d %s" % (
                rng.randrange(1, 300), rng.choice(["High Street", "Bahnhofstrasse", "ul. Floriańska", "Elm Road"])),
                "city": city, "postal_code": postal, "country": country}, 0.05, 0.0),
            "paid_at": paid_at,
        }
        orders.append(app.record("Order", created, creator_of[buyer["id"]], fields))
    rtl = [o for o in orders if (o.get("shipping_address") or {}).get("city") in ("תל אביב", "القاهرة")]
    app.plant("Order", rtl[0], "non-ascii", "shipping_address.city %s (right-to-left; %d orders have a Hebrew or Arabic city)"
              % (json.dumps(rtl[0]["shipping_address"]["city"], ensure_ascii=False), len(rtl)))

    # reviews -----------------------------------------------------------
    comments = ["Exactly as described.", "Fast shipping, thanks!", "A bit worn but fine.",
                "Would buy again.", "Packaging could be better.", "Not what I expected.",
                "Great seller, great communication.", None]
    reviewable = [o for o in orders if o["status"] in ("paid", "shipped")]
    listing_by_id = {l["id"]: l for l in listings}
    for i in range(400):
        if rng.random() < 0.85:
            order = rng.choice(reviewable)
            lid = rng.choice(order["listing_ids"])
            reviewer = order["buyer_id"]
            created = app.after(parse_ts(order["created_date"]), 30)
            order_id = order["id"]
        else:
            lst = rng.choice(listings)
            lid = lst["id"]
            rv = rng.choice(buyers)
            reviewer = rv["id"]
            created = app.after(max(parse_ts(lst["created_date"]), parse_ts(rv["created_date"])), 30)
            order_id = None
        app.record("Review", created, creator_of[reviewer], {
            "listing_id": lid,
            "order_id": order_id,
            "reviewer_id": reviewer,
            "rating": rng.choice([5, 5, 5, 4, 4, 3, 2, 1]),
            "comment": app.opt(rng.choice(comments), 0.1, 0.0),
        })

    # planted trouble ---------------------------------------------------
    u = app.pick_distinct("User", 4, pred=lambda u: u["role"] == "user")
    u[0]["full_name"], u[0]["display_name"] = "נועה ברק", "נועה ב."
    app.plant("User", u[0], "non-ascii", "Hebrew (right-to-left) full_name/display_name")
    u[1]["bio"] = "مرحبا! أبيع الكتب القديمة 📚"
    app.plant("User", u[1], "non-ascii", "Arabic bio with an emoji outside the BMP (U+1F4DA)")
    u[2]["bio"] = "Line one of my bio\nLine two"
    app.plant("User", u[2], "newline", "bio has an embedded newline")
    u[3]["legacy_score"] = 42
    app.plant("User", u[3], "undeclared-field", "has legacy_score = 42, not in the User schema")

    l = app.pick_distinct("Listing", 1)[0]
    del l["price"]
    app.plant("Listing", l, "missing-required", "required field price is absent")
    for l in app.pick_distinct("Listing", 2):
        l["status"] = "archived"
        app.plant("Listing", l, "enum-outside", "status \"archived\" is not in the status enum")
    for l in app.pick_distinct("Listing", 3):
        l["legacy_sku"] = "SKU-%05d" % rng.randrange(100000)
        app.plant("Listing", l, "undeclared-field", "has legacy_sku = %s, not in the schema" % json.dumps(l["legacy_sku"]))
    l = app.pick_distinct("Listing", 1)[0]
    l["seller_id"] = app.ghost_id()
    app.plant("Listing", l, "orphan-ref", "seller_id %s matches no User" % l["seller_id"])
    k = app.pick_distinct("Listing", 3)
    k[0]["title"] = "Édition originale « Le Petit Prince » – très bon état"
    app.plant("Listing", k[0], "non-ascii", "accented title with guillemets and an en dash")
    k[1]["description"] = "Includes:\n- charger\n- original box\n\nNo returns."
    app.plant("Listing", k[1], "newline", "description has embedded newlines")
    k[2]["title"] = "[URGENT] Moving sale – everything must go"
    app.plant("Listing", k[2], "text-bracket", "title starts with \"[URGENT]\"")

    o = app.pick_distinct("Order", 1)[0]
    ghost = app.ghost_id()
    o["listing_ids"].append(ghost)
    o["line_items"].append({"listing_id": ghost, "quantity": 1, "unit_price": 19.99})
    o["total"] = round(o["total"] + 19.99, 2)
    app.plant("Order", o, "orphan-ref", "listing_ids and line_items reference %s, which matches no Listing" % ghost)
    o = app.pick_distinct("Order", 1, pred=lambda o: o["status"] == "paid")[0]
    o["status"] = "refunded"
    app.plant("Order", o, "enum-outside", "status \"refunded\" is not in the status enum")
    o = app.pick_distinct("Order", 1)[0]
    o["coupon_code"] = "SPRING25"
    app.plant("Order", o, "undeclared-field", "has coupon_code = \"SPRING25\", not in the schema")

    k = app.pick_distinct("Review", 9)
    for r in k[:3]:
        r["listing_id"] = app.ghost_id()
        app.plant("Review", r, "orphan-ref", "listing_id %s matches no Listing" % r["listing_id"])
    k[3]["rating"] = 10
    app.plant("Review", k[3], "enum-outside", "rating 10 (old 1-10 scale) is not in the rating enum")
    del k[4]["rating"]
    app.plant("Review", k[4], "missing-required", "required field rating is absent")
    k[5]["comment"] = "Loved it 😍 — would buy again!"
    app.plant("Review", k[5], "non-ascii", "comment has an emoji outside the BMP (U+1F60D) and an em dash")
    k[6]["comment"] = "المنتج ممتاز والتوصيل سريع"
    app.plant("Review", k[6], "non-ascii", "Arabic (right-to-left) comment")
    k[7]["comment"] = "Pros: sturdy\nCons: heavy"
    app.plant("Review", k[7], "newline", "comment has an embedded newline")
    k[8]["comment"] = "[URGENT] item arrived broken, seller not answering"
    app.plant("Review", k[8], "text-bracket", "comment starts with \"[URGENT]\"")
    return app


# --------------------------------------------------------------------------- checks

def check_app(app):
    root = os.path.join(HERE, app.name)
    errors = []
    names = {}
    for dirpath, _, files in os.walk(os.path.join(root, "base44")):
        for fn in sorted(files):
            path = os.path.join(dirpath, fn)
            if not is_generated(os.path.relpath(path, root)):
                continue  # hand-written (base44/functions/...): checked by check_source
            with open(path, encoding="utf-8") as f:
                text = f.read()
            try:
                obj = json.loads(strip_jsonc(text))
            except ValueError as e:
                errors.append("%s: %s" % (path, e))
                continue
            if dirpath.endswith("entities"):
                if not re.fullmatch(r"[A-Za-z0-9]+", obj.get("name", "")):
                    errors.append("%s: bad entity name" % path)
                names[obj["name"]] = obj
                for r in obj.get("required", []):
                    if r not in obj["properties"]:
                        errors.append("%s: required %s not a property" % (path, r))
    data_dir = os.path.join(root, "data")
    all_ids = {}
    for fn in sorted(os.listdir(data_dir)):
        entity = fn[:-len(".jsonl")]
        if entity not in names:
            errors.append("%s: no schema for %s" % (app.name, entity))
        keys_user = ["id", "created_date", "updated_date", "email", "full_name", "role"]
        prev = None
        seen = set()
        with open(os.path.join(data_dir, fn), encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                where = "%s/data/%s:%d" % (app.name, fn, n)
                try:
                    rec = json.loads(line)
                except ValueError as e:
                    errors.append("%s: %s" % (where, e))
                    continue
                expect = keys_user if entity == "User" else BUILTINS
                if list(rec)[:len(expect)] != expect:
                    errors.append("%s: built-ins not first" % where)
                if rec["id"] in seen:
                    errors.append("%s: duplicate id" % where)
                seen.add(rec["id"])
                c, u = parse_ts(rec["created_date"]), parse_ts(rec["updated_date"])
                if u < c or not (BASE <= c < END) or u >= END:
                    errors.append("%s: bad timestamps" % where)
                key = (c, rec["id"])
                if prev is not None and key < prev:
                    errors.append("%s: not sorted by (created_date, id)" % where)
                prev = key
        all_ids[entity] = seen
    for p in app.planted:
        if p["id"] not in all_ids.get(p["entity"], ()):
            errors.append("planted case on missing record %s/%s" % (p["entity"], p["id"]))
    size = sum(os.path.getsize(p) for p in app_files(root, generated=True))
    if size > 2 * 1024 * 1024:
        errors.append("%s: %d bytes, over 2 MB" % (app.name, size))
    return errors, size


def is_generated(rel):
    rel = rel.replace(os.sep, "/")
    return any(rel == g or (g.endswith("/") and rel.startswith(g)) for g in GENERATED)


def app_files(root, generated):
    """Paths of the generated (or, with generated=False, the hand-written) files under root,
    sorted by relative path."""
    out = []
    for dirpath, dirs, files in os.walk(root):
        dirs.sort()
        for fn in sorted(files):
            path = os.path.join(dirpath, fn)
            if is_generated(os.path.relpath(path, root)) == generated:
                out.append(path)
    return sorted(out, key=lambda p: os.path.relpath(p, root).replace(os.sep, "/"))


# --------------------------------------------------------------------------- hand-written source

MARKER_KINDS = ["entity", "dynamic-entity", "literal-read", "auth", "users", "function",
                "integration", "agent", "host", "file-url", "env", "backend-function", "import"]
EXPECTED_FILE = "assess-expected.txt"  # expectations for files that cannot hold comments (JSON)
BROKEN_FILES = {"tasks": ["src/components/Broken.jsx"]}  # deliberately unparsable


def read_markers(path):
    """[(line, "KIND DETAIL")] of the `// expect: ...` (`<!-- expect: ... -->` in HTML)
    markers of a hand-written file; several on one line are separated by `; expect: `."""
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if path.endswith(".html"):
                m = re.search(r"<!-- expect: (.*?) -->", line)
            else:
                m = re.search(r"// expect: (.*)$", line.rstrip("\n"))
            if m:
                out.extend((n, e.strip()) for e in m.group(1).split("; expect: "))
    return out


def check_source(app):
    """The hand-written source of an app (if any): markers use the known kinds, the
    assess-expected.txt lines point at existing lines that hold what they name.
    Returns (errors, [(relative path, [(line, marker)])])."""
    root = os.path.join(HERE, app.name)
    errors, files = [], []
    for path in app_files(root, generated=False):
        rel = os.path.relpath(path, root).replace(os.sep, "/")
        if rel == EXPECTED_FILE:
            continue
        markers = read_markers(path) if re.search(r"\.(jsx?|tsx?|html)$", rel) else []
        files.append((rel, markers))
    expected_path = os.path.join(root, EXPECTED_FILE)
    if os.path.exists(expected_path):
        by_file = {}
        with open(expected_path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                m = re.fullmatch(r"([^:\s]+):(\d+) (\S+) (.+)", line.rstrip("\n"))
                if not m:
                    errors.append("%s/%s:%d: not FILE:LINE KIND DETAIL" % (app.name, EXPECTED_FILE, n))
                    continue
                rel, number, kind, detail = m.group(1), int(m.group(2)), m.group(3), m.group(4)
                target = os.path.join(root, rel)
                lines = []
                if os.path.exists(target):
                    with open(target, encoding="utf-8") as t:
                        lines = t.read().split("\n")
                if not (1 <= number <= len(lines)) or detail.split()[0] not in lines[number - 1]:
                    errors.append("%s/%s:%d: %s line %d does not hold %s" % (app.name, EXPECTED_FILE, n, rel, number, detail))
                by_file.setdefault(rel, []).append((number, kind + " " + detail))
        files = [(rel, sorted(markers + by_file.get(rel, []))) for rel, markers in files]
    for rel, markers in files:
        for number, marker in markers:
            if marker.split()[0] not in MARKER_KINDS or len(marker.split()) < 2:
                errors.append("%s/%s:%d: unknown marker %r" % (app.name, rel, number, marker))
    for rel in BROKEN_FILES.get(app.name, []):
        if rel not in dict(files):
            errors.append("%s/%s: the deliberately broken file is missing" % (app.name, rel))
    return errors, files


# --------------------------------------------------------------------------- README / manifest

def timestamp_forms(app):
    out = {}
    for entity in sorted(app.data):
        forms = {"stored": 0, "z": 0, "nofrac": 0}
        examples = {}
        for dt, rec in sorted(app.data[entity], key=lambda t: (t[0], t[1]["id"])):
            for k in ("created_date", "updated_date"):
                v = rec[k]
                f = "z" if v.endswith("Z") else ("nofrac" if "." not in v else "stored")
                forms[f] += 1
                examples.setdefault(f, "%s %s %s" % (rec["id"], k, v))
        out[entity] = {"counts": forms, "examples": examples}
    return out


def write_source_section(w, app, files):
    """The README section on an app's hand-written source code and its markers."""
    w("## Source code (hand-written)")
    w("")
    w("`%s` also holds the source of its app as a Base44 code export has it: a React + Vite" % app.name)
    w("frontend on `@base44/sdk` 0.8 (`src/`, `index.html`, `public/manifest.json`, `package.json`)")
    w("and Deno backend functions in the three layouts (`base44/functions/<name>/entry.ts`,")
    w("`base44/functions/<name>/main.ts` + `function.jsonc`, `functions/<name>.ts`). It is written")
    w("by hand for `offbase assess`, which reads it statically; `generate.py` keeps it and checks")
    w("its markers. Sizes above count generated files only.")
    w("")
    w("What it plants: entity calls of every method (`list` with and without arguments, `filter`")
    w("with literal and with computed arguments, `get`, `create`, `update`, `delete`, `bulkCreate`,")
    w("`bulkUpdate`, `updateMany`, `deleteMany`, `count`, `subscribe`) reached directly")
    w("(`base44.entities.Task.list()`), through the old `src/api/entities.js` exports")
    w("(`import { Task } from '@/api/entities'`), through destructuring (`const { Project } =")
    w("base44.entities`), through an alias (`const db = base44.entities`), with optional chaining,")
    w("with a string-literal computed name (`entities['Comment']`) and with names that are not")
    w("literals (`entities[entityName]`, ``entities[`${kind}`]``); `asServiceRole` in frontend code")
    w("(`Dashboard.jsx`, bad practice) and in backend functions; the auth session and login flows")
    w("(`auth.me` also as `User.me()` with `User = base44.auth`); `users.inviteUser`;")
    w("`functions.invoke` with a literal and with a computed name; Core integrations directly and")
    w("through the old `src/api/integrations.js` exports, and an installed package")
    w("(`Slack.PostMessage`); agents; hard-coded Base44 hosts and file URLs (code, `index.html`, the")
    w("PWA manifest); `import.meta.env.VITE_BASE44_*`, `Deno.env.get` and `secrets.get` (from")
    w("`base44:runtime`) reads; both backend entry styles (`Deno.serve`, `export default`) and their")
    w("`npm:`/`base44:runtime` imports. %s does not parse on purpose: a scan" %
      " and ".join("`%s`" % b for b in BROKEN_FILES.get(app.name, [])))
    w("must list it as not parsed and go on.")
    w("")
    w("Markers: each planted pattern has, at the end of its line, `// expect: KIND DETAIL`")
    w("(`<!-- expect: KIND DETAIL -->` in HTML); several on one line are joined by `; expect: `.")
    w("JSON cannot hold comments: the expectations for JSON files are in `%s/%s`, one per line" % (app.name, EXPECTED_FILE))
    w("as `FILE:LINE KIND DETAIL` (FILE relative to `samples/%s/`)." % app.name)
    w("")
    w("| kind | detail | marks |")
    w("|---|---|---|")
    w("| `entity` | `Entity.method`, + ` service-role` through `asServiceRole` | an entity call whose entity is known (directly, through imports, destructuring, aliases, `entities['X']`) |")
    w("| `dynamic-entity` | `method` | an entity call whose entity name is not a literal |")
    w("| `literal-read` | `Entity.method` (never ` service-role`) | besides `entity`: a `list`/`filter` call whose arguments are all literals (no arguments counts; object and array literals of literals count) |")
    w("| `auth` | `method` | `base44.auth.X(...)`, or `User.X(...)` with `User = base44.auth` |")
    w("| `users` | `method` | `base44.users.X(...)` |")
    w("| `function` | `name`, or `<dynamic>` | `base44.functions.invoke(name, ...)` |")
    w("| `integration` | `Package.Name`, + ` service-role` | `base44.integrations.P.N(...)`, `Core.N(...)`, an imported `N(...)` |")
    w("| `agent` | `method` | `base44.agents.X(...)` |")
    w("| `host` | host name | a hard-coded Base44 host that is not a file URL |")
    w("| `file-url` | host name | a hard-coded Base44-hosted file URL |")
    w("| `env` | variable | `import.meta.env.VITE_BASE44_*`, `Deno.env.get('X')`, `secrets.get('X')` |")
    w("| `backend-function` | `name style` | the `Deno.serve(` (`deno-serve`) or `export default` (`export-default`) line; name = the function's folder, or file name under `functions/` |")
    w("| `import` | specifier | an `npm:` or `base44:runtime` import of a backend function |")
    w("")
    w("A marker sits on the line where its call starts (the `base44.entities.Task.bulkCreate([` line")
    w("when the arguments go on over several lines). Only uses are marked: the lines that only make")
    w("an alias (`export const Task = base44.entities.Task`, `const db = base44.entities`) and")
    w("`createClient`/`createClientFromRequest` are not. Marker text never holds `://`.")
    w("")
    counts = {}
    w("| file | markers |")
    w("|---|---|")
    for rel, markers in files:
        for _, marker in markers:
            kind = marker.split()[0]
            counts[kind] = counts.get(kind, 0) + 1
        note = " (does not parse)" if rel in BROKEN_FILES.get(app.name, []) else ""
        w("| `%s`%s | %d |" % (rel, note, len(markers)))
    w("")
    w("Markers by kind: %s; %d in all." % (
        ", ".join("`%s` %d" % (k, counts[k]) for k in MARKER_KINDS if k in counts),
        sum(counts.values())))
    w("")


def write_readme(apps, sizes, sources):
    L = []
    w = L.append
    w("# Sample Base44 apps")
    w("")
    w("Three made-up Base44 apps for exercising offbase end to end: schemas in the current")
    w("Base44 CLI layout plus the records the entity API would return. Everything here is")
    w("generated (do not edit by hand) except the source code of `tasks`, which is hand-written")
    w("(see \"Source code (hand-written)\" below), and `har/`.")
    w("")
    w("Regenerate (Python 3, standard library only):")
    w("")
    w("    python3 samples/generate.py")
    w("")
    w("The script is deterministic (fixed `random.Random` seeds 44001/44002/44003, fixed base")
    w("dates from 2025-09-01T08:00:00 to before 2026-06-01, never the current time): a re-run gives")
    w("byte-identical files. In `samples/<app>/` it deletes and rewrites only what it generates")
    w("(%s) and keeps every other file;" % ", ".join("`%s`" % g for g in GENERATED))
    w("it also rewrites `samples/manifest.json` and this README, then re-reads its output and fails")
    w("if any `.jsonc` does not parse (after stripping comments and trailing commas), any `.jsonl`")
    w("line is not JSON, or a marker of the hand-written source is malformed.")
    w("`samples/manifest.json` holds the record counts and the planted cases below in")
    w("machine-readable form.")
    w("")
    w("## Layout")
    w("")
    w("    samples/<app>/")
    w("      base44/.app.jsonc            {\"id\": \"<24-hex app id>\"}")
    w("      base44/config.jsonc          // comment + {\"entitiesDir\": \"entities\"}")
    w("      base44/entities/*.jsonc      one entity schema per file (JSONC)")
    w("      data/<Entity>.jsonl          one record per line, as the API returns them")
    w("      (tasks only, hand-written)   src/, base44/functions/, functions/, public/, index.html, ...")
    w("")
    w("Entity file names are mixed on purpose (PascalCase, kebab-case, and names that differ")
    w("from the entity: `activity-log.jsonc` holds `Activity`, `task-comment.jsonc` holds `Comment`,")
    w("`product-review.jsonc` holds `Review`); the entity name is the `name` inside the file.")
    w("JSONC features used: `//` line comments (several files, one at the end of a line in")
    w("`crm/.../Deal.jsonc`), `/* */` block comments (`crm/.../contact.jsonc` inside `properties`,")
    w("`tasks/.../task-comment.jsonc` at the top), trailing commas (`contact.jsonc`,")
    w("`activity-log.jsonc` incl. inside an inline enum array, `project.jsonc`, `Task.jsonc`,")
    w("`listing.jsonc`, `product-review.jsonc`), and a string containing `//`")
    w("(`contact.jsonc`: `linkedinUrl.description` has `https://...`) that a naive comment")
    w("stripper would cut.")
    w("")
    w("Records: built-ins first (`id`, `created_date`, `updated_date`, `created_by`,")
    w("`created_by_id`, `is_sample` = false), then the entity's fields in schema order, then any")
    w("undeclared fields. `User` records carry `id`, `created_date`, `updated_date`, `email`,")
    w("`full_name`, `role`, then the extra fields (no `created_by*`/`is_sample`). Lines are")
    w("`json.dumps(obj, ensure_ascii=False, separators=(\",\", \":\"))`, UTF-8, LF, sorted by")
    w("(`created_date` as a time, `id`); `updated_date >= created_date`. Ids are ObjectId-like")
    w("(8 hex of the creation second + 16 random hex). About 2% of records per creator pool were")
    w("written by a service role: `created_by_id` is `service_<uuid>`. Optional fields are")
    w("sometimes absent and sometimes `null`.")
    w("")
    w("## Apps")
    w("")
    for app in apps:
        w("### `%s` (app id `%s`, %d bytes)" % (app.name, app.app_id, sizes[app.name]))
        w("")
        w("| file | entity | records |")
        w("|---|---|---|")
        counts = app.counts()
        for fn, schema, _, _ in app.schemas:
            w("| `base44/entities/%s` | %s | %d |" % (fn, schema["name"], counts.get(schema["name"], 0)))
        w("")
    w("Schema details worth testing:")
    w("")
    w("- `crm`: `Company.address` is an object with nested `properties`/`required`; `Company.tags`")
    w("  array of strings; `Contact.linkedinUrl` (camelCase, `format: uri`), `Contact.notes`")
    w("  (`format: richtext`, HTML values); `Deal.stage` enum with spaces and `default`;")
    w("  `Deal.probability` integer 0..100; `Activity.type` enum with `enumNames`. `Activity.due_at`")
    w("  values use user-input forms: `...:00.000Z` (toISOString), `...:00Z`, and `YYYY-MM-DDTHH:MM`")
    w("  (datetime-local, no seconds, no zone). `Company` rls has a `user_condition` delete rule.")
    w("- `tasks`: `Task` re-declares the built-in `created_date` (`format: date-time`);")
    w("  `Task.priority` is an integer enum `[1,2,3]` with `enumNames`; `Task.due_time` is")
    w("  `format: time` with both `HH:MM` and `HH:MM:SS` values; `Task.estimateHours` camelCase;")
    w("  `Task.checklist` is an array of objects; `Task.parent_task_id` self-reference;")
    w("  `Project.member_emails` array of email strings; `Project.rls` uses `write`; `Project.color`")
    w("  has a `pattern`.")
    w("- `marketplace`: `User.jsonc` holds only extra fields and redefines `role` with enum")
    w("  `[\"admin\",\"user\",\"seller\"]` (records use all three); `Listing.category` enum includes")
    w("  `Collector's Items`; `Listing.images` are file URLs in four real shapes (`base44.app/.../files/public/...`,")
    w("  `.../files/mp/public/...`, `media.base44.com/images/public/...`, `<project>.supabase.co/storage/...`);")
    w("  `Listing.attributes` is an object without `properties` (free-form values, incl. an array);")
    w("  `Order.line_items` array of objects; `Order.listing_ids` array of references;")
    w("  `Order.paid_at` in `...sssZ`, `...:00Z` and `YYYY-MM-DDTHH:MM` forms (absent when pending, `null` when")
    w("  cancelled); entity-level `rls` on `Listing`, `Order`, `Review`; a field-level `rls` on")
    w("  `Order.shipping_address`.")
    w("")
    w("## Timestamp forms of `created_date`/`updated_date`")
    w("")
    w("`stored` = 6 fractional digits, no `Z` (`2026-01-05T12:34:56.481000`); `z` = `...sssZ`;")
    w("`nofrac` = no fraction, no `Z` (`2026-01-05T12:34:56`). Counts are over both fields.")
    w("")
    w("| app | entity | stored | z | nofrac | example with Z | example without fraction |")
    w("|---|---|---|---|---|---|---|")
    for app in apps:
        for entity, info in timestamp_forms(app).items():
            c, ex = info["counts"], info["examples"]
            w("| %s | %s | %d | %d | %d | %s | %s |" % (
                app.name, entity, c["stored"], c["z"], c["nofrac"],
                "`%s`" % ex["z"] if "z" in ex else "-", "`%s`" % ex["nofrac"] if "nofrac" in ex else "-"))
    w("")
    w("## Planted cases")
    w("")
    w("Case kinds: `orphan-ref` (reference to a missing id), `enum-outside` (legacy value not in")
    w("the enum), `undeclared-field` (field not in the schema), `missing-required`, `wrong-type`,")
    w("`bigint-bound`, `non-ascii` (accents, right-to-left, emoji outside the BMP), `newline`,")
    w("`whitespace`, `text-bracket` (plain text starting with `[` or `{`), `seed-id`,")
    w("`enum-apostrophe`.")
    w("")
    for app in apps:
        w("### %s" % app.name)
        w("")
        w("| entity | record id | case | what |")
        w("|---|---|---|---|")
        for p in sorted(app.planted, key=lambda p: (p["entity"], p["case"], p["id"])):
            w("| %s | `%s` | %s | %s |" % (p["entity"], p["id"], p["case"], p["what"].replace("|", "\\|")))
        w("")
    for app in apps:
        if sources.get(app.name):
            write_source_section(w, app, sources[app.name])
    w("## HAR capture")
    w("")
    w("`har/crm.har` is a browser network log (\"Save all as HAR\" in Chrome's Network tab) of a")
    w("session on the `crm` app, for `offbase corpus from-har`: 23 entries (entity lists, filters with")
    w("`$in`, date ranges, `$regex`, an equality parameter, counts, gets, and what is skipped: an")
    w("asset, `User/me`, a preflight, writes, a repeat, `v2/list`, a 404), fake `api_key` and")
    w("`Authorization` headers, response bodies cut to a few records. `har/crm.corpus.jsonl` is the")
    w("corpus it gives (checked exactly by `crates/offbase-base44/tests/har.rs`). Not written by")
    w("`generate.py`.")
    w("")
    write_text(os.path.join(HERE, "README.md"), "\n".join(L))


def main():
    apps = [build_crm(), build_tasks(), build_marketplace()]
    for app in apps:
        app.write()
    errors, sizes, sources = [], {}, {}
    for app in apps:
        e, sizes[app.name] = check_app(app)
        errors += e
        e, sources[app.name] = check_source(app)
        errors += e
    manifest = {app.name: {"app_id": app.app_id,
                           "entities": {s["name"]: "base44/entities/" + fn for fn, s, _, _ in app.schemas},
                           "counts": app.counts(),
                           "planted": sorted(app.planted, key=lambda p: (p["entity"], p["case"], p["id"]))}
                for app in apps}
    write_text(os.path.join(HERE, "manifest.json"),
               json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
    write_readme(apps, sizes, sources)
    for app in apps:
        print("%-12s %s %8d bytes  %s" % (app.name, app.app_id, sizes[app.name],
                                          ", ".join("%s=%d" % kv for kv in app.counts().items())))
    if errors:
        for e in errors:
            print("ERROR:", e, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
