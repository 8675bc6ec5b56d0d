"""``extract``: clean text of one saved page, offline."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def cmd_extract(args: argparse.Namespace) -> int:
    from pipelines.extractor import ArticleExtractor, ExtractorConfig

    try:
        body = sys.stdin.buffer.read() if args.page == "-" else Path(args.page).read_bytes()
    except OSError as exc:
        print(f"lifegate-archive extract: {exc}", file=sys.stderr)
        return 2
    result = ArticleExtractor(ExtractorConfig()).extract(body, args.url, args.content_type)
    if result.record is None:
        print(f"lifegate-archive extract: no article ({result.reason})", file=sys.stderr)
        return 1
    record = result.record
    if args.format == "json":
        print(json.dumps(record, ensure_ascii=False, indent=2))
    elif args.format == "txt":
        print(record["text"])
    else:
        print(f"# {record['title']}\n")
        if record.get("standfirst"):
            print(f"*{record['standfirst']}*\n")
        for line in record["text"].splitlines():
            print(line + "\n")
    return 0


def register(subparsers) -> None:
    extract = subparsers.add_parser("extract", help="extract clean text from one saved page")
    extract.add_argument("page", help="HTML file, or - for stdin")
    extract.add_argument("--url", required=True, help="the page's URL")
    extract.add_argument("--content-type", help="Content-Type header, when known")
    extract.add_argument("--format", default="json", choices=["json", "txt", "markdown"])
    extract.set_defaults(func=cmd_extract)
