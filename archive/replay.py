"""The replay server: a Flask app over a store that shows the archived articles, replays captures
with their links rewritten into the archive, answers Memento (RFC 7089) and serves raw records.

Captures are read by byte range from WARC files the crawl manifests list; nothing is ever
fetched from the live web, and nothing in the store is written.
"""

from __future__ import annotations

import html
import logging
import re
import tempfile
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import quote, unquote

from flask import Flask, Response, abort, jsonify, redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.exceptions import HTTPException

from archive.catalog import ArticleCatalog
from archive.chart import stacked_bars
from archive.content_coding import (
    CODINGS,
    BudgetExhausted,
    DecodeBudget,
    DecodeError,
    TooLarge,
    parse_codings,
)
from archive.dataset import DatasetError, list_releases, read_release_manifest, release_prefix
from archive.index import (
    INDEX_KEY,
    CaptureEntry,
    CdxjIndex,
    format_timestamp,
    pad_timestamp,
    parse_timestamp,
    surt_key,
)
from archive.memento import (
    LINK_FORMAT,
    MementoUrls,
    json_timemap,
    link_timemap,
    memento_link_header,
    parse_accept_datetime,
    timegate_link_header,
    timestamp_http_date,
)
from archive.reader import (
    MAX_DECODED_LENGTH,
    ArchivedResponse,
    ArchiveReader,
    NotArchived,
    RecordDamaged,
    allowed_warc_keys,
)
from archive.rewrite import CSS_TYPES, HTML_TYPES, UrlRewriter, rewrite_body
from archive.storage import Storage, StorageError
from archive.takedown import TakedownList

if TYPE_CHECKING:
    from typing import Self

logger = logging.getLogger(__name__)

# Replayed content: its own opaque origin (CSP sandbox, without allow-same-origin) even when
# opened outside the frame, and no network access outside the archive (research C.6).
REPLAY_CSP = (
    "sandbox allow-scripts allow-forms; "
    "default-src 'self' data: blob: 'unsafe-inline' 'unsafe-eval'; "
    "connect-src 'self'; form-action 'self'; base-uri 'self'"
)
# The archive's own pages: no scripts at all, framing only of replayed content.
UI_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
MAX_URL_LENGTH = 8192  # longer request targets get 414
DECODE_BUDGET = 256 * 1024 * 1024  # decoded bytes held by all requests at once (a default)
# A Host header as RFC 3986 allows it: DNS labels of 1-63 characters, an IPv4 or bracketed IPv6
# address, an optional port. Anything else is answered 400 before any view runs.
_HOST = re.compile(
    r"^(?:(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?$"
)
_BASE_URL = re.compile(r"^https?://[^/?#\s]+(?:/[^?#\s]*)?$")
# pywb's modifiers: id_ is raw; the others are all "content for a frame" here.
_MODIFIERS = {"": "", "mp_": "mp_", "id_": "id_", "if_": "mp_", "fr_": "mp_", "im_": "mp_",
              "js_": "mp_", "cs_": "mp_", "oe_": "mp_"}  # fmt: skip
_TIMESTAMP_SEGMENT = re.compile(r"^[0-9][0-9A-Za-z_]*$")
_TIMESTAMP_FORM = re.compile(r"^([0-9]{4,14})([a-z]{2}_)?$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
     "te", "trailer", "trailers", "transfer-encoding", "upgrade", "content-length",
     "content-encoding"}
)  # fmt: skip
# Headers that would act on the archive's own origin or reach the network: renamed in raw mode.
_UNSAFE = frozenset(
    {"set-cookie", "set-cookie2", "strict-transport-security", "public-key-pins", "expect-ct",
     "clear-site-data", "alt-svc", "content-security-policy", "content-security-policy-report-only",
     "service-worker-allowed", "access-control-allow-origin", "access-control-allow-credentials",
     "access-control-allow-headers", "access-control-allow-methods",
     "access-control-expose-headers", "link", "refresh", "location", "report-to",
     "reporting-endpoints", "nel", "origin-agent-cluster", "cross-origin-opener-policy",
     "cross-origin-embedder-policy", "cross-origin-resource-policy", "x-frame-options",
     "permissions-policy", "feature-policy", "accept-ch", "critical-ch", "supports-loading-mode",
     "speculation-rules", "www-authenticate"}
)  # fmt: skip
# The replay server sends its own: the archived ones are renamed even in raw mode.
_SERVER_OWNED = frozenset({"date", "server"})
# Headers replayed content keeps as they were; everything else becomes X-Archive-Orig-*.
_KEEP = frozenset({"content-type", "content-language", "last-modified", "content-disposition"})


