"""The replay application: one store's index, records, articles and takedowns held open, the
Flask wiring of the route families, and the responses they share (errors, 404, 451)."""

from __future__ import annotations

import functools
import html
import logging
import mmap
import re
import tempfile
from datetime import datetime
from typing import TYPE_CHECKING, BinaryIO

from flask import Flask, Response, render_template, request
from werkzeug.exceptions import HTTPException

from archive.catalog import ArticleCatalog
from archive.content_coding import DecodeBudget
from archive.index import INDEX_KEY, CaptureEntry, CdxjIndex, format_timestamp
from archive.memento import MementoUrls
from archive.open_files import OpenFiles
from archive.reader import MAX_DECODED_LENGTH, ArchiveReader, allowed_warc_keys
from archive.replay.browse import BrowseViews
from archive.replay.memento import MementoViews
from archive.replay.target import MAX_URL_LENGTH, check_host, url_key
from archive.replay.wayback import WaybackViews
from archive.storage import Storage, StorageError
from archive.takedown import TakedownList

if TYPE_CHECKING:
    from typing import Self

logger = logging.getLogger(__name__)

# The archive's own pages: no scripts at all, framing only of replayed content.
UI_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
DECODE_BUDGET = 256 * 1024 * 1024  # decoded bytes held by all requests at once (a default)
# URLs whose captures are kept in memory: a page's styles, scripts and image candidates are looked
# up again by every page that names them (about 1 KB each).
LOOKUP_CACHE_SIZE = 8192
_BASE_URL = re.compile(r"^https?://[^/?#\s]+(?:/[^?#\s]*)?$")


def _timestamp_filter(iso: str) -> str:
    try:
        return format_timestamp(datetime.fromisoformat(iso))
    except (ValueError, TypeError):  # not ISO 8601, or not a string at all
        return "9999"  # unknown: a partial timestamp, which resolves to the latest capture


