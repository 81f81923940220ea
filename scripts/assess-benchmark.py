#!/usr/bin/env python3
"""offbase assess on a real-shaped app of N source files, side by side with a reference that
only reads the same files (the parse and the analysis are what the difference costs).

The app is the sample `samples/tasks` (its code, functions, assets) with its `src/` copied
COPIES times under `src/copy-K/`, so imports between the copies resolve as in the sample.

    cargo build --release
    python3 scripts/assess-benchmark.py [--copies 12] [--rounds 5]

Prints one table: source files, the median of offbase assess and of the read-only reference
over alternating rounds, and their ratio.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_app(folder, copies):
    sample = os.path.join(ROOT, "samples", "tasks")
    shutil.copytree(sample, folder, ignore=shutil.ignore_patterns("data"))
    for copy in range(copies):
        shutil.copytree(os.path.join(sample, "src"), os.path.join(folder, "src", "copy-%d" % copy))
    code = 0
    for base, _, files in os.walk(folder):
        code += sum(1 for name in files if name.rsplit(".", 1)[-1] in ("js", "jsx", "ts", "tsx"))
    return code


def read_all(folder):
    total = 0
    for base, _, files in os.walk(folder):
        for name in files:
            with open(os.path.join(base, name), "rb") as handle:
                total += len(handle.read())
    return total


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    binary = os.path.join(ROOT, "target", "release", "offbase")
    with tempfile.TemporaryDirectory() as temporary:
        app = os.path.join(temporary, "app")
        files = make_app(app, arguments.copies)
        out = os.path.join(temporary, "out")
        assess, reference = [], []
        for _ in range(arguments.rounds):
            started = time.perf_counter()
            subprocess.run([binary, "assess", app, "--out", out], check=True, stdout=subprocess.DEVNULL)
            assess.append(time.perf_counter() - started)
            started = time.perf_counter()
            read_all(app)
            reference.append(time.perf_counter() - started)
        a, r = statistics.median(assess), statistics.median(reference)
        print("| source files | offbase assess | read the files | ratio |")
        print("|---:|---:|---:|---:|")
        print("| %d | %.3f s | %.3f s | %.1f |" % (files, a, r, a / r if r else float("inf")))


if __name__ == "__main__":
    main()
