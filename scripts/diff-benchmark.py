#!/usr/bin/env python3
"""Data diff benchmark: `offbase diff data` over N generated Task records loaded into
PostgreSQL, timed side by side with `offbase load` of the same workspace; then 10 differences
planted by SQL, found exactly, with the rows read counted.

    python3 scripts/diff-benchmark.py [--rounds=3] [N]     (default: 1000000)

Needs PostgreSQL at DATABASE_URL (default postgres://root@127.0.0.1:5432/test) and psql. Each
round loads the workspace into a fresh schema (timed), then diffs the workspace against it
(timed); both start from a checkpointed, synced server. Prints a Markdown table of the medians
and their ratio, then the planted-differences run: what was planted, what was found, range
queries, (id, hash) pairs and whole rows read.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
URL = os.environ.get("DATABASE_URL", "postgres://root@127.0.0.1:5432/test")
BINARY = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "offbase")
SCHEMA = "bench_diff"


def psql(sql, capture=False):
    result = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql, URL], check=True,
                            stdout=subprocess.PIPE if capture else subprocess.DEVNULL, text=True)
    return result.stdout if capture else None


def run(command, ok=(0,)):
    """Runs command; returns (seconds, stdout)."""
    started = time.monotonic()
    result = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    seconds = time.monotonic() - started
    if result.returncode not in ok:
        sys.exit(f"{' '.join(command)} exited with {result.returncode}")
    return seconds, result.stdout


def forget(schema):
    psql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    psql("DO $$ BEGIN IF to_regclass('offbase.load_runs') IS NOT NULL THEN "
         f"DELETE FROM offbase.load_checkpoints WHERE pg_schema = '{schema}'; "
         f"DELETE FROM offbase.load_runs WHERE pg_schema = '{schema}'; END IF; END $$")


def settle():
    subprocess.run(["sync"])
    psql("CHECKPOINT")


def plant(count):
    """Plants 10 differences in the Task table; returns the expected findings."""
    table = f'"{SCHEMA}".task'
    ids = psql(f"SELECT id FROM {table} WHERE started_at IS NOT NULL AND estimate_hours IS NOT NULL "
               f"AND details ? 'source' ORDER BY md5(id) LIMIT 8", capture=True).split()
    changed, changed2, deleted, deleted2, shifted, rounded, renamed, priority = ids
    expected = set()
    for id_ in (changed, changed2):
        psql(f"UPDATE {table} SET title = title || ' (changed)' WHERE id = '{id_}'")
        expected.add(("different", id_, ("title",)))
    for id_ in (deleted, deleted2):
        psql(f"DELETE FROM {table} WHERE id = '{id_}'")
        expected.add(("missing in target", id_, ()))
    for suffix in ("a", "b"):
        extra = f"{shifted}-extra-{suffix}"
        psql(f"INSERT INTO {table} (id, title, status) VALUES ('{extra}', 'planted', 'todo')")
        expected.add(("missing in source", extra, ()))
    psql(f"UPDATE {table} SET started_at = started_at + interval '1 millisecond' WHERE id = '{shifted}'")
    expected.add(("different", shifted, ("started_at",)))
    psql(f"UPDATE {table} SET estimate_hours = round(estimate_hours) + 0.5 WHERE id = '{rounded}'")
    expected.add(("different", rounded, ("estimate_hours",)))
    psql(f"UPDATE {table} SET details = (details - 'source') || jsonb_build_object('origin', details->'source') "
         f"WHERE id = '{renamed}'")
    expected.add(("different", renamed, ("details",)))
    psql(f"UPDATE {table} SET priority = coalesce(priority, 0) + 10 WHERE id = '{priority}'")
    expected.add(("different", priority, ("priority",)))
    return expected


def findings(report):
    found = set()
    for entity in report["entities"]:
        for id_ in entity["missing_in_target"]:
            if id_ not in entity["rejected"]:
                found.add(("missing in target", id_, ()))
        for id_ in entity["missing_in_source"]:
            found.add(("missing in source", id_, ()))
        for record in entity["different"]:
            found.add(("different", record["id"], tuple(record["fields"])))
    return found


def main():
    args = sys.argv[1:]
    rounds = 3
    if args and args[0].startswith("--rounds="):
        rounds = int(args.pop(0).split("=", 1)[1])
    count = int(args[0]) if args else 1_000_000
    subprocess.run(["cargo", "build", "--release", "-p", "offbase-cli"], cwd=ROOT, check=True)
    with tempfile.TemporaryDirectory() as folder:
        workspace = os.path.join(folder, "ws")
        subprocess.run([BINARY, "generate", "--schema-from", os.path.join(ROOT, "scripts", "bench-app"),
                        "--records", "100", "--records-for", f"Task={count}", "--workspace", workspace],
                       check=True, stdout=subprocess.DEVNULL)
        database = ["--database-url", URL, "--pg-schema", SCHEMA]
        loads, diffs = [], []
        for round_number in range(rounds):
            forget(SCHEMA)
            settle()
            seconds, _ = run([BINARY, "load", "--workspace", workspace, *database])
            loads.append(seconds)
            settle()
            seconds, output = run([BINARY, "diff", "data", "--workspace", workspace, "--json", *database])
            diffs.append(seconds)
            task = next(e for e in json.loads(output)["entities"] if e["entity"] == "Task")
            if task["same"] != count or task["rows_fetched"] != 0:
                sys.exit(f"identical data reported as different: {task}")
            print(f"round {round_number + 1}: load {loads[-1]:.2f} s, diff {diffs[-1]:.2f} s "
                  f"({task['range_queries']} range queries)", file=sys.stderr)
        expected = plant(count)
        planted_seconds, output = run([BINARY, "diff", "data", "--workspace", workspace, "--json", *database],
                                      ok=(1,))
        report = json.loads(output)
        found = findings(report)
        task = next(e for e in report["entities"] if e["entity"] == "Task")
        forget(SCHEMA)
    load, diff = statistics.median(loads), statistics.median(diffs)
    print(f"Medians of {rounds} rounds (load, then diff of the identical data).\n")
    print("| Task records | offbase load | diff data (identical) | diff / load | all rounds (load / diff) |")
    print("|---:|---:|---:|---:|---|")
    rounds_text = ", ".join(f"{a:.2f}/{b:.2f}" for a, b in zip(loads, diffs))
    print(f"| {count:,} | {load:.2f} s | {diff:.2f} s | {diff / load:.2f} | {rounds_text} |")
    print()
    exact = found == expected
    print("| planted | found | exactly those | diff time | range queries | (id, hash) pairs read | whole rows read | rows read / rows |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|")
    print(f"| {len(expected)} | {len(found)} | {'yes' if exact else 'NO'} | {planted_seconds:.2f} s "
          f"| {task['range_queries']} | {task['hashes_fetched']:,} | {task['rows_fetched']} "
          f"| {task['rows_fetched'] / count:.4%} |")
    if not exact:
        print(f"\nmissed: {sorted(expected - found)}\nextra: {sorted(found - expected)}")
        sys.exit(1)
    if task["rows_fetched"] >= count / 100:
        sys.exit("read 1% of the rows or more")


if __name__ == "__main__":
    main()
