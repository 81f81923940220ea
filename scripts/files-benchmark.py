#!/usr/bin/env python3
"""Files benchmark: `offbase files copy` of N files of SIZE bytes from `offbase emulate` to a
local folder, against a plain sequential download loop of the same URLs (Python's http.client,
one keep-alive connection, each body written to a file), side by side; then one large file
copied alone, for offbase's peak memory.

    python3 scripts/files-benchmark.py [--rounds=3] [N [SIZE [LARGE]]]
        (default: 10000 files of 102400 bytes; a large file of 1073741824 bytes)

Prints a Markdown table: medians of each side's seconds, files/s and MB/s, their ratio, and
offbase's peak RSS; then the large file's seconds and peak RSS.
"""
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "offbase")
APP = "900e600cba18b8f276b74981"
KEY = "files-benchmark-key"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def timed(command):
    """Runs command; returns (seconds, peak RSS in MiB) of that child alone."""
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(command)} failed")
    return seconds, usage.ru_maxrss / 1024


def app_folder(folder, count):
    """An app whose Doc records each point at one file."""
    os.makedirs(os.path.join(folder, "base44", "entities"))
    os.makedirs(os.path.join(folder, "data"))
    with open(os.path.join(folder, "base44", "entities", "Doc.jsonc"), "w") as out:
        out.write('{"name": "Doc", "type": "object", "properties": {"file_url": {"type": "string"}}}')
    with open(os.path.join(folder, "base44", ".app.jsonc"), "w") as out:
        out.write(json.dumps({"id": APP}))
    with open(os.path.join(folder, "data", "Doc.jsonl"), "w") as out:
        for index in range(count):
            url = f"https://base44.app/api/apps/{APP}/files/public/{APP}/{index:09x}_doc{index}.bin"
            out.write(json.dumps({"id": f"{index:024x}", "created_date": "2026-01-01T00:00:00",
                                  "file_url": url}) + "\n")


class Emulator:
    def __init__(self, app, size):
        self.port = free_port()
        env = dict(os.environ, OFFBASE_EMULATOR_KEY=KEY)
        self.process = subprocess.Popen(
            [BINARY, "emulate", app, "--port", str(self.port), "--no-rate-limits",
             "--file-size", str(size)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.1).close()
                return
            except OSError:
                time.sleep(0.1)
        sys.exit("the emulator did not start")

    def origin(self):
        return f"http://127.0.0.1:{self.port}"

    def stop(self):
        self.process.terminate()
        self.process.wait()


def staged(folder, app):
    workspace = os.path.join(folder, "ws")
    subprocess.run([BINARY, "migrate", "--from", app, "--workspace", workspace, "--bundle",
                    os.path.join(folder, "bundle.sql")], check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run([BINARY, "files", "scan", "--workspace", workspace], check=True,
                   stdout=subprocess.DEVNULL)
    return workspace


def offbase_copy(workspace, destination, origin):
    # A fresh copy every round: the log of an earlier one would skip every file.
    log = os.path.join(workspace, "files", "copied.jsonl")
    if os.path.exists(log):
        os.remove(log)
    shutil.rmtree(destination, ignore_errors=True)
    return timed([BINARY, "files", "copy", "--workspace", workspace, "--to", destination,
                  "--via", origin])


def plain_loop(urls, destination, origin):
    """The reference: one connection, one file after the other."""
    shutil.rmtree(destination, ignore_errors=True)
    os.makedirs(destination)
    host = urllib.parse.urlparse(origin)
    started = time.monotonic()
    connection = http.client.HTTPConnection(host.hostname, host.port)
    for index, url in enumerate(urls):
        path = urllib.parse.urlparse(url).path
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            sys.exit(f"{path}: HTTP {response.status}")
        with open(os.path.join(destination, str(index)), "wb") as out:
            out.write(body)
    connection.close()
    return time.monotonic() - started


def main():
    args = sys.argv[1:]
    rounds = 3
    if args and args[0].startswith("--rounds="):
        rounds = int(args.pop(0).split("=", 1)[1])
    count = int(args[0]) if len(args) > 0 else 10_000
    size = int(args[1]) if len(args) > 1 else 102_400
    large = int(args[2]) if len(args) > 2 else 1 << 30
    subprocess.run(["cargo", "build", "--release", "-p", "offbase-cli"], cwd=ROOT, check=True)
    with tempfile.TemporaryDirectory() as folder:
        app = os.path.join(folder, "app")
        app_folder(app, count)
        workspace = staged(folder, app)
        with open(os.path.join(workspace, "files", "manifest.json")) as manifest:
            urls = [entry["url"] for entry in json.load(manifest)["files"]]
        emulator = Emulator(app, size)
        try:
            offbase_seconds, offbase_rss, plain_seconds = [], [], []
            for _ in range(rounds):
                seconds, rss = offbase_copy(workspace, os.path.join(folder, "copies"), emulator.origin())
                offbase_seconds.append(seconds)
                offbase_rss.append(rss)
                plain_seconds.append(plain_loop(urls, os.path.join(folder, "plain"), emulator.origin()))
        finally:
            emulator.stop()
        megabytes = count * size / 1e6
        ours, theirs = statistics.median(offbase_seconds), statistics.median(plain_seconds)
        print(f"\n| files | bytes each | offbase files copy | files/s | MB/s | plain loop | files/s | MB/s "
              "| ratio (time) | offbase peak RSS | all rounds (offbase / plain) |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        rounds_text = ", ".join(f"{a:.2f}/{b:.2f}" for a, b in zip(offbase_seconds, plain_seconds))
        print(f"| {len(urls):,} | {size:,} | {ours:.2f} s | {len(urls) / ours:,.0f} | {megabytes / ours:,.0f} "
              f"| {theirs:.2f} s | {len(urls) / theirs:,.0f} | {megabytes / theirs:,.0f} | {ours / theirs:.2f} "
              f"| {max(offbase_rss):.0f} MiB | {rounds_text} |")

        if large:
            big_folder = os.path.join(folder, "large")
            os.makedirs(big_folder)
            big_app = os.path.join(big_folder, "app")
            app_folder(big_app, 1)
            big_workspace = staged(big_folder, big_app)
            emulator = Emulator(big_app, large)
            try:
                seconds, rss = offbase_copy(big_workspace, os.path.join(big_folder, "copies"), emulator.origin())
            finally:
                emulator.stop()
            print(f"\nOne file of {large:,} bytes: {seconds:.2f} s, offbase peak RSS {rss:.0f} MiB")


if __name__ == "__main__":
    main()
