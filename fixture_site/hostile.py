"""A hostile web on loopback: broken, slow, huge and malicious responses beside a few good articles.

`HostileSite().serve()` starts one server per host (see HOSTS), each on 127.0.0.1 port 0; every
hostile case has its own path (see CASES). Responses are written byte by byte, so framing can lie.
"""

from __future__ import annotations

import html
import random
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import quote, unquote

from fixture_site.server import FixtureHTTPServer, RequestLog, RequestLogEntry, ServerGroup

# Every host of the hostile web. "main" is the site crawled; the robots-* hosts serve the images of
# one article, each with a differently broken robots.txt; "offsite" must never be contacted;
# "bulk" has a 100,000-URL sitemap, "heavy" incompressible pages (for a disk that fills up).
HOSTS = (
    "main", "offsite", "robots-404", "robots-500", "robots-flaky", "robots-timeout", "robots-huge",
    "robots-malformed", "bulk", "heavy",
)  # fmt: skip
# An image host whose name never resolves (RFC 2606 reserves .invalid): its robots.txt is unreachable.
UNRESOLVABLE_IMAGE = "http://cdn.lifegate.invalid/img/pixel.png"
GOOD_ARTICLES = ("good-1", "good-2", "good-3", "good-4", "good-5")
UNICODE_ARTICLE = "/articles/città-verde"
# Different spellings of UNICODE_ARTICLE that all canonicalize to it (tracking and session
# parameters, a fragment, lower-case percent-encoding).
UNICODE_ARTICLE_LINKS = (
    "/articles/citt%C3%A0-verde?utm_source=newsletter&utm_medium=email#commenti",
    "/articles/città-verde?sid=8f14e45fceea167a",
    "/articles/citt%c3%a0-verde?PHPSESSID=a87ff679a2f3e71d&replytocom=12",
)
# What the extractor flags or refuses, served as articles.
FLAGGED_PAGES = {
    "/hostile/latin1-says-utf8": "charset-fallback",
    "/hostile/utf8-says-cp1252": "charset-mismatch",
    "/hostile/nul-bytes": "nul-bytes-stripped",
    "/hostile/deep-nesting": "deep-nesting",
}
# Hostile paths of the main host, each with what it does (the catalogue the tests walk through).
CASES = {
    "/hostile/gzip-bomb": "Content-Encoding: gzip, 64 MiB of zeros in 64 KiB",
    "/hostile/too-large": "Content-Length 40 MiB (more than DOWNLOAD_MAXSIZE)",
    "/hostile/too-large-chunked": "a chunked body that never stops before 40 MiB",
    "/hostile/length-long": "Content-Length 5000 bytes more than the body, then close",
    "/hostile/length-short": "Content-Length 500 bytes less than the body",
    "/hostile/dropped": "chunked body, connection closed before the last chunk",
    "/hostile/trickle": "one byte a second",
    "/hostile/hang": "accepts and never answers",
    "/hostile/loop-a": "302 to loop-b, which redirects back",
    "/hostile/self-loop": "302 to itself",
    "/hostile/chain/1": "a chain of 30 redirects",
    "/hostile/to-offsite": "301 to another host",
    "/hostile/to-file": "302 to file:///etc/passwd",
    "/hostile/to-ftp": "302 to ftp://",
    "/hostile/rate-limited": "429 with Retry-After: 1, then the article",
    "/hostile/unavailable": "503 with Retry-After: 1, then the article",
    "/hostile/closed-for-a-day": "503 with Retry-After: 86400",
    "/hostile/captcha": "200 with a CAPTCHA wall instead of the article",
    "/hostile/binary": "random bytes served as text/html",
    **{path: f"an article the extractor flags {flag}" for path, flag in FLAGGED_PAGES.items()},
    "/calendar/2026/11/": "a calendar whose months link on forever",
    "/sessions/?sid=1": "every link carries a new session id",
    "/trap/a/": "relative links that grow the path forever",
    "/trap/long?q=" + "x" * 3000: "a URL over 2,000 characters",
}
BOMB_EXPANDED = 64 * 1024 * 1024
TOO_LARGE = 40 * 1024 * 1024
CHAIN_LENGTH = 30
BULK_URLS = 100_000
HEAVY_PAGES = 40
HEAVY_PAGE_BYTES = 64 * 1024
# robots-flaky answers 503 this many times (one round of Scrapy's retries with RETRY_TIMES=1), then 200.
FLAKY_ROBOTS_FAILURES = 2
PIXEL = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f"
    b"\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00"
    b"\x00\x00IEND\xaeB`\x82"
)
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"

