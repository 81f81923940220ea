"""What the scripts that run offbase stages side by side share: where things are, the database,
and `offbase emulate` as the Base44 API. Imported by scripts/stage-memory.py and
scripts/rehearsal.py (Python puts a script's own folder on its path).
"""
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
URL = os.environ.get("DATABASE_URL", "postgres://root@127.0.0.1:5432/test")
BINARY = os.environ.get("OFFBASE_BINARY") or os.path.join(
    os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "offbase")


def psql(sql):
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql, URL], check=True,
                   stdout=subprocess.DEVNULL, env=dict(os.environ, PGOPTIONS="-c client_min_messages=warning"))


def forget(schema):
    """Drops the schema and what offbase's state tables say of it."""
    psql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    psql("DO $$ BEGIN IF to_regclass('offbase.load_runs') IS NOT NULL THEN "
         f"DELETE FROM offbase.load_checkpoints WHERE pg_schema = '{schema}'; "
         f"DELETE FROM offbase.load_runs WHERE pg_schema = '{schema}'; END IF; "
         "IF to_regclass('offbase.sync_state') IS NOT NULL THEN "
         f"DELETE FROM offbase.sync_state WHERE pg_schema = '{schema}'; END IF; END $$")


def available_memory():
    """MemAvailable, in bytes."""
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


class Emulator:
    """`offbase emulate APP` without rate limits, on a free port, until stop(). It holds every
    record in memory (as its JSON text, about twice the JSONL's size): its size, not offbase's,
    limits the sizes these scripts can run."""

    def __init__(self, app, key):
        self.key = key
        self.environment = dict(os.environ, OFFBASE_EMULATOR_KEY=key, BASE44_API_KEY=key)
        started = time.monotonic()
        self.process = subprocess.Popen([BINARY, "emulate", app, "--port", "0", "--no-rate-limits"],
                                        env=self.environment, stdout=subprocess.PIPE, text=True)
        # The banner comes once every record is stored: "Serving APP as app ID at URL (...".
        banner = self.process.stdout.readline()
        self.seconds = time.monotonic() - started
        found = re.search(r" as app (\S+) at (\S+) ", banner)
        if not found:
            self.stop()
            sys.exit(f"the emulator did not start: {banner!r}")
        self.app_id, self.url = found.groups()

    def source(self, schemas):
        """The arguments naming this emulator as the source of the records (schemas: the app
        folder whose entity schemas offbase reads)."""
        return ["--api-url", self.url, "--app-id", self.app_id, "--schema-from", schemas]

    def request(self, method, path, body=None):
        request = urllib.request.Request(
            f"{self.url}/api/apps/{self.app_id}/entities/{path}", method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"api_key": self.key, "Content-Type": "application/json"})
        with urllib.request.urlopen(request) as answer:
            return json.loads(answer.read() or b"null")

    def change(self, entity, updates, creates, deletes, purges, by, copied=()):
        """Updates, creates and deletes records of entity, the newest first (purged ones leave
        the trash too, so only a reconciliation finds them). Created records take the fields
        named in copied from the newest record (a reference, say)."""
        fields = ",".join(["id", *copied])
        records = self.request("GET", f"{entity}?sort=-created_date&limit={updates + deletes + purges}"
                                      f"&fields={fields}")
        for index, record in enumerate(records[:updates]):
            self.request("PUT", f"{entity}/{record['id']}", {"title": f"changed by {by} {index}"})
        for index in range(creates):
            self.request("POST", entity, {"title": f"created by {by} {index}", "status": "todo",
                                          **{field: records[0].get(field) for field in copied}})
        for position, record in enumerate(records[updates:]):
            self.request("DELETE", f"{entity}/{record['id']}")
            if position >= deletes:
                self.request("DELETE", f"{entity}/{record['id']}/permanent")

    def peak_mib(self):
        """The emulator's peak resident size so far (VmHWM)."""
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return 0

    def stop(self):
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=120)
