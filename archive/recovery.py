"""Recovery of WARC files left ``.open`` by a killed process.

A writer flushes whole gzip members, so a killed run leaves complete records followed at most by a
torn one. Recovery keeps the complete records, cuts the torn tail and closes the file by renaming
it, as Heritrix operators do by hand with ``.open`` files.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from archive.gzip_members import scan_members
from archive.warc import OPEN_SUFFIX

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RecoveredFile:
    """What recovery did with one ``.open`` file."""

    source: Path
    path: Path | None  # the closed file, or None when nothing in it was complete
    records: int
    dropped_bytes: int


def recover_open_file(path: Path) -> RecoveredFile:
    """Close ``path`` (``*.warc.gz.open``) keeping its complete records."""
    path = Path(path)
    if not path.name.endswith(OPEN_SUFFIX):
        raise ValueError(f"not an .open file: {path}")
    size = path.stat().st_size
    with open(path, "rb") as fh:
        scan = scan_members(fh, size)
    dropped = size - scan.complete_until
    if scan.members == 0:
        path.unlink()
        logger.warning("Removed %s: no complete record in %d bytes", path, size)
        return RecoveredFile(path, None, 0, dropped)
    if dropped:
        with open(path, "rb+") as fh:
            fh.truncate(scan.complete_until)
            fh.flush()
            os.fsync(fh.fileno())
        logger.warning("Cut %d torn bytes from the end of %s (%s)", dropped, path, scan.error)
    final = path.with_name(path.name[: -len(OPEN_SUFFIX)])
    os.replace(path, final)
    logger.info("Recovered %s: %d records", final, scan.members)
    return RecoveredFile(path, final, scan.members, dropped)
