#!/usr/bin/env python3
"""The scale rehearsal: N generated records through every stage of a migration, one table.

    python3 scripts/rehearsal.py [--records N] [--folder DIR] [--keep] [--no-build]
                                 [--sync-against auto|emulator|none]
                                                     (default: 10,000,000 records, auto)

Runs, each offbase stage a separate process of the release build (peak resident size read
with wait4):
 1. `offbase generate` of N records of scripts/rehearsal-app (Member 0.5%, Project 1%, Task
    40%, Comment the rest: references Task → Project and Member, Comment → Task and Member,
    Project → Member; arrays of strings and of objects, objects), written out as an app folder
    (data/<Entity>.jsonl) by this script;
 2. `offbase emulate` of that app (no rate limits): the Base44 API the migration reads. Its
    memory is shown but is not offbase's: it holds every record (as its JSON text) in memory;
 3. `offbase pull` of every record from it, then `offbase migrate` into a fresh schema
    (`rehearsal_<N>`): the pull is complete, so the migrate plans, loads and verifies (counts and
    content hashes per entity);
 4. `offbase diff data` of the loaded schema against the workspace;
 5. 100 updates, 10 creates, 50 deletes to the trash and 50 for good (only the reconciliation
    finds those) of Tasks in the emulator, then one `offbase sync --once` pass (its first pass
    always reconciles: it lists every live key of every entity).

What the pull and the sync pass run against: the emulator, when it can hold the N records. It
keeps each as its JSON text with a small index: 1,127 MiB for 1,000,000 records of this app
(2.1 times their 547 MiB of JSONL), so 10,000,000 need about 11 GiB. Before starting it, the
script estimates its size (2.2 times the JSONL) and, with --sync-against auto, uses it only
when that is under 60% of the memory available. Otherwise step 2 is skipped, step 3 is one
`offbase migrate --from APP` (the app folder's data/<Entity>.jsonl imported instead of pulled:
the same records), and no sync pass runs: there is no Base44 API to sync with.
The output says which way it went and why. --sync-against emulator forces the emulator (and the
sync pass), none leaves both out.

The table: stage, seconds, peak resident MiB, records, result; then the check read = loaded +
rejected per entity (from the migrate's --json report), and that every generated record was
read. Exit code 1 when a check fails.

Disk: about 1.5 KB a record (the app folder, the workspace, PostgreSQL's tables and indexes),
in a new folder under --folder (default: the system's temporary folder, or OFFBASE_BENCH_DIR),
removed at the end with the schema unless --keep. Needs PostgreSQL at DATABASE_URL (default
postgres://root@127.0.0.1:5432/test). --no-build skips `cargo build` (OFFBASE_BINARY: another
binary).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from benchkit import BINARY, ROOT, URL, Emulator, available_memory, forget

APP = os.path.join(ROOT, "scripts", "rehearsal-app")
KEY = "rehearsal"
DISK_PER_RECORD = 1500
# The emulator's resident size per byte of data/<Entity>.jsonl it serves (measured: a peak of
# 1,127 MiB for the 1,000,000 records of this app, 547 MiB of JSONL).
EMULATOR_PER_BYTE = 2.2


def split(records):
    """N records across the app's entities, most in Task and Comment."""
    members, projects = max(1, records // 200), max(1, records // 100)
    tasks = records * 2 // 5
    return {"Member": members, "Project": projects, "Task": tasks,
            "Comment": max(0, records - members - projects - tasks)}


def offbase(folder, arguments, environment=None):
    """Runs `offbase ARGUMENTS --json -q`: (seconds, peak RSS MiB, exit code, JSON output)."""
    output_path = os.path.join(folder, "output.json")
    started = time.monotonic()
    with open(output_path, "w") as output:
        process = subprocess.Popen([BINARY, *arguments, "--json", "-q"], stdout=output, env=environment)
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    code = os.waitstatus_to_exitcode(status)
    with open(output_path) as output:
        text = output.read()
    os.remove(output_path)
    if code not in (0, 1):
        sys.exit(f"offbase {' '.join(arguments)} failed (exit code {code})")
    try:
        summary = json.loads(text)
    except json.JSONDecodeError:  # sync --json: a line a pass, then a line a note
        summary = json.loads(text.splitlines()[0])
    return seconds, usage.ru_maxrss / 1024, code, summary


def write_app(generated, app):
    """The generated workspace as an app folder: schemas and data/<Entity>.jsonl."""
    started = time.monotonic()
    shutil.copytree(os.path.join(APP, "base44"), os.path.join(app, "base44"))
    os.makedirs(os.path.join(app, "data"))
    for entity in sorted(os.listdir(os.path.join(generated, "data"))):
        parts = os.path.join(generated, "data", entity)
        with open(os.path.join(app, "data", f"{entity}.jsonl"), "wb") as out:
            for part in sorted(os.listdir(parts)):
                with open(os.path.join(parts, part), "rb") as lines:
                    shutil.copyfileobj(lines, out)
    return time.monotonic() - started


def folder_bytes(folder):
    return sum(os.path.getsize(os.path.join(where, name))
               for where, _, names in os.walk(folder) for name in names)


def rehearse(folder, records, sync_against, rows):
    """Runs the stages in folder, appending (stage, seconds, MiB, records, result) to rows.
    Returns (the problems found, (entity, read, loaded, rejected) of the load, the schema)."""
    counts = split(records)
    schema = f"rehearsal_{records}"
    target = ["--database-url", URL, "--pg-schema", schema]
    generated, app, workspace = (os.path.join(folder, name) for name in ("generated", "app", "ws"))
    problems = []

    seconds, mib, _, summary = offbase(folder, [
        "generate", "--schema-from", APP, "--records", "0", "--seed", "1", "--workspace", generated,
        *[f"--records-for={entity}={count}" for entity, count in counts.items()]])
    rows.append(("generate (`offbase generate`)", seconds, mib, summary["records"],
                 f"{summary['bytes'] / 2**20:,.0f} MiB of JSONL"))
    seconds = write_app(generated, app)
    shutil.rmtree(generated)
    data_bytes = folder_bytes(os.path.join(app, "data"))
    rows.append(("app folder data/<Entity>.jsonl (this script)", seconds, None, records, ""))

    needed, available = data_bytes * EMULATOR_PER_BYTE, available_memory()
    use_emulator = sync_against == "emulator" or (sync_against == "auto" and needed < 0.6 * available)
    if not use_emulator:
        why = ("--sync-against none" if sync_against == "none" else
               f"the emulator would need about {needed / 2**30:.1f} GiB for {records:,} records, "
               f"over 60% of the {available / 2**30:.1f} GiB available")
        print(f"No emulator: {why}. The records are imported from the app folder "
              "(`migrate --from`), and no sync pass runs: there is no Base44 API to sync with.")

    forget(schema)
    emulator = Emulator(app, KEY) if use_emulator else None
    try:
        if emulator:
            rows.append(("emulator start (not offbase: its own memory)", emulator.seconds,
                         emulator.peak_mib(), records, f"serving at {emulator.url}"))
            seconds, mib, code, summary = offbase(folder, [
                "pull", *emulator.source(APP), "--workspace", workspace], emulator.environment)
            pulled = sum(entity["records"] for entity in summary["entities"])
            rows.append(("pull (`offbase pull`)", seconds, mib, pulled,
                         "counts match the API" if code == 0 else "a count differs from the API"))
            source = emulator.source(APP)
            label = "migrate: plan, load, verify (`offbase migrate`, pull complete)"
        else:
            source = ["--from", app]
            label = "migrate: import, plan, load, verify (`offbase migrate --from`)"
        seconds, mib, code, summary = offbase(folder, [
            "migrate", *source, "--workspace", workspace, *target],
            emulator.environment if emulator else None)
        load, verify = summary["load"], summary["verify"]
        verified = all(entity["expected_rows"] == entity["actual_rows"] and
                       entity["expected_hash"] == entity["actual_hash"] for entity in verify["entities"])
        loaded = sum(entity["loaded"] for entity in load["entities"])
        rejected = sum(entity["rejected"] for entity in load["entities"])
        keys = load["foreign_keys"]
        validated = sum(1 for key in keys if key["validated"])
        rows.append((label, seconds, mib, loaded,
                     f"{rejected:,} rejected; {validated} of {len(keys)} foreign keys validated; "
                     + ("verified" if verified else "VERIFICATION FAILED")))
        rows.append(("  of which the load", load["seconds"], None, loaded, ""))
        if not verified:
            problems.append("the verification after the load found a difference")
        for entity in load["entities"]:
            if entity["read"] != entity["loaded"] + entity["rejected"]:
                problems.append(f"{entity['entity']}: read {entity['read']:,} != loaded "
                                f"{entity['loaded']:,} + rejected {entity['rejected']:,}")
            if entity["read"] != counts.get(entity["entity"], 0):
                problems.append(f"{entity['entity']}: read {entity['read']:,}, generated "
                                f"{counts.get(entity['entity'], 0):,}")
        check_table = [(entity["entity"], entity["read"], entity["loaded"], entity["rejected"])
                       for entity in load["entities"]]

        seconds, mib, code, summary = offbase(folder, ["diff", "data", "--workspace", workspace, *target])
        rows.append(("diff data (`offbase diff data`)", seconds, mib, records,
                     "same" if code == 0 else "DIFFERENCES (see ws/reports/diff-data.md)"))
        if code != 0:
            problems.append("diff data found differences")

        if emulator:
            started = time.monotonic()
            emulator.change("Task", updates=100, creates=10, deletes=50, purges=50, by="the rehearsal",
                            copied=("project_id",))
            rows.append(("changes in the emulator (this script)", time.monotonic() - started, None, 210,
                         "100 updated, 10 created, 50 trashed, 50 purged"))
            seconds, mib, code, summary = offbase(folder, [
                "sync", "--once", "--requests-per-minute", "0", "--workspace", workspace, *target],
                emulator.environment)
            upserted = sum(entity["upserted"] for entity in summary["entities"])
            deleted = sum(entity["deleted"] for entity in summary["entities"])
            rows.append(("sync pass with reconciliation (`offbase sync --once`)", seconds, mib,
                         sum(entity["fetched"] for entity in summary["entities"]),
                         f"{upserted:,} upserted, {deleted:,} deleted (records: fetched)"))
            if (upserted, deleted) != (110, 100):
                problems.append(f"the sync pass upserted {upserted} and deleted {deleted}, not 110 and 100")
            rows.append(("emulator peak (not offbase)", None, emulator.peak_mib(), records, ""))
        else:
            rows.append(("sync pass", None, None, None, "not run: no emulator (see above)"))
    finally:
        if emulator:
            emulator.stop()
    return problems, check_table, schema


def cell(value, form):
    return "-" if value is None else form.format(value)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--folder", default=os.environ.get("OFFBASE_BENCH_DIR"),
                        help="where the rehearsal's own folder is made (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the folder and the schema")
    parser.add_argument("--no-build", action="store_true", help="do not run cargo build first")
    parser.add_argument("--sync-against", choices=["auto", "emulator", "none"], default="auto")
    arguments = parser.parse_args()
    if not arguments.no_build:
        subprocess.run(["cargo", "build", "--release", "-p", "offbase-cli"], cwd=ROOT, check=True)
    if arguments.folder:
        os.makedirs(arguments.folder, exist_ok=True)
    folder = tempfile.mkdtemp(prefix="offbase-rehearsal-", dir=arguments.folder)
    free = shutil.disk_usage(folder).free
    if free < arguments.records * DISK_PER_RECORD:
        os.rmdir(folder)
        sys.exit(f"{arguments.records:,} records need about {arguments.records * DISK_PER_RECORD / 1e9:.0f} GB "
                 f"of disk; {free / 1e9:.0f} GB free under {folder}: give --folder elsewhere")
    print(f"Rehearsal of {arguments.records:,} records in {folder}", flush=True)
    rows, problems, check_table = [], ["did not finish"], []
    schema = f"rehearsal_{arguments.records}"
    started = time.monotonic()
    try:
        problems, check_table, schema = rehearse(folder, arguments.records, arguments.sync_against, rows)
    finally:
        print()
        print("| stage | seconds | peak MiB | records | result |")
        print("|---|---:|---:|---:|---|")
        for stage, seconds, mib, records, result in rows:
            print(f"| {stage} | {cell(seconds, '{:.1f}')} | {cell(mib, '{:.0f}')} | "
                  f"{cell(records, '{:,}')} | {result} |")
        print(f"\nWhole rehearsal: {time.monotonic() - started:.0f} s; files at the end: "
              f"{folder_bytes(folder) / 2**20:,.0f} MiB (PostgreSQL's not counted)")
        if not arguments.keep:
            shutil.rmtree(folder)
            forget(schema)
        else:
            print(f"Kept: {folder} and schema {schema}")
    print("\n| entity | read | loaded | rejected | read = loaded + rejected |")
    print("|---|---:|---:|---:|---|")
    for entity, read, loaded, rejected in check_table:
        print(f"| {entity} | {read:,} | {loaded:,} | {rejected:,} | "
              f"{'yes' if read == loaded + rejected else 'NO'} |")
    if problems:
        print("\nProblems:\n" + "\n".join(f"- {problem}" for problem in problems))
        sys.exit(1)
    print("\nEvery generated record was read, and read = loaded + rejected for every entity.")


if __name__ == "__main__":
    main()
