"""The pipeline's parts measured alone, one core, over the exchanges of an earlier crawl's WARC files:
WARC writing (``archive.warc.RollingWarcWriter``), bare ``trafilatura.extract`` and our extractor.

    python -m bench.parts WARC_DIR [--sample N] [--rounds R]

CPU seconds (``time.process_time``) per exchange and per article page, medians over interleaved
rounds; prints one JSON object.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import tempfile
import time
import zlib
from datetime import UTC, datetime
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from archive.warc import HttpExchange, RollingWarcWriter, WarcFileNamer

_BODY_CLASS = re.compile(rb"<body[^>]*class=[\"'][^\"']*\bsingle-post\b")


def _decoded(headers: list[tuple[str, str]], body: bytes) -> bytes:
    coding = next((v for k, v in headers if k.lower() == "content-encoding"), "").lower()
    if coding in ("gzip", "x-gzip"):
        return gzip.decompress(body)
    if coding == "deflate":
        return zlib.decompress(body)
    return body


def load(warc_dir: Path) -> tuple[list[HttpExchange], list[tuple[str, bytes]]]:
    """Every response exchange in the folder's WARC files, and the article pages among them (decoded)."""
    requests: dict[str, list[tuple[str, str]]] = {}
    responses = []
    for path in sorted(warc_dir.glob("*.warc.gz")):
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                kind = record.rec_type
                if kind == "request":
                    concurrent = record.rec_headers.get_header("WARC-Concurrent-To")
                    requests[concurrent] = record.http_headers.headers if record.http_headers else []
                elif kind == "response":
                    http = record.http_headers
                    responses.append((record.rec_headers.get_header("WARC-Record-ID"),
                                      record.rec_headers.get_header("WARC-Target-URI"),
                                      int(http.get_statuscode()), list(http.headers),
                                      record.raw_stream.read()))  # as stored: content-coded
    exchanges, articles = [], []
    started = datetime.now(UTC)
    for record_id, url, status, headers, body in responses:
        exchanges.append(HttpExchange(
            url=url, method="GET",
            request_headers=[(k.encode("latin-1"), v.encode("latin-1")) for k, v in requests.get(record_id, [])],
            status=status,
            response_headers=[(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers],
            body=body, fetch_started=started, ip_address="127.0.0.1"))
        ctype = next((v for k, v in headers if k.lower() == "content-type"), "")
        if status == 200 and ctype.startswith("text/html"):
            page = _decoded(headers, body)
            if _BODY_CLASS.search(page[:200_000]):
                articles.append((url, page))
    return exchanges, articles


def _cpu(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warc_dir")
    parser.add_argument("--sample", type=int, default=400, help="article pages to extract per round")
    parser.add_argument("--exchanges", type=int, default=3000, help="exchanges to write per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--gzip-level", type=int, default=6)
    args = parser.parse_args(argv)
    exchanges, articles = load(Path(args.warc_dir))
    if not exchanges or not articles:
        print(f"no exchanges or articles in {args.warc_dir}", file=sys.stderr)
        return 2
    # Evenly spread samples, so every kind of page (listing, article, image) is represented.
    step = max(1, len(exchanges) // args.exchanges)
    write_set = exchanges[::step][: args.exchanges]
    step = max(1, len(articles) // args.sample)
    extract_set = articles[::step][: args.sample]

    import trafilatura

    from pipelines.extractor import ArticleExtractor, ExtractorConfig

    # No per-document alarm: the parts measure extraction, not the guard (as extraction_quality.py).
    ours = ArticleExtractor(ExtractorConfig(timeout_seconds=None))

    def write_all() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            writer = RollingWarcWriter(Path(tmp), namer=WarcFileNamer("BENCH", hostname="bench"),
                                       warcinfo_fields={"software": "bench"}, gzip_level=args.gzip_level)
            for exchange in write_set:
                writer.write_exchange(exchange)
            writer.close()

    def trafilatura_all() -> None:
        for url, page in extract_set:
            trafilatura.extract(page, url=url)

    def ours_all() -> None:
        for url, page in extract_set:
            ours.extract(page, url, "text/html; charset=UTF-8")

    parts = {"warc_write": (write_all, len(write_set)), "trafilatura": (trafilatura_all, len(extract_set)),
             "our_extractor": (ours_all, len(extract_set))}
    trafilatura.extract(extract_set[0][1], url=extract_set[0][0])  # warm-up: imports, caches
    ours.extract(extract_set[0][1], extract_set[0][0])
    timings: dict[str, list[float]] = {name: [] for name in parts}
    for n in range(args.rounds):
        for name, (fn, _) in parts.items():
            timings[name].append(_cpu(fn))
        print(f"parts: round {n + 1}/{args.rounds}: "
              + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in timings.items()), file=sys.stderr, flush=True)
    out = {
        "exchanges_in_warc": len(exchanges), "articles_in_warc": len(articles),
        "body_mb_written": round(sum(len(e.body) for e in write_set) / 1e6, 1),
    }
    for name, (_, count) in parts.items():
        per = [t / count for t in timings[name]]
        out[name] = {"units": count, "unit": "exchange" if name == "warc_write" else "article page",
                     "cpu_ms_per_unit": round(1000 * statistics.median(per), 3),
                     "min_ms": round(1000 * min(per), 3), "max_ms": round(1000 * max(per), 3)}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
