#!/usr/bin/env python3
"""Peak memory and time of each stage at several sizes: one table.

    python3 scripts/stage-memory.py [--stages S,S,...] [--no-STAGE ...] [--no-build] [N ...]
                                                              (default: 100000 1000000)

For each N: `offbase generate` writes N Task records of scripts/bench-app (and 1,000
Projects); they are written out as an app folder's data/<Entity>.jsonl (parts in reverse
order, so the import sorts), and, when their stages run, as dashboard CSV exports and as seed
files (base44/seed/<Entity>.jsonc: one JSON array) of the same records. Then each stage runs
as a separate process of the release build, its peak resident size read with wait4:

  import  import data/<Entity>.jsonl: `offbase migrate --from APP --bundle FILE` (the import,
          the plan, the bundle written from the workspace);
  csv     import CSV: `offbase pull --from-csv DIR --schema-from APP`;
  seed    import seed files: `offbase pull --from-seed APP/base44/seed --schema-from APP`;
  pull    pull from the API: `offbase pull --api-url` against `offbase emulate APP` (no rate
          limits) serving the same records; only offbase's process is measured, not the
          emulator's (it holds every record as its JSON text, about 1.2 KB a Task);
  bundle  the bundle alone: `offbase migrate --api-url ... --bundle FILE` of the pulled
          workspace (its pull is complete, so the process plans and writes the bundle);
  load    `offbase load` into a fresh schema: of the pulled workspace when `pull` runs, else of
          the imported one;
  verify  `offbase migrate --api-url ...` again over the pulled and loaded workspace: its pull
          and its load are complete (each says so and does nothing), so what the process does
          is the verification (counts and content hashes per entity);
  diff    `offbase diff data` of the loaded workspace against the schema;
  sync    one sync pass with reconciliation (`offbase sync --once --requests-per-minute 0`; the
          first pass always lists every live key) after 100 updates, 10 creates, 50 deletes to
          the trash and 50 deletes for good (trash emptied, so only the reconciliation sees
          them) in the emulator.

--stages takes a comma-separated list of the names above; --no-NAME leaves one out (e.g.
--no-diff, --no-seed). A stage also runs what it needs (verify and sync: pull and load; bundle:
pull; load and diff: a workspace, import when pull is left out). --no-build skips `cargo build`
(set OFFBASE_BINARY to use another binary). The table lists peak MiB and seconds per stage and
size; the emulator's own peak follows it.

The emulator holds every record in memory (about 12 GiB at 10,000,000 Task records): a size
at which it would need more than 70% of the available memory is refused before anything runs.

Needs PostgreSQL at DATABASE_URL (default postgres://root@127.0.0.1:5432/test) and, with every
stage, about 5 KB of disk a record (OFFBASE_BENCH_DIR: where the temporary folders go), plus
the emulator's memory for pull, bundle, verify and sync.
"""
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from benchkit import BINARY, ROOT, URL, Emulator, available_memory, forget

KEY = "stage-memory"

# Every stage in the order they run, with the row's label.
STAGES = {
    "import": "import data/<Entity>.jsonl + bundle (`migrate --from APP --bundle`)",
    "csv": "import CSV (`pull --from-csv`)",
    "seed": "import seed file base44/seed/<Entity>.jsonc (`pull --from-seed`)",
    "pull": "pull from the API (`pull --api-url`, the emulator)",
    "bundle": "bundle of the pulled workspace (`migrate --api-url --bundle`)",
    "load": "load",
    "verify": "verify (`migrate --api-url` again: pull and load done)",
    "diff": "diff data",
    "sync": "sync pass with reconciliation (`sync --once`)",
}
NEEDS = {"bundle": {"pull"}, "verify": {"pull", "load"}, "sync": {"pull", "load"}, "diff": {"load"}}
EMULATED = {"pull", "bundle", "verify", "sync"}
# The emulator holds every record as its JSON text: bytes per generated record (its peak at
# 1,000,000 Task records, rounded up).
EMULATOR_PER_RECORD = 1_300


def timed(arguments, environment=None):
    """Runs offbase with arguments; (seconds, peak RSS in MiB) of that process alone."""
    started = time.monotonic()
    process = subprocess.Popen([BINARY, *arguments, "-q"], stdout=subprocess.DEVNULL, env=environment)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        sys.exit(f"offbase {' '.join(arguments)} failed")
    return seconds, usage.ru_maxrss / 1024


