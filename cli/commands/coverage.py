"""``coverage``: articles known from each source (feed, sitemap, listing, link), archived or not,
and the gaps, from the article ledger."""

from __future__ import annotations

import argparse
import json

from cli.store import open_store


def cmd_coverage(args: argparse.Namespace) -> int:
    from archive.ledger import Ledger, ledger_path

    settings = args.settings
    storage = open_store(args)
    ledger = Ledger.open_synced(
        ledger_path(storage, settings.get("ARCHIVE_STATE_DIR") or None), storage
    )
    try:
        coverage = ledger.coverage()
    finally:
        ledger.close()
    if args.json:
        print(json.dumps(coverage, indent=2, sort_keys=True))
        return 0
    print(f"{'source':<10} {'known':>8} {'archived':>9}")
    for source, counts in sorted(coverage["by_source"].items()):
        print(f"{source:<10} {counts['known']:>8} {counts['archived']:>9}")
    print("status: " + ", ".join(f"{k} {v}" for k, v in sorted(coverage["by_status"].items())))
    print(f"gaps (known, never archived): {len(coverage['gaps'])}")
    for url in coverage["gaps"][: args.show]:
        print(f"  {url}")
    return 0


def register(subparsers) -> None:
    coverage = subparsers.add_parser(
        "coverage", help="what each discovery source revealed, and the gaps"
    )
    coverage.add_argument("--store", help="store path or URI (default: ARCHIVE_STORE)")
    coverage.add_argument("--json", action="store_true", help="machine-readable output")
    coverage.add_argument("--show", type=int, default=20, help="gap URLs to list (default 20)")
    coverage.set_defaults(func=cmd_coverage)
