"""Index lookup and replay latency (p50/p99), ours against pywb, on a store or on synthetic
archives (run by hand, or by ``python -m bench``).

    python -m bench.replay_latency synthetic [--records 10000,100000] [--samples 500] [--rounds 3]
                                             [--pywb PATH/TO/wayback] [--work DIR]
    python -m bench.replay_latency STORE [--samples 500] [--rounds 3] [--pywb ...]
    python -m bench.replay_latency synthetic --lookup-lines 1000000

A synthetic archive is one committed crawl of N gzip-encoded article pages (each naming a
stylesheet and images), written with warcio one response record per page, and its CDXJ index
(the lines cdxj-indexer writes, computed while writing). ``--work DIR`` keeps the archives there
and reuses them on the next run. Lookups time ``CdxjIndex.nearest`` in this process. Replays time
whole HTTP requests on loopback, one at a time, from this process to a server in its own process:
ours as the ``replay`` command runs it (werkzeug's threaded server), pywb as its ``wayback`` command
runs it (gevent's), both on the same WARC files through the same index. ``mp_`` is rewritten HTML,
``id_`` raw; the two modes replay different pages, so neither is served from what the other left
in a cache. Each round runs ours (and a baseline checkout) then pywb with fresh servers; the summary gives the median over
rounds of each round's p50 and p99 (the machine may be shared: rounds interleave the two).
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archive.crawl import CrawlManifest, ManifestEntry, warc_key
from archive.index import INDEX_KEY, CdxjIndex, format_timestamp, iter_entries, surt_key
from archive.storage import FileStorage, open_storage

CRAWL = "20250101T000000Z-bench"
START = datetime(2025, 1, 1, tzinfo=UTC)
PAGE = (
    "<!doctype html><html><head><title>Articolo {n}</title>"
    '<link rel="stylesheet" href="/style.css"></head><body><h1>Articolo {n}</h1>'
    '<img src="/img/{n}.jpg" srcset="/img/{n}-300.jpg 300w, /img/{n}-768.jpg 768w">'
    + "<p>Testo dell'articolo numero {n}, con qualche parola in più.</p>" * 40
    + '<a href="/articolo-{m}">altro</a></body></html>'
)
WARC_SIZE = 200_000_000  # a new WARC file past this size, as crawls roll theirs


def synthetic_store(root: Path, records: int) -> FileStorage:
    """A committed crawl of ``records`` article responses and its merged CDXJ index."""
    storage = FileStorage(str(root))
    lines: list[bytes] = []
    entries: list[ManifestEntry] = []
    n, part = 0, 0
    while n < records:
        name = f"BENCH-{part:05d}.warc.gz"
        key = warc_key(CRAWL, name)
        path = storage.staging_path(key)
        with open(path, "wb") as out:
            writer = WARCWriter(out, gzip=True)
            while n < records and out.tell() < WARC_SIZE:
                lines.append(_write_page(writer, out, key, n, records))
                n += 1
        entries.append(ManifestEntry.from_stored(storage.put_file(key, path)))
        part += 1
    CrawlManifest(CRAWL, "bench", "s", "f", "finished", entries).write(storage)
    lines.sort()
    storage.put_bytes(INDEX_KEY, b"".join(lines))
    return storage


def _write_page(writer: WARCWriter, out, key: str, n: int, records: int) -> bytes:
    """One response record; returns its CDXJ line (cdxj-indexer's fields, in its order)."""
    url = f"https://www.example.it/articolo-{n}"
    body = gzip.compress(PAGE.format(n=n, m=(n * 7) % records).encode(), compresslevel=1, mtime=0)
    when = START + timedelta(seconds=n)
    headers = [("Content-Type", "text/html; charset=utf-8"), ("Content-Encoding", "gzip"),
               ("Content-Length", str(len(body)))]  # fmt: skip
    record = writer.create_warc_record(
        url, "response", payload=io.BytesIO(body), length=len(body),
        http_headers=StatusAndHeaders("200 OK", headers, protocol="HTTP/1.1"),
        warc_headers_dict={"WARC-Date": when.strftime("%Y-%m-%dT%H:%M:%SZ")},
    )  # fmt: skip
    offset = out.tell()
    writer.write_record(record)
    data = {"url": url, "mime": "text/html", "status": "200",
            "digest": record.rec_headers.get_header("WARC-Payload-Digest"),
            "length": str(out.tell() - offset), "offset": str(offset), "filename": key}  # fmt: skip
    return f"{surt_key(url)} {format_timestamp(when)} {json.dumps(data)}\n".encode()


def cached_store(work: Path, records: int) -> tuple[FileStorage, str]:
    """The synthetic archive of ``records`` pages under ``work``, built unless already there."""
    root = work / f"store-{records}"
    done = root / "bench-complete"
    if done.exists():
        return FileStorage(str(root)), "reused"
    start = time.perf_counter()
    storage = synthetic_store(root, records)
    done.write_text("")
    return storage, f"written and indexed in {time.perf_counter() - start:.1f} s"


def percentiles(samples: list[float]) -> tuple[float, float]:
    ms = sorted(s * 1000 for s in samples)
    return statistics.median(ms), ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]


