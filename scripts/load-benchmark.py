#!/usr/bin/env python3
"""Load benchmark: offbase load of N generated Task records from a workspace, against
`psql \\copy` and pgloader of the same rows as CSV into the same table with its primary key,
side by side.

    python3 scripts/load-benchmark.py [--rounds=3] [N ...]     (default: 100000 1000000)

Needs PostgreSQL at DATABASE_URL (default postgres://root@127.0.0.1:5432/test), psql and pgloader
(`apt-get install pgloader`; without either the script stops with exit code 2). CHECKPOINT needs
a superuser (the default URL's root is one). Each round runs offbase, then psql, then pgloader,
each from a checkpointed, synced state. offbase's time is the whole `offbase load` command:
tables, data, primary key, the plan's indexes, foreign keys, ANALYZE. psql's is `\\copy` into the
same table with its primary key and nothing else.

pgloader loads the very CSV file psql reads (written once by psql's `\\copy ... TO ... CSV` from
what offbase loaded) into its own schema, into the same table as psql's (created the same way,
`LIKE` offbase's table with its defaults and constraints, then `ADD PRIMARY KEY`), fresh each
round. Its command file (`LOAD CSV FROM ... INTO ... TARGET TABLE ... WITH ...`) is written to a
temporary file. pgloader parses psql's CSV as it is, no separate file: `fields optionally
enclosed by '"'`, `fields escaped by double-quote` and `csv escape mode quote` read psql's
quoting (a quote inside a quoted field doubled), and pgloader's CSV reader already takes an
unquoted empty field as NULL and a quoted one ("") as the empty string, which is psql's NULL
convention, so no `null if` is set. `keep unquoted blanks` is needed: psql does not quote a
value with leading or trailing spaces, and pgloader's default (`trim unquoted blanks`) would
strip them (on the probe below, '  lead and trail  ' and ' ' lost their spaces). Checked once on a probe
table (NULL and "" text, leading and trailing spaces, a lone space, embedded newlines, quotes,
commas, tabs, backslashes, `\\.`, arrays, jsonb, NaN): every row came back identical. The script
also checks it on the benchmark's data: after every round the table must hold every row (else
the round fails, with pgloader's log), and after the first round pgloader's table and psql's
must hold the same rows (`EXCEPT ALL` both ways).

pgloader runs with its own defaults otherwise: it does not truncate (the table is new), does not
drop or disable the primary key (it only warns that the index "could impact loading performance
badly"), does not disable triggers and runs no ANALYZE. With its defaults it ran one reader
thread (parsing the CSV and handing each row to the writer through a queue: about two futex
calls a row) and one writer thread sending COPY batches of about 25,000 rows on its own
connection, each batch its own transaction (a failing batch is retried row by row, its bad rows
written to a reject file and the load goes on, exit code 0: hence the row count check). The
reader is its bottleneck (at 100,000 rows: reader 12 s, batches sent in 1.7 s), and its
hand-offs make it the contender most slowed by a busy machine: the progress lines on stderr give
each contender's CPU seconds and the rounds list gives the load average. pgloader (SBCL) runs
as one process with threads, no child process (checked with `strace -f`: clone with
CLONE_THREAD only), so its peak RSS is wait4's of the process, as for offbase and psql; the
script watches for child processes all the same and stops if one appears, since wait4 would
then give the largest process of the tree, not its sum.

A fourth contender does by hand what offbase's load does once its rows are in, as one psql
script: `\\copy` into the same table with its primary key, then the table's other indexes and
its foreign key exactly as offbase created them (their definitions read from the catalog after
offbase's load, the referenced Project rows copied beside it), then ANALYZE: what a user
would run to end with what `offbase load` leaves, without its checks, checkpoints and reports.

Each run also records the CPU seconds the whole machine spent busy meanwhile (/proc/stat: the
contender, PostgreSQL's backends and workers, anything else): divided by the cores, the least
time that work could take on this machine however well it overlapped.

Prints a Markdown table (per size and contender: median seconds, ratio to psql's median, largest
peak RSS of the rounds, the machine's CPU seconds), then each size's rounds.
"""
import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
URL = os.environ.get("DATABASE_URL", "postgres://root@127.0.0.1:5432/test")
BINARY = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "offbase")
SAME_WORK = "psql \\copy + the same indexes, foreign key, ANALYZE"
CONTENDERS = ["offbase load", "psql \\copy", "pgloader", SAME_WORK]


