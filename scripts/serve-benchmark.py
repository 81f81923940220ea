#!/usr/bin/env python3
"""offbase serve under load, side by side with pgbench running the same SQL in the same run.

    python3 scripts/serve-benchmark.py [--duration 10] [--rounds 3] [--records 20000]

Builds the CLI (release), generates RECORDS Task records of `samples/tasks` (100 of each other
entity) with `offbase generate`, loads them into a fresh schema of DATABASE_URL (default
postgres://root@127.0.0.1:5432/test; CHECKPOINT and SET ROLE need a superuser, which the
default URL's root is) with the access rules on, and starts `offbase serve --port 0` with a
service key. Then, for each operation, four sides run for DURATION seconds at 16 connections
on 2 threads:

- **serve:** `wrk -t 2 -c 16 --latency` against the server, as the service role
  (`api_key: KEY`): get a Task by an id picked at random among all of them, the filtered list
  `?q={"status":"done"}&sort=-created_date&limit=50`, create a Task (POST, JSON body);
- **pgbench:** `pgbench -n -c 16 -j 2` with the bare statement the server runs for it (simple
  protocol, each statement its own transaction): the list exactly as
  `offbase_sql::query::list_sql` writes it, the get as `get_sql` does (the script checks, by
  watching pg_stat_activity during the warm-up, that the server ran those texts), the create
  as the server's `INSERT ... jsonb_populate_record` of the same row, returning it
  (`to_jsonb`);
- **pgbench in the server's transaction:** the same statements in the messages the server
  sends for a request, one round trip each. The server's connections rest in the service
  role's session (its role and settings, set once per connection), so a service-key request
  sends no settings: a read is the statement alone (the get prepared once per connection,
  its id bound; pgbench sends it in the text, simple protocol); a create
  is three, `BEGIN READ WRITE`, the INSERT returning the row (the service role may read what
  it writes), `COMMIT`. What it costs over the bare statement is the price of the
  per-request transaction alone, without HTTP;
- **pgbench, the same in one round trip:** those messages sent as one compound statement
  (`\\;`): what the transaction costs PostgreSQL itself, without the round trips (for a read,
  the same as the side before).

pgbench's variables are numbers, so its gets are spread over 128 scripts, each with one id
picked at random (all rows are in shared buffers either way; a lookup of the id inside the
statement would cost pgbench a fifth of its rate). Rows created by a run are deleted (and the
table vacuumed) before the next, so every list scans the same table. Rounds alternate the sides
(serve, then the three pgbench ones, for each operation). The table gives medians: rates, latencies
(wrk's histogram, pgbench's per-transaction log), the ratio to the bare statement, and the CPU
time a request cost the load generator, the server and PostgreSQL (from /proc: PostgreSQL must
run on this machine), and the rest of the machine meanwhile (the kernel's interrupt work and
other processes: a large "rest" says the machine was not quiet). Needs wrk (`apt-get install
wrk`) and pgbench/psql (`apt-get install postgresql-client`); exits 2 without them.
"""
import argparse
import json
import os
import random
import re
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
URL = os.environ.get("DATABASE_URL", "postgres://root@127.0.0.1:5432/test")
BINARY = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "offbase")
SCHEMA = "bench_serve"
APP_ID = "serve-bench"
CONNECTIONS, THREADS = 16, 2
PGBENCH_GET_SCRIPTS = 128
CREATED_TITLE = "serve-benchmark created"
OPERATIONS = ["get", "list", "create"]
SIDES = ["serve", "bare", "wrapped", "pipelined"]
LABELS = {"serve": "offbase serve (HTTP, wrk)", "bare": "pgbench: the statement",
          "wrapped": "pgbench: in the server's transaction", "pipelined": "pgbench: the same, one round trip"}

# What the create sends, and the row the server makes of it (`estimateHours` is the column
# `estimate_hours`; the server adds the id, the two timestamps and `is_sample`).
CREATE_BODY = {"title": CREATED_TITLE, "status": "todo", "priority": 2, "due_date": "2026-01-02",
               "assignee_email": "bench@example.com", "tags": ["bench", "load"], "estimateHours": 1.5}
