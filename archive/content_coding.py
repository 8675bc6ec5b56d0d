"""HTTP content codings undone in bounded memory: gzip, deflate, br and zstd, stacked or not.

Every archived body is decoded through :func:`decode`, which never holds more than ``limit``
decoded bytes of one stage (a gzip bomb costs time, not memory). A :class:`DecodeBudget` bounds
what all concurrent decodings of a process hold together.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import threading
import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING

import brotli

if TYPE_CHECKING:
    from typing import Self

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

CODINGS = frozenset({"gzip", "x-gzip", "deflate", "br", "zstd"})
# Decoded bytes handed out per step: small enough that the cap is checked often.
_STEP = 1 << 20


# glibc's mallopt parameter number for the size from which allocations get their own mapping.
_M_MMAP_THRESHOLD = -3


def map_large_buffers(threshold: int = 256 * 1024) -> bool:
    """Give every allocation of ``threshold`` bytes or more its own memory mapping (glibc), so a
    freed decode buffer goes back to the system at once.

    Without it glibc raises that threshold as large buffers are freed and keeps later ones in
    per-thread arenas: a threaded server's RSS then drifts far above the bytes it holds (measured:
    +200 MiB with a 24 MiB decoding budget under 16 concurrent requests, +28 MiB with this). A
    process-wide setting, for servers; returns False where it does not apply (not glibc).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, threshold))
    except (OSError, AttributeError):
        return False


class DecodeError(Exception):
    """The coded bytes are corrupt or use a coding this archive cannot undo."""


class TooLarge(DecodeError):
    """The decoded body would pass the per-request limit (a decompression bomb, or a huge page)."""


class BudgetExhausted(Exception):
    """Concurrent decodings hold the whole process-wide budget; try again shortly."""


def parse_codings(header: str | None) -> list[str]:
    """The codings of a ``Content-Encoding`` value in the order they were applied."""
    names = [part.strip().lower() for part in (header or "").split(",")]
    return [name for name in names if name and name != "identity"]


class DecodeBudget:
    """A semaphore of bytes shared by every decoding of a process.

    A decoding first reserves the most it may need (all or nothing, so no two decodings can each
    hold part and wait for the rest), then shrinks its reservation to what it kept, and gives it
    back when its body is gone. One that cannot get its reservation within ``wait`` seconds fails
    with :class:`BudgetExhausted` instead of growing memory.
    """

    def __init__(self, total: int, wait: float = 5.0) -> None:
        if total <= 0:
            raise ValueError("the decoding budget must be positive")
        self.total = total
        self.wait = wait
        self.in_use = 0
        self._cond = threading.Condition()

    def reservation(self) -> Reservation:
        return Reservation(self)

    def _take(self, n: int) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: self.in_use + n <= self.total, self.wait):
                raise BudgetExhausted(f"decoding budget of {self.total} bytes in use")
            self.in_use += n

    def _give(self, n: int) -> None:
        with self._cond:
            self.in_use -= n
            self._cond.notify_all()


class Reservation:
    """The bytes one decoding holds of a :class:`DecodeBudget`; release() when the body is gone."""

    def __init__(self, budget: DecodeBudget) -> None:
        self.budget = budget
        self.held = 0

    def acquire(self, n: int) -> None:
        """Hold ``n`` bytes (at most the whole budget), waiting for them; only when holding none."""
        if self.held:
            raise RuntimeError("a reservation is acquired once, then only shrinks")
        n = min(n, self.budget.total)
        self.budget._take(n)
        self.held = n

    def shrink_to(self, n: int) -> None:
        """Give back what is held beyond ``n`` bytes."""
        extra = self.held - max(0, n)
        if extra > 0:
            self.held -= extra
            self.budget._give(extra)

    def release(self) -> None:
        held, self.held = self.held, 0
        if held:
            self.budget._give(held)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def decode(
    data: bytes,
    content_encoding: str | None,
    limit: int,
    *,
    truncate: bool = False,
) -> bytes:
    """``data`` with every content coding of ``content_encoding`` undone, last applied first.

    Raises :class:`TooLarge` past ``limit`` decoded bytes (or, with ``truncate``, returns the first
    ``limit``), :class:`DecodeError` for corrupt data or an unknown coding. A body cut short in
    transfer decodes to what arrived, as a browser shows it.
    """
    codings = parse_codings(content_encoding)
    for name in codings:
        if name not in CODINGS:
            raise DecodeError(f"unknown content coding {name!r}")
    for name in reversed(codings):
        data = _decode_one(data, name, limit, truncate)
    return data


def _decode_one(data: bytes, name: str, limit: int, truncate: bool) -> bytes:
    out = bytearray()

    def take(chunk: bytes) -> bool:
        """Keep ``chunk``; False once ``truncate`` has what it wants."""
        room = limit - len(out)
        if len(chunk) > room:
            if not truncate:
                raise TooLarge(f"{name}-coded body decodes to more than {limit} bytes")
            chunk = chunk[:room]
        out.extend(chunk)
        return not (truncate and len(out) >= limit)

    try:
        if name in ("gzip", "x-gzip"):
            _inflate(data, zlib.MAX_WBITS | 16, take, members=True)
        elif name == "deflate":
            # RFC 9110 says zlib-wrapped; some servers send raw deflate, which browsers accept.
            wbits = zlib.MAX_WBITS if _zlib_header(data) else -zlib.MAX_WBITS
            _inflate(data, wbits, take, members=False)
        elif name == "br":
            _unbrotli(data, take)
        else:
            _unzstd(data, take)
    except (zlib.error, brotli.error, zstd.ZstdError, EOFError) as exc:
        raise DecodeError(f"corrupt {name} data: {exc}") from exc
    return bytes(out)


def _zlib_header(data: bytes) -> bool:
    return len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0


def _inflate(data: bytes, wbits: int, take: Callable[[bytes], bool], members: bool) -> None:
    while data:
        inflater = zlib.decompressobj(wbits)
        pending = data
        while True:
            chunk = inflater.decompress(pending, _STEP)
            if not take(chunk):
                return
            pending = inflater.unconsumed_tail
            if inflater.eof or (not pending and len(chunk) < _STEP):
                break
        if not inflater.eof:
            take(inflater.flush())  # cut short in transfer: what arrived
            return
        data = inflater.unused_data if members else b""
        if data and not data.strip(b"\0"):
            return  # padding after the last member


def _unbrotli(data: bytes, take: Callable[[bytes], bool]) -> None:
    decoder = brotli.Decompressor()
    if not take(decoder.process(data, output_buffer_limit=_STEP)):
        return
    while not decoder.is_finished():
        chunk = decoder.process(b"", output_buffer_limit=_STEP)
        if not chunk and decoder.can_accept_more_data():
            return  # cut short in transfer
        if not take(chunk):
            return


def _unzstd(data: bytes, take: Callable[[bytes], bool]) -> None:
    while data:
        decoder = zstd.ZstdDecompressor()
        pending = data
        while not decoder.eof:
            if not take(decoder.decompress(pending, _STEP)):
                return
            pending = b""
            if decoder.needs_input:
                break
        if not decoder.eof:
            return  # cut short in transfer
        data = decoder.unused_data
