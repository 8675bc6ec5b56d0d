"""A static site built from real news pages: the Zyte article-extraction benchmark's 181 pages
cycled into N article URLs, with paginated listings, a home page, a sitemap and robots.txt.

The fixture site's pages are written for this project; these are not. Every article page is one
of the real pages byte for byte (~170 KB on average) followed by a one-line comment naming its
URL, so link extraction, WARC writing and extraction run on the markup the web really sends, and
each URL is a payload of its own (a news site does not serve one article at 11 URLs; identical
payloads would be archived as revisits and not extracted again). Links inside the pages to their original hosts
are off-site for every crawler; their relative links resolve here and get the site's 404, for
every crawler alike. Served by nginx like the fixture copy (``bench.static_site.nginx_conf``).
"""

from __future__ import annotations

import gzip
import html
import json
import shutil
import time
from pathlib import Path

from bench.static_site import MARKER, StaticSite

LINKS_PER_LISTING = 50
NOT_FOUND = b"<!DOCTYPE html><html><head><title>Not found</title></head><body><h1>Not found</h1></body></html>\n"


def article_path(n: int) -> str:
    return f"/articles/{n:05d}/"


def listing_path(page: int) -> str:
    return "/" if page == 1 else f"/page/{page}/"


def _listing(page: int, pages: int, articles: range) -> bytes:
    items = "\n".join(f'<li><a href="{article_path(n)}">Article {n}</a></li>' for n in articles)
    nav = []
    if page > 1:
        nav.append(f'<a rel="prev" href="{listing_path(page - 1)}">Newer</a>')
    if page < pages:
        nav.append(f'<a rel="next" href="{listing_path(page + 1)}">Older</a>')
    return (
        f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>News, page {page}</title>"
        f"</head><body><h1>News</h1><ul>\n{items}\n</ul><nav>{' '.join(nav)}</nav></body></html>\n"
    ).encode()


def render_real(folder: Path, data_dir: Path, articles: int, port: int, say=print) -> StaticSite:
    """Build the site into ``folder`` (replacing it), or reuse a complete earlier build."""
    marker = folder / MARKER
    if marker.exists():
        data = json.loads(marker.read_text())
        if data.get("articles") == articles and data.get("port") == port and data.get("kind") == "real-unique":
            say(f"real-page site: reusing {folder} ({data['files']} files)")
            return StaticSite(folder=folder, **{k: data[k] for k in (
                "port", "articles", "files", "bytes", "redirects", "missing", "render_seconds")})
    truth = json.loads((data_dir / "ground-truth.json").read_text(encoding="utf-8"))
    pages = [gzip.decompress((data_dir / "html" / f"{key}.html.gz").read_bytes()) for key in sorted(truth)]
    if folder.exists():
        shutil.rmtree(folder)
    root = folder / "www"
    root.mkdir(parents=True)
    started = time.monotonic()
    base = f"http://127.0.0.1:{port}"
    total = files = 0

    def write(path: str, body: bytes) -> None:
        nonlocal total, files
        target = root / (path.lstrip("/") + ("index.html" if path.endswith("/") else ""))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
        total += len(body)
        files += 1

    for n in range(articles):
        write(article_path(n), pages[n % len(pages)] + f"\n<!-- {article_path(n)} -->\n".encode())
    listings = max(1, -(-articles // LINKS_PER_LISTING))
    for page in range(1, listings + 1):
        first = (page - 1) * LINKS_PER_LISTING
        write(listing_path(page), _listing(page, listings, range(first, min(first + LINKS_PER_LISTING, articles))))
    urls = "\n".join(f"<url><loc>{html.escape(base + article_path(n))}</loc></url>" for n in range(articles))
    write("/sitemap.xml", (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{urls}\n</urlset>\n'
    ).encode())
    write("/robots.txt", f"User-agent: *\nAllow: /\nSitemap: {base}/sitemap.xml\n".encode())
    (root / "__404.html").write_bytes(NOT_FOUND)
    routes = {"redirects": {}, "missing": {}, "overrides": {}, "query_files": {}}
    (folder / "routes.json").write_text(json.dumps(routes))
    seconds = time.monotonic() - started
    site = StaticSite(folder=folder, port=port, articles=articles, files=files, bytes=total,
                      redirects=0, missing=0, render_seconds=seconds)
    (folder / MARKER).write_text(json.dumps({
        "kind": "real-unique", "port": port, "articles": articles, "files": files, "bytes": total,
        "redirects": 0, "missing": 0, "render_seconds": seconds}))
    say(f"real-page site: {files} files, {total / 1e6:.0f} MB from {len(pages)} real pages, in {seconds:.0f} s")
    return site
