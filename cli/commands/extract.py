"""``extract``: clean text of one saved page, offline."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def read_page(page: str, limit: int) -> bytes | None:
    """The page's bytes, or None when it holds more than ``limit``: never more than ``limit + 1``
    bytes are read, so ``/dev/zero`` or an endless pipe ends at once."""
    if page == "-":
        body = sys.stdin.buffer.read(limit + 1)
    else:
        with open(Path(page), "rb") as fh:
            body = fh.read(limit + 1)
    return None if len(body) > limit else body


def cmd_extract(args: argparse.Namespace) -> int:
    from pipelines.extractor import ArticleExtractor, ExtractorConfig

    config = ExtractorConfig.from_settings(args.settings)
    limit = config.max_bytes
    try:
        body = read_page(args.page, limit)
    except OSError as exc:
        print(f"lifegate-archive extract: {exc}", file=sys.stderr)
        return 2
    if body is None:
        print(f"lifegate-archive extract: {args.page} is larger than EXTRACT_MAX_BYTES "
              f"({limit} bytes); not extracted", file=sys.stderr)  # fmt: skip
        return 1
    result = ArticleExtractor(config).extract(body, args.url, args.content_type)
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
