"""The content coding the fixture answers with: the one the client prefers among gzip, deflate,
br and zstd (highest q, then first listed), as CDNs do; Scrapy's default header gets gzip."""

from __future__ import annotations

import gzip
import sys
import zlib

import brotli

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

# Level 1 is nginx's default gzip_comp_level; mtime=0 keeps the bytes identical across runs.
ENCODERS = {
    "gzip": lambda body: gzip.compress(body, compresslevel=1, mtime=0),
    "deflate": lambda body: zlib.compress(body, 1),
    "br": lambda body: brotli.compress(body, quality=4),
    "zstd": lambda body: zstd.compress(body, 3),
}


def negotiate(header: str | None) -> str | None:
    """The coding to answer ``Accept-Encoding: header`` with, or None for identity."""
    best: tuple[float, int, str] | None = None
    for position, part in enumerate((header or "").split(",")):
        name, _, params = part.strip().partition(";")
        name = name.strip().lower()
        if name in ("*", "x-gzip"):
            name = "gzip"
        if name not in ENCODERS:
            continue
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                continue
        if q > 0 and (best is None or (q, -position) > (best[0], -best[1])):
            best = (q, position, name)
    return best[2] if best else None


def encode(body: bytes, coding: str) -> bytes:
    return ENCODERS[coding](body)