def psql(sql):
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql, URL], check=True,
                   stdout=subprocess.DEVNULL)


def psql_value(sql):
    return subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql, URL], check=True,
                          stdout=subprocess.PIPE, text=True).stdout.strip()


def children_of(pid):
    """The child processes of pid (of all its threads), from /proc."""
    found = set()
    for path in glob.glob(f"/proc/{pid}/task/*/children"):
        try:
            with open(path) as file:
                found.update(int(word) for word in file.read().split())
        except OSError:
            pass
    return found


def machine_busy():
    """CPU seconds the whole machine has spent busy (every core, every process: the client and
    PostgreSQL's backends and workers), from /proc/stat."""
    with open("/proc/stat") as stat:
        fields = stat.readline().split()[1:]
    # user nice system idle iowait irq softirq steal: all but idle and iowait.
    busy = sum(int(value) for index, value in enumerate(fields[:8]) if index not in (3, 4))
    return busy / os.sysconf("SC_CLK_TCK")


def timed(command, env=None, log=None):
    """Runs command; returns (seconds, peak RSS in MiB, CPU seconds of that child alone, CPU seconds of
    the whole machine meanwhile). Stops the script when
    the child starts processes of its own (wait4's peak would then not be the tree's), or fails
    (printing the tail of log, its stdout and stderr, when given)."""
    started, busy = time.monotonic(), machine_busy()
    output = open(log, "w") if log else None
    process = subprocess.Popen(command, env=env, stdout=output or subprocess.DEVNULL, stderr=output)
    done, forked = threading.Event(), set()

    def watch():
        while not done.wait(0.05):
            forked.update(children_of(process.pid))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    _, status, usage = os.wait4(process.pid, 0)
    seconds, busy = time.monotonic() - started, machine_busy() - busy
    done.set()
    watcher.join()
    if output:
        output.close()
    if os.waitstatus_to_exitcode(status) != 0:
        if log:
            with open(log, errors="replace") as file:
                sys.stderr.write("".join(file.readlines()[-40:]))
        sys.exit(f"{command[0]} failed (exit status {os.waitstatus_to_exitcode(status)})")
    if forked:
        sys.exit(f"{command[0]} started {len(forked)} child process(es): its peak RSS from wait4 would be "
                 "the largest process of the tree, not the tree's; measure the tree instead")
    return seconds, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime, busy


def forget(schema):
    """Drops a schema and whatever offbase remembers of loads into it."""
    psql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    psql("DO $$ BEGIN IF to_regclass('offbase.load_runs') IS NOT NULL THEN "
         f"DELETE FROM offbase.load_checkpoints WHERE pg_schema = '{schema}'; "
         f"DELETE FROM offbase.load_runs WHERE pg_schema = '{schema}'; END IF; END $$")


def reference_table(schema, like):
    """The same table as offbase's (columns, NOT NULLs, CHECKs) with its primary key, empty."""
    psql(f'CREATE SCHEMA "{schema}"')
    psql(f'CREATE TABLE "{schema}".task (LIKE "{like}".task INCLUDING DEFAULTS INCLUDING CONSTRAINTS)')
    psql(f'ALTER TABLE "{schema}".task ADD PRIMARY KEY (id)')


def same_work(schema, like, csv):
    """A psql script doing by hand what offbase's load does after its rows are in: schema.task
    as reference_table makes it (with its primary key) and a copy of like.project, then the
    \\copy, the task table's other indexes and foreign keys exactly as offbase made them in like
    (their definitions read from the catalog), and ANALYZE."""
    reference_table(schema, like)
    psql(f'CREATE TABLE "{schema}".project (LIKE "{like}".project INCLUDING ALL)')
    psql(f'INSERT INTO "{schema}".project SELECT * FROM "{like}".project')
    table = f"'\"{like}\".task'::regclass"

    def moved(text):
        return text.replace(f"{like}.", f'"{schema}".').replace(f'"{like}".', f'"{schema}".')

    indexes = psql_value(f"SELECT string_agg(pg_get_indexdef(indexrelid), E';\\n') FROM pg_index "
                         f"WHERE indrelid = {table} AND NOT indisprimary")
    keys = psql_value(f"SELECT string_agg(format('ALTER TABLE %s ADD CONSTRAINT %I %s', {table}, conname, "
                      f"pg_get_constraintdef(oid)), E';\\n') FROM pg_constraint "
                      f"WHERE conrelid = {table} AND contype = 'f'")
    return "\n".join([f"\\copy \"{schema}\".task FROM '{csv}' CSV", moved(indexes) + ";",
                      moved(keys) + ";", f'ANALYZE "{schema}".task;', ""])


