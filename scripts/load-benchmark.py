#!/usr/bin/env python3
"""Load benchmark: offbase load of N generated Task records from a workspace, against
`psql \\copy` of the same rows as CSV into the same table with its primary key, side by side.

    python3 scripts/load-benchmark.py [N ...]        (default: 100000 1000000)

Needs PostgreSQL at DATABASE_URL (default postgres://root@127.0.0.1:5432/test) and psql.
Prints a Markdown table: wall time of each, their ratio, offbase's peak RSS.
"""
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
URL = os.environ.get("DATABASE_URL", "postgres://root@127.0.0.1:5432/test")
BINARY = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "offbase")


def psql(sql):
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql, URL], check=True,
                   stdout=subprocess.DEVNULL)


def timed(command, env=None):
    """Runs command; returns (seconds, peak RSS in MiB) of that child alone."""
    started = time.monotonic()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{command[0]} failed")
    return seconds, usage.ru_maxrss / 1024


def forget(schema):
    """Drops a schema and whatever offbase remembers of loads into it."""
    psql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    psql("DO $$ BEGIN IF to_regclass('offbase.load_runs') IS NOT NULL THEN "
         f"DELETE FROM offbase.load_checkpoints WHERE pg_schema = '{schema}'; "
         f"DELETE FROM offbase.load_runs WHERE pg_schema = '{schema}'; END IF; END $$")


def main():
    counts = [int(arg) for arg in sys.argv[1:]] or [100_000, 1_000_000]
    subprocess.run(["cargo", "build", "--release", "-p", "offbase-cli"], cwd=ROOT, check=True)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for count in counts:
            workspace = os.path.join(folder, f"ws-{count}")
            subprocess.run([BINARY, "generate", "--schema-from", os.path.join(ROOT, "scripts", "bench-app"),
                            "--records", "100", "--records-for", f"Task={count}", "--workspace", workspace],
                           check=True, stdout=subprocess.DEVNULL)
            staged = sum(os.path.getsize(os.path.join(path, name))
                         for path, _, names in os.walk(os.path.join(workspace, "data", "Task")) for name in names)
            ours, theirs = f"bench_offbase_{count}", f"bench_psql_{count}"
            forget(ours)
            forget(theirs)
            subprocess.run(["sync"])
            offbase_seconds, rss = timed([BINARY, "load", "--workspace", workspace, "--database-url", URL,
                                          "--pg-schema", ours])
            # The same rows as CSV, into the same table with its primary key.
            csv = os.path.join(folder, f"task-{count}.csv")
            psql(f"\\copy (SELECT * FROM \"{ours}\".task) TO '{csv}' CSV")
            psql(f'CREATE SCHEMA "{theirs}"')
            psql(f'CREATE TABLE "{theirs}".task (LIKE "{ours}".task INCLUDING DEFAULTS INCLUDING CONSTRAINTS)')
            psql(f'ALTER TABLE "{theirs}".task ADD PRIMARY KEY (id)')
            subprocess.run(["sync"])
            psql_seconds, _ = timed(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
                                     f"\\copy \"{theirs}\".task FROM '{csv}' CSV", URL])
            rows.append((count, staged, os.path.getsize(csv), offbase_seconds, psql_seconds, rss))
            forget(ours)
            forget(theirs)
    print("| Task records | staged JSONL | CSV | offbase load | psql \\copy | ratio | offbase peak RSS |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for count, staged, csv, ours, theirs, rss in rows:
        print(f"| {count:,} | {staged / 2**20:.0f} MiB | {csv / 2**20:.0f} MiB | {ours:.2f} s | {theirs:.2f} s "
              f"| {ours / theirs:.2f} | {rss:.0f} MiB |")


if __name__ == "__main__":
    main()
