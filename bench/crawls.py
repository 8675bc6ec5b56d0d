"""The crawl variants compared side by side: wget's WARC crawl, our crawl with WARC only (1 and 8
connections), our full pipeline, and the minimal Scrapy spider; each returns one result dict."""

from __future__ import annotations

import json
import shutil
import statistics
import sys
from collections import Counter
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from bench import process_probe

ROOT = Path(__file__).resolve().parent.parent
CRAWLER_CPU = "1"  # nginx gets CPU 0: server and client never share a core
CRAWL_TIMEOUT = 3600


def warc_census(paths: list[Path]) -> dict:
    """Response records, their statuses and payload bytes, and WARC bytes, over some WARC files."""
    statuses: Counter = Counter()
    payload = html = 0
    unique: set[str] = set()
    for path in paths:
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                # A revisit is a capture too: its body is the identical payload stored before.
                if record.rec_type not in ("response", "revisit") or record.http_headers is None:
                    continue
                statuses[record.http_headers.get_statuscode()] += 1
                payload += len(record.raw_stream.read())
                ctype = record.http_headers.get_header("Content-Type") or ""
                if ctype.startswith("text/html") and record.http_headers.get_statuscode() == "200":
                    html += 1
                    unique.add(record.rec_headers.get_header("WARC-Target-URI"))
    return {"responses": sum(statuses.values()), "html_pages": html, "unique_html_pages": len(unique),
            "statuses": dict(sorted(statuses.items())), "payload_mb": round(payload / 1e6, 1),
            "warc_mb": round(sum(p.stat().st_size for p in paths) / 1e6, 1)}


def _rates(result: dict, measured: process_probe.Measured, responses: int) -> dict:
    result.update(measured.as_dict())
    result["responses"] = responses
    result["pages_per_s"] = round(responses / measured.wall, 2) if measured.wall else None
    result["cpu_ms_per_page"] = round(1000 * measured.cpu / responses, 2) if responses else None
    if result.get("unique_html_pages"):
        result["unique_html_pages_per_s"] = round(result["unique_html_pages"] / measured.wall, 2)
    if measured.main_thread_cpu is not None:
        # Scrapy's reactor thread: the one part of the crawl that cannot use the second core.
        result["reactor_thread_cpu_s"] = round(measured.main_thread_cpu, 2)
        result["reactor_busy_pct"] = round(100 * measured.main_thread_cpu / measured.wall, 1)
    pages = result.get("html_pages")
    if pages:
        result["html_pages_per_s"] = round(pages / measured.wall, 2)
        result["cpu_ms_per_html_page"] = round(1000 * measured.cpu / pages, 2)
    return result


def _with_server_cpu(result: dict, server, before: float) -> dict:
    after = server.cpu()
    if result.get("responses"):
        result["server_cpu_ms_per_page"] = round(1000 * (after - before) / result["responses"], 3)
    return result


