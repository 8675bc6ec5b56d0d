"""Serve the fixture sites until interrupted: `python -m fixture_site [--host] [--port] [--articles]`.

The first line printed is the lifegate.it base URL alone, so scripts can read it.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any

from fixture_site.site import CORE_EN_ARTICLES, CORE_IT_ARTICLES, FixtureSite


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fixture_site",
        description="Serve local imitations of lifegate.it, lifegate.com and a republisher.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        help="port of the lifegate.it site; lifegate.com and the republisher use "
        "the next two (default 0: all ephemeral)",
    )
    parser.add_argument(
        "--articles",
        type=int,
        default=CORE_IT_ARTICLES,
        help=f"total lifegate.it articles (default {CORE_IT_ARTICLES}; more are "
        "generated archive articles)",
    )
    parser.add_argument(
        "--faults",
        action="store_true",
        help="serve and link the fault paths (a slow page, a truncated one, a "
        "redirect loop, a flaky 500); without them a crawl takes seconds",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.articles < 0:
        print("--articles must not be negative", file=sys.stderr)
        return 2
    site = FixtureSite(
        it_articles=args.articles, en_articles=CORE_EN_ARTICLES, include_faults=args.faults
    )
    stop = threading.Event()
    previous: dict[signal.Signals, Callable[[int, FrameType | None], Any] | int | None] = {}
    if threading.current_thread() is threading.main_thread():
        # SIGTERM from a harness stops as cleanly as Ctrl-C; SIGINT is claimed explicitly
        # because shells start background jobs with it ignored.
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda *_: stop.set())
    try:
        with site.serve(host=args.host, port=args.port) as running:
            print(running.base_urls["it"], flush=True)
            print(f"en {running.base_urls['en']}", flush=True)
            print(f"republisher {running.base_urls['republisher']}", flush=True)
            try:
                while not stop.wait(0.5):
                    pass
            except KeyboardInterrupt:
                pass
    except OSError as exc:
        print(f"cannot serve: {exc}", file=sys.stderr)
        return 1
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
