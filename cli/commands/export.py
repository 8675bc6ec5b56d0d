"""``export``: publish a versioned clean-text dataset release from every committed crawl.

Writes ``datasets/<name>/`` (Parquet and JSONL.gz shards per site and language, dataset card,
delta against the previous release, manifest last). The takedown list is ``takedown.txt``.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime

from cli.store import open_store


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from exc


def _words(value: str) -> frozenset[str]:
    items = frozenset(v.strip() for v in value.split(",") if v.strip())
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    return items


def _alias(value: str) -> tuple[str, str]:
    netloc, sep, name = value.partition("=")
    if not sep or not netloc.strip() or not name.strip():
        raise argparse.ArgumentTypeError(f"expected HOST[:PORT]=SITE, got {value!r}")
    return netloc.strip().lower(), name.strip()


def default_release_name(today: date | None = None) -> str:
    """``v2026.11.28``: the day of the export (UTC)."""
    return f"v{(today or datetime.now(UTC).date()):%Y.%m.%d}"


def cmd_export(args: argparse.Namespace) -> int:
    from archive.dataset import DatasetError, ExportOptions
    from archive.release import export_release
    from archive.storage import StorageError
    from pipelines.extractor_config import ExtractorConfig

    settings = args.settings
    say = lambda message: print(message, file=sys.stderr, flush=True)
    storage = open_store(args)
    hosts = frozenset(h.lower().removeprefix("www.") for h in settings.getlist("LIFEGATE_HOSTS"))
    try:
        options = ExportOptions(
            name=args.name or default_release_name(),
            since=args.since,
            languages=args.lang,
            sites=args.site,
            site_aliases=dict(args.site_alias or []),
            original_sites=hosts,
            takedown_key=args.takedowns,
            reextract_hash=None
            if args.no_reextract
            else ExtractorConfig.from_settings(settings).config_hash(),
            require_reextract=args.from_reextract,
            near_duplicate_threshold=args.near_duplicate_threshold,
            max_shard_bytes=int(args.max_shard_mb * 1_000_000),
            skip_damaged=args.skip_damaged,
        )
        manifest = export_release(storage, options, progress=say)
    except (DatasetError, StorageError) as exc:
        print(f"lifegate-archive export: {exc}", file=sys.stderr)
        return 1
    counts, dedup, delta = manifest.counts, manifest.dedup, manifest.delta
    selection = counts.get("selection", {})
    for problem in manifest.sources.get("problems", []):
        print(f"lifegate-archive export: {problem}", file=sys.stderr)
    if selection.get("bad_lines") or selection.get("damaged_files"):
        print(f"lifegate-archive export: skipped {selection.get('bad_lines', 0)} unreadable lines "
              f"and {selection.get('damaged_files', 0)} unreadable files (listed above)",
              file=sys.stderr)  # fmt: skip
    size = sum(f.size for f in manifest.files)
    sites = ", ".join(f"{site} {n}" for site, n in counts["by_site"].items())
    languages = ", ".join(f"{lang} {n}" for lang, n in counts["by_language"].items())
    print(
        f"release {manifest.name}: {manifest.rows} rows ({sites}; {languages}); "
        f"{dedup['exact_duplicates']} exact and {dedup['near_duplicates']} near duplicates merged; "
        f"+{delta['added']} ~{delta['changed']} -{delta['removed']} since "
        f"{manifest.previous or 'nothing'}; {len(manifest.files)} files, {size / 1e6:.1f} MB "
        f"in {storage.uri}/datasets/{manifest.name}/"
    )
    return 0


def register(subparsers) -> None:
    export = subparsers.add_parser("export", help="publish a clean-text dataset release")
    export.add_argument("--store", help="store path or URI (default: ARCHIVE_STORE)")
    export.add_argument("--name", help="release name (default: v<YYYY.MM.DD> of today)")
    export.add_argument("--since", type=_day, help="only articles published on or after YYYY-MM-DD")
    export.add_argument("--lang", type=_words, help="detected languages to keep, e.g. it,en")
    export.add_argument("--site", type=_words, help="sites to keep, e.g. lifegate.it,lifegate.com")
    export.add_argument(
        "--site-alias",
        type=_alias,
        action="append",
        metavar="HOST[:PORT]=SITE",
        help="name the site served from HOST[:PORT] (offline copies on loopback)",
    )
    export.add_argument(
        "--takedowns",
        default="takedown.txt",
        metavar="KEY",
        help="takedown list in the store (default: takedown.txt)",
    )
    export.add_argument(
        "--from-reextract",
        action="store_true",
        help="require `reextract` output for the current extractor configuration",
    )
    export.add_argument(
        "--no-reextract",
        action="store_true",
        help="use the crawl-time text even where re-extracted text exists",
    )
    export.add_argument(
        "--near-duplicate-threshold",
        type=float,
        default=0.8,
        metavar="JACCARD",
        help="MinHash Jaccard estimate above which two texts are one (default 0.8)",
    )
    export.add_argument(
        "--skip-damaged",
        action="store_true",
        help="leave out a crawl's text file that is missing or unreadable, and list "
        "it, instead of failing",
    )
    export.add_argument(
        "--max-shard-mb",
        type=float,
        default=256,
        metavar="MB",
        help="largest shard, in MB (default 256)",
    )
    export.set_defaults(func=cmd_export)
