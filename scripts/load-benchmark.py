#!/usr/bin/env python3
"""Load benchmark: offbase load of N generated Task records from a workspace, against
`psql \\copy` of the same rows as CSV into the same table with its primary key, side by side.

    python3 scripts/load-benchmark.py [--rounds=3] [N ...]     (default: 100000 1000000)

Needs PostgreSQL at DATABASE_URL (default postgres://root@127.0.0.1:5432/test) and psql; CHECKPOINT
needs a superuser (the default URL's root is one). Each round runs offbase, then psql, each from
a checkpointed, synced state. offbase's time is the whole `offbase load` command: tables, data,
primary key, the plan's indexes, foreign keys, ANALYZE. psql's is `\\copy` into the same table
with its primary key and nothing else. Prints a Markdown table: medians, their ratio, offbase's
peak RSS.
"""
import os
import statistics
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
    args = sys.argv[1:]
    rounds = 3
    if args and args[0].startswith("--rounds="):
        rounds = int(args.pop(0).split("=", 1)[1])
    counts = [int(arg) for arg in args] or [100_000, 1_000_000]
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
            csv = os.path.join(folder, f"task-{count}.csv")
            offbase_runs, psql_runs, rss_runs = [], [], []
            for round_number in range(rounds):
                forget(ours)
                forget(theirs)
                settle()
                seconds, rss = timed([BINARY, "load", "--workspace", workspace, "--database-url", URL,
                                      "--pg-schema", ours])
                offbase_runs.append(seconds)
                rss_runs.append(rss)
                if round_number == 0:
                    # The same rows as CSV, exported from what offbase loaded.
                    psql(f"\\copy (SELECT * FROM \"{ours}\".task) TO '{csv}' CSV")
                # The same table (columns, NOT NULLs, CHECKs) with its primary key, empty.
                psql(f'CREATE SCHEMA "{theirs}"')
                psql(f'CREATE TABLE "{theirs}".task (LIKE "{ours}".task INCLUDING DEFAULTS INCLUDING CONSTRAINTS)')
                psql(f'ALTER TABLE "{theirs}".task ADD PRIMARY KEY (id)')
                forget(ours)
                settle()
                seconds, _ = timed(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
                                    f"\\copy \"{theirs}\".task FROM '{csv}' CSV", URL])
                psql_runs.append(seconds)
                forget(theirs)
                print(f"{count} round {round_number + 1}: offbase {offbase_runs[-1]:.2f} s, "
                      f"psql {psql_runs[-1]:.2f} s, offbase RSS {rss_runs[-1]:.0f} MiB", file=sys.stderr)
            rows.append((count, staged, os.path.getsize(csv), statistics.median(offbase_runs),
                         statistics.median(psql_runs), max(rss_runs), offbase_runs, psql_runs))
    print(f"Medians of {rounds} alternating rounds; peak RSS is the largest of the rounds.\n")
    print("| Task records | staged JSONL | CSV | offbase load | psql \\copy | ratio | offbase peak RSS | all rounds (offbase / psql) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---|")
    for count, staged, csv, ours, theirs, rss, ours_all, theirs_all in rows:
        rounds_text = ", ".join(f"{a:.2f}/{b:.2f}" for a, b in zip(ours_all, theirs_all))
        print(f"| {count:,} | {staged / 2**20:.0f} MiB | {csv / 2**20:.0f} MiB | {ours:.2f} s | {theirs:.2f} s "
              f"| {ours / theirs:.2f} | {rss:.0f} MiB | {rounds_text} |")


def settle():
    """Starts each timed run from the same state: dirty pages written, WAL checkpointed."""
    subprocess.run(["sync"])
    psql("CHECKPOINT")


if __name__ == "__main__":
    main()
