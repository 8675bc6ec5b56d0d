"""A local file that appears whole or not at all: built beside its final name, synced, renamed.

A reader (or a run after a crash) sees either the previous file or the complete new one, never a
torn one: the data is fsynced before the rename and the folder after it, so the rename itself
survives a power loss. Files that are built over a long time (WARC files, JSON Lines journals)
live as ``*.open`` and are finished with :func:`finish`; files written in one go use
:func:`atomic_write` (``*.part`` while being written).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

PART_SUFFIX = ".part"


def part_path(target: Path) -> Path:
    """Where ``target`` is built before it is renamed into place."""
    return target.with_name(target.name + PART_SUFFIX)


def fsync_dir(path: Path) -> None:
    """Make the entries of folder ``path`` (a rename into it) durable; a no-op where folders
    cannot be opened (Windows)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def finish(path: Path, final: Path, fh: BinaryIO | None = None) -> None:
    """Rename the complete file ``path`` to ``final`` durably. ``fh``, when given, is its open
    handle: flushed, synced and closed first."""
    if fh is not None:
        fh.flush()
        os.fsync(fh.fileno())
        fh.close()
    os.replace(path, final)
    fsync_dir(final.parent)


@contextlib.contextmanager
def atomic_write(target: Path) -> Iterator[BinaryIO]:
    """A binary file to write ``target``'s content into; ``target`` gets it when the block ends
    without an exception, and is left as it was (the partial file removed) when one is raised."""
    target = Path(target)
    part = part_path(target)
    try:
        with open(part, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        finish(part, target)
    except BaseException:
        part.unlink(missing_ok=True)
        raise


def write_atomic(target: Path, data: bytes) -> None:
    """Replace ``target`` with ``data``, whole or not at all."""
    with atomic_write(target) as fh:
        fh.write(data)