def show(p: tuple[float, float], n: int) -> str:
    return f"p50 {p[0]:7.3f} ms   p99 {p[1]:7.3f} ms   (n={n})"


def timed(calls: list[Callable[[], object]]) -> list[float]:
    out = []
    for call in calls:
        start = time.perf_counter()
        call()
        out.append(time.perf_counter() - start)
    return out


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Our replay server as the ``replay`` command runs it, started in the checkout being measured.
SERVE = """
import logging, sys
from werkzeug.serving import make_server
from archive.replay import ReplayApp
from archive.storage import open_storage
logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log per request
with ReplayApp(open_storage(sys.argv[1])) as app:
    make_server("127.0.0.1", int(sys.argv[2]), app, threaded=True).serve_forever()
"""


def _replay_round(command: list[str], cwd: str, base: str, picks: dict[str, list]) -> dict:
    """Start a server, wait for it, replay each mode's picks one request at a time, stop it."""
    server = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        warm = picks["id_"][0]
        while True:
            try:
                fetch(f"{base}/{warm.timestamp}id_/{warm.url}")  # up, and warmed up
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        return {mode: timed([lambda e=e, m=mode: fetch(f"{base}/{e.timestamp}{m}/{e.url}") for e in chosen])
                for mode, chosen in picks.items()}  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=30)


def measure(storage, samples: int, label: str, wayback: Path | None = None, rounds: int = 1,
            baseline: Path | None = None) -> dict:
    """Lookups, then ``rounds`` rounds of replays by each server: ours, ours as ``baseline`` (a
    checkout of another version, to compare before and after) and pywb, when given."""
    with storage.open(INDEX_KEY) as fh:
        entries = [e for e in iter_entries(fh) if e.status == 200 and e.mime == "text/html"]
    rng = random.Random(7)
    picks = {mode: [rng.choice(entries) for _ in range(samples)] for mode in ("mp_", "id_")}
    root = Path(storage.root)
    with CdxjIndex(root / INDEX_KEY) as index:
        reads = index.reads
        chosen = picks["mp_"]
        lookups = timed([lambda e=e: index.nearest(e.url, e.timestamp) for e in chosen])
        per_lookup = (index.reads - reads) / len(chosen)
    size = (root / INDEX_KEY).stat().st_size
    print(f"{label}: {len(entries)} pages indexed, index {size / 1e6:.1f} MB", flush=True)
    print(f"  lookup (nearest)      {show(percentiles(lookups), len(lookups))}   {per_lookup:.1f} reads/lookup")
    servers: dict[str, Path] = {"ours": REPO}
    if baseline is not None:
        servers["before"] = baseline
    if wayback is not None:
        servers["pywb"] = wayback
    results: dict[str, dict[str, list]] = {s: {"mp_": [], "id_": []} for s in servers}
    with tempfile.TemporaryDirectory(prefix="pywb-bench-") as tmp:
        Path(tmp, "config.yaml").write_text(
            f"collections:\n  bench:\n    index_paths: {root / INDEX_KEY}\n    archive_paths: {root}/\n"
        )
        for n in range(1, rounds + 1):
            for name, where in servers.items():
                port = _free_port()
                if name != "pywb":
                    command = [sys.executable, "-c", SERVE, str(root), str(port)]
                    cwd, base = str(where), f"http://127.0.0.1:{port}/web"
                else:
                    command = [str(where), "-b", "127.0.0.1", "-p", str(port)]
                    cwd, base = tmp, f"http://127.0.0.1:{port}/bench"
                times = _replay_round(command, cwd, base, picks)
                for mode, samples_ in times.items():
                    p = percentiles(samples_)
                    results[name][mode].append(p)
                    print(f"  round {n} {name:4} {mode} {show(p, len(samples_))}   load {os.getloadavg()[0]:.1f}",
                          flush=True)  # fmt: skip
    summary = {}
    for name, modes in results.items():
        for mode, ps in modes.items():
            p50 = statistics.median(p[0] for p in ps)
            p99 = statistics.median(p[1] for p in ps)
            summary[f"{name} {mode}"] = {"p50_ms": round(p50, 3), "p99_ms": round(p99, 3)}
            what = "rewrite" if mode == "mp_" else "raw"
            print(f"  {name} {mode} ({what}){' ' * (14 - len(name) - len(what))}p50 {p50:7.3f} ms   "
                  f"p99 {p99:7.3f} ms   (median of {len(ps)} rounds of {samples})")  # fmt: skip
    if wayback is not None:
        for mode in ("mp_", "id_"):
            ours, theirs = summary[f"ours {mode}"], summary[f"pywb {mode}"]
            print(f"  {mode} pywb/ours: p50 {theirs['p50_ms'] / ours['p50_ms']:.2f}x, "
                  f"p99 {theirs['p99_ms'] / ours['p99_ms']:.2f}x")  # fmt: skip
    return summary


