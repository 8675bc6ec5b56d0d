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
from archive.dataset import (
    DatasetError,
    is_taken_down,
    list_releases,
    load_takedowns,
    read_release_manifest,
    release_prefix,
)
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
from archive.reader import ArchivedResponse, ArchiveReader, NotArchived, allowed_warc_keys
from archive.rewrite import HTML_TYPES, UrlRewriter, rewrite_body
from archive.storage import Storage, StorageError

if TYPE_CHECKING:
    from typing_extensions import Self

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


def _timestamp_filter(iso: str) -> str:
    try:
        return format_timestamp(datetime.fromisoformat(iso.replace("Z", "+00:00")))
    except (ValueError, AttributeError):
        return "9999"  # unknown: a partial timestamp, which resolves to the latest capture


class ReplayApp:
    """The replay WSGI application over one store, and what it holds open; close() when done.

    The merged index and the articles are read at start: crawls indexed later appear after a
    restart. Only WARC files listed by committed crawls' manifests are ever read.
    """

    def __init__(self, storage: Storage, *, index_key: str = INDEX_KEY) -> None:
        if not storage.exists(index_key):
            raise StorageError(
                f"no index {index_key} in {storage.uri}: run `lifegate-archive index`"
            )
        self.storage = storage
        self._index_stream = _seekable(storage.open(index_key))
        try:
            self.index = CdxjIndex(self._index_stream)
            self.reader = ArchiveReader(storage, self.index, allowed_warc_keys(storage))
            self.catalog = ArticleCatalog.from_store(storage)
            # Read once at start, like the index: a takedown applies from the next start on.
            self.takedowns = load_takedowns(storage)
            self.catalog.exclude(
                lambda a: is_taken_down(
                    {"id": a.id, "url": a.url, "canonical_url": a.canonical_url}, self.takedowns
                )
            )
        except BaseException:
            self._index_stream.close()
            raise
        self.flask = self._build_flask()

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
        app.before_request(self.refuse_taken_down)
        app.after_request(self.ui_headers)
        app.add_template_filter(_timestamp_filter, "timestamp")
        app.context_processor(lambda: {"counts": {"articles": len(self.catalog)}})
        return app

    def refuse_taken_down(self) -> Response | None:
        """451 for any view of a URL or article on the takedown list (RFC 7725)."""
        if not self.takedowns:
            return None
        path = request.path
        target = None
        if path.startswith(("/web/", "/timemap/")):
            rest = self._raw_target("/web/" if path.startswith("/web/") else "/timemap/")
            head, slash, tail = rest.partition("/")
            target = tail if slash and (_TIMESTAMP_SEGMENT.match(head) or head in ("link", "json")) else rest
        elif path == "/captures":
            target = request.args.get("url", "")
        elif path.startswith("/article/"):
            target = path.rsplit("/", 1)[-1]
        elif path.startswith("/record/"):
            record_id = path.rsplit("/", 1)[-1]
            entry = self.index.entry_at(int(record_id)) if record_id.isdigit() and len(record_id) <= 15 else None
            target = entry.url if entry is not None else None
        if target and is_taken_down(target[:MAX_URL_LENGTH], self.takedowns):
            return Response(
                render_template("notfound.html", url=target[:MAX_URL_LENGTH], taken_down=True),
                status=451,
                mimetype="text/html",
            )
        return None

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
        body = render_template(
            "error.html", code=error.code, name=error.name, description=error.description
        )
        return Response(body, status=error.code or 500, mimetype="text/html")

    def server_error(self, error: Exception):
        logger.exception("Error serving %s", request.url[:500])
        body = render_template(
            "error.html", code=500, name="Internal Server Error", description="Something broke."
        )
        return Response(body, status=500, mimetype="text/html")

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
        return MementoUrls(request.host_url.rstrip("/"))

    # --- Pages ----------------------------------------------------------------------------------

    def home(self):
        q = request.args.get("q", "")[:200]
        site = request.args.get("site", "")[:200]
        lang = request.args.get("lang", "")[:20]
        page_text = request.args.get("page", "1")
        if not page_text.isdigit() or not 0 < len(page_text) <= 6 or int(page_text) < 1:
            abort(400, "page must be a positive number.")
        results = self.catalog.search(
            q, site=site or None, language=lang or None, page=int(page_text)
        )
        sites, languages = self.catalog.facets()
        return render_template(
            "home.html", q=q, site=site, lang=lang, results=results, sites=sites,
            languages=languages, charts=self.charts,
        )

    @cached_property
    def charts(self) -> list[Markup]:
        """The home page's pictures: articles per month by site and by language, captures per day."""
        return [
            Markup(stacked_bars(self.catalog.per_month("site"), title="Articles per month, by site")),
            Markup(stacked_bars(self.catalog.per_month("language"), title="Articles per month, by language")),
            Markup(stacked_bars(self.catalog.captures_per_day(), title="Captures per day of the latest fetch")),
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
                        Markup(stacked_bars(by_month, title=f"{manifest.name}: rows per month", height=160)),
                        Markup(stacked_bars(by_site_language, title=f"{manifest.name}: rows by site and language", height=160)),
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
        presign = getattr(self.storage, "presigned_url", None)
        if presign is not None:
            return redirect(presign(key, expires=3600), 302)
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
        summary = self.catalog.get(article_id)
        if summary is None:
            abort(404, "No such article in the archive.")
        seen: dict[int, CaptureEntry] = {}
        for url in dict.fromkeys([summary.url, summary.canonical_url]):
            try:
                seen.update((e.position, e) for e in self.index.lookup(url))
            except ValueError:
                continue
        captures = sorted(seen.values(), key=lambda e: (e.timestamp, e.url))
        return render_template("article.html", article=summary, captures=captures)

    def captures(self):
        url = self._target_url(request.args.get("url", "")[:MAX_URL_LENGTH])
        return render_template("captures.html", url=url, captures=self.index.lookup(url))

    def record(self, record_id: str):
        """One WARC record as stored, named by its index line's byte offset (opaque to users)."""
        if not record_id.isdigit() or len(record_id) > 15:
            abort(404)
        entry = self.index.entry_at(int(record_id))
        if entry is None:
            abort(404)
        try:
            data = self.reader.record_bytes(entry)
        except NotArchived:
            abort(404)
        gz = entry.filename.endswith(".gz")
        name = f"capture-{entry.timestamp}-{record_id}.warc" + (".gz" if gz else "")
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
            return self.replay(form.group(1), timestamp, form.group(2) or "", url)
        if not raw:
            abort(404)
        return self.timegate(self._target_url(raw))

    def _playable(self, candidates: list[CaptureEntry]) -> ArchivedResponse | None:
        loaded: list[ArchivedResponse] = []
        for entry in candidates[:20]:
            try:
                response = self.reader.load(entry)
            except NotArchived:
                continue
            if not response.is_self_redirect():
                return response
            loaded.append(response)
        return loaded[0] if loaded else None

    def replay(self, requested: str, timestamp: str, modifier: str, url: str):
        response = self._playable(self.index.by_distance(url, timestamp))
        if response is None:
            return self.not_archived(url)
        entry = response.entry
        if len(requested) < 14:
            # A partial timestamp names a period: send the client to the capture's own URI-M.
            return redirect(f"/web/{entry.timestamp}{modifier}/{url}", 302)
        mode = _MODIFIERS[modifier]
        if mode == "" and response.mime in HTML_TYPES and response.location is None:
            out = self.frame(response, url)
        else:
            out = self.content(response, mode)
        out.headers["Memento-Datetime"] = timestamp_http_date(entry.timestamp)
        out.headers["Link"] = memento_link_header(self._urls(), url, entry.timestamp)
        return out

    def frame(self, response: ArchivedResponse, url: str) -> Response:
        entry = response.entry
        body, coding = response.decoded()
        match = None if coding else _TITLE.search(body[:65536])
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
        """A capture's status, headers and body; rewritten (``mp_``) or as captured (``id_``)."""
        entry = response.entry
        raw = mode == "id_"
        headers = replay_headers(response, raw)
        coding = response.content_encoding
        accept = request.headers.get("Accept-Encoding", "")
        accepted = {t.split(";")[0].strip().lower() for t in accept.split(",")}
        if raw and coding and coding in accepted:
            body, left = response.payload, coding  # as captured (pywb's id_ does the same)
        else:
            body, left = response.decoded()
        if left:
            headers.append(("Content-Encoding", left))
        elif not raw:
            rewriter = UrlRewriter(entry.url, entry.timestamp, archived=self.replayable)
            rewritten = rewrite_body(body, response.mime, response.content_type, rewriter)
            body = body if rewritten is None else rewritten
        location = response.location
        if location is not None:
            # A redirect replays as a redirect, to the target's archived copy, never the live one.
            target = f"/web/{entry.timestamp}{'id_' if raw else mode}/{location}"
            headers.append(("Location", target))
        status = response.status if 200 <= response.status <= 599 else 200
        out = Response(body, status=status, headers=headers)
        if response.content_type is None:
            del out.headers["Content-Type"]
        out.headers["Content-Security-Policy"] = REPLAY_CSP
        # The sandbox's opaque origin makes every fetch cross-origin: fonts and XHR need CORS.
        out.headers["Access-Control-Allow-Origin"] = "*"
        return out

    def replayable(self, url: str) -> bool:
        """Whether some capture of ``url`` replays (not an error): image candidates fall back."""
        return any(
            e.is_revisit or (e.status is not None and e.status < 400)
            for e in self.index.lookup(url)
        )

    def timegate(self, url: str):
        """RFC 7089 §4.1.1: 302 to the memento nearest Accept-Datetime (the latest without one)."""
        value = request.headers.get("Accept-Datetime")
        try:
            wanted = parse_accept_datetime(value) if value is not None else None
        except ValueError:
            abort(400, "Accept-Datetime must be an RFC 1123 date in GMT (RFC 7089 §2.1.1).")
        entries = self.index.lookup(url)
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
        timestamps = sorted({e.timestamp for e in self.index.lookup(url)})
        if not timestamps:
            return self.not_archived(url)
        if fmt == "json":
            return jsonify(json_timemap(self._urls(), url, timestamps))
        return Response(link_timemap(self._urls(), url, timestamps), mimetype=LINK_FORMAT)


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
