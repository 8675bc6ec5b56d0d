"""The request target of a replay request: the archived URL it names, read undecoded, and the
checks every request passes before a view runs (Host header, URL length, numbers)."""

from __future__ import annotations

import functools
import re
from urllib.parse import quote, unquote

from flask import Response, abort, request

from archive.index import surt_key

MAX_URL_LENGTH = 8192  # longer request targets get 414
# A Host header as RFC 3986 allows it: DNS labels of 1-63 characters, an IPv4 or bracketed IPv6
# address, an optional port. Anything else is answered 400 before any view runs.
_HOST = re.compile(
    r"^(?:(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?$"
)
# The SURT key of a URL, remembered: a request's URL is checked here and looked up right after.
url_key = functools.lru_cache(maxsize=4096)(surt_key)
_ENCODED_SCHEME = re.compile(r"^https?%3A", re.IGNORECASE)
_ONE_SLASH = re.compile(r"^(https?:)/(?!/)", re.IGNORECASE)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def check_host() -> Response | None:
    """400 for a Host header no client would send (it is never echoed or used in URLs)."""
    host = request.environ.get("HTTP_HOST")
    if host is not None and (len(host) > 260 or not _HOST.match(host)):
        abort(400, "Bad Host header.")
    return None


def raw_target(prefix: str) -> str:
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


def target_url(text: str) -> str:
    """The archived URL a request names (``http://`` added when it has no scheme); 400 unless
    it is an http(s) URL the index can key."""
    if _ENCODED_SCHEME.match(text):
        text = unquote(text)  # a client that percent-encoded the whole archived URL
    url = _ONE_SLASH.sub(r"\1//", text)
    if not _SCHEME.match(url):
        url = "http://" + url
    try:
        url_key(url)
    except ValueError:
        abort(400, "Not an http(s) URL.")
    return url


def ascii_int(text: str, max_digits: int = 15) -> int | None:
    """``text`` as a non-negative integer when it is 1 to ``max_digits`` ASCII digits, else None
    (``str.isdigit`` also accepts ``²`` and other digits that ``int`` refuses)."""
    if not 0 < len(text) <= max_digits or not text.isascii() or not text.isdigit():
        return None
    return int(text)
