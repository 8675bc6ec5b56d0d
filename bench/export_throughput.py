"""Dataset export and re-extraction throughput (run by hand).

    python3 bench/export_throughput.py --synthetic 10000 [--crawl-size 1000] [--reextract-pages 2000]
    python3 bench/export_throughput.py STORE_PATH [--workers 2] [--sample 300]

``--synthetic N`` serves the fixture site with N Italian articles on loopback, fetches every article
page into WARC files (crawls of ``--crawl-size`` pages) and writes their text records from the
fixture's own model, so the archive is real WARC + text without a crawl. Then it measures:

- export: rows/s and MB/s (text records read, release bytes written) of a full release;
- re-extraction: pages/s of ``reextract`` with ``--workers`` processes, against bare
  ``trafilatura.extract`` and our extractor, each in one process on the same pages (target:
  reextract >= 0.9 x workers x the single-process rate).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Run as a script, this folder comes first on sys.path, and its module names (bench/incremental.py)
# would shadow installed packages (Twisted's `incremental`): put the repository there instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != REPO / "bench"]
sys.path.insert(0, str(REPO))

from archive.crawl import CrawlManifest, committed_crawls, new_crawl_id, text_key
from archive.dataset import ExportOptions, record_provenance
from archive.reader import read_response
from archive.release import export_release
from archive.storage import FileStorage
from archive.warc import HttpExchange, RollingWarcWriter, WarcFileNamer


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _fetch(url: str) -> tuple[str, int, list[tuple[bytes, bytes]], bytes, datetime]:
    started = datetime.now(UTC)
    with urllib.request.urlopen(url, timeout=30) as response:
        body = response.read()
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.getheaders()]
        return url, response.status, headers, body, started


def _record(article, url: str, crawl_id: str, fetched: datetime, extractor: dict, provenance: dict) -> dict:
    text = "\n".join(article.expected_text_lines())
    return {
        "id": hashlib.sha256(url.encode()).hexdigest()[:32], "url": url, "canonical_url": url,
        "site": "lifegate.it", "language": "it", "declared_language": "it", "title": article.title,
        "kicker": article.kicker, "standfirst": "\n".join(article.standfirst) or None,
        "authors": [article.author], "date_published": article.published.isoformat(),
        "date_modified": article.modified.isoformat(), "tags": list(article.tags), "license": None,
        "translation_of": None, "images": [], "text": text, "word_count": len(text.split()),
        "text_sha256": hashlib.sha256(text.encode()).hexdigest(), "extractor": extractor,
        "provenance": provenance,
        "crawl": {"crawl_id": crawl_id, "fetched": fetched.isoformat(), "status": 200},
    }


def build_synthetic(root: Path, articles: int, crawl_size: int) -> FileStorage:
    """WARC files and text records of ``articles`` fixture pages, ``crawl_size`` pages per crawl."""
    import trafilatura

    from cli.settings import command_settings
    from fixture_site import FixtureSite
    from pipelines.extractor import EXTRACTOR_VERSION
    from pipelines.extractor_config import ExtractorConfig

    config_hash = ExtractorConfig.from_settings(command_settings()).config_hash()
    extractor = {"name": "lifegate-archive", "version": EXTRACTOR_VERSION,
                 "trafilatura_version": trafilatura.__version__, "config_hash": config_hash}
    storage = FileStorage(str(root))
    site = FixtureSite(it_articles=articles, include_faults=False)
    started = time.monotonic()
    with site.serve(host="127.0.0.1") as running:
        base = running.base_urls["it"]
        entries = site.entries("it")[:articles]
        first = datetime(2026, 1, 1, tzinfo=UTC)
        with ThreadPoolExecutor(8) as pool:
            for start in range(0, len(entries), crawl_size):
                batch = entries[start : start + crawl_size]
                crawl_id = new_crawl_id("lifegate", first + timedelta(days=start // crawl_size))
                folder = root / "crawls" / crawl_id
                writer = RollingWarcWriter(
                    folder / "warc", namer=WarcFileNamer("LIFEGATE", hostname="bench"),
                    warcinfo_fields={"software": "bench/export_throughput.py"},
                )
                records = []
                for entry, (url, status, headers, body, when) in zip(
                    batch, pool.map(_fetch, [base + e.path for e in batch]), strict=True
                ):
                    exchange = HttpExchange(url, "GET", [(b"Host", base.split("//")[1].encode())],
                                            status, headers, body, when)
                    location = writer.write_exchange(exchange)[0]
                    records.append(_record(site.resolve(entry), url, crawl_id, when, extractor,
                                           location.as_dict()))
                writer.close()
                lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
                storage.put_bytes(text_key(crawl_id), lines.encode("utf-8"))
                CrawlManifest(crawl_id, "lifegate", first.isoformat(), first.isoformat(),
                              "finished").write(storage)
                done = start + len(batch)
                say(f"built {done}/{len(entries)} pages ({done / (time.monotonic() - started):.0f} pages/s)")
    return storage


def bench_export(storage: FileStorage, workdir: Path) -> dict:
    text_bytes = sum((Path(storage.root) / text_key(c)).stat().st_size for c in committed_crawls(storage))
    name = f"bench-{int(time.time())}"
    started = time.perf_counter()
    manifest = export_release(storage, ExportOptions(name), progress=say, workdir=workdir)
    seconds = time.perf_counter() - started
    out_bytes = sum(f.size for f in manifest.files)
    return {
        "rows": manifest.rows, "seconds": round(seconds, 2),
        "rows_per_s": round(manifest.rows / seconds), "in_mb_per_s": round(text_bytes / seconds / 1e6, 1),
        "out_mb_per_s": round(out_bytes / seconds / 1e6, 1),
        "text_records_mb": round(text_bytes / 1e6, 1), "release_mb": round(out_bytes / 1e6, 1),
        "parquet_mb": round(sum(f.size for f in manifest.files if f.kind == "parquet") / 1e6, 1),
        "near_duplicates": manifest.dedup["near_duplicates"],
    }


def _pages(storage: FileStorage, crawls: list[str], limit: int) -> list:
    from archive.crawl import iter_text_records

    pages = []
    for crawl_id in crawls:
        for record in iter_text_records(storage, crawl_id):
            pages.append(read_response(storage, record_provenance(record, crawl_id)))
            if len(pages) >= limit:
                return pages
    return pages


def bench_reextract(storage: FileStorage, pages: int, workers: int, sample: int) -> dict:
    import trafilatura

    from cli.settings import command_settings
    from pipelines.extractor import extract_with_config
    from pipelines.extractor_config import ExtractorConfig
    from pipelines.reextract import reextract_store

    config = ExtractorConfig.from_settings(command_settings())
    chosen, count = [], 0
    for crawl_id in committed_crawls(storage):
        chosen.append(crawl_id)
        with open(Path(storage.root) / text_key(crawl_id), "rb") as fh:
            count += sum(1 for _ in fh)
        if count >= pages:
            break
    responses = _pages(storage, chosen, sample)
    bodies = [response.decoded() for response in responses]  # decoded before the clock starts
    extract_with_config(config, bodies[0], responses[0].url, responses[0].content_type)
    trafilatura.extract(bodies[0])  # warm both up: imports, caches, language model
    started, cpu = time.perf_counter(), time.process_time()
    for body in bodies:
        trafilatura.extract(body)
    bare = len(responses) / (time.perf_counter() - started)
    bare_cpu = len(responses) / (time.process_time() - cpu)
    started, cpu = time.perf_counter(), time.process_time()
    for response, body in zip(responses, bodies, strict=True):
        extract_with_config(config, body, response.url, response.content_type)
    ours = len(responses) / (time.perf_counter() - started)
    ours_cpu = len(responses) / (time.process_time() - cpu)
    say(f"single process: trafilatura {bare:.1f} pages/s, our extractor {ours:.1f} pages/s")
    # Worker CPU time (counted once the pool's processes have exited) tells the pool's own cost
    # apart from waiting for cores that other work on a shared machine holds.
    before = os.times()
    report = reextract_store(storage, config, workers=workers, force=True, only=chosen, progress=say)
    after = os.times()
    worker_cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    rate = report.pages / report.seconds
    return {
        "pages": report.pages, "workers": workers, "seconds": round(report.seconds, 1),
        "reextract_pages_per_s": round(rate, 1),
        "bare_trafilatura_pages_per_s_one_core": round(bare, 1),
        "our_extractor_pages_per_s_one_core": round(ours, 1),
        "vs_bare_target": round(rate / (workers * bare), 2),
        "parallel_efficiency": round(rate / (workers * ours), 2),
        "bare_trafilatura_pages_per_cpu_s": round(bare_cpu, 1),
        "our_extractor_pages_per_cpu_s": round(ours_cpu, 1),
        "reextract_pages_per_worker_cpu_s": round(report.pages / worker_cpu, 1) if worker_cpu else None,
        "cpu_efficiency": round(report.pages / worker_cpu / ours_cpu, 2) if worker_cpu else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", nargs="?", help="an existing store (else --synthetic)")
    parser.add_argument("--synthetic", type=int, metavar="N", help="build an N-article archive first")
    parser.add_argument("--crawl-size", type=int, default=1000)
    parser.add_argument("--reextract-pages", type=int, default=2000)
    parser.add_argument("--sample", type=int, default=300, help="pages for the single-process rates")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", help="build the synthetic archive here and keep it")
    args = parser.parse_args(argv)
    if not args.store and not args.synthetic:
        parser.error("give a STORE or --synthetic N")
    with tempfile.TemporaryDirectory(prefix="export-bench-") as tmp:
        if args.store:
            storage = FileStorage(args.store)
        else:
            root = Path(args.keep) if args.keep else Path(tmp) / "store"
            storage = build_synthetic(root, args.synthetic, args.crawl_size)
        results = {"export": bench_export(storage, Path(tmp)),
                   "reextract": bench_reextract(storage, args.reextract_pages, args.workers, args.sample)}
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