CREATE_ROW = {"is_sample": False, "title": CREATED_TITLE, "status": "todo", "priority": 2,
              "due_date": "2026-01-02", "assignee_email": "bench@example.com", "tags": ["bench", "load"],
              "estimate_hours": 1.5}


def psql(sql, capture=False):
    done = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql, URL], check=True,
                          env=dict(os.environ, PGOPTIONS="-c client_min_messages=warning"),
                          stdout=subprocess.PIPE if capture else subprocess.DEVNULL, text=True)
    return done.stdout if capture else None


def forget():
    """Drops the schema and whatever offbase remembers of loads into it."""
    psql(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')
    psql("DO $$ BEGIN IF to_regclass('offbase.load_runs') IS NOT NULL THEN "
         f"DELETE FROM offbase.load_checkpoints WHERE pg_schema = '{SCHEMA}'; "
         f"DELETE FROM offbase.load_runs WHERE pg_schema = '{SCHEMA}'; END IF; END $$")


def literal(text):
    return "'" + text.replace("'", "''") + "'"


# The statements, as the server writes them (offbase_sql::query and offbase_pg::serve).
def get_sql(task_id):
    return f'SELECT to_jsonb("t") AS "row" FROM "{SCHEMA}"."task" AS "t" WHERE "id" = {literal(task_id)}'


LIST_SQL = (f'SELECT to_jsonb("t") AS "row" FROM "{SCHEMA}"."task" AS "t" WHERE "status" = \'done\' '
            'ORDER BY "created_date" DESC NULLS LAST, "id" COLLATE "C" ASC LIMIT 50')
# A new id a transaction: the server makes a 24-hex-digit ObjectId-like one.
NEW_ID = "\\set k random(1, 999999999999999)\n"
ID_EXPRESSION = "'bench' || lpad(:k::text, 19, '0')"
INSERT_SQL = (f'INSERT INTO "{SCHEMA}"."task" AS "t" SELECT * FROM jsonb_populate_record(NULL::"{SCHEMA}"."task", '
              f"{literal(json.dumps(CREATE_ROW))}::jsonb || jsonb_build_object('id', {ID_EXPRESSION}, "
              "'created_date', now(), 'updated_date', now())) RETURNING to_jsonb(t) AS row")
def pgbench_scripts(folder, ids):
    """{(operation, side): [script files]} for the pgbench sides."""
    def write(name, text):
        path = os.path.join(folder, name + ".sql")
        with open(path, "w") as handle:
            handle.write(text)
        return path

    def sides(name, bare, messages, prefix=""):
        """The bare statement, the request's messages one round trip each (a message's
        statements joined into one compound statement), and all of them at once."""
        compound = [" \\;\n".join(message) for message in messages]
        return {"bare": write(f"{name}-bare", prefix + bare + ";\n"),
                "wrapped": write(f"{name}-wrapped", prefix + "".join(part + ";\n" for part in compound)),
                "pipelined": write(f"{name}-pipelined", prefix + " \\;\n".join(compound) + ";\n")}

    def read(statement):
        return [[statement]]

    scripts = {}
    def add(operation, made):
        for side, path in made.items():
            scripts.setdefault((operation, side), []).append(path)

    for n, task_id in enumerate(random.Random(44).sample(ids, PGBENCH_GET_SCRIPTS)):
        add("get", sides(f"get-{n}", get_sql(task_id), read(get_sql(task_id))))
    add("list", sides("list", LIST_SQL, read(LIST_SQL)))
    add("create", sides("create", INSERT_SQL, [["BEGIN READ WRITE"], [INSERT_SQL], ["COMMIT"]], NEW_ID))
    return scripts


# wrk: each thread seeds its own generator; done() prints one JSON line the script reads.
WRK_COMMON = """
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("seed", threads)
end
function init(args)
  math.randomseed(os.time() * 1000 + (seed or 0) * 7919)
end
function done(summary, latency, requests)
  io.write(string.format('WRK-RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"errors": %d, "timeouts": %d}\\n', summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99),
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write,
    summary.errors.timeout))
end
"""


def wrk_scripts(folder, ids_file, key):
    prefix = f"/api/apps/{APP_ID}/entities/Task"
    query = urllib.parse.urlencode({"q": json.dumps({"status": "done"}, separators=(",", ":")),
                                    "sort": "-created_date", "limit": "50"})
    scripts = {
        "get": f"""
wrk.headers["api_key"] = {json.dumps(key)}
local ids = {{}}
for line in io.lines({json.dumps(ids_file)}) do ids[#ids + 1] = line end
function request()
  return wrk.format("GET", "{prefix}/" .. ids[math.random(#ids)])
end
""",
        "list": f"""
wrk.headers["api_key"] = {json.dumps(key)}
wrk.path = {json.dumps(prefix + "?" + query)}
""",
        "create": f"""
wrk.method = "POST"
wrk.path = {json.dumps(prefix)}
wrk.headers["api_key"] = {json.dumps(key)}
wrk.headers["Content-Type"] = "application/json"
wrk.body = {json.dumps(json.dumps(CREATE_BODY))}
""",
    }
    paths = {}
    for operation, text in scripts.items():
        paths[operation] = os.path.join(folder, f"wrk-{operation}.lua")
        with open(paths[operation], "w") as handle:
            handle.write(text + WRK_COMMON)
    return paths


TICK = os.sysconf("SC_CLK_TCK")


def process_times():
    """{pid: (command, parent, own CPU seconds, reaped children's CPU seconds)} of every process."""
    processes = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as handle:
                text = handle.read()
        except OSError:
            continue
        command = text[text.index("(") + 1:text.rindex(")")]
        fields = text[text.rindex(")") + 2:].split()
        processes[int(pid)] = (command, int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK,
                               (int(fields[13]) + int(fields[14])) / TICK)
    return processes


def cpu_snapshot(server_pid):
    """CPU seconds so far: this script's children (wrk, pgbench), the server, PostgreSQL (its live
    processes and, through the postmaster, those that ended), and the whole machine."""
    processes = process_times()
    postgres = 0.0
    for command, parent, own, children in processes.values():
        if command == "postgres":
            postgres += own
            if processes.get(parent, ("",))[0] != "postgres":
                postgres += children  # the postmaster: the backends it reaped
    with open("/proc/stat") as handle:
        # user, nice, system, irq, softirq (not idle, iowait, steal, nor guest, already in user)
        ticks = handle.readline().split()[1:]
        busy = sum(int(ticks[index]) for index in (0, 1, 2, 5, 6))
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"client": usage.ru_utime + usage.ru_stime, "server": processes.get(server_pid, ("", 0, 0.0, 0.0))[2],
            "postgres": postgres, "machine": busy / TICK}


