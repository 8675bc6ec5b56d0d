"""Second run over an unchanged site: how many requests and how much time it takes next to the first.

    python bench/incremental_recrawl.py [--articles 2000] [--runs 1]

Serves the fixture site with the given number of lifegate.it articles on 127.0.0.1, crawls it into a
fresh store, then crawls it again unchanged (default recrawl policy, and once more with every
article due so each is rechecked with a conditional request), and prints requests, seconds and
the ratios as a Markdown table and JSON.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fixture_site import FixtureSite

ALWAYS_DUE = ["-s", 'ARCHIVE_RECRAWL_INTERVALS=[["100000d", "0s"]]']


def crawl(store: Path, base: str, *extra: str) -> dict:
    started = time.monotonic()
    result = subprocess.run(
        [
            sys.executable, "-m", "cli", "--log-level", "WARNING", "crawl",
            "--store", str(store), "--base-url", base, "--no-throttle",
            "-s", "ARCHIVE_PROGRESS_INTERVAL=0", *extra,
        ],
        cwd=ROOT, capture_output=True, text=True,
        check=False,
    )
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(f"crawl failed:\n{result.stderr[-3000:]}")
    latest = max((store / "crawls").iterdir())
    stats = json.loads((latest / "manifest.json").read_text())["stats"]
    return {
        "seconds": round(elapsed, 2),
        "requests": stats.get("downloader/request_count", 0),
        "articles_archived": stats.get("extract/records", 0),
        "unchanged": stats.get("incremental/unchanged", 0),
        "not_due": stats.get("incremental/not_due", 0),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=2000)
    args = parser.parse_args(argv)
    site = FixtureSite(include_faults=False, extra_articles=max(args.articles - 30, 0))
    with tempfile.TemporaryDirectory() as tmp, site.serve(host="127.0.0.1") as running:
        store = Path(tmp) / "store"
        base = running.base_urls["it"]
        first = crawl(store, base)
        second = crawl(store, base)
        rechecked = crawl(store, base, *ALWAYS_DUE)
    rows = {"first run": first, "second run (default policy)": second, "second run, every article rechecked": rechecked}
    print(f"| run ({args.articles} articles) | requests | seconds | request ratio | time ratio |")
    print("|---|---:|---:|---:|---:|")
    for name, row in rows.items():
        print(
            f"| {name} | {row['requests']} | {row['seconds']} | "
            f"{row['requests'] / first['requests']:.3f} | {row['seconds'] / first['seconds']:.3f} |"
        )
    print(json.dumps({"articles": args.articles, **rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