class ReplayApp:
    """The replay WSGI application over one store, and what it holds open; close() when done.

    The merged index and the articles are read at start: crawls indexed later appear after a
    restart. Only WARC files listed by committed crawls' manifests are ever read.

    ``base_url`` (``ARCHIVE_REPLAY_BASE_URL``) is where users reach the server; Memento headers
    use it, or relative URLs without it, never the request's Host. ``max_decoded_bytes`` caps one
    decoded body and ``decode_budget_bytes`` all bodies being decoded at once
    (``ARCHIVE_REPLAY_MAX_DECODED_BYTES``, ``ARCHIVE_REPLAY_DECODE_BUDGET_BYTES``).
    """

    def __init__(
        self,
        storage: Storage,
        *,
        index_key: str = INDEX_KEY,
        base_url: str = "",
        max_decoded_bytes: int = MAX_DECODED_LENGTH,
        decode_budget_bytes: int = DECODE_BUDGET,
        decode_wait: float = 5.0,
    ) -> None:
        base_url = (base_url or "").strip().rstrip("/")
        if base_url and not _BASE_URL.match(base_url):
            raise ValueError(f"ARCHIVE_REPLAY_BASE_URL is not an http(s) URL: {base_url!r}")
        if max_decoded_bytes <= 0 or decode_budget_bytes < max_decoded_bytes:
            raise ValueError(
                "ARCHIVE_REPLAY_MAX_DECODED_BYTES must be positive and at most "
                "ARCHIVE_REPLAY_DECODE_BUDGET_BYTES"
            )
        self.base_url = base_url
        self.max_decoded_bytes = max_decoded_bytes
        self.decode_budget = DecodeBudget(decode_budget_bytes, decode_wait)
        if not storage.exists(index_key):
            raise StorageError(
                f"no index {index_key} in {storage.uri}: run `lifegate-archive index`"
            )
        self.storage = storage
        self._index_stream = _seekable(storage.open(index_key))
        # Binary search in mapped memory: no system call per step, and one copy shared by threads.
        self._index_map = _mapped(self._index_stream)
        self.open_files = OpenFiles(storage)
        try:
            self.index = _ReplayIndex(self._index_map or self._index_stream)
            self.problems: list[str] = []  # what could not be read at start, shown on the home page
            self.reader = ArchiveReader(
                storage,
                self.index,
                allowed_warc_keys(storage, self.problems),
                read_range=self.open_files.read_range,
            )
            self.catalog = ArticleCatalog.from_store(storage)
            self.problems += self.catalog.problems
            # Read once at start, like the index: a takedown applies from the next start on.
            self.takedowns = TakedownList.from_store(storage)
            self.withdrawn_ids: set[str] = set()  # articles the list names by one of their URLs
            self.catalog.exclude(self._withdrawn)
        except BaseException:
            self.open_files.close()
            self._close_index()
            raise
        self.browse = BrowseViews(self)
        self.wayback = WaybackViews(self)
        self.memento = MementoViews(self)
        self.flask = self._build_flask()

    def _withdrawn(self, article) -> bool:
        record = {"id": article.id, "url": article.url, "canonical_url": article.canonical_url}
        if self.takedowns.blocks_record(record):
            self.withdrawn_ids.add(article.id)
            return True
        return False

    @property
    def memento_urls(self) -> MementoUrls:
        """Where this server's mementos, TimeGates and TimeMaps are (under ``base_url``)."""
        return MementoUrls(self.base_url)

    def __call__(self, environ, start_response):
        return self.flask(environ, start_response)

    def close(self) -> None:
        self.catalog.close()
        self.open_files.close()
        self.index.close()
        self._close_index()

    def _close_index(self) -> None:
        if self._index_map is not None:
            self._index_map.close()
        self._index_stream.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _build_flask(self) -> Flask:
        app = Flask("archive.replay")  # templates in archive/replay/templates
        # Archived URLs sit in the path with their own "//": never merge or redirect them.
        app.url_map.merge_slashes = False
        app.url_map.strict_slashes = False
        self.browse.register(app)
        self.wayback.register(app)
        self.memento.register(app)
        app.register_error_handler(HTTPException, self.http_error)
        app.register_error_handler(Exception, self.server_error)
        app.before_request(check_host)
        app.after_request(self.ui_headers)
        app.add_template_filter(_timestamp_filter, "timestamp")
        app.context_processor(lambda: {"counts": {"articles": len(self.catalog)}})
        return app

    # --- What every route family shares ----------------------------------------------------------

    def lookup(self, url: str) -> list[CaptureEntry]:
        """Captures of ``url``, taken-down ones left out: every view lists captures through here."""
        return [e for e in self.index.lookup(url) if not self.takedowns.blocks_key(e.urlkey)]

    def taken_down(self, shown: str) -> Response:
        """451 for a withdrawn page (RFC 7725)."""
        return Response(
            render_template("notfound.html", url=shown[:MAX_URL_LENGTH], taken_down=True),
            status=451,
            mimetype="text/html",
        )

    def not_archived(self, url: str) -> Response:
        body = render_template("notfound.html", url=url)
        return Response(body, status=404, mimetype="text/html")

    def damaged(self, url: str, reason: str) -> Response:
        """502: the archive holds the capture but cannot give it back intact."""
        logger.warning("Not serving %s: %s", url[:500], reason)
        return self.error_page(
            502,
            "Record damaged",
            "The archive's copy of this page is damaged or cannot be decoded, so it is not "
            f"shown. ({reason[:300]})",
        )

    def ui_headers(self, response: Response) -> Response:
        """The archive's own pages get UI_CSP; replayed content already carries REPLAY_CSP."""
        if "Content-Security-Policy" not in response.headers:
            response.headers["Content-Security-Policy"] = UI_CSP
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.headers["Referrer-Policy"] = "same-origin"
        return response

    def http_error(self, error: HTTPException):
        if error.code and 300 <= error.code < 400:
            return error
        return self.error_page(error.code or 500, error.name, error.description or "")

    def server_error(self, error: Exception):
        # The raw path only: the full URL needs the Host header, which may be what is wrong.
        logger.exception("Error serving %r", request.environ.get("PATH_INFO", "")[:500])
        return self.error_page(500, "Internal Server Error", "Something broke.")

    def error_page(self, code: int, name: str, description: str, **headers: str) -> Response:
        """An error page; if even the template fails, a plain one. Always with the UI's CSP."""
        try:
            body = render_template("error.html", code=code, name=name, description=description)
        except Exception as exc:  # noqa: BLE001 (the last resort must not fail)
            # No traceback: a bad Host header (no URL adapter) lands here on every such request.
            logger.warning("Cannot render the error page for %d: %r", code, exc)
            body = f"<!doctype html><title>{code}</title><h1>{code} {html.escape(name)}</h1>"
        out = Response(body, status=code, mimetype="text/html")
        out.headers.update(headers)
        out.headers["Content-Security-Policy"] = UI_CSP
        out.headers["X-Content-Type-Options"] = "nosniff"
        return out


class _ReplayIndex(CdxjIndex):
    """The merged index as the server reads it: fixed for the server's life, so the captures of
    the most recently asked URLs are kept (every lookup, ranking and revisit goes through
    ``lookup``)."""

    def __init__(self, source: BinaryIO | mmap.mmap) -> None:
        super().__init__(source)  # type: ignore[arg-type]  # mmap reads, seeks and tells like a file
        self._cached = functools.lru_cache(maxsize=LOOKUP_CACHE_SIZE)(self._lookup)

    def _lookup(self, url: str) -> list[CaptureEntry]:
        return self.captures(url_key(url))

    def lookup(self, url: str) -> list[CaptureEntry]:
        return list(self._cached(url))  # a copy: callers may sort or filter in place


def _mapped(stream: BinaryIO) -> mmap.mmap | None:
    """The index file mapped read-only, or None where it cannot be (empty, or no file)."""
    try:
        return mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):  # io.UnsupportedOperation is both
        return None


def _seekable(stream: BinaryIO) -> BinaryIO:
    """The index as a seekable file: object stores give streams, binary search needs seeks."""
    if stream.seekable():
        return stream
    spooled = tempfile.TemporaryFile()  # noqa: SIM115 (returned; closed with the app)
    with stream:
        while chunk := stream.read(1 << 20):
            spooled.write(chunk)
    spooled.seek(0)
    return spooled
