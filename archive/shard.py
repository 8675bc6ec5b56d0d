"""A release's shards: rows split by site and language, each partition written as numbered
Parquet and JSON Lines (gzip) files with the same rows, and the one schema both follow.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from archive.dataset import ExportOptions, ReleaseFile
from archive.storage import sha256_file

Progress = Callable[[str], None]

_STRING_LIST = pa.list_(pa.string())
# Parquet has no seconds unit; microseconds are what Spark, DuckDB and pandas write too.
_UTC = pa.timestamp("us", tz="UTC")
# Every column typed, so that a shard whose rows all have empty lists or no value still says what
# the column holds (the dataset card lists the same features).
ROW_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("url", pa.string()),
        ("canonical_url", pa.string()),
        ("site", pa.string()),
        ("language", pa.string()),
        ("declared_language", pa.string()),
        ("title", pa.string()),
        ("kicker", pa.string()),
        ("standfirst", pa.string()),
        ("authors", _STRING_LIST),
        ("date_published", _UTC),
        ("date_published_offset", pa.string()),  # the page's zone, +HH:MM (None: it gave none)
        ("date_modified", _UTC),
        ("date_modified_offset", pa.string()),
        ("tags", _STRING_LIST),
        ("license", pa.string()),
        ("attribution", pa.string()),
        ("translation_of", pa.string()),
        (
            "images",
            pa.list_(
                pa.struct(
                    [
                        ("url", pa.string()),
                        ("caption", pa.string()),
                        ("credit", pa.string()),
                    ]
                )
            ),
        ),
        ("text", pa.string()),
        ("word_count", pa.int32()),
        ("text_sha256", pa.string()),
        ("content_sha256", pa.string()),
        ("crawl_id", pa.string()),
        ("fetched", _UTC),
        (
            "provenance",
            pa.struct(
                [
                    ("warc_key", pa.string()),
                    ("offset", pa.int64()),
                    ("length", pa.int64()),
                    ("record_id", pa.string()),
                    ("payload_digest", pa.string()),
                ]
            ),
        ),
        (
            "extractor",
            pa.struct(
                [
                    ("name", pa.string()),
                    ("version", pa.string()),
                    ("trafilatura_version", pa.string()),
                    ("config_hash", pa.string()),
                ]
            ),
        ),
        ("flags", _STRING_LIST),
        (
            "duplicates",
            pa.list_(
                pa.struct(
                    [
                        ("id", pa.string()),
                        ("url", pa.string()),
                        ("site", pa.string()),
                        ("language", pa.string()),
                        ("kind", pa.string()),
                        ("similarity", pa.float64()),
                        ("crawl_id", pa.string()),
                    ]
                )
            ),
        ),
    ]
)
# Rows are dicts of JSON values: timestamps are ``YYYY-MM-DDTHH:MM:SSZ`` strings until Parquet.
_ROW_JSON_SCHEMA = pa.schema(
    [f.with_type(pa.string()) if pa.types.is_timestamp(f.type) else f for f in ROW_SCHEMA]
)


def rows_table(rows: list[dict]) -> pa.Table:
    """Rows as a table of ``ROW_SCHEMA`` (timestamp columns parsed from their UTC strings)."""
    return pa.Table.from_pylist(rows, schema=_ROW_JSON_SCHEMA).cast(ROW_SCHEMA)


# zstd's own default level: ~3x smaller than the JSON for news text at a few hundred MB/s.
ZSTD_LEVEL = 3


def _dir_name(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", value) or "unknown"


def partition_dir(site: str, language: str) -> str:
    """``<site>/<language>``: plain folder names, not ``key=value``, because the values are
    already columns and hive-style keys would clash with them in pyarrow and DuckDB discovery."""
    return f"{_dir_name(site)}/{_dir_name(language)}"


class _PartitionWriter:
    """Writes one site/language partition as numbered shards, each as Parquet and as JSONL.gz."""

    def __init__(self, root: Path, site: str, language: str, options: ExportOptions) -> None:
        self.root, self.site, self.language, self.options = root, site, language, options
        self.files: list[ReleaseFile] = []
        self.locations: dict[str, str] = {}
        self._part = 0
        self._open()

    def _paths(self) -> tuple[str, str]:
        where = partition_dir(self.site, self.language)
        return (
            f"data/{where}/part-{self._part:05d}.parquet",
            f"jsonl/{where}/part-{self._part:05d}.jsonl.gz",
        )

    def _open(self) -> None:
        self.parquet_path, self.jsonl_path = self._paths()
        for rel in self._paths():
            (self.root / rel).parent.mkdir(parents=True, exist_ok=True)
        self._parquet = pq.ParquetWriter(
            self.root / self.parquet_path,
            ROW_SCHEMA,
            compression="zstd",
            compression_level=ZSTD_LEVEL,
        )
        self._raw = open(self.root / self.jsonl_path, "wb")  # noqa: SIM115 (held across writes)
        # mtime 0 and no file name: the same rows always give the same bytes (RFC 1952 §2.3).
        self._jsonl = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0)
        self._rows = 0

    def write(self, rows: list[dict]) -> None:
        self._parquet.write_table(rows_table(rows))
        lines = [json.dumps({k: r[k] for k in ROW_SCHEMA.names}, ensure_ascii=False) for r in rows]
        self._jsonl.write(("\n".join(lines) + "\n").encode("utf-8"))
        for row in rows:
            self.locations[row["id"]] = self.parquet_path
        self._rows += len(rows)
        limit = self.options.max_shard_bytes
        if os.path.getsize(self.root / self.parquet_path) >= limit or self._raw.tell() >= limit:
            self._close()
            self._part += 1
            self._open()

    def _close(self) -> None:
        self._parquet.close()
        self._jsonl.close()
        self._raw.close()
        if self._rows:
            for rel, kind in ((self.parquet_path, "parquet"), (self.jsonl_path, "jsonl")):
                path = self.root / rel
                self.files.append(
                    ReleaseFile(
                        rel,
                        path.stat().st_size,
                        sha256_file(path),
                        kind,
                        self._rows,
                        self.site,
                        self.language,
                    )
                )
        else:
            for rel in (self.parquet_path, self.jsonl_path):
                (self.root / rel).unlink()

    def close(self) -> list[ReleaseFile]:
        self._close()
        return self.files


def write_shards(
    rows: list[dict], root: Path, options: ExportOptions, progress: Progress | None = None
) -> tuple[list[ReleaseFile], dict[str, str]]:
    """Every row into ``root``: shards per site and language, rows in id order. Returns the files
    and, for each row id, the Parquet file that holds it."""
    partitions: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in rows:
        partitions[(row["site"], row["language"])].append(row)
    files: list[ReleaseFile] = []
    locations: dict[str, str] = {}
    written = 0
    for (site, language), members in sorted(partitions.items()):
        members.sort(key=lambda r: r["id"])
        writer = _PartitionWriter(root, site, language, options)
        step = max(1, options.row_group_rows)
        for start in range(0, len(members), step):
            writer.write(members[start : start + step])
            written += len(members[start : start + step])
        files += writer.close()
        locations.update(writer.locations)
        if progress:
            progress(f"wrote {site}/{language}: {len(members)} rows ({written}/{len(rows)})")
    return files, locations
