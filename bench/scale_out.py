"""Scaling of a distributed crawl (1 and 2 workers) and of re-extraction (1 and 2 processes).

    python bench/scale_out.py [--articles 1000]

Needs Debian's redis-server. Serves the fixture site on 127.0.0.1, starts redis-server on a free
loopback port, crawls with one worker and then with two workers sharing the frontier (politeness
off: this measures the machine, not the publisher), re-extracts the result with 1 and 2 processes,
and prints a Markdown table and JSON.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fixture_site import FixtureSite


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cli(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "cli", "--log-level", "WARNING", *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def crawl(store: Path, base: str, redis_url: str, run: str, workers: int) -> dict:
    started = time.monotonic()
    processes = [
        cli("crawl", "--store", str(store), "--base-url", base, "--no-throttle", "--redis-url", redis_url,
            "--run-id", run, "--worker-id", f"w{n}", "-s", "ARCHIVE_SHARED_HOST_DELAY=0",
            "-s", "ARCHIVE_PROGRESS_INTERVAL=0", "-s", "EXTRACT_WORKERS=1")
        for n in range(workers)
    ]
    for process in processes:
        _, err = process.communicate()
        if process.returncode:
            raise SystemExit(f"worker failed:\n{err[-2000:]}")
    seconds = time.monotonic() - started
    pages = sum(
        json.loads(p.read_text())["stats"].get("response_received_count", 0)
        for p in store.glob(f"crawls/*.{run}.*/manifest.json")
    )
    return {"workers": workers, "seconds": round(seconds, 1), "pages": pages, "pages_per_s": round(pages / seconds, 1)}


def reextract(store: Path, processes: int) -> dict:
    process = cli("reextract", "--store", str(store), "--workers", str(processes), "--force")
    out, err = process.communicate()
    if process.returncode:
        raise SystemExit(f"reextract failed:\n{err[-2000:]}")
    rate = float(re.search(r"\(([\d.]+) pages/s\)", out).group(1))
    return {"processes": processes, "pages_per_s": rate}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1000)
    args = parser.parse_args(argv)
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        raise SystemExit("redis-server is needed: apt-get install redis-server")
    port = free_port()
    redis = subprocess.Popen([redis_server, "--bind", "127.0.0.1", "--port", str(port), "--save", ""],
                             stdout=subprocess.DEVNULL)
    site = FixtureSite(include_faults=False, extra_articles=max(args.articles - 30, 0))
    try:
        time.sleep(0.5)
        with tempfile.TemporaryDirectory() as tmp, site.serve(host="127.0.0.1") as running:
            base = running.base_urls["it"]
            url = f"redis://127.0.0.1:{port}/0"
            one = crawl(Path(tmp) / "one", base, url, "one", 1)
            two = crawl(Path(tmp) / "two", base, url, "two", 2)
            extract = [reextract(Path(tmp) / "one", n) for n in (1, 2)]
    finally:
        redis.terminate()
        redis.wait()
    print(f"| {args.articles} articles | pages/s | scaling |")
    print("|---|---:|---:|")
    print(f"| crawl, 1 worker | {one['pages_per_s']} | 1.00 |")
    print(f"| crawl, 2 workers | {two['pages_per_s']} | {two['pages_per_s'] / one['pages_per_s']:.2f} |")
    print(f"| re-extraction, 1 process | {extract[0]['pages_per_s']} | 1.00 |")
    print(f"| re-extraction, 2 processes | {extract[1]['pages_per_s']} | "
          f"{extract[1]['pages_per_s'] / extract[0]['pages_per_s']:.2f} |")
    print(json.dumps({"articles": args.articles, "crawl": [one, two], "reextract": extract}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