def too_large(counts, stages):
    """Refuses, before anything runs, sizes at which the emulator would hold more than 70% of
    the memory available (an out-of-memory kill on a shared machine takes others' work along)."""
    available = available_memory()
    for count in counts:
        if EMULATED & set(stages) and count * EMULATOR_PER_RECORD > 0.7 * available:
            sys.exit(f"at {count:,} records the emulator would need about "
                     f"{count * EMULATOR_PER_RECORD / 2**30:.0f} GiB, {available / 2**30:.0f} GiB are "
                     "available: leave out pull, bundle, verify and sync "
                     "(e.g. --stages import,csv,seed,load,diff)")


def selected_stages(args):
    """The stages asked for (--stages, --no-NAME), with what they need, in run order."""
    chosen = set(STAGES)
    for index, arg in enumerate(args):
        if arg == "--stages":
            chosen = set(args[index + 1].split(","))
        elif arg.startswith("--stages="):
            chosen = set(arg.split("=", 1)[1].split(","))
    chosen -= {arg[len("--no-"):] for arg in args if arg.startswith("--no-")}
    unknown = chosen - set(STAGES)
    if unknown:
        sys.exit(f"unknown stage(s) {', '.join(sorted(unknown))}: pick from {', '.join(STAGES)}")
    while True:
        needed = set().union(*(NEEDS.get(stage, set()) for stage in chosen)) - chosen
        if "load" in chosen and not {"pull", "import"} & chosen:
            needed.add("import")
        if not needed:
            return [stage for stage in STAGES if stage in chosen]
        chosen |= needed


def app_folder(folder, count, stages):
    """The generated records as data/<Entity>.jsonl (parts reversed), and as CSV exports and
    seed files when their stages run. Returns (app, exports, seed app)."""
    generated = os.path.join(folder, "generated")
    subprocess.run([BINARY, "generate", "--schema-from", os.path.join(ROOT, "scripts/bench-app"),
                    "--records-for", f"Task={count}", "--records-for", "Project=1000",
                    "--seed", "1", "--workspace", generated, "-q"], check=True)
    app = os.path.join(folder, "app")
    shutil.copytree(os.path.join(ROOT, "scripts/bench-app/base44"), os.path.join(app, "base44"))
    os.makedirs(os.path.join(app, "data"))
    exports = os.path.join(folder, "csv")
    seeded = os.path.join(folder, "seed-app")
    if "csv" in stages:
        os.makedirs(exports)
    if "seed" in stages:
        shutil.copytree(os.path.join(ROOT, "scripts/bench-app/base44"), os.path.join(seeded, "base44"))
        os.makedirs(os.path.join(seeded, "base44", "seed"))
    for entity in ("Task", "Project"):
        parts_folder = os.path.join(generated, "data", entity)
        parts = sorted(os.listdir(parts_folder), reverse=True)
        # Parts last first, each streamed: this process stays small, since a child's peak
        # resident size counts the memory of the process it was forked from.
        data = os.path.join(app, "data", f"{entity}.jsonl")
        with open(data, "wb") as out:
            for part in parts:
                with open(os.path.join(parts_folder, part), "rb") as lines:
                    shutil.copyfileobj(lines, out)
        if "csv" in stages:
            write_csv(data, os.path.join(exports, f"{entity}_export.csv"))
        if "seed" in stages:
            write_seed(data, os.path.join(seeded, "base44", "seed", f"{entity}.jsonc"))
    shutil.rmtree(generated)
    return app, exports, seeded


def write_csv(data, path):
    """A dashboard CSV export of the records of a JSONL file, a row at a time."""
    columns = None
    with open(data, "rb") as lines, open(path, "w", newline="") as out:
        writer = csv.writer(out, quoting=csv.QUOTE_ALL)
        for line in lines:
            record = json.loads(line)
            if columns is None:
                columns = list(record.keys())
                writer.writerow(columns)
            writer.writerow(["" if record.get(c) is None else
                             record[c] if isinstance(record[c], str) else
                             json.dumps(record[c]) for c in columns])


