"""The replay server's Memento (RFC 7089) routes: the TimeGate and the TimeMaps."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask, Response, abort, jsonify, request

from archive.index import parse_timestamp
from archive.memento import (
    LINK_FORMAT,
    json_timemap,
    link_timemap,
    parse_accept_datetime,
    timegate_link_header,
)
from archive.replay.target import raw_target, target_url

if TYPE_CHECKING:
    from archive.replay.app import ReplayApp


class MementoViews:
    """``/web/<url>`` (TimeGate, dispatched by the wayback views) and ``/timemap/…``."""

    def __init__(self, app: ReplayApp) -> None:
        self.app = app

    def register(self, flask: Flask) -> None:
        flask.add_url_rule("/timemap/<path:rest>", "timemap", self.timemap)

    def timegate(self, url: str):
        """RFC 7089 §4.1.1: 302 to the memento nearest Accept-Datetime (the latest without one)."""
        value = request.headers.get("Accept-Datetime")
        try:
            wanted = parse_accept_datetime(value) if value is not None else None
        except ValueError:
            abort(400, "Accept-Datetime must be an RFC 1123 date in GMT (RFC 7089 §2.1.1).")
        entries = self.app.lookup(url)
        if not entries:
            out = self.app.not_archived(url)
            out.headers["Vary"] = "accept-datetime"
            return out
        timestamps = sorted({e.timestamp for e in entries})
        if wanted is None:
            chosen = timestamps[-1]
        else:
            target = wanted.timestamp()
            distance = lambda t: abs(parse_timestamp(t).timestamp() - target)
            chosen = min(timestamps, key=lambda t: (distance(t), t))
        urls = self.app.memento_urls
        out = Response("", status=302, mimetype="text/plain")
        out.headers["Location"] = urls.memento(chosen, url)
        out.headers["Vary"] = "accept-datetime"
        out.headers["Link"] = timegate_link_header(urls, url, timestamps)
        return out

    def timemap(self, rest: str):
        raw = raw_target("/timemap/")
        fmt, _, target = raw.partition("/")
        if fmt not in ("link", "json") or not target:
            abort(404)
        url = target_url(target)
        if self.app.takedowns.blocks_url(url):
            return self.app.taken_down(url)
        timestamps = sorted({e.timestamp for e in self.app.lookup(url)})
        if not timestamps:
            return self.app.not_archived(url)
        urls = self.app.memento_urls
        if fmt == "json":
            return jsonify(json_timemap(urls, url, timestamps))
        return Response(link_timemap(urls, url, timestamps), mimetype=LINK_FORMAT)
