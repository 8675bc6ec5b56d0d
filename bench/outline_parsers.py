"""The page outline read by lexbor against libxml2 (the reference), page by page.

    python -m bench.outline_parsers PATH [PATH ...] [--repeat 5] [--srcset-limit 8]

PATH is an HTML file (``.html`` or ``.html.gz``) or a folder of them. For each page, both readers'
outlines (requisites on and off) are compared field by field, and each reader is timed (best of
``--repeat``, the decoded text cached as in a crawl, where the page guard decodes it first). Prints
the pages that differ, the pages left to libxml2, and the median ms per page of each reader.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import time
from dataclasses import fields
from pathlib import Path

from scrapy.http import HtmlResponse

from crawler.page_outline import PageOutline, read_with_lexbor, read_with_lxml


def pages(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.name.endswith((".html", ".html.gz")))
        else:
            found.append(path)
    return found


def response(path: Path) -> HtmlResponse:
    body = path.read_bytes()
    if path.name.endswith(".gz"):
        body = gzip.decompress(body)
    return HtmlResponse(f"https://news.example/{path.name}", body=body)


def best(read, page: HtmlResponse, repeat: int, **options) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        read(page, **options)
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def differences(page: HtmlResponse, srcset_limit: int) -> list[str]:
    out = []
    for resources in (True, False):
        reference = read_with_lxml(page, srcset_limit=srcset_limit, resources=resources)
        ours = PageOutline.read(page, srcset_limit=srcset_limit, resources=resources)
        out += [
            f"{field.name} (resources={resources})"
            for field in fields(PageOutline)
            if getattr(reference, field.name) != getattr(ours, field.name)
        ]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--srcset-limit", type=int, default=8)
    args = parser.parse_args(argv)
    found = pages(args.paths)
    if not found:
        print("no .html or .html.gz pages found", file=sys.stderr)
        return 2
    differing = fallback = 0
    timings: dict[str, list[float]] = {}
    for path in found:
        page = response(path)
        page.text  # noqa: B018 - decoded once, as the crawl's page guard does
        diff = differences(page, args.srcset_limit)
        if diff:
            differing += 1
            print(f"DIFFERS {path.name}: {', '.join(diff)}")
        if read_with_lexbor(page, srcset_limit=args.srcset_limit) is None:
            fallback += 1
            print(f"libxml2 {path.name}: lexbor would read it otherwise")
        for resources in (False, True):
            for name, read in (("lxml", read_with_lxml), ("lexbor", PageOutline.read)):
                ms = best(
                    read, page, args.repeat, srcset_limit=args.srcset_limit, resources=resources
                )
                timings.setdefault(f"{name}, requisites {'on' if resources else 'off'}", []).append(
                    ms
                )
    print(f"{len(found)} pages: {differing} differ, {fallback} read by libxml2 (fallback)")
    for name, values in timings.items():
        print(f"{name}: median {statistics.median(values):.3f} ms/page")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