def wget(base_url: str, work: Path, server) -> dict:
    """``wget --recursive --level=inf --warc-file`` over the site: 1 connection, C, gzipped WARC."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    before = server.cpu()
    measured = process_probe.run(
        ["wget", "--recursive", "--level=inf", f"--warc-file={work / 'wget'}", "--no-verbose",
         f"--directory-prefix={work / 'files'}", base_url + "/"],
        cpus=CRAWLER_CPU, cwd=work, timeout=CRAWL_TIMEOUT)
    # Exit 8 means some response was an HTTP error (a 404 linked from a page); the crawl completed.
    if measured.returncode not in (0, 8):
        raise RuntimeError(f"wget failed ({measured.returncode}): {measured.stderr[-2000:]}")
    census = warc_census(sorted(work.glob("*.warc.gz")))
    result = _rates({"variant": "wget", "connections": 1, **census}, measured, census["responses"])
    shutil.rmtree(work / "files", ignore_errors=True)
    return _with_server_cpu(result, server, before)


def ours(base_url: str, work: Path, server, *, extract: bool, connections: int,
         pinned: bool, sample: bool = False, settings: tuple[str, ...] = ()) -> tuple[dict, process_probe.Measured]:
    """``lifegate-archive crawl --no-throttle`` into a fresh store; WARC only when not ``extract``;
    ``settings`` are extra ``NAME=VALUE`` overrides."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    store = work / "store"
    command = [sys.executable, "-m", "cli", "--log-level", "WARNING", "crawl",
               "--store", str(store), "--base-url", base_url, "--no-throttle",
               "-s", "ARCHIVE_PROGRESS_INTERVAL=0",
               "-s", f"CONCURRENT_REQUESTS_PER_DOMAIN={connections}",
               "-s", f"ARCHIVE_STATE_DIR={work / 'state'}"]
    if not extract:
        command += ["-s", "EXTRACT_ENABLED=False"]
    for setting in settings:
        command += ["-s", setting]
    before = server.cpu()
    measured = process_probe.run(command, cpus=CRAWLER_CPU if pinned else None, cwd=ROOT,
                                 sample=sample, timeout=CRAWL_TIMEOUT)
    if measured.returncode != 0:
        raise RuntimeError(f"crawl failed ({measured.returncode}): {measured.stderr[-3000:]}")
    crawl_dir = max((store / "crawls").iterdir())
    stats = json.loads((crawl_dir / "manifest.json").read_text())["stats"]
    census = warc_census(sorted((crawl_dir / "warc").glob("*.warc*")))  # .warc at WARC_GZIP_LEVEL=0
    name = "pipeline" if extract else f"ours-warc-c{connections}"
    result = _rates({"variant": name, "connections": connections, **census,
                     "extraction_workers": 2 if extract else 0,
                     "articles": stats.get("extract/records", 0),
                     "scrapy_elapsed_s": stats.get("elapsed_time_seconds"),
                     "warc_dir": str(crawl_dir / "warc")}, measured, census["responses"])
    if measured.child_cpu:
        # Workers are sampled every 0.5 s: their last reading is a floor of their CPU.
        result["extraction_workers_cpu_s"] = round(sum(measured.child_cpu.values()), 2)
        # The busiest children are the workers (the other one is multiprocessing's resource tracker).
        workers = sorted(measured.child_cpu.values())[-result["extraction_workers"]:]
        result["extraction_workers_busy_pct"] = round(100 * sum(workers) / (measured.wall * len(workers)), 1)
        result["reactor_cpu_ms_per_page"] = round(
            1000 * (measured.cpu - result["extraction_workers_cpu_s"]) / census["responses"], 2)
    return _with_server_cpu(result, server, before), measured


def minimal(base_url: str, server) -> dict:
    """The minimal Scrapy spider (fetch and follow links only), pinned like the WARC-only crawls."""
    before = server.cpu()
    measured = process_probe.run([sys.executable, "-m", "bench.minimal_spider", base_url],
                                 cpus=CRAWLER_CPU, cwd=ROOT, timeout=CRAWL_TIMEOUT)
    if measured.returncode != 0:
        raise RuntimeError(f"minimal spider failed: {measured.stderr[-3000:]}")
    stats = json.loads(measured.stdout.strip().splitlines()[-1])
    # Redirects included, as the WARC census counts them.
    responses = stats.get("downloader/response_count", 0)
    result = _rates({"variant": "scrapy-minimal", "connections": 8,
                     "scrapy_elapsed_s": stats.get("elapsed_time_seconds")}, measured, responses)
    return _with_server_cpu(result, server, before)


def memory(measured: process_probe.Measured, responses: int) -> dict:
    """Peak RSS of the crawler and of its extraction workers, and the slope of the crawler's curve."""
    samples = measured.samples
    if len(samples) < 4:
        return {}
    times = [t for t, _, _ in samples]
    crawler = [rss for _, rss, _ in samples]
    workers: dict[int, float] = {}
    for _, _, kids in samples:
        for pid, mb in kids.items():
            workers[pid] = max(workers.get(pid, 0.0), mb)
    # Slope over the crawl after its first fifth (start-up, imports, first discovery pages).
    start = len(samples) // 5
    xs, ys = times[start:], crawler[start:]
    slope = statistics.linear_regression(xs, ys).slope if len(set(xs)) > 1 else 0.0
    rate = responses / measured.wall if measured.wall else 0.0
    curve = [(round(t, 1), round(rss, 1), round(sum(k.values()), 1)) for t, rss, k in samples]
    step = max(1, len(curve) // 60)
    return {
        "crawler_peak_mb": round(max(crawler), 1),
        "workers_peak_mb": sorted(round(v, 1) for v in workers.values()),
        "crawler_slope_mb_per_min": round(60 * slope, 2),
        "crawler_slope_mb_per_1000_pages": round(1000 * slope / rate, 2) if rate else None,
        "crawler_mb_at_quarters": [round(crawler[min(len(crawler) - 1, int(q * len(crawler)))], 1)
                                   for q in (0.25, 0.5, 0.75, 1.0)],
        "samples": len(samples),
        "curve_s_crawler_workers_mb": curve[::step],
    }
