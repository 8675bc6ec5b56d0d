"""The replay server's wayback routes: ``/web/<timestamp><modifier>/<url>``, a capture in the
archive's frame, rewritten into the archive (``mp_``) or as captured (``id_``), and what
replayed responses carry (their headers, their CSP)."""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

from flask import Flask, Response, abort, redirect, render_template, request, url_for

from archive.content_coding import CODINGS, BudgetExhausted, DecodeError, TooLarge, parse_codings
from archive.index import CaptureEntry, pad_timestamp
from archive.memento import memento_link_header, timestamp_http_date
from archive.reader import ArchivedResponse, NotArchived, RecordDamaged
from archive.replay.target import raw_target, target_url
from archive.rewrite import CSS_TYPES, HTML_TYPES, UrlRewriter, rewrite_body

if TYPE_CHECKING:
    from archive.replay.app import ReplayApp

# Replayed content: its own opaque origin (CSP sandbox, without allow-same-origin) even when
# opened outside the frame, and no network access outside the archive (research C.6).
REPLAY_CSP = (
    "sandbox allow-scripts allow-forms; "
    "default-src 'self' data: blob: 'unsafe-inline' 'unsafe-eval'; "
    "connect-src 'self'; form-action 'self'; base-uri 'self'"
)
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


def _decodable(coding: str) -> bool:
    return all(name in CODINGS for name in parse_codings(coding))


class WaybackViews:
    """``/web/…``: replays of captures (the TimeGate form goes to the Memento views)."""

    def __init__(self, app: ReplayApp) -> None:
        self.app = app

    def register(self, flask: Flask) -> None:
        flask.add_url_rule("/web/<path:rest>", "web", self.web)

    def web(self, rest: str):
        app = self.app
        raw = raw_target("/web/")
        segment, slash, tail = raw.partition("/")
        if slash and _TIMESTAMP_SEGMENT.match(segment):
            form = _TIMESTAMP_FORM.match(segment)
            if not form or (form.group(2) or "") not in _MODIFIERS:
                abort(400, "Bad timestamp: use 4 to 14 digits, optionally followed by id_ or mp_.")
            try:
                timestamp = pad_timestamp(form.group(1))
            except ValueError:
                abort(400, "Bad timestamp: not a date.")
            url = target_url(tail)
            if app.takedowns.blocks_url(url):
                return app.taken_down(url)
            return self.replay(form.group(1), timestamp, form.group(2) or "", url)
        if not raw:
            abort(404)
        url = target_url(raw)
        if app.takedowns.blocks_url(url):
            return app.taken_down(url)
        return app.memento.timegate(url)

    def _playable(self, candidates: list[CaptureEntry]) -> ArchivedResponse | None:
        loaded: list[ArchivedResponse] = []
        for entry in candidates[:20]:
            try:
                response = self.app.reader.load(entry)
            except NotArchived:
                continue
            if self.app.takedowns.blocks_key(response.payload_entry.urlkey):
                continue  # a revisit must not bring back a withdrawn page's payload
            if not response.is_self_redirect():
                return response
            loaded.append(response)
        return loaded[0] if loaded else None

    def replay(self, requested: str, timestamp: str, modifier: str, url: str):
        app = self.app
        ranked = [
            e for e in app.index.by_distance(url, timestamp)
            if not app.takedowns.blocks_key(e.urlkey)
        ]  # fmt: skip
        try:
            response = self._playable(ranked)
        except RecordDamaged as exc:
            return app.damaged(url, str(exc))
        if response is None:
            return app.not_archived(url)
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
            return app.damaged(url, str(exc))
        except DecodeError as exc:
            return app.damaged(url, str(exc))
        except BudgetExhausted:
            return app.error_page(
                503,
                "Busy",
                "The archive is decoding too much at once; try again shortly.",
                **{"Retry-After": "5"},
            )
        out.headers["Memento-Datetime"] = timestamp_http_date(entry.timestamp)
        out.headers["Link"] = memento_link_header(app.memento_urls, url, entry.timestamp)
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
        app = self.app
        entry = response.entry
        raw = mode == "id_"
        headers = replay_headers(response, raw)
        coding = response.content_encoding
        accept = request.headers.get("Accept-Encoding", "")
        accepted = {t.split(";")[0].strip().lower() for t in accept.split(",")}
        reservation = app.decode_budget.reservation()
        try:
            if coding and ((raw and coding in accepted) or not _decodable(coding)):
                # As captured (pywb's id_ does the same); a coding no library here knows, too.
                body = response.payload
                headers.append(("Content-Encoding", coding))
            else:
                rewrite = not raw and response.mime in HTML_TYPES | CSS_TYPES
                # Body, text and rewritten copy: the most this response can hold, then what it does.
                factor = 3 if rewrite else 1
                reservation.acquire(factor * app.max_decoded_bytes)
                body = response.decoded(app.max_decoded_bytes)
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
            captures = self.app.lookup(url)
        except ValueError:  # not an http(s) URL the index can key
            return False
        return any(e.is_revisit or (e.status is not None and e.status < 400) for e in captures)
