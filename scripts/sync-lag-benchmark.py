#!/usr/bin/env python3
"""Sync lag benchmark: how long a write in Base44 takes to reach PostgreSQL through
`offbase sync` with its default interval, while the emulator's background writer makes
WRITES_PER_SECOND creates, updates and deletes.

    python3 scripts/sync-lag-benchmark.py [SECONDS] [WRITES_PER_SECOND]   (default: 60 100)

Starts `offbase emulate samples/crm` (no rate limits) with the writer, migrates the app from its
API into a fresh schema, runs `offbase sync --json` for SECONDS while the writer runs, then
stops it with Ctrl-C. Each pass reports, per change it applied for the first time, the
milliseconds from the change's `updated_date` to the commit that applied it; the script prints
their p50, p90, p99 and maximum. Needs PostgreSQL at DATABASE_URL (default
postgres://root@127.0.0.1:5432/test).
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
URL = os.environ.get("DATABASE_URL", "postgres://root@127.0.0.1:5432/test")
BINARY = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "offbase")
KEY = "sync-lag-benchmark"
SCHEMA = "bench_sync_lag"


def psql(sql):
    subprocess.run(["psql", "-X", "-q", "-c", sql, URL], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def forget():
    psql(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')
    for table in ["load_checkpoints", "load_runs", "sync_state"]:
        psql(f"DELETE FROM offbase.{table} WHERE pg_schema = '{SCHEMA}'")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main():
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    rate = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    subprocess.run(["cargo", "build", "--release", "-p", "offbase-cli"], cwd=ROOT, check=True)
    environment = dict(os.environ, OFFBASE_EMULATOR_KEY=KEY, BASE44_API_KEY=KEY, DATABASE_URL=URL)
    port = free_port()
    app = os.path.join(ROOT, "samples", "crm")
    emulator = subprocess.Popen(
        [BINARY, "emulate", app, "--port", str(port), "--no-rate-limits",
         "--write-rate", str(rate), "--write-for", str(seconds + 30)],
        env=environment, stdout=subprocess.PIPE, text=True)
    try:
        banner = emulator.stdout.readline()
        app_id = banner.split(" as app ")[1].split(" ")[0]
        forget()
        with tempfile.TemporaryDirectory() as folder:
            workspace = os.path.join(folder, "ws")
            subprocess.run(
                [BINARY, "migrate", "--api-url", f"http://127.0.0.1:{port}", "--app-id", app_id,
                 "--schema-from", app, "--workspace", workspace, "--pg-schema", SCHEMA],
                env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            sync = subprocess.Popen(
                [BINARY, "sync", "--workspace", workspace, "--pg-schema", SCHEMA, "--json",
                 "--requests-per-minute", "0"],
                env=environment, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            time.sleep(seconds)
            sync.send_signal(signal.SIGINT)
            output, _ = sync.communicate(timeout=60)
    finally:
        emulator.send_signal(signal.SIGINT)
        emulator.wait(timeout=30)
        forget()
    lags, passes, upserted, deleted = [], 0, 0, 0
    for line in output.splitlines():
        summary = json.loads(line)
        passes += 1
        for entity in summary["entities"]:
            lags.extend(entity.get("change_lags_ms", []))
            upserted += entity["upserted"]
            deleted += entity["deleted"]
    if not lags:
        sys.exit("no change was measured")
    print(f"{passes} passes in {seconds} s at {rate} writes/s: {len(lags)} changes measured, "
          f"{upserted} rows upserted, {deleted} deleted\n")
    print("| writes/s | interval | changes | p50 | p90 | p99 | max |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    print(f"| {rate} | 1 s (default) | {len(lags):,} | {percentile(lags, 0.5) / 1000:.2f} s "
          f"| {percentile(lags, 0.9) / 1000:.2f} s | {percentile(lags, 0.99) / 1000:.2f} s "
          f"| {max(lags) / 1000:.2f} s |")


if __name__ == "__main__":
    main()