def measured(run, server_pid):
    """Runs run() -> (count, rate, p50, p99); returns (rate, p50, p99, CPU µs a request by
    client, server, PostgreSQL and the rest of the machine)."""
    before = cpu_snapshot(server_pid)
    count, rate, p50, p99 = run()
    time.sleep(0.2)  # ended backends reaped by the postmaster
    after = cpu_snapshot(server_pid)
    spent = {part: (after[part] - before[part]) * 1e6 / count for part in before}
    rest = spent["machine"] - spent["client"] - spent["server"] - spent["postgres"]
    return rate, p50, p99, spent["client"], spent["server"], spent["postgres"], rest


def run_wrk(base_url, script, seconds):
    """(requests, requests/s, p50 ms, p99 ms)."""
    # A request slower than wrk's default 2 s would be left out of the latencies: wait 60 s.
    done = subprocess.run(["wrk", "-t", str(THREADS), "-c", str(CONNECTIONS), "-d", f"{seconds}s", "--latency",
                           "--timeout", "60s",
                           "-s", script, base_url], check=True, stdout=subprocess.PIPE, text=True)
    line = next(line for line in done.stdout.splitlines() if line.startswith("WRK-RESULT "))
    result = json.loads(line.split(" ", 1)[1])
    if result["errors"] or result["timeouts"] or not result["requests"]:
        sys.exit(f"wrk saw {result['errors']} failed requests and {result['timeouts']} timeouts of "
                 f"{result['requests']}:\n{done.stdout}")
    return (result["requests"], result["requests"] / (result["duration_us"] / 1e6), result["p50_us"] / 1000,
            result["p99_us"] / 1000)


