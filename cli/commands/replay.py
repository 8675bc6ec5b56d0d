"""``replay``: serve the archive to a browser (search, replay, Memento, raw records) on loopback."""

from __future__ import annotations

import argparse
import signal
import sys


def cmd_replay(args: argparse.Namespace) -> int:
    from werkzeug.serving import make_server

    from archive.content_coding import map_large_buffers
    from archive.replay import ReplayApp
    from archive.storage import StorageError
    from cli.store import open_store

    settings = args.settings
    storage = open_store(args)
    map_large_buffers()  # RSS follows the decoding budget (docs/replay.md)
    try:
        app = ReplayApp(
            storage,
            base_url=settings.get("ARCHIVE_REPLAY_BASE_URL") or "",
            max_decoded_bytes=settings.getint("ARCHIVE_REPLAY_MAX_DECODED_BYTES"),
            decode_budget_bytes=settings.getint("ARCHIVE_REPLAY_DECODE_BUDGET_BYTES"),
        )
    except (StorageError, OSError, ValueError) as exc:
        print(f"lifegate-archive replay: {exc}", file=sys.stderr)
        return 1
    try:
        server = make_server(args.host, args.port, app, threaded=True)
    except OSError as exc:
        app.close()
        where = f"{args.host}:{args.port}"
        print(f"lifegate-archive replay: cannot listen on {where}: {exc}", file=sys.stderr)
        return 1
    for problem in app.problems:
        print(f"lifegate-archive replay: could not read {problem}", file=sys.stderr, flush=True)
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"http://{host}:{server.server_port}/", flush=True)
    print(
        f"{len(app.catalog)} articles, {app.index.size / 1e6:.1f} MB of index from {storage.uri}; "
        "Ctrl-C stops",
        file=sys.stderr,
        flush=True,
    )
    # SIGTERM (service managers) and SIGINT (even where a shell ignores it for a background job)
    # stop the server the same way, so the catalogue's temporary files are removed.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _interrupt)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        app.close()
    return 0


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def register(subparsers) -> None:
    replay = subparsers.add_parser(
        "replay", help="serve the archive in a browser; its URL is the first line of output"
    )
    replay.add_argument("--store", help="store path or URI (default: ARCHIVE_STORE)")
    replay.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    replay.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks one)")
    replay.set_defaults(func=cmd_replay)