def _header_value(value: str) -> str:
    value = value.encode("latin-1", "replace").decode("latin-1")
    return value.replace("\r", " ").replace("\n", " ")


def replay_headers(response: ArchivedResponse, raw: bool) -> list[tuple[str, str]]:
    """The archived headers as replay sends them: kept, or renamed ``X-Archive-Orig-*``."""
    out = []
    for name, value in response.headers:
        if not _HEADER_NAME.match(name):
            continue
        lower = name.lower()
        if raw:
            keep = lower not in _HOP_BY_HOP and lower not in _UNSAFE and lower not in _SERVER_OWNED
        else:
            keep = lower in _KEEP
        out.append((name if keep else f"X-Archive-Orig-{name}", _header_value(value)))
    return out


def ascii_int(text: str, max_digits: int = 15) -> int | None:
    """``text`` as a non-negative integer when it is 1 to ``max_digits`` ASCII digits, else None
    (``str.isdigit`` also accepts ``²`` and other digits that ``int`` refuses)."""
    if not 0 < len(text) <= max_digits or not text.isascii() or not text.isdigit():
        return None
    return int(text)


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
        try:
            self.index = CdxjIndex(self._index_stream)
            self.problems: list[str] = []  # what could not be read at start, shown on the home page
            self.reader = ArchiveReader(
                storage, self.index, allowed_warc_keys(storage, self.problems)
            )
            self.catalog = ArticleCatalog.from_store(storage)
            self.problems += self.catalog.problems
            # Read once at start, like the index: a takedown applies from the next start on.
            self.takedowns = TakedownList.from_store(storage)
            self.withdrawn_ids: set[str] = set()  # articles the list names by one of their URLs
            self.catalog.exclude(self._withdrawn)
        except BaseException:
            self._index_stream.close()
            raise
        self.flask = self._build_flask()

    def _withdrawn(self, article) -> bool:
        record = {"id": article.id, "url": article.url, "canonical_url": article.canonical_url}
        if self.takedowns.blocks_record(record):
            self.withdrawn_ids.add(article.id)
            return True
        return False

    def __call__(self, environ, start_response):
        return self.flask(environ, start_response)

    def close(self) -> None:
        self.catalog.close()
        self.index.close()
        self._index_stream.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- Flask wiring ---------------------------------------------------------------------------

    def _build_flask(self) -> Flask:
        app = Flask("archive.replay", template_folder="replay_templates")
        # Archived URLs sit in the path with their own "//": never merge or redirect them.
        app.url_map.merge_slashes = False
        app.url_map.strict_slashes = False
        app.add_url_rule("/", "home", self.home)
        app.add_url_rule("/article/<article_id>", "article", self.article)
        app.add_url_rule("/captures", "captures", self.captures)
        app.add_url_rule("/record/<record_id>", "record", self.record)
        app.add_url_rule("/web/<path:rest>", "web", self.web)
        app.add_url_rule("/timemap/<path:rest>", "timemap", self.timemap)
        app.add_url_rule("/datasets", "datasets", self.datasets)
        app.add_url_rule("/datasets/<name>/<path:file>", "dataset_file", self.dataset_file)
        app.register_error_handler(HTTPException, self.http_error)
        app.register_error_handler(Exception, self.server_error)
        app.before_request(self.check_host)
        app.after_request(self.ui_headers)
        app.add_template_filter(_timestamp_filter, "timestamp")
        app.context_processor(lambda: {"counts": {"articles": len(self.catalog)}})
        return app

    def check_host(self) -> Response | None:
        """400 for a Host header no client would send (it is never echoed or used in URLs)."""
        host = request.environ.get("HTTP_HOST")
        if host is not None and (len(host) > 260 or not _HOST.match(host)):
            abort(400, "Bad Host header.")
        return None

    def taken_down(self, shown: str) -> Response:
        """451 for a withdrawn page (RFC 7725)."""
        return Response(
            render_template("notfound.html", url=shown[:MAX_URL_LENGTH], taken_down=True),
            status=451,
            mimetype="text/html",
        )

    def lookup(self, url: str) -> list[CaptureEntry]:
        """Captures of ``url``, taken-down ones left out: every view lists captures through here."""
        return [e for e in self.index.lookup(url) if not self.takedowns.blocks_key(e.urlkey)]

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

    def damaged(self, url: str, reason: str) -> Response:
        """502: the archive holds the capture but cannot give it back intact."""
        logger.warning("Not serving %s: %s", url[:500], reason)
        return self.error_page(
            502,
            "Record damaged",
            "The archive's copy of this page is damaged or cannot be decoded, so it is not "
            f"shown. ({reason[:300]})",
        )

    # --- Request targets ------------------------------------------------------------------------

    def _raw_target(self, prefix: str) -> str:
        """The request target after ``prefix``, undecoded (query included): archived URLs must
        reach the index exactly as written, ``%2F`` and ``?`` included."""
        env = request.environ
        raw = env.get("RAW_URI") or env.get("REQUEST_URI")
        if not raw:
            raw = quote(env.get("PATH_INFO", ""), safe="/:@!$&'()*+,;=~%")
            if env.get("QUERY_STRING"):
                raw += "?" + env["QUERY_STRING"]
        if len(raw) > MAX_URL_LENGTH:
            abort(414)
        if not raw.startswith(prefix):
            abort(404)
        return raw[len(prefix) :]

    @staticmethod
    def _target_url(text: str) -> str:
        if re.match(r"^https?%3A", text, flags=re.IGNORECASE):
            text = unquote(text)  # a client that percent-encoded the whole archived URL
        url = re.sub(r"^(https?:)/(?!/)", r"\1//", text, flags=re.IGNORECASE)
        if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", url):
            url = "http://" + url
        try:
            surt_key(url)
        except ValueError:
            abort(400, "Not an http(s) URL.")
        return url

    def _urls(self) -> MementoUrls:
        return MementoUrls(self.base_url)

    # --- Pages ----------------------------------------------------------------------------------

    def home(self):
        q = request.args.get("q", "")[:200]
        site = request.args.get("site", "")[:200]
        lang = request.args.get("lang", "")[:20]
        page = ascii_int(request.args.get("page", "1"), 6)
        if not page:
            abort(400, "page must be a positive number.")
        results = self.catalog.search(q, site=site or None, language=lang or None, page=page)
        sites, languages = self.catalog.facets()
        return render_template(
            "home.html",
            q=q,
            site=site,
            lang=lang,
            results=results,
            sites=sites,
            languages=languages,
            charts=self.charts,
            problems=self.problems,
        )

    @cached_property
    def charts(self) -> list[Markup]:
        """The home page's pictures: articles per month by site and by language, captures per day."""
        return [
            Markup(
                stacked_bars(self.catalog.per_month("site"), title="Articles per month, by site")
            ),
            Markup(
                stacked_bars(
                    self.catalog.per_month("language"), title="Articles per month, by language"
                )
            ),
            Markup(
                stacked_bars(
                    self.catalog.captures_per_day(), title="Captures per day of the latest fetch"
                )
            ),
        ]

    def datasets(self):
        """Every published release: its card, counts, files with sizes and checksums, downloads."""
        releases = []
        for manifest in reversed(list_releases(self.storage)):
            by_month = {m: {"rows": n} for m, n in manifest.counts.get("by_month", {}).items()}
            by_site_language = manifest.counts.get("by_site_language", {})
            releases.append(
                {
                    "manifest": manifest,
                    "charts": [
                        Markup(
                            stacked_bars(
                                by_month, title=f"{manifest.name}: rows per month", height=160
                            )
                        ),
                        Markup(
                            stacked_bars(
                                by_site_language,
                                title=f"{manifest.name}: rows by site and language",
                                height=160,
                            )
                        ),
                    ],
                }
            )
        return render_template("datasets.html", releases=releases)

    def dataset_file(self, name: str, file: str):
        """A file of a release, streamed from the store; only files its manifest lists."""
        try:
            manifest = read_release_manifest(self.storage, name)
        except DatasetError:
            abort(404, "No such release.")
        listed = {f.path: f for f in manifest.files} | {"manifest.json": None}
        if file not in listed:
            abort(404, "No such file in this release.")
        key = f"{release_prefix(name)}{file}"
        stream = self.storage.open(key)

        def chunks():
            with stream:
                while chunk := stream.read(1 << 20):
                    yield chunk

        filename = file.rsplit("/", 1)[-1]
        return Response(
            chunks(),
            mimetype="application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    def article(self, article_id: str):
        if self.takedowns.blocks_id(article_id) or article_id in self.withdrawn_ids:
            return self.taken_down(article_id)
        summary = self.catalog.get(article_id)
        if summary is None:
            abort(404, "No such article in the archive.")
        seen: dict[int, CaptureEntry] = {}
        for url in dict.fromkeys([summary.url, summary.canonical_url]):
            try:
                seen.update((e.position, e) for e in self.lookup(url))
            except ValueError:
                continue
        captures = sorted(seen.values(), key=lambda e: (e.timestamp, e.url))
        return render_template("article.html", article=summary, captures=captures)

    def captures(self):
        url = self._target_url(request.args.get("url", "")[:MAX_URL_LENGTH])
        if self.takedowns.blocks_url(url):
            return self.taken_down(url)
        return render_template("captures.html", url=url, captures=self.lookup(url))

    def record(self, record_id: str):
        """One WARC record as stored, named by its index line's byte offset (opaque to users)."""
        position = ascii_int(record_id)
        entry = self.index.entry_at(position) if position is not None else None
        if entry is None:
            abort(404)
        if self.takedowns.blocks_key(entry.urlkey) or self.takedowns.blocks_url(entry.url):
            return self.taken_down(entry.url)
        try:
            data = self.reader.verified_bytes(entry)
        except NotArchived:
            abort(404)
        except RecordDamaged as exc:
            return self.damaged(entry.url, str(exc))
        gz = entry.filename.endswith(".gz")
        name = f"capture-{entry.timestamp}-{position}.warc" + (".gz" if gz else "")
        return Response(
            data,
            mimetype="application/gzip" if gz else "application/warc",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    def not_archived(self, url: str) -> Response:
        body = render_template("notfound.html", url=url)
        return Response(body, status=404, mimetype="text/html")

    # --- Mementos -------------------------------------------------------------------------------

    def web(self, rest: str):
        raw = self._raw_target("/web/")
        segment, slash, tail = raw.partition("/")
        if slash and _TIMESTAMP_SEGMENT.match(segment):
            form = _TIMESTAMP_FORM.match(segment)
            if not form or (form.group(2) or "") not in _MODIFIERS:
                abort(400, "Bad timestamp: use 4 to 14 digits, optionally followed by id_ or mp_.")
            try:
                timestamp = pad_timestamp(form.group(1))
            except ValueError:
                abort(400, "Bad timestamp: not a date.")
            url = self._target_url(tail)
            if self.takedowns.blocks_url(url):
                return self.taken_down(url)
            return self.replay(form.group(1), timestamp, form.group(2) or "", url)
        if not raw:
            abort(404)
        url = self._target_url(raw)
        if self.takedowns.blocks_url(url):
            return self.taken_down(url)
        return self.timegate(url)

    def _playable(self, candidates: list[CaptureEntry]) -> ArchivedResponse | None:
        loaded: list[ArchivedResponse] = []
        for entry in candidates[:20]:
            try:
                response = self.reader.load(entry)
            except NotArchived:
                continue
            if self.takedowns.blocks_key(response.payload_entry.urlkey):
                continue  # a revisit must not bring back a withdrawn page's payload
            if not response.is_self_redirect():
                return response
            loaded.append(response)
        return loaded[0] if loaded else None

    def replay(self, requested: str, timestamp: str, modifier: str, url: str):
        ranked = [
            e for e in self.index.by_distance(url, timestamp)
            if not self.takedowns.blocks_key(e.urlkey)
        ]  # fmt: skip
        try:
            response = self._playable(ranked)
        except RecordDamaged as exc:
            return self.damaged(url, str(exc))
        if response is None:
            return self.not_archived(url)
        entry = response.entry
        if len(requested) < 14:
            # A partial timestamp names a period: send the client to the capture's own URI-M.
            return redirect(f"/web/{entry.timestamp}{modifier}/{url}", 302)
        mode = _MODIFIERS[modifier]
        try:
            if mode == "" and response.mime in HTML_TYPES and response.location is None:
                out = self.frame(response, url)
            else:
                out = self.content(response, mode)
        except TooLarge as exc:
            return self.damaged(url, str(exc))
        except DecodeError as exc:
            return self.damaged(url, str(exc))
        except BudgetExhausted:
            return self.error_page(
                503,
                "Busy",
                "The archive is decoding too much at once; try again shortly.",
                **{"Retry-After": "5"},
            )
        out.headers["Memento-Datetime"] = timestamp_http_date(entry.timestamp)
        out.headers["Link"] = memento_link_header(self._urls(), url, entry.timestamp)
        return out

    def frame(self, response: ArchivedResponse, url: str) -> Response:
        entry = response.entry
        try:
            head = response.decoded(65536, truncate=True)  # the title is near the top
        except DecodeError:
            head = b""
        match = _TITLE.search(head)
        title = html.unescape(match.group(1).decode("utf-8", "replace")).strip() if match else ""
        body = render_template(
            "frame.html",
            url=url,
            title=title[:300],
            when=entry.datetime.strftime("%Y-%m-%d %H:%M:%S UTC"),
            iso=entry.datetime.isoformat(),
            inner=f"/web/{entry.timestamp}mp_/{url}",
            raw=f"/web/{entry.timestamp}id_/{url}",
            record=url_for("record", record_id=entry.position),
            timemap=f"/timemap/link/{url}",
        )
        return Response(body, mimetype="text/html")

    def content(self, response: ArchivedResponse, mode: str) -> Response:
        """A capture's status, headers and body; rewritten (``mp_``) or as captured (``id_``).

        Decoding holds bytes of the process-wide budget until the response is sent.
        """
        entry = response.entry
        raw = mode == "id_"
        headers = replay_headers(response, raw)
        coding = response.content_encoding
        accept = request.headers.get("Accept-Encoding", "")
        accepted = {t.split(";")[0].strip().lower() for t in accept.split(",")}
        reservation = self.decode_budget.reservation()
        try:
            if coding and ((raw and coding in accepted) or not _decodable(coding)):
                # As captured (pywb's id_ does the same); a coding no library here knows, too.
                body = response.payload
                headers.append(("Content-Encoding", coding))
            else:
                rewrite = not raw and response.mime in HTML_TYPES | CSS_TYPES
                # Body, text and rewritten copy: the most this response can hold, then what it does.
                factor = 3 if rewrite else 1
                reservation.acquire(factor * self.max_decoded_bytes)
                body = response.decoded(self.max_decoded_bytes)
                reservation.shrink_to(factor * len(body))
                if rewrite:
                    rewriter = UrlRewriter(entry.url, entry.timestamp, archived=self.replayable)
                    rewritten = rewrite_body(body, response.mime, response.content_type, rewriter)
                    body = body if rewritten is None else rewritten
        except BaseException:
            reservation.release()
            raise
        location = response.location
        if location is not None:
            # A redirect replays as a redirect, to the target's archived copy, never the live one.
            target = f"/web/{entry.timestamp}{'id_' if raw else mode}/{location}"
            headers.append(("Location", target))
        status = response.status if 200 <= response.status <= 599 else 200
        out = Response(body, status=status, headers=headers)
        out.call_on_close(reservation.release)
        if response.content_type is None:
            del out.headers["Content-Type"]
        out.headers["Content-Security-Policy"] = REPLAY_CSP
        # The sandbox's opaque origin makes every fetch cross-origin: fonts and XHR need CORS.
        out.headers["Access-Control-Allow-Origin"] = "*"
        return out

    def replayable(self, url: str) -> bool:
        """Whether some capture of ``url`` replays (not an error): image candidates fall back."""
        try:
            captures = self.lookup(url)
        except ValueError:  # not an http(s) URL the index can key
            return False
        return any(e.is_revisit or (e.status is not None and e.status < 400) for e in captures)

    def timegate(self, url: str):
        """RFC 7089 §4.1.1: 302 to the memento nearest Accept-Datetime (the latest without one)."""
        value = request.headers.get("Accept-Datetime")
        try:
            wanted = parse_accept_datetime(value) if value is not None else None
        except ValueError:
            abort(400, "Accept-Datetime must be an RFC 1123 date in GMT (RFC 7089 §2.1.1).")
        entries = self.lookup(url)
        if not entries:
            out = self.not_archived(url)
            out.headers["Vary"] = "accept-datetime"
            return out
        timestamps = sorted({e.timestamp for e in entries})
        if wanted is None:
            chosen = timestamps[-1]
        else:
            target = wanted.timestamp()
            distance = lambda t: abs(parse_timestamp(t).timestamp() - target)
            chosen = min(timestamps, key=lambda t: (distance(t), t))
        urls = self._urls()
        out = Response("", status=302, mimetype="text/plain")
        out.headers["Location"] = urls.memento(chosen, url)
        out.headers["Vary"] = "accept-datetime"
        out.headers["Link"] = timegate_link_header(urls, url, timestamps)
        return out

    def timemap(self, rest: str):
        raw = self._raw_target("/timemap/")
        fmt, _, target = raw.partition("/")
        if fmt not in ("link", "json") or not target:
            abort(404)
        url = self._target_url(target)
        if self.takedowns.blocks_url(url):
            return self.taken_down(url)
        timestamps = sorted({e.timestamp for e in self.lookup(url)})
        if not timestamps:
            return self.not_archived(url)
        if fmt == "json":
            return jsonify(json_timemap(self._urls(), url, timestamps))
        return Response(link_timemap(self._urls(), url, timestamps), mimetype=LINK_FORMAT)


def _decodable(coding: str) -> bool:
    return all(name in CODINGS for name in parse_codings(coding))


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
