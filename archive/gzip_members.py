"""Walk the gzip members of a file and tell where the last complete one ends.

``warcio check`` and cdxj-indexer silently drop a torn last member, so completeness is checked here,
by inflating every member to its end, in bounded memory.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class MemberScan:
    """Result of a scan: complete members, where they end, and what follows them."""

    members: int
    complete_until: int  # offset just past the last complete member
    size: int
    error: str | None  # why the bytes after ``complete_until`` are not a complete member

    @property
    def complete(self) -> bool:
        return self.error is None and self.complete_until == self.size


def iter_member_ends(stream: BinaryIO) -> Iterator[int]:
    """Offsets at which each complete gzip member ends; raises ValueError on a torn or bad one."""
    offset = 0
    pending = stream.read(_CHUNK)
    while pending:
        inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
        member_length = 0
        data = pending
        while True:
            try:
                # Output is bounded and dropped: a gzip bomb costs time, never memory.
                inflater.decompress(data, _CHUNK)
            except zlib.error as exc:
                raise ValueError(f"corrupt gzip data in member at offset {offset}: {exc}") from exc
            if inflater.eof:
                rest = inflater.unused_data
                member_length += len(data) - len(rest)
                pending = rest or stream.read(_CHUNK)
                break
            tail = inflater.unconsumed_tail
            member_length += len(data) - len(tail)
            data = tail or stream.read(_CHUNK)
            if not data:
                raise ValueError(f"gzip member at offset {offset} is truncated")
        offset += member_length
        yield offset


def scan_members(stream: BinaryIO, size: int) -> MemberScan:
    members = 0
    complete_until = 0
    try:
        for complete_until in iter_member_ends(stream):  # noqa: B007 (the last value is the answer)
            members += 1
    except ValueError as exc:
        return MemberScan(members, complete_until, size, str(exc))
    return MemberScan(members, complete_until, size, None)
