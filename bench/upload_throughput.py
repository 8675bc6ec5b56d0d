"""Upload throughput of S3Storage against moto's S3 server on 127.0.0.1 (run by hand).

    python3 bench/upload_throughput.py [--small N] [--large-mb MB] [--warc-mb MB] [--rounds N]

Measures the whole publishing protocol of one file (checksum, ``If-None-Match``, HEAD, spool
record) for N 100 KB objects and for one large file (multipart, default 1000 MB), the local
verification of a WARC before upload, and the client's CPU time. moto runs in its own process, so
the client's CPU is its own; moto is no stand-in for S3's speed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SERVER = """
import logging, sys, time
from moto.server import ThreadedMotoServer
logging.getLogger("werkzeug").setLevel(logging.WARNING)
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()  # runs until the benchmark closes its stdin
"""


def start_moto() -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    port = int(process.stdout.readline())
    return process, f"http://127.0.0.1:{port}"


def timed(fn) -> tuple[float, float]:
    """Wall and client-CPU seconds of ``fn()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def line(label: str, size: int, count: int, wall: float, cpu: float) -> str:
    mb = size * count / 1e6
    return (
        f"{label:<44} {mb / wall:8.1f} MB/s {count / wall:8.1f} obj/s "
        f"{cpu * 1000 / count:9.2f} client CPU ms/obj {mb / cpu if cpu else 0:8.0f} MB/CPU-s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=300, help="number of 100 KB objects")
    parser.add_argument("--large-mb", type=int, default=1000, help="size of the large file (MB)")
    parser.add_argument("--warc-mb", type=int, default=100, help="size of the WARC to verify (MB)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the median is reported")
    args = parser.parse_args(argv)

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    from archive.publisher import verify_file
    from archive.s3 import S3Storage
    from archive.s3_client import S3Options

    server, url = start_moto()
    try:
        with tempfile.TemporaryDirectory(prefix="upload-bench-") as tmp:
            spool = Path(tmp)
            storage = S3Storage(
                "s3://bench/archive",
                S3Options(endpoint_url=url, region_name="us-east-1", spool_dir=spool),
            )
            storage.client().create_bucket(Bucket="bench")
            small = os.urandom(100_000)
            results: dict[str, list[tuple[float, float]]] = {}

            def small_round(r: int, protocol: bool) -> None:
                def run() -> None:
                    for n in range(args.small):
                        key = f"crawls/20260101T000000Z-bench/r{r}-{protocol}/{n}.bin"
                        if protocol:
                            path = storage.staging_path(key)
                            path.write_bytes(small)
                            storage.put_file(key, path)
                        else:
                            storage.client().put_object(
                                Bucket="bench", Key=f"raw/{r}/{n}", Body=small
                            )

                results.setdefault("protocol" if protocol else "raw", []).append(timed(run))

            for r in range(args.rounds):
                print(f"round {r + 1}/{args.rounds}: {args.small} x 100 KB", file=sys.stderr)
                small_round(r, protocol=True)
                small_round(r, protocol=False)

            large_size = args.large_mb * 1_000_000
            print(f"writing a {args.large_mb} MB file", file=sys.stderr)
            large = spool / "large.bin"
            with open(large, "wb") as fh:
                block = os.urandom(1 << 20)
                fh.writelines(
                    block[: min(1 << 20, large_size - offset)]
                    for offset in range(0, large_size, 1 << 20)
                )
            large_rounds = max(1, min(args.rounds, 3 if args.large_mb <= 200 else 1))
            for r in range(large_rounds):
                print(f"uploading it ({r + 1}/{large_rounds})", file=sys.stderr)
                key = f"crawls/20260101T000000Z-bench/warc/large-{r}.warc.gz"
                results.setdefault("large", []).append(
                    timed(lambda key=key: storage.put_file(key, large))
                )
            large.unlink()

            print(f"writing a {args.warc_mb} MB WARC to verify", file=sys.stderr)
            warc = write_warc(spool / "verify", args.warc_mb * 1_000_000)
            warc_size = warc.stat().st_size
            results["verify"] = [
                timed(lambda: verify_file("x.warc.gz", warc)) for _ in range(args.rounds)
            ]

            def median(name: str) -> tuple[float, float]:
                runs = results[name]
                return statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)

            print()
            print(
                line(
                    "put_file 100 KB (checksum, If-None-Match, HEAD)",
                    100_000,
                    args.small,
                    *median("protocol"),
                )
            )
            print(line("raw put_object 100 KB (no checks)", 100_000, args.small, *median("raw")))
            print(
                line(
                    f"put_file {args.large_mb} MB (multipart 16 MiB parts, HEAD)",
                    large_size,
                    1,
                    *median("large"),
                )
            )
            print(
                line(
                    f"verify_file {warc_size / 1e6:.0f} MB WARC (gzip, digests, count)",
                    warc_size,
                    1,
                    *median("verify"),
                )
            )
    finally:
        server.stdin.close()
        server.wait(timeout=30)
    return 0


def write_warc(directory: Path, size: int) -> Path:
    """A WARC of about ``size`` bytes of 64 KB text-like responses (compressible, as pages are)."""
    from datetime import datetime

    from archive.warc import HttpExchange, RollingWarcWriter, WarcFileNamer

    writer = RollingWarcWriter(
        directory, namer=WarcFileNamer("BENCH", hostname="h"), warcinfo_fields={}
    )
    seed = hashlib.sha256(b"bench").hexdigest().encode()
    n = 0
    while writer.current_path is None or writer.current_path.stat().st_size < size:
        body = (b"<p>" + seed + b" %d</p>\n" % n) * 700 + os.urandom(16_000)
        writer.write_exchange(
            HttpExchange(
                url=f"http://127.0.0.1/page-{n}",
                method="GET",
                request_headers=[(b"User-Agent", b"bench")],
                status=200,
                response_headers=[(b"Content-Type", b"text/html")],
                body=body,
                fetch_started=datetime.now(UTC),
            )
        )
        n += 1
    writer.close()
    return writer.closed_files[0]


if __name__ == "__main__":
    sys.exit(main())
