"""Deduplication of dataset rows: exact (same text) and near-duplicate (MinHash LSH, same language).

The best copy of each group is kept, and it lists what it merged in its ``duplicates`` field:
the publisher's original first, then the newest, then the longest text.
"""

from __future__ import annotations

import re
import zlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from datasketch import MinHash, MinHashLSH

from archive.dataset import ORIGINAL_SITES, is_original

_WORD = re.compile(r"\w+")
_FNV_PRIME = np.uint64(1099511628211)


@dataclass(frozen=True, slots=True)
class DedupConfig:
    """How alike two texts must be. FineWeb uses word 5-grams and ~0.75 over 112 permutations."""

    threshold: float = 0.8
    num_perm: int = 128
    shingle_words: int = 5
    original_sites: frozenset[str] = ORIGINAL_SITES


@dataclass(slots=True)
class DedupResult:
    """Rows kept (their ``duplicates`` filled in), and for each dropped id the id that absorbed it."""

    rows: list[dict]
    merged: dict[str, str] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)


def shingles(text: str, words: int) -> set[bytes]:
    """Word n-grams of the case-folded text; a text shorter than n words is one shingle."""
    tokens = _WORD.findall(text.casefold())
    if len(tokens) <= words:
        return {" ".join(tokens).encode("utf-8")}
    return {" ".join(tokens[i : i + words]).encode("utf-8") for i in range(len(tokens) - words + 1)}


def shingle_hashes(text: str, words: int, vocabulary: dict[str, int] | None = None) -> list[int]:
    """32-bit hashes of the word n-grams (the same sets as :func:`shingles`), computed in bulk.

    Each distinct word is hashed once (CRC-32, remembered in ``vocabulary``) and n-grams are
    combined by a rolling FNV-style product in numpy: several times faster than hashing every
    joined n-gram with SHA-1, datasketch's default.
    """
    tokens = _WORD.findall(text.casefold())
    vocabulary = {} if vocabulary is None else vocabulary
    for token in set(tokens).difference(vocabulary):
        vocabulary[token] = zlib.crc32(token.encode("utf-8"))
    ids = np.array(list(map(vocabulary.__getitem__, tokens)), dtype=np.uint64)
    count = max(1, len(tokens) - words + 1)
    combined = np.zeros(count, np.uint64)
    for k in range(min(words, len(tokens))):
        combined = combined * _FNV_PRIME + ids[k : k + count]  # wraps modulo 2**64, on purpose
    folded = (combined ^ (combined >> np.uint64(32))) & np.uint64(0xFFFFFFFF)
    return np.unique(folded).tolist()


def _identity(value: int) -> int:
    return value


def _rank(row: dict, config: DedupConfig) -> tuple:
    newest = row.get("date_modified") or row.get("date_published") or ""
    return (
        is_original(row, config.original_sites),
        newest,
        row["fetched"],
        len(row["text"]),
        row["id"],
    )


class _Groups:
    """Union-find over row ids."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        root = key
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while key != root:  # path compression
            self.parent[key], key = root, self.parent.get(key, key)
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _best(members: Iterable[dict], config: DedupConfig) -> dict:
    return max(members, key=lambda row: _rank(row, config))


def deduplicate(rows: list[dict], config: DedupConfig | None = None) -> DedupResult:
    """Merge exact duplicates (text_sha256), then near duplicates within each language."""
    config = config or DedupConfig()
    groups = _Groups()

    by_text: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_text[row["text_sha256"]].append(row)
    # The best copy of each text stands for it in the near-duplicate step.
    text_winner: dict[str, dict] = {}
    for digest, copies in by_text.items():
        text_winner[digest] = _best(copies, config)
        for copy in copies:
            groups.union(copies[0]["id"], copy["id"])

    signatures: dict[str, MinHash] = {}
    vocabulary: dict[str, int] = {}
    by_language: dict[str, list[dict]] = defaultdict(list)
    for row in text_winner.values():
        by_language[row["language"]].append(row)
    for language_rows in by_language.values():
        if len(language_rows) < 2:
            continue
        language_rows.sort(key=lambda r: r["id"])
        hashed = MinHash.bulk(
            (shingle_hashes(r["text"], config.shingle_words, vocabulary) for r in language_rows),
            num_perm=config.num_perm,
            hashfunc=_identity,
        )
        lsh = MinHashLSH(threshold=config.threshold, num_perm=config.num_perm)
        for row, signature in zip(language_rows, hashed, strict=True):
            signatures[row["id"]] = signature
            lsh.insert(row["id"], signature)
        for row, signature in zip(language_rows, hashed, strict=True):
            for other in lsh.query(signature):
                # LSH returns candidates around the threshold; the Jaccard estimate decides.
                if other > row["id"] and signature.jaccard(signatures[other]) >= config.threshold:
                    groups.union(row["id"], other)

    clusters: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        clusters[groups.find(row["id"])].append(row)
    kept: list[dict] = []
    merged: dict[str, str] = {}
    counts = {"exact": 0, "near": 0}
    for members in clusters.values():
        keeper = _best(members, config)  # always a text winner: the rank is the same
        duplicates = []
        for member in sorted(members, key=lambda r: r["id"]):
            if member is keeper:
                continue
            kind = "exact" if member["text_sha256"] == keeper["text_sha256"] else "near"
            similarity: float | None = 1.0
            if kind == "near":
                mine = signatures.get(keeper["id"])
                theirs = signatures.get(text_winner[member["text_sha256"]]["id"])
                similarity = round(mine.jaccard(theirs), 3) if mine and theirs else None
            counts[kind] += 1
            duplicates.append(
                {
                    "id": member["id"],
                    "url": member["url"],
                    "site": member["site"],
                    "language": member["language"],
                    "kind": kind,
                    "similarity": similarity,
                    "crawl_id": member["crawl_id"],
                }
            )
            merged[member["id"]] = keeper["id"]
        keeper["duplicates"] = duplicates
        kept.append(keeper)
    kept.sort(key=lambda r: r["id"])
    total = len(rows)
    stats = {
        "input_rows": total,
        "kept_rows": len(kept),
        "exact_duplicates": counts["exact"],
        "near_duplicates": counts["near"],
        "exact_rate": round(counts["exact"] / total, 4) if total else 0.0,
        "near_rate": round(counts["near"] / total, 4) if total else 0.0,
        "threshold": config.threshold,
        "num_perm": config.num_perm,
        "shingle_words": config.shingle_words,
    }
    return DedupResult(kept, merged, stats)
