"""What writing to S3 costs a crawl: pages/s of the same crawl into a local folder and into S3.

    python bench/crawl_store_cost.py [--articles 500] [--runs 3]

Serves the fixture site and a moto S3 server on 127.0.0.1, crawls the site into a fresh folder
store and into a fresh bucket (alternating, ``--runs`` times each), and prints the median pages/s.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fixture_site import FixtureSite


def crawl(store: str, base: str, env: dict, *extra: str) -> float:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "cli", "--log-level", "WARNING", "crawl", "--store", store,
         "--base-url", base, "--no-throttle", "-s", "ARCHIVE_PROGRESS_INTERVAL=0", *extra],
        cwd=ROOT, capture_output=True, text=True, env=env,
        check=False,
    )
    seconds = time.monotonic() - started
    if result.returncode:
        raise SystemExit(result.stderr[-3000:])
    match = re.search(r"(\d+) requests", result.stdout)
    if match is None:
        raise SystemExit(f"no request count in the crawl's summary:\n{result.stdout}")
    return int(match.group(1)) / seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
    s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="bench", aws_secret_access_key="bench",
                      region_name="us-east-1")
    site = FixtureSite(include_faults=False, extra_articles=max(args.articles - 30, 0))
    rates: dict[str, list[float]] = {"file": [], "s3": []}
    try:
        with tempfile.TemporaryDirectory() as tmp, site.serve(host="127.0.0.1") as running:
            base = running.base_urls["it"]
            for run in range(args.runs):
                rates["file"].append(crawl(str(Path(tmp) / f"file-{run}"), base, env))
                bucket = f"bench-{run}"
                s3.create_bucket(Bucket=bucket)
                rates["s3"].append(crawl(f"s3://{bucket}/archive", base, env, "-s", f"AWS_ENDPOINT_URL={endpoint}",
                                         "-s", f"ARCHIVE_SPOOL_DIR={Path(tmp) / f'spool-{run}'}"))
    finally:
        server.stop()
    medians = {k: statistics.median(v) for k, v in rates.items()}
    print("| store | pages/s (median) | min | max |")
    print("|---|---:|---:|---:|")
    for name, values in rates.items():
        print(f"| {name} | {medians[name]:.1f} | {min(values):.1f} | {max(values):.1f} |")
    print(f"S3 costs the crawl {100 * (1 - medians['s3'] / medians['file']):.1f} % of its pages/s")
    print(json.dumps({"articles": args.articles, "pages_per_s": rates}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