def pgloader_command(csv, schema):
    """pgloader's command file: psql's CSV as it is (see the docstring), into schema.task."""
    url = "postgresql://" + URL.split("://", 1)[1] if URL.startswith("postgres://") else URL
    return (f"LOAD CSV\n"
            f"     FROM '{csv}' WITH ENCODING utf-8\n"
            f"     INTO {url}\n"
            f"     TARGET TABLE {schema}.task\n"
            f"     WITH fields terminated by ',',\n"
            f"          fields optionally enclosed by '\"',\n"
            f"          fields escaped by double-quote,\n"
            f"          csv escape mode quote,\n"
            f"          keep unquoted blanks\n"
            f";\n")


def check_rows(schema, expected, who, log=None):
    """Fails the round loudly unless schema.task holds expected rows."""
    found = int(psql_value(f'SELECT count(*) FROM "{schema}".task'))
    if found != expected:
        if log:
            with open(log, errors="replace") as file:
                sys.stderr.write(file.read()[-6000:])
        sys.exit(f"{who} loaded {found:,} rows of {expected:,} into {schema}.task: round failed"
                 + (f" (its log: {log})" if log else ""))


def main():
    args = sys.argv[1:]
    rounds = 3
    if args and args[0].startswith("--rounds="):
        rounds = int(args.pop(0).split("=", 1)[1])
    counts = [int(arg) for arg in args] or [100_000, 1_000_000]
    for tool, package in [("psql", "postgresql-client"), ("pgloader", "pgloader")]:
        if shutil.which(tool) is None:
            print(f"{tool} is missing: apt-get install {package}", file=sys.stderr)
            sys.exit(2)
    subprocess.run(["cargo", "build", "--release", "-p", "offbase-cli"], cwd=ROOT, check=True)
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for count in counts:
            workspace = os.path.join(folder, f"ws-{count}")
            subprocess.run([BINARY, "generate", "--schema-from", os.path.join(ROOT, "scripts", "bench-app"),
                            "--records", "100", "--records-for", f"Task={count}", "--workspace", workspace],
                           check=True, stdout=subprocess.DEVNULL)
            staged = sum(os.path.getsize(os.path.join(path, name))
                         for path, _, names in os.walk(os.path.join(workspace, "data", "Task")) for name in names)
            ours, theirs, loader = f"bench_offbase_{count}", f"bench_psql_{count}", f"bench_pgloader_{count}"
            by_hand = f"bench_psql_same_{count}"
            script = os.path.join(folder, f"task-{count}-same-work.sql")
            csv = os.path.join(folder, f"task-{count}.csv")
            command_file = os.path.join(folder, f"task-{count}.load")
            with open(command_file, "w") as file:
                file.write(pgloader_command(csv, loader))
            pgloader_root = os.path.join(folder, "pgloader")
            times = {name: [] for name in CONTENDERS}
            rss = {name: [] for name in CONTENDERS}
            cpu = {name: [] for name in CONTENDERS}
            machine = {name: [] for name in CONTENDERS}
            loads = []
            for round_number in range(rounds):
                for schema in (ours, theirs, loader, by_hand):
                    forget(schema)
                loads.append(os.getloadavg()[0])
                settle()
                seconds, peak, used, busy = timed([BINARY, "load", "--workspace", workspace, "--database-url", URL,
                                       "--pg-schema", ours])
                times["offbase load"].append(seconds)
                rss["offbase load"].append(peak)
                cpu["offbase load"].append(used)
                machine["offbase load"].append(busy)
                if round_number == 0:
                    # The same rows as CSV, exported from what offbase loaded.
                    psql(f"\\copy (SELECT * FROM \"{ours}\".task) TO '{csv}' CSV")
                check_rows(ours, count, "offbase load")
                reference_table(theirs, ours)
                reference_table(loader, ours)
                with open(script, "w") as file:
                    file.write(same_work(by_hand, ours, csv))
                forget(ours)

                settle()
                seconds, peak, used, busy = timed(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
                                       f"\\copy \"{theirs}\".task FROM '{csv}' CSV", URL])
                times["psql \\copy"].append(seconds)
                rss["psql \\copy"].append(peak)
                cpu["psql \\copy"].append(used)
                machine["psql \\copy"].append(busy)
                check_rows(theirs, count, "psql \\copy")

                settle()
                log = os.path.join(folder, f"pgloader-{count}-{round_number + 1}.log")
                seconds, peak, used, busy = timed(["pgloader", "--root-dir", pgloader_root,
                                       "--logfile", os.path.join(pgloader_root, "pgloader.log"), command_file],
                                      log=log)
                times["pgloader"].append(seconds)
                rss["pgloader"].append(peak)
                cpu["pgloader"].append(used)
                machine["pgloader"].append(busy)
                check_rows(loader, count, "pgloader", log)
                if round_number == 0:
                    for a, b in ((loader, theirs), (theirs, loader)):
                        extra = int(psql_value(f'SELECT count(*) FROM (SELECT * FROM "{a}".task '
                                               f'EXCEPT ALL SELECT * FROM "{b}".task) AS extra'))
                        if extra:
                            sys.exit(f"{a}.task holds {extra:,} rows {b}.task does not: pgloader read the "
                                     "CSV differently from psql")
                settle()
                seconds, peak, used, busy = timed(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", script, URL])
                times[SAME_WORK].append(seconds)
                rss[SAME_WORK].append(peak)
                cpu[SAME_WORK].append(used)
                machine[SAME_WORK].append(busy)
                check_rows(by_hand, count, SAME_WORK)

                forget(theirs)
                forget(loader)
                forget(by_hand)
                print(f"{count} round {round_number + 1}: "
                      + ", ".join(f"{name} {times[name][-1]:.2f} s ({cpu[name][-1]:.2f} s CPU, machine {machine[name][-1]:.2f} s CPU, "
                                  f"{rss[name][-1]:.0f} MiB)"
                                  for name in CONTENDERS) + f"; load average {loads[-1]:.1f}",
                      file=sys.stderr)
            results.append((count, staged, os.path.getsize(csv), times, rss, loads, machine))
    cores = os.cpu_count() or 1
    print(f"Medians of {rounds} alternating rounds (offbase, psql, pgloader, psql with the same work in each); ratio = median / psql's "
          "median; peak RSS is the largest of the rounds. Machine CPU: what every process (the contender "
          f"and PostgreSQL) spent busy meanwhile; divided by the {cores} cores, the least time that work "
          "could take here, however well it overlapped.\n")
    print("| Task records | contender | median | ratio to psql \\copy | peak RSS | machine CPU | "
          f"machine CPU / {cores} cores |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for count, _, _, times, rss, _, machine in results:
        reference = statistics.median(times["psql \\copy"])
        for name in CONTENDERS:
            median = statistics.median(times[name])
            busy = statistics.median(machine[name])
            print(f"| {count:,} | {name} | {median:.2f} s | {median / reference:.2f} | {max(rss[name]):.0f} MiB | "
                  f"{busy:.2f} s | {busy / cores:.2f} s |")
    print()
    for count, staged, csv, times, _, loads, _ in results:
        rounds_text = ", ".join("/".join(f"{times[name][i]:.2f}" for name in CONTENDERS) + f" ({loads[i]:.1f})"
                                for i in range(rounds))
        print(f"- {count:,} records (staged JSONL {staged / 2**20:.0f} MiB, CSV {csv / 2**20:.0f} MiB), "
              f"rounds (offbase / psql / pgloader / psql with the same work, s; in brackets the 1-minute load average as the round began): "
              f"{rounds_text}")


def settle():
    """Starts each timed run from the same state: dirty pages written, WAL checkpointed."""
    subprocess.run(["sync"])
    psql("CHECKPOINT")


if __name__ == "__main__":
    main()
