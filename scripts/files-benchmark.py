#!/usr/bin/env python3
"""Files benchmark: `offbase files copy` of N files of SIZE bytes from `offbase emulate` to a
local folder, against a plain sequential download loop of the same URLs (Python's http.client,
one keep-alive connection, each body written to a file), side by side; then the same to an
S3-compatible bucket (moto in server mode, `pip install 'moto[server]==5.1.5'`): offbase's
`--to s3://bench/ROUND` against a plain sequential loop that GETs each file and PUTs it to the
bucket (one keep-alive connection each, no hash, no log); then one large file copied alone, to
the folder and to the bucket, for offbase's peak memory.

    python3 scripts/files-benchmark.py [--rounds=3] [--no-s3] [N [SIZE [LARGE]]]
        (default: 10000 files of 102400 bytes; a large file of 1073741824 bytes)

Prints Markdown tables: medians of each side's seconds, files/s and MB/s, their ratio, and
offbase's peak RSS; then the large file's seconds and peak RSS. Without moto installed, the S3
part says it skipped.
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


def timed(command, env=None):
    """Runs command; returns (seconds, peak RSS in MiB) of that child alone."""
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, env=env)
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


class Moto:
    """moto's S3 server on a free port; `reset` empties it between rounds."""
    BUCKET = "bench"
    # moto checks no signature, but refuses anonymous reads: any Authorization header will do.
    AUTHORIZATION = ("AWS4-HMAC-SHA256 Credential=AKIABENCH/20260101/us-east-1/s3/aws4_request, "
                     "SignedHeaders=host, Signature=00")

    @staticmethod
    def installed():
        return subprocess.run([sys.executable, "-c", "import moto.server"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0

    def __init__(self):
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            sys.exit("moto did not start")
        self.reset()

    def request(self, method, path, body=None, headers=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port)
        connection.request(method, path, body=body,
                           headers=dict(headers or {}, Authorization=self.AUTHORIZATION))
        response = connection.getresponse()
        response.read()
        connection.close()
        return response.status

    def reset(self):
        """Forgets every bucket (moto's own API), then creates the benchmark's bucket."""
        if self.request("POST", "/moto-api/reset") != 200:
            sys.exit("moto did not reset")
        if self.request("PUT", f"/{self.BUCKET}") != 200:
            sys.exit("moto did not create the bucket")

    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def env(self):
        env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
        env.update(AWS_ENDPOINT_URL=self.endpoint(), AWS_REGION="us-east-1",
                   AWS_ACCESS_KEY_ID="AKIABENCH", AWS_SECRET_ACCESS_KEY="bench-secret")
        return env

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


def offbase_copy(workspace, destination, origin, env=None):
    # A fresh copy every round: the log of an earlier one would skip every file.
    log = os.path.join(workspace, "files", "copied.jsonl")
    if os.path.exists(log):
        os.remove(log)
    if not destination.startswith("s3://"):
        shutil.rmtree(destination, ignore_errors=True)
    return timed([BINARY, "files", "copy", "--workspace", workspace, "--to", destination,
                  "--via", origin], env=env)


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


def plain_s3_loop(urls, moto, prefix, origin):
    """The reference for a bucket: one connection to the files, one to the bucket; each file
    fetched whole, then PUT (unsigned: moto checks no signature), one after the other."""
    host = urllib.parse.urlparse(origin)
    started = time.monotonic()
    source = http.client.HTTPConnection(host.hostname, host.port)
    bucket = http.client.HTTPConnection("127.0.0.1", moto.port)
    for index, url in enumerate(urls):
        path = urllib.parse.urlparse(url).path
        source.request("GET", path)
        response = source.getresponse()
        body = response.read()
        if response.status != 200:
            sys.exit(f"{path}: HTTP {response.status}")
        bucket.request("PUT", f"/{Moto.BUCKET}/{prefix}/{index}", body=body,
                       headers={"Authorization": Moto.AUTHORIZATION,
                                "Content-Type": response.getheader("Content-Type", "")})
        put = bucket.getresponse()
        put.read()
        if put.status != 200:
            sys.exit(f"PUT {index}: HTTP {put.status}")
    source.close()
    bucket.close()
    return time.monotonic() - started


def table(title, count, size, offbase_seconds, offbase_rss, plain_seconds):
    megabytes = count * size / 1e6
    ours, theirs = statistics.median(offbase_seconds), statistics.median(plain_seconds)
    print(f"\n{title}\n")
    print("| files | bytes each | offbase files copy | files/s | MB/s | plain loop | files/s | MB/s "
          "| ratio (time) | offbase peak RSS | all rounds (offbase / plain) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    rounds_text = ", ".join(f"{a:.2f}/{b:.2f}" for a, b in zip(offbase_seconds, plain_seconds))
    print(f"| {count:,} | {size:,} | {ours:.2f} s | {count / ours:,.0f} | {megabytes / ours:,.0f} "
          f"| {theirs:.2f} s | {count / theirs:,.0f} | {megabytes / theirs:,.0f} | {ours / theirs:.2f} "
          f"| {max(offbase_rss):.0f} MiB | {rounds_text} |")


def main():
    args = sys.argv[1:]
    rounds = 3
    s3 = True
    while args and args[0].startswith("--"):
        option = args.pop(0)
        if option.startswith("--rounds="):
            rounds = int(option.split("=", 1)[1])
        elif option == "--no-s3":
            s3 = False
        else:
            sys.exit(f"unknown option {option}")
    count = int(args[0]) if len(args) > 0 else 10_000
    size = int(args[1]) if len(args) > 1 else 102_400
    large = int(args[2]) if len(args) > 2 else 1 << 30
    if s3 and not Moto.installed():
        print("S3 part skipped: moto is not installed (pip install 'moto[server]==5.1.5')")
        s3 = False
    subprocess.run(["cargo", "build", "--release", "-p", "offbase-cli"], cwd=ROOT, check=True)
    with tempfile.TemporaryDirectory() as folder:
        app = os.path.join(folder, "app")
        app_folder(app, count)
        workspace = staged(folder, app)
        with open(os.path.join(workspace, "files", "manifest.json")) as manifest:
            urls = [entry["url"] for entry in json.load(manifest)["files"]]
        emulator = Emulator(app, size)
        moto = Moto() if s3 else None
        try:
            benchmark(folder, workspace, urls, count, size, large, rounds, emulator, moto)
        finally:
            if moto:
                moto.stop()


def benchmark(folder, workspace, urls, count, size, large, rounds, emulator, moto):
    """The rounds against `emulator` (stopped at the end), then the large file."""
    try:
        offbase_seconds, offbase_rss, plain_seconds = [], [], []
        for _ in range(rounds):
            seconds, rss = offbase_copy(workspace, os.path.join(folder, "copies"), emulator.origin())
            offbase_seconds.append(seconds)
            offbase_rss.append(rss)
            plain_seconds.append(plain_loop(urls, os.path.join(folder, "plain"), emulator.origin()))
        table("To a folder:", len(urls), size, offbase_seconds, offbase_rss, plain_seconds)
        if moto:
            offbase_seconds, offbase_rss, plain_seconds = [], [], []
            for round_ in range(rounds):
                # An empty bucket every round (moto keeps what it holds in memory).
                moto.reset()
                seconds, rss = offbase_copy(workspace, f"s3://{Moto.BUCKET}/offbase{round_}",
                                            emulator.origin(), env=moto.env())
                offbase_seconds.append(seconds)
                offbase_rss.append(rss)
                moto.reset()
                plain_seconds.append(plain_s3_loop(urls, moto, f"plain{round_}", emulator.origin()))
            moto.reset()
            table(f"To an S3 bucket (moto {moto_version()} on the same machine):", len(urls), size,
                  offbase_seconds, offbase_rss, plain_seconds)
    finally:
        emulator.stop()

    if large:
        big_folder = os.path.join(folder, "large")
        os.makedirs(big_folder)
        big_app = os.path.join(big_folder, "app")
        app_folder(big_app, 1)
        big_workspace = staged(big_folder, big_app)
        emulator = Emulator(big_app, large)
        try:
            seconds, rss = offbase_copy(big_workspace, os.path.join(big_folder, "copies"), emulator.origin())
            print(f"\nOne file of {large:,} bytes to a folder: {seconds:.2f} s, offbase peak RSS {rss:.0f} MiB")
            if moto:
                moto.reset()
                seconds, rss = offbase_copy(big_workspace, f"s3://{Moto.BUCKET}/large",
                                            emulator.origin(), env=moto.env())
                print(f"One file of {large:,} bytes to an S3 bucket: {seconds:.2f} s, "
                      f"offbase peak RSS {rss:.0f} MiB")
        finally:
            emulator.stop()


def moto_version():
    return subprocess.run([sys.executable, "-c", "import moto; print(moto.__version__)"],
                          capture_output=True, text=True).stdout.strip()


if __name__ == "__main__":
    main()
