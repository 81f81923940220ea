#!/usr/bin/env python3
"""Peak memory and time of each stage at several sizes: one table.

    python3 scripts/stage-memory.py [--no-diff] [N ...]     (default: 100000 1000000)

For each N: `offbase generate` writes N Task records of scripts/bench-app (and 1,000
Projects); they are written out as an app folder's data/<Entity>.jsonl (parts in reverse
order, so the import sorts) and as dashboard CSV exports of the same records. Then, each as
a separate process of the release build, its peak resident size read with wait4:
- import data/<Entity>.jsonl: `offbase migrate --from APP --bundle FILE` (the import, the plan,
  the bundle written from the workspace);
- import CSV: `offbase pull --from-csv DIR --schema-from APP`;
- load: `offbase load` of the imported workspace;
- diff data: `offbase diff data` of it (`--no-diff` leaves it out: it still holds 80 bytes a
  record, see docs/performance.md).
Needs PostgreSQL at DATABASE_URL (default postgres://root@127.0.0.1:5432/test) and about
1.5 KB of disk a record.
"""
import csv
import json
import os
import shutil
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


def forget(schema):
    psql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    psql("DO $$ BEGIN IF to_regclass('offbase.load_runs') IS NOT NULL THEN "
         f"DELETE FROM offbase.load_checkpoints WHERE pg_schema = '{schema}'; "
         f"DELETE FROM offbase.load_runs WHERE pg_schema = '{schema}'; END IF; END $$")


def timed(arguments):
    """Runs offbase with arguments; (seconds, peak RSS in MiB) of that process alone."""
    started = time.monotonic()
    process = subprocess.Popen([BINARY, *arguments, "-q"], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        sys.exit(f"offbase {' '.join(arguments)} failed")
    return seconds, usage.ru_maxrss / 1024


def app_folder(folder, count):
    """The generated records as data/<Entity>.jsonl (parts reversed) and as CSV exports."""
    generated = os.path.join(folder, "generated")
    subprocess.run([BINARY, "generate", "--schema-from", os.path.join(ROOT, "scripts/bench-app"),
                    "--records-for", f"Task={count}", "--records-for", "Project=1000",
                    "--seed", "1", "--workspace", generated, "-q"], check=True)
    app = os.path.join(folder, "app")
    shutil.copytree(os.path.join(ROOT, "scripts/bench-app/base44"), os.path.join(app, "base44"))
    os.makedirs(os.path.join(app, "data"))
    exports = os.path.join(folder, "csv")
    os.makedirs(exports)
    for entity in ("Task", "Project"):
        parts_folder = os.path.join(generated, "data", entity)
        parts = sorted(os.listdir(parts_folder), reverse=True)
        # Parts last first, each streamed: this process stays small, since a child's peak
        # resident size counts the memory of the process it was forked from.
        with open(os.path.join(app, "data", f"{entity}.jsonl"), "wb") as out:
            for part in parts:
                with open(os.path.join(parts_folder, part), "rb") as lines:
                    shutil.copyfileobj(lines, out)
        columns = None
        with open(os.path.join(app, "data", f"{entity}.jsonl"), "rb") as lines, \
                open(os.path.join(exports, f"{entity}_export.csv"), "w", newline="") as out:
            writer = csv.writer(out, quoting=csv.QUOTE_ALL)
            for line in lines:
                record = json.loads(line)
                if columns is None:
                    columns = list(record.keys())
                    writer.writerow(columns)
                writer.writerow(["" if record.get(c) is None else
                                 record[c] if isinstance(record[c], str) else
                                 json.dumps(record[c]) for c in columns])
    shutil.rmtree(generated)
    return app, exports


def main():
    args = sys.argv[1:]
    diff = "--no-diff" not in args
    counts = [int(arg) for arg in args if not arg.startswith("--")] or [100_000, 1_000_000]
    subprocess.run(["cargo", "build", "--release", "-p", "offbase-cli"], cwd=ROOT, check=True)
    stages = ["import data/<Entity>.jsonl + bundle", "import CSV", "load"] + (["diff data"] if diff else [])
    results = {}
    for count in counts:
        with tempfile.TemporaryDirectory(dir=os.environ.get("OFFBASE_BENCH_DIR")) as folder:
            app, exports = app_folder(folder, count)
            workspace = os.path.join(folder, "ws")
            schema = f"stage_memory_{count}"
            forget(schema)
            target = ["--database-url", URL, "--pg-schema", schema]
            results[(count, stages[0])] = timed(["migrate", "--from", app, "--workspace", workspace,
                                                 "--bundle", os.path.join(folder, "bundle.sql")])
            results[(count, stages[1])] = timed(["pull", "--from-csv", exports, "--schema-from", app,
                                                 "--workspace", os.path.join(folder, "csv-ws")])
            results[(count, stages[2])] = timed(["load", "--workspace", workspace, *target])
            if diff:
                results[(count, stages[3])] = timed(["diff", "data", "--workspace", workspace, *target])
            forget(schema)
    header = "| stage | " + " | ".join(f"{count:,} records" for count in counts) + " |"
    print(header)
    print("|---|" + "---:|" * len(counts))
    for stage in stages:
        cells = [f"{results[(count, stage)][1]:.0f} MiB, {results[(count, stage)][0]:.1f} s"
                 for count in counts]
        print(f"| {stage} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
