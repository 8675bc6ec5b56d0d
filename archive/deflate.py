"""gzip through ISA-L (python-isal) where it is installed, zlib where it is not.

A WARC record is one gzip member, and most archived bodies were already compressed by the server:
zlib at level 6 spends ~0.5 ms on a 40 KB gzipped news page to gain nothing, ISA-L ~0.05 ms. On an
uncompressed page ISA-L's levels 1-3 give about zlib's ratio at the same level, 2.5-4x faster
(``docs/benchmarks/crawl-profile.md``). The output is plain RFC 1952 gzip: any reader decodes it.
"""

from __future__ import annotations

import zlib

try:
    from isal import isal_zlib
except ImportError:  # a platform without an ISA-L wheel: zlib does everything, only slower
    isal_zlib = None  # type: ignore[assignment]

# ISA-L's levels; a higher level is zlib's.
ISAL_LEVELS = range(1, 4) if isal_zlib is not None else range(0)
_GZIP_WBITS = zlib.MAX_WBITS | 16


def gzip_member(data: bytes, level: int) -> bytes:
    """``data`` as one complete gzip member at ``level`` (1-9, as zlib counts)."""
    engine = isal_zlib if level in ISAL_LEVELS else zlib
    compressor = engine.compressobj(level, engine.DEFLATED, _GZIP_WBITS)
    return compressor.compress(data) + compressor.flush()


def gunzip_whole(data: bytes, max_size: int = 0) -> bytes | None:
    """The content of ``data`` when it is exactly one complete, intact gzip member no larger than
    ``max_size`` decoded (0: no limit); None for anything else (truncated, corrupt, several members,
    bytes after the member, too large), which the caller decodes its own careful way.

    On such a member every gzip reader gives the same bytes, so this fast path cannot change them.
    """
    engine = isal_zlib if isal_zlib is not None else zlib
    decompressor = engine.decompressobj(_GZIP_WBITS)
    try:
        content = decompressor.decompress(data, max_size + 1 if max_size else 0)
    except engine.error:
        return None
    if not decompressor.eof or decompressor.unused_data or decompressor.unconsumed_tail:
        return None
    if max_size and len(content) > max_size:
        return None
    return content