def write_seed(data, path):
    """A seed file: the records of a JSONL file as one JSON array, a line each."""
    with open(data, "rb") as lines, open(path, "wb") as out:
        out.write(b"// Generated by scripts/stage-memory.py\n[\n")
        separator = b""
        for line in lines:
            out.write(separator + line.rstrip(b"\n"))
            separator = b",\n"
        out.write(b"\n]\n")


def measure(count, stages):
    """{stage: (seconds, peak MiB)} for count records (and "emulator": its peak MiB)."""
    results = {}
    with tempfile.TemporaryDirectory(dir=os.environ.get("OFFBASE_BENCH_DIR")) as folder:
        app, exports, seeded = app_folder(folder, count, stages)
        schema = f"stage_memory_{count}"
        forget(schema)
        target = ["--database-url", URL, "--pg-schema", schema]
        imported = os.path.join(folder, "ws")
        if "import" in stages:
            results["import"] = timed(["migrate", "--from", app, "--workspace", imported,
                                       "--bundle", os.path.join(folder, "bundle.sql")])
            os.remove(os.path.join(folder, "bundle.sql"))
        if "csv" in stages:
            csv_workspace = os.path.join(folder, "csv-ws")
            results["csv"] = timed(["pull", "--from-csv", exports, "--schema-from", app,
                                    "--workspace", csv_workspace])
            shutil.rmtree(csv_workspace)
            shutil.rmtree(exports)
        if "seed" in stages:
            seed_workspace = os.path.join(folder, "seed-ws")
            results["seed"] = timed(["pull", "--from-seed", os.path.join(seeded, "base44", "seed"),
                                     "--schema-from", seeded, "--workspace", seed_workspace])
            shutil.rmtree(seed_workspace)
            shutil.rmtree(seeded)
        emulator = Emulator(app, KEY) if EMULATED & set(stages) else None
        try:
            workspace = imported
            if emulator:
                workspace = os.path.join(folder, "ws-api")
                env = emulator.environment
                results["pull"] = timed(["pull", *emulator.source(app), "--workspace", workspace], env)
                if "bundle" in stages:
                    results["bundle"] = timed(["migrate", *emulator.source(app), "--workspace", workspace,
                                               "--bundle", os.path.join(folder, "bundle.sql")], env)
                    os.remove(os.path.join(folder, "bundle.sql"))
            if "load" in stages:
                results["load"] = timed(["load", "--workspace", workspace, *target])
            if "verify" in stages:
                results["verify"] = timed(["migrate", *emulator.source(app), "--workspace", workspace,
                                           *target], emulator.environment)
            if "diff" in stages:
                results["diff"] = timed(["diff", "data", "--workspace", workspace, *target])
            if "sync" in stages:
                emulator.change("Task", updates=100, creates=10, deletes=50, purges=50, by="stage-memory")
                results["sync"] = timed(["sync", "--once", "--requests-per-minute", "0",
                                         "--workspace", workspace, *target], emulator.environment)
        finally:
            if emulator:
                results["emulator"] = emulator.peak_mib()
                emulator.stop()
            forget(schema)
    return results


def main():
    args = sys.argv[1:]
    stages = selected_stages(args)
    counts = [int(arg) for index, arg in enumerate(args)
              if arg.isdigit() and (index == 0 or args[index - 1] != "--stages")] or [100_000, 1_000_000]
    too_large(counts, stages)
    if "--no-build" not in args:
        subprocess.run(["cargo", "build", "--release", "-p", "offbase-cli"], cwd=ROOT, check=True)
    results = {count: measure(count, stages) for count in counts}
    print("| stage | " + " | ".join(f"{count:,} records" for count in counts) + " |")
    print("|---|" + "---:|" * len(counts))
    for stage in stages:
        cells = [f"{results[count][stage][1]:.0f} MiB, {results[count][stage][0]:.1f} s"
                 for count in counts]
        print(f"| {STAGES[stage]} | " + " | ".join(cells) + " |")
    if any("emulator" in results[count] for count in counts):
        print("\nThe emulator's own peak (not in the table): " + ", ".join(
            f"{results[count]['emulator']:,.0f} MiB at {count:,} records" for count in counts))


if __name__ == "__main__":
    main()