PROSE = (
    "La transizione energetica delle città italiane passa dai tetti: pannelli solari sulle scuole, "
    "comunità energetiche nei quartieri popolari e reti di teleriscaldamento alimentate da fonti "
    "rinnovabili. Secondo gli ultimi dati, la produzione distribuita è cresciuta del trenta per cento "
    "in due anni, e i comuni che hanno aderito al patto dei sindaci hanno ridotto le emissioni."
)


@dataclass(frozen=True, slots=True)
class Reply:
    """A response as raw pieces: status line and headers are written as given, then the body."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    # "close" (Connection: close after the body), "hang" (never answer), "trickle" (1 byte/s),
    # "drop" (chunked, cut before the last chunk), "endless" (chunked, forever).
    mode: str = "close"


def article_html(
    title: str,
    paragraphs: int = 4,
    extra: str = "",
    charset: str = "utf-8",
    body_wrap: tuple[str, str] = ("", ""),
) -> str:
    text = "".join(
        f"<p>{html.escape(PROSE)} ({title}, paragrafo {i}.)</p>\n" for i in range(1, paragraphs + 1)
    )
    return (
        '<!DOCTYPE html>\n<html lang="it"><head>'
        f'<meta charset="{charset}"><title>{html.escape(title)}</title>'
        '<meta property="og:type" content="article">'
        f'<meta property="og:title" content="{html.escape(title)}">'
        '</head>\n<body class="post-template-default single single-post">'
        f"{body_wrap[0]}<article><h1>{html.escape(title)}</h1>\n{text}{extra}</article>{body_wrap[1]}"
        "</body></html>\n"
    )


def _html(body: str | bytes, status: int = 200, charset: str = "utf-8", headers=()) -> Reply:
    data = body.encode(charset) if isinstance(body, str) else body
    return Reply(status, (("Content-Type", f"text/html; charset={charset}"), *headers), data)


def _xml(body: str, content_type: str = "application/xml") -> Reply:
    return Reply(200, (("Content-Type", content_type),), body.encode("utf-8"))


def _redirect(location: str, status: int = 302) -> Reply:
    return Reply(status, (("Location", location), ("Content-Type", "text/html")), b"<a>moved</a>")


def _not_found() -> Reply:
    return _html("<html><body><h1>Not found</h1></body></html>", 404)


def urlset(urls: list[tuple[str, str | None]]) -> str:
    entries = "".join(
        f"<url><loc>{html.escape(loc)}</loc>"
        + (f"<lastmod>{html.escape(mod)}</lastmod>" if mod else "")
        + "</url>\n"
        for loc, mod in urls
    )
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="{SITEMAP_NS}">\n{entries}</urlset>\n'


def billion_laughs(root: str) -> str:
    levels = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">\n' for i in range(1, 10))
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE {root} [\n<!ENTITY lol0 "lol">\n{levels}]>\n'
        f'<{root} xmlns="{SITEMAP_NS}"><url><loc>&lol9;</loc></url></{root}>\n'
    )


class HostileApp:
    """Decides each host's answers; stateful where a case needs it (first answer differs)."""

    def __init__(self, bases: dict[str, str], marker_file: Path | None) -> None:
        self.bases = bases
        self.marker_file = marker_file
        self._lock = threading.Lock()
        self._hits: dict[tuple[str, str], int] = {}
        self._cache: dict[str, bytes] = {}

    def _hit(self, host: str, path: str) -> int:
        with self._lock:
            count = self._hits.get((host, path), 0) + 1
            self._hits[(host, path)] = count
            return count

    def _cached(self, key: str, build: Callable[[], bytes]) -> bytes:
        with self._lock:
            if key not in self._cache:
                self._cache[key] = build()
            return self._cache[key]

    def __call__(self, host: str, target: str) -> Reply:
        path = unquote(target.split("?", 1)[0], errors="surrogateescape")
        count = self._hit(host, target)
        if host == "main":
            return self.main(path, target, count)
        if host.startswith("robots-"):
            return self.robots_host(host, path)
        if host == "bulk":
            return self.bulk(path)
        if host == "heavy":
            return self.heavy(path)
        return _html("<html><body><p>Another site</p></body></html>")

    # --- the main site ---------------------------------------------------------------------

    def main(self, path: str, target: str, count: int) -> Reply:
        main = self.bases["main"]
        if path == "/robots.txt":
            body = f"User-agent: *\nDisallow: /private/\n\nSitemap: {main}/sitemap_index.xml\n"
            return Reply(200, (("Content-Type", "text/plain"),), body.encode())
        if path == "/":
            return _html(self.home())
        if path in ("/feed", "/feed/"):
            return _xml(self.feed(), "application/rss+xml")
        if path.startswith(("/sitemap", "/feed-")):
            return self.discovery(path)
        if path.startswith("/articles/"):
            slug = path.removeprefix("/articles/")
            if slug in GOOD_ARTICLES or path == UNICODE_ARTICLE:
                return _html(self.good_article(slug))
            return _not_found()
        if path.startswith(("/hostile/", "/calendar/", "/sessions/", "/trap/")):
            return self.hostile(path, target, count)
        if path.startswith("/private/"):
            return _html(article_html("Privato"))
        return _not_found()

    def home(self) -> str:
        links = [f"/articles/{slug}" for slug in GOOD_ARTICLES]
        links += [
            UNICODE_ARTICLE,
            *UNICODE_ARTICLE_LINKS,
            *CASES,
            "/private/secret",
            f"{self.bases['offsite']}/page",
        ]
        items = "".join(
            f'<li><a href="{html.escape(link)}">{html.escape(link[:60])}</a></li>\n'
            for link in links
        )
        feeds = "".join(
            f'<link rel="alternate" type="application/rss+xml" href="/{name}">'
            for name in ("feed-xxe", "feed-laughs")
        )
        return (
            f"<!DOCTYPE html><html><head><title>Ostile</title>{feeds}</head>"
            f'<body class="home blog"><ul>\n{items}</ul></body></html>\n'
        )

    def good_article(self, slug: str) -> str:
        extra = ""
        if slug == "good-1":
            # One image on each host with a broken robots.txt, and one its robots.txt forbids.
            extra = "".join(
                f'<img src="{self.bases[host]}/img/pixel.png" alt="">'
                for host in HOSTS
                if host.startswith("robots-")
            )
            extra += "".join(
                f'<img src="{self.bases[host]}/blocked/pixel.png" alt="">'
                for host in ("robots-huge", "robots-malformed")
            )
            extra += f'<img src="{UNRESOLVABLE_IMAGE}" alt="">'

        title = "Città verde" if slug.endswith("verde") else f"Articolo buono {slug[-1]}"
        return article_html(title, extra=extra)

    def feed(self) -> str:
        main = self.bases["main"]
        items = "".join(
            f"<item><title>{slug}</title><link>{main}/articles/{slug}</link></item>"
            for slug in GOOD_ARTICLES
        )
        return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Ostile</title>{items}</channel></rss>'

    def discovery(self, path: str) -> Reply:
        main = self.bases["main"]
        marker = self.marker_file.as_uri() if self.marker_file else "file:///etc/hostname"
        if path == "/sitemap_index.xml":
            sitemaps = [
                f"{main}/{name}"
                for name in (
                    "sitemap-articles.xml",
                    "sitemap-malformed.xml",
                    "sitemap-xxe.xml",
                    "sitemap-laughs.xml",
                    "sitemap-bomb.xml.gz",
                    "sitemap_index.xml",
                    "sitemap-dates.xml",
                )
            ]
            sitemaps.append(f"{self.bases['offsite']}/sitemap.xml")
            entries = "".join(f"<sitemap><loc>{loc}</loc></sitemap>\n" for loc in sitemaps)
            return _xml(
                f'<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="{SITEMAP_NS}">\n'
                f"{entries}</sitemapindex>\n"
            )
        if path == "/sitemap-articles.xml":
            return _xml(
                urlset(
                    [
                        (f"{main}/articles/{slug}", "2026-11-20T08:00:00+01:00")
                        for slug in GOOD_ARTICLES
                    ]
                )
            )
        if path == "/sitemap-malformed.xml":
            return _xml(
                f'<?xml version="1.0"?><urlset xmlns="{SITEMAP_NS}"><url><loc>{main}/articles/good-2</loc>'
                "</url><url><loc>&&<<broken</url></urlset><junk>\x01"
            )
        if path == "/sitemap-xxe.xml":
            return _xml(
                f'<?xml version="1.0"?>\n<!DOCTYPE urlset [\n<!ENTITY xxe SYSTEM "{marker}">\n]>\n'
                f'<urlset xmlns="{SITEMAP_NS}"><url><loc>{main}/articles/&xxe;</loc></url></urlset>\n'
            )
        if path == "/sitemap-laughs.xml":
            return _xml(billion_laughs("urlset"))
        if path == "/sitemap-bomb.xml.gz":
            body = self._cached(
                "sitemap-bomb",
                lambda: _gzip_zeros(
                    BOMB_EXPANDED,
                    prefix=(
                        f'<?xml version="1.0"?><urlset xmlns="{SITEMAP_NS}"><url><loc>'
                    ).encode(),
                ),
            )
            return Reply(200, (("Content-Type", "application/x-gzip"),), body)
        if path == "/sitemap-dates.xml":
            return _xml(
                urlset(
                    [
                        (f"{main}/articles/good-3", "yesterday"),
                        (f"{main}/articles/good-4", "2026-13-45T99:99:99Z"),
                        (f"{main}/articles/good-5", "0000-00-00"),
                    ]
                )
            )
        if path == "/feed-xxe":
            return _xml(
                f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY xxe SYSTEM "{marker}">\n]>\n'
                f'<rss version="2.0"><channel><title>&xxe;</title><item><link>{main}/articles/&xxe;</link>'
                "</item></channel></rss>\n",
                "application/rss+xml",
            )
        if path == "/feed-laughs":
            return _xml(billion_laughs("rss"), "application/rss+xml")
        return _not_found()

    def hostile(self, path: str, target: str, count: int) -> Reply:
        main = self.bases["main"]
        if path == "/hostile/gzip-bomb":
            body = self._cached(
                "page-bomb", lambda: _gzip_zeros(BOMB_EXPANDED, prefix=b"<html><body>")
            )
            return Reply(
                200,
                (("Content-Type", "text/html; charset=utf-8"), ("Content-Encoding", "gzip")),
                body,
            )
        if path == "/hostile/too-large":
            return Reply(
                200,
                (("Content-Type", "text/html"), ("Content-Length", str(TOO_LARGE))),
                mode="endless",
            )
        if path == "/hostile/too-large-chunked":
            return Reply(200, (("Content-Type", "text/html"),), mode="endless")
        if path in ("/hostile/length-long", "/hostile/length-short"):
            body = article_html("Lunghezza sbagliata").encode()
            declared = len(body) + 5000 if path.endswith("long") else len(body) - 500
            return Reply(
                200,
                (("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(declared))),
                body,
            )
        if path == "/hostile/dropped":
            return Reply(
                200,
                (("Content-Type", "text/html; charset=utf-8"),),
                article_html("Connessione caduta", paragraphs=20).encode(),
                mode="drop",
            )
        if path == "/hostile/trickle":
            return Reply(
                200, (("Content-Type", "text/html"),), b"<html><body>" + b"." * 100, mode="trickle"
            )
        if path == "/hostile/hang":
            return Reply(200, mode="hang")
        if path == "/hostile/loop-a":
            return _redirect("/hostile/loop-b")
        if path == "/hostile/loop-b":
            return _redirect("/hostile/loop-a")
        if path == "/hostile/self-loop":
            return _redirect("/hostile/self-loop")
        if path.startswith("/hostile/chain/"):
            step = int(path.rsplit("/", 1)[1])
            if step >= CHAIN_LENGTH:
                return _html(article_html("Fine della catena"))
            return _redirect(f"/hostile/chain/{step + 1}")
        if path == "/hostile/to-offsite":
            return _redirect(f"{self.bases['offsite']}/landing", 301)
        if path == "/hostile/to-file":
            return _redirect("file:///etc/passwd")
        if path == "/hostile/to-ftp":
            return _redirect("ftp://127.0.0.1/pub/archive.tar")
        if path in ("/hostile/rate-limited", "/hostile/unavailable"):
            if count == 1:
                status = 429 if path.endswith("limited") else 503
                return _html(
                    "<html><body>Slow down</body></html>", status, headers=(("Retry-After", "1"),)
                )
            return _html(article_html("Dopo l'attesa " + path.rsplit("/", 1)[1]))
        if path == "/hostile/closed-for-a-day":
            return _html(
                "<html><body>Maintenance</body></html>", 503, headers=(("Retry-After", "86400"),)
            )
        if path == "/hostile/captcha":
            return _html(CAPTCHA_WALL)
        if path == "/hostile/binary":
            return Reply(
                200,
                (("Content-Type", "text/html; charset=utf-8"),),
                random.Random(7).randbytes(20_000),
            )
        if path == "/hostile/latin1-says-utf8":
            return Reply(
                200,
                (("Content-Type", "text/html; charset=utf-8"),),
                article_html("Perché l'è così", charset="utf-8").encode("latin-1"),
            )
        if path == "/hostile/utf8-says-cp1252":
            return Reply(
                200,
                (("Content-Type", "text/html; charset=windows-1252"),),
                article_html("Sostenibilità e città", charset="windows-1252").encode("utf-8"),
            )
        if path == "/hostile/nul-bytes":
            page = article_html("Byte nulli").replace("</p>", "\x00</p>", 2)
            return _html(page)
        if path == "/hostile/deep-nesting":
            return _html(
                article_html("Annidamento profondo", body_wrap=("<div>" * 300, "</div>" * 300))
            )
        if path.startswith("/calendar/"):
            year, month = (int(part) for part in path.strip("/").split("/")[1:3])
            before, after = divmod(year * 12 + month - 2, 12), divmod(year * 12 + month, 12)
            links = [f"/calendar/{y}/{m + 1:02d}/" for y, m in (before, after)]
            return _html(_listing(f"Calendario {year}/{month}", links))
        if path.startswith("/sessions/"):
            fresh = self._hit("main", "session ids")  # every visit hands out a new one
            return _html(
                _listing("Sessione", [f"/sessions/?sid={fresh}", f"/sessions/?replytocom={fresh}"])
            )
        if path.startswith("/trap/"):
            return _html(_listing("Trappola", ["a/", f"{main}/trap/long?q={'y' * 3000}"]))
        return _not_found()

    # --- other hosts -----------------------------------------------------------------------

    def robots_host(self, host: str, path: str) -> Reply:
        if path != "/robots.txt":
            return (
                Reply(200, (("Content-Type", "image/png"),), PIXEL)
                if path.endswith(".png")
                else _not_found()
            )
        plain = (("Content-Type", "text/plain"),)
        if host == "robots-404":
            return _not_found()
        if host == "robots-500":
            return _html("<html><body>Internal error</body></html>", 500)
        if host == "robots-flaky":
            if self._hit(host, "robots.txt answers") <= FLAKY_ROBOTS_FAILURES:
                return _html("<html><body>Try later</body></html>", 503)
            return Reply(200, plain, b"User-agent: *\nAllow: /\n")
        if host == "robots-timeout":
            return Reply(200, mode="hang")
        if host == "robots-huge":
            # RFC 9309 §2.5: only the first 500 KiB count, so the last rule must be ignored.
            padding = b"# " + b"padding " * 12 + b"\n"
            body = (
                b"User-agent: *\nDisallow: /blocked/\n"
                + padding * (600 * 1024 // len(padding))
                + b"Disallow: /img/\n"
            )
            return Reply(200, plain, body)
        # robots-malformed: an HTML error page with binary junk and two real rules inside.
        body = (
            b"\xef\xbb\xbf<!DOCTYPE html><html><head><title>Oops</title></head><body>\n"
            b"\x00\x01\x02 junk \xff\xfe\xfd\n"
            b"this line is not a directive\n"
            b"User-agent: *\nDisallow: /blocked/\n</body></html>\n"
        )
        return Reply(200, (("Content-Type", "text/html"),), body)

    def bulk(self, path: str) -> Reply:
        base = self.bases["bulk"]
        if path == "/robots.txt":
            return Reply(
                200,
                (("Content-Type", "text/plain"),),
                f"Sitemap: {base}/sitemap-100k.xml\n".encode(),
            )
        if path == "/sitemap-100k.xml":
            body = self._cached(
                "bulk",
                lambda: urlset(
                    [(f"{base}/bulk/{i}", "2026-01-01") for i in range(BULK_URLS)]
                ).encode(),
            )
            return Reply(200, (("Content-Type", "application/xml"),), body)
        if path.startswith("/bulk/"):
            return _html(article_html(f"Bulk {path.rsplit('/', 1)[1]}", paragraphs=1))
        return _not_found()

    def heavy(self, path: str) -> Reply:
        base = self.bases["heavy"]
        if path == "/robots.txt":
            return Reply(
                200, (("Content-Type", "text/plain"),), f"Sitemap: {base}/sitemap.xml\n".encode()
            )
        if path == "/sitemap.xml":
            return _xml(urlset([(f"{base}/heavy/{i}", None) for i in range(HEAVY_PAGES)]))
        if path.startswith("/heavy/"):
            noise = random.Random(path).randbytes(HEAVY_PAGE_BYTES).hex()
            return _html(article_html(f"Pesante {path}", extra=f"<!-- {noise} -->"))
        return _not_found()


CAPTCHA_WALL = (
    "<!DOCTYPE html><html><head><title>Just a moment...</title>"
    '<script src="https://www.google.com/recaptcha/api.js" async defer></script></head>'
    "<body><h1>Verify you are human</h1><p>Complete the security check to access the article.</p>"
    '<form id="challenge-form" method="POST"><div class="g-recaptcha" data-sitekey="6Lc-hostile"></div>'
    "</form></body></html>\n"
)


def _listing(title: str, links: list[str]) -> str:
    items = "".join(
        f'<li><a href="{html.escape(link)}">{html.escape(link[:60])}</a></li>' for link in links
    )
    return f"<!DOCTYPE html><html><head><title>{title}</title></head><body><ul>{items}</ul></body></html>\n"


def _gzip_zeros(size: int, prefix: bytes = b"") -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = bytes(1024 * 1024)
    parts = [compressor.compress(prefix)]
    parts += [compressor.compress(block) for _ in range(size // len(block))]
    return b"".join(parts) + compressor.flush()


class HostileRequestHandler(BaseHTTPRequestHandler):
    """Writes each Reply raw: headers as given, framing as the case needs it, lies included."""

    protocol_version = "HTTP/1.1"
    timeout = 30.0
    server: HostileHTTPServer

    def log_message(self, format: str, *args) -> None:
        return  # the request log is the record

    def do_GET(self) -> None:
        started = time.monotonic()
        app = self.server.hostile_app
        assert app is not None, "HostileSite.serve sets the app before serving"
        reply = app(self.server.site_key, self.path)
        self.server.request_log.append(
            RequestLogEntry(
                site=self.server.site_key,
                method="GET",
                path=self.path,
                headers=dict(self.headers.items()),
                status=reply.status,
            )
        )
        self.server.times.append((self.server.site_key, self.path, started))
        self.close_connection = True
        if reply.mode == "hang":
            self.server.stopping.wait(120)
            return
        head = [
            f"HTTP/1.1 {reply.status} {self.responses.get(reply.status, ('',))[0]}",
            "Server: hostile",
        ]
        head += [f"{name}: {value}" for name, value in reply.headers]
        names = {name.lower() for name, _ in reply.headers}
        chunked = reply.mode in ("drop", "endless") and "content-length" not in names
        if chunked:
            head.append("Transfer-Encoding: chunked")
        elif "content-length" not in names:
            head.append(f"Content-Length: {len(reply.body)}")
        head.append("Connection: close")
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        if reply.mode == "trickle":
            for i in range(len(reply.body)):
                if self.server.stopping.wait(1.0):
                    return
                self.wfile.write(reply.body[i : i + 1])
                self.wfile.flush()
        elif reply.mode == "drop":
            half = reply.body[: len(reply.body) // 2]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(half), half))
            self.wfile.flush()
        elif reply.mode == "endless":
            block = b"<p>" + b"x" * 65530 + b"</p>"
            for _ in range(TOO_LARGE // len(block) + 1):
                if self.server.stopping.is_set():
                    return
                self.wfile.write(b"%x\r\n%s\r\n" % (len(block), block) if chunked else block)
        else:
            self.wfile.write(reply.body)


class HostileHTTPServer(FixtureHTTPServer):
    """One host of the hostile web; connection tracking and stopping come from the fixture server."""

    def __init__(
        self, address: tuple[str, int], site_key: str, log_: RequestLog, stopping: threading.Event
    ) -> None:
        super().__init__(address, site_key, log_, stopping)
        self.RequestHandlerClass = HostileRequestHandler
        self.hostile_app: HostileApp | None = None
        self.times: list[tuple[str, str, float]] = []


class HostileSite:
    """The hostile web; ``marker_file`` is what XML external entities point at (never to be read)."""

    def __init__(self, marker_file: Path | None = None) -> None:
        self.marker_file = marker_file

    def serve(self, host: str = "127.0.0.1") -> RunningHostile:
        return RunningHostile(host, self.marker_file)


class RunningHostile(ServerGroup):
    """The servers of a HostileSite while they run; a context manager that stops them."""

    def __init__(self, host: str, marker_file: Path | None) -> None:
        self._log = RequestLog()
        self._stopping = threading.Event()
        self._servers: dict[str, HostileHTTPServer] = {}
        try:
            for key in HOSTS:
                self._servers[key] = HostileHTTPServer((host, 0), key, self._log, self._stopping)
        except BaseException:
            for server in self._servers.values():
                server.server_close()
            raise
        self.base_urls = {
            key: f"http://{host}:{server.server_address[1]}"
            for key, server in self._servers.items()
        }
        self.app = HostileApp(self.base_urls, marker_file)
        self._threads = []
        for key, server in self._servers.items():
            server.hostile_app = self.app
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"hostile-{key}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def requests(self, host: str) -> list[tuple[str, float]]:
        """(target, monotonic start time) of every request ``host`` received, in arrival order."""
        return sorted(
            ((path, t) for _, path, t in self._servers[host].times), key=lambda pair: pair[1]
        )

    def url(self, host: str, path: str = "/") -> str:
        return self.base_urls[host] + quote(path, safe="/?=&%#:;")


__all__ = [
    "CASES", "FLAGGED_PAGES", "GOOD_ARTICLES", "HOSTS", "UNRESOLVABLE_IMAGE", "HostileSite",
    "RunningHostile",
]  # fmt: skip