def run_pgbench(scripts, seconds, log_folder):
    """(transactions, transactions/s, p50 ms, p99 ms), latencies from pgbench's per-transaction log."""
    shutil.rmtree(log_folder, ignore_errors=True)
    os.makedirs(log_folder)
    command = ["pgbench", "-n", "-c", str(CONNECTIONS), "-j", str(THREADS), "-T", str(seconds),
               "--log", "--log-prefix", os.path.join(log_folder, "tx")]
    for script in scripts:
        command += ["-f", script]
    done = subprocess.run(command + [URL], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        sys.exit(f"pgbench failed:\n{done.stdout}{done.stderr}")
    failed = re.search(r"number of failed transactions: (\d+)", done.stdout)
    if failed and int(failed.group(1)):
        sys.exit(f"pgbench had failed transactions:\n{done.stdout}")
    tps = float(re.search(r"tps = ([0-9.]+) \(without initial connection time\)", done.stdout).group(1))
    latencies = []
    for name in os.listdir(log_folder):
        with open(os.path.join(log_folder, name)) as handle:
            latencies.extend(int(line.split()[2]) for line in handle)
    latencies.sort()
    pick = lambda share: latencies[min(len(latencies) - 1, int(share * len(latencies)))] / 1000
    return len(latencies), tps, pick(0.50), pick(0.99)


def settle():
    """The created rows gone, the table vacuumed and the server checkpointed: every run starts alike."""
    psql(f"DELETE FROM \"{SCHEMA}\".task WHERE title = {literal(CREATED_TITLE)}")
    psql(f'VACUUM (ANALYZE) "{SCHEMA}".task')
    psql("CHECKPOINT")


def start_server(workspace, key, folder):
    output = os.path.join(folder, "serve.out")
    environment = dict(os.environ, OFFBASE_SERVE_SERVICE_KEY=key, OFFBASE_SERVE_TOKEN_SECRET=secrets.token_hex(32))
    with open(output, "w") as out:
        server = subprocess.Popen([BINARY, "serve", "--database-url", URL, "--pg-schema", SCHEMA,
                                   "--workspace", workspace, "--app-id", APP_ID, "--port", "0"],
                                  env=environment, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with open(output) as handle:
            found = re.search(r" at (http://[^/\s]+)/api/apps/", handle.read())
        if found:
            return server, found.group(1)
        if server.poll() is not None:
            break
        time.sleep(0.1)
    server.kill()
    with open(output) as handle:
        sys.exit(f"offbase serve did not start:\n{handle.read()}")


def check_server_sql(base_url, script, expected):
    """Runs the server briefly and checks that `expected` (a pattern) is a statement it ran."""
    seen = set()
    probe = subprocess.Popen(["wrk", "-t", "1", "-c", "4", "-d", "2s", "-s", script, base_url],
                             stdout=subprocess.DEVNULL)
    while probe.poll() is None:
        seen.update(psql("SELECT query FROM pg_stat_activity WHERE application_name = 'offbase serve' "
                         "AND query LIKE 'SELECT to_jsonb%'", capture=True).splitlines())
    if not any(re.fullmatch(expected, statement) for statement in seen):
        print(f"warning: the server ran none of the statements pgbench runs ({expected}); it ran: "
              f"{sorted(seen)[:3]}", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds each side runs each round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--records", type=int, default=20000, help="Task records")
    arguments = parser.parse_args()
    for tool, package in [("wrk", "wrk"), ("pgbench", "postgresql-client"), ("psql", "postgresql-client")]:
        if shutil.which(tool) is None:
            print(f"{tool} is missing: apt-get install {package}", file=sys.stderr)
            sys.exit(2)
    subprocess.run(["cargo", "build", "--release", "-p", "offbase-cli"], cwd=ROOT, check=True)
    code = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True).stdout.strip() or "(not a git checkout)"
    key = secrets.token_hex(32)
    results = {(operation, side): [] for operation in OPERATIONS for side in SIDES}
    with tempfile.TemporaryDirectory() as folder:
        workspace = os.path.join(folder, "ws")
        subprocess.run([BINARY, "generate", "--schema-from", os.path.join(ROOT, "samples", "tasks"),
                        "--records", "100", "--records-for", f"Task={arguments.records}", "--workspace", workspace],
                       check=True, stdout=subprocess.DEVNULL)
        forget()
        server = None
        try:
            subprocess.run([BINARY, "load", "--workspace", workspace, "--database-url", URL, "--pg-schema", SCHEMA],
                           check=True, stdout=subprocess.DEVNULL)
            ids = psql(f'SELECT id FROM "{SCHEMA}".task ORDER BY id', capture=True).split()
            ids_file = os.path.join(folder, "ids.txt")
            with open(ids_file, "w") as handle:
                handle.write("\n".join(ids) + "\n")
            wrk = wrk_scripts(folder, ids_file, key)
            pgbench = pgbench_scripts(folder, ids)
            server, base_url = start_server(workspace, key, folder)
            logs = os.path.join(folder, "pgbench-log")
            # Warm-up (not measured): the pool's connections, the caches, the statements.
            # A read of the service role is the statement alone; the get's id is bound as `$1`
            # (pgbench sends it in the text: its variables are numbers).
            check_server_sql(base_url, wrk["get"], re.escape(get_sql("@")).replace(re.escape("'@'"), r"\(\$1\)"))
            check_server_sql(base_url, wrk["list"], re.escape(LIST_SQL))
            for operation in OPERATIONS:
                run_wrk(base_url, wrk[operation], 2)
                run_pgbench(pgbench[(operation, "wrapped")], 2, logs)
            settle()
            for round_number in range(arguments.rounds):
                for operation in OPERATIONS:
                    for side in SIDES:
                        if side == "serve":
                            run = lambda: run_wrk(base_url, wrk[operation], arguments.duration)
                        else:
                            run = lambda: run_pgbench(pgbench[(operation, side)], arguments.duration, logs)
                        results[(operation, side)].append(measured(run, server.pid))
                        if operation == "create":
                            settle()
                    line = ", ".join(f"{LABELS[side]} {results[(operation, side)][-1][0]:,.0f}/s" for side in SIDES)
                    print(f"round {round_number + 1} {operation}: {line}", file=sys.stderr)
        finally:
            if server is not None:
                server.send_signal(signal.SIGINT)
                try:
                    server.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    server.kill()
            forget()
    median = lambda operation, side, index: statistics.median(r[index] for r in results[(operation, side)])
    print(f"Medians of {arguments.rounds} alternating rounds of {arguments.duration} s, {CONNECTIONS} connections, "
          f"{THREADS} threads, {arguments.records:,} Task records; offbase {code}.\n")
    print("| operation | side | requests/s | p50 | p99 | / pgbench | CPU µs a request: load generator "
          "| offbase serve | PostgreSQL | rest | total |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for operation in OPERATIONS:
        bare = median(operation, "bare", 0)
        for side in SIDES:
            rate, p50, p99, *cpu = (median(operation, side, index) for index in range(7))
            ratio = f"**{rate / bare:.2f}**" if side == "serve" else f"{rate / bare:.2f}"
            cells = " | ".join("-" if side != "serve" and index == 1 else f"{part:,.0f}"
                               for index, part in enumerate(cpu))
            print(f"| {operation} | {LABELS[side]} | {rate:,.0f} | {p50:.2f} ms | {p99:.2f} ms | {ratio} | {cells} "
                  f"| {sum(cpu):,.0f} |")
    print("\nCPU a request: medians of each side's CPU time over its requests, read from /proc: the load "
          "generator (wrk or pgbench), offbase serve, PostgreSQL (all its processes), the rest of the machine "
          "(the kernel's work: interrupts, loopback TCP, the threads writing to disk; and any other process).")
    print("\nRounds (" + " / ".join(LABELS[side] for side in SIDES) + ", per second):")
    for operation in OPERATIONS:
        rounds = zip(*(results[(operation, side)] for side in SIDES))
        print(f"- {operation}: " + "; ".join("/".join(f"{side[0]:,.0f}" for side in sides) for sides in rounds))
    command = " ".join(["python3", "scripts/serve-benchmark.py"] + sys.argv[1:])
    print(f"\nCommand: {command}")


if __name__ == "__main__":
    main()