def lookup_only(lines: int, samples: int, workdir: Path) -> None:
    """Lookups in a plain sorted CDXJ file of ``lines`` lines (no WARC behind it)."""
    path = workdir / f"lines-{lines}.cdxj"
    with open(path, "w", encoding="utf-8") as out:
        for i in range(lines):
            data = {"url": f"https://www.example.it/p{i:08d}", "mime": "text/html", "status": "200",
                    "digest": "sha1:AAAA", "length": "9000", "offset": str(i * 9000),
                    "filename": "crawls/c/warc/x.warc.gz"}  # fmt: skip
            out.write(f"it,example)/p{i:08d} 20250101{i % 1000000:06d} {json.dumps(data)}\n")
    rng = random.Random(7)
    with CdxjIndex(path) as index:
        urls = [f"https://www.example.it/p{rng.randrange(lines):08d}" for _ in range(samples)]
        reads = index.reads
        times = timed([lambda u=u: index.lookup(u) for u in urls])
        per_lookup = (index.reads - reads) / samples
    print(f"plain CDXJ, {lines} lines, {path.stat().st_size / 1e6:.0f} MB")
    print(f"  lookup                {show(percentiles(times), len(times))}   {per_lookup:.1f} reads/lookup")
    path.unlink()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("archive", help="'synthetic', or a store path/URI with indexes/all.cdxj")
    parser.add_argument("--records", default="10000,100000", help="synthetic archive sizes")
    parser.add_argument("--samples", type=int, default=500, help="requests per mode and round")
    parser.add_argument("--rounds", type=int, default=1, help="rounds (ours, then pywb, each)")
    parser.add_argument("--work", type=Path, help="keep synthetic archives here and reuse them")
    parser.add_argument("--lookup-lines", type=int, default=0, help="also time a plain CDXJ of N lines")
    parser.add_argument("--pywb", type=Path, help="a pywb `wayback` executable: replay the same picks with it too")
    parser.add_argument("--baseline", type=Path, help="a checkout of another version: its server too")
    args = parser.parse_args(argv)
    if args.archive != "synthetic":
        measure(open_storage(args.archive), args.samples, args.archive, args.pywb, args.rounds,
                args.baseline)
        return 0
    with tempfile.TemporaryDirectory(prefix="replay-bench-") as tmp:
        work = args.work or Path(tmp)
        for records in (int(r) for r in args.records.split(",") if r):
            storage, how = cached_store(work, records)
            print(f"synthetic {records} records: {how}", flush=True)
            measure(storage, args.samples, f"synthetic {records}", args.pywb, args.rounds, args.baseline)
        if args.lookup_lines:
            lookup_only(args.lookup_lines, args.samples, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
