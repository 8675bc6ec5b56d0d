"""A static copy of the fixture site (lifegate.it imitation with N articles), rendered through its own
routing code into a folder that nginx serves: files, redirects, content types and the 404 page.

Every URL that either crawler can reach (links, resources, srcset, CSS ``url()``, sitemaps, feeds) is
rendered once; the copy is cached per (articles, port) because pages embed absolute URLs.
"""

from __future__ import annotations

import html
import json
import os
import pwd
import re
import shutil
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

# Other sites of the fixture get names that never resolve and that neither crawler is allowed to
# visit (wget stays on one host, the spider on one netloc), so nothing leaves the machine.
OTHER_BASES = {"en": "http://en.invalid", "republisher": "http://republisher.invalid"}
SEEDS = ("/robots.txt", "/", "/feed", "/sitemap_index.xml", "/sitemap.xml")
_REF = re.compile(rb"""(?:href|src)\s*=\s*["']([^"'<>]+)["']""", re.IGNORECASE)
_SRCSET = re.compile(rb"""srcset\s*=\s*["']([^"'<>]+)["']""", re.IGNORECASE)
_CSS_URL = re.compile(rb"""url\(\s*["']?([^"')]+)["']?\s*\)""")
_XML_LINK = re.compile(rb"<(?:loc|link)>\s*([^<\s]+)\s*</(?:loc|link)>")
_SITEMAP_LINE = re.compile(rb"(?im)^sitemap:\s*(\S+)")
# Types nginx derives from the extension (mime.types) or gives extensionless files (default_type);
# anything else gets an exact-match location with its own type.
_BY_EXTENSION = {
    ".xml": "text/xml", ".txt": "text/plain", ".css": "text/css", ".js": "application/javascript",
    ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png",
    ".html": "text/html",
}
DEFAULT_TYPE = "text/html"
MARKER = "site.json"


@dataclass(frozen=True, slots=True)
class StaticSite:
    """A rendered copy: the folder to serve, where it must be served, and what it holds."""

    folder: Path
    port: int
    articles: int
    files: int
    bytes: int
    redirects: int
    missing: int
    render_seconds: float

    @property
    def root(self) -> Path:
        return self.folder / "www"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def as_dict(self) -> dict:
        return {
            "articles": self.articles, "files": self.files, "megabytes": round(self.bytes / 1e6, 1),
            "redirects": self.redirects, "missing": self.missing, "port": self.port,
            "render_seconds": round(self.render_seconds, 1),
        }


def links(target: str, base: str, body: bytes, content_type: str) -> set[str]:
    """Same-site targets (path and query, no fragment) that a page refers to, in any way a crawler reads."""
    if not content_type.startswith(("text/", "application/rss", "application/xml", "image/svg")):
        return set()
    refs = [m.group(1) for m in _REF.finditer(body)]
    for m in _SRCSET.finditer(body):
        refs += [part.strip().split()[0] for part in m.group(1).split(b",") if part.strip()]
    refs += [m.group(1) for m in _CSS_URL.finditer(body)]
    refs += [m.group(1) for m in _XML_LINK.finditer(body)]
    refs += [m.group(1) for m in _SITEMAP_LINE.finditer(body)]
    here = base + target
    host = urlsplit(base).netloc
    found = set()
    for raw in refs:
        ref = html.unescape(raw.decode("utf-8", "replace")).strip()
        if not ref or ref.startswith(("#", "data:", "mailto:", "javascript:", "tel:")):
            continue
        url = urljoin(here, ref).split("#", 1)[0]
        parts = urlsplit(url)
        if parts.scheme == "http" and parts.netloc == host:
            found.add((parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
    return found


# --- rendering, in worker processes (each builds the same deterministic site) ----------------------

_APP = None


def _init_worker(articles: int, base: str) -> None:
    global _APP
    from fixture_site import FixtureSite
    from fixture_site.routes import LifegateApp

    site = FixtureSite(include_faults=False, extra_articles=max(articles - 30, 0))
    _APP = LifegateApp("it", site, {"it": base, **OTHER_BASES})


def _render(targets: list[str], base: str) -> list[tuple[str, int, str, bytes, str | None, set[str]]]:
    from fixture_site.server import Request

    out = []
    for target in targets:
        response = _APP(Request("GET", target, {}))
        headers = dict(response.headers)
        location = headers.get("Location")
        ctype = (response.content_type or "").split(";")[0].strip()
        refs = links(target, base, response.body, ctype) if response.status == 200 else set()
        if location:
            loc = urljoin(base + target, location)
            if loc.startswith(base + "/"):
                refs.add(loc[len(base):])
        out.append((target, response.status, ctype, response.body, location, refs))
    return out


def _file_for(path: str) -> str:
    """Relative file name of a path without query ('/' -> index.html, '/a/' -> a/index.html)."""
    rel = path.lstrip("/")
    return rel + "index.html" if rel == "" or rel.endswith("/") else rel


def render(folder: Path, articles: int, port: int, workers: int = 2, say=print) -> StaticSite:
    """Render the site into ``folder`` (replacing it), or reuse a complete earlier rendering."""
    marker = folder / MARKER
    if marker.exists():
        data = json.loads(marker.read_text())
        if data.get("articles") == articles and data.get("port") == port:
            say(f"static site: reusing {folder} ({data['files']} files)")
            return StaticSite(folder=folder, **{k: data[k] for k in (
                "port", "articles", "files", "bytes", "redirects", "missing", "render_seconds")})
    if folder.exists():
        shutil.rmtree(folder)
    root = folder / "www"
    root.mkdir(parents=True)
    base = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    seen: set[str] = set(SEEDS)
    frontier = list(SEEDS)
    # Bodies are spooled to numbered files as they come (10,000 articles are ~1.8 GB) and moved into
    # place once every path is known, since '/feed' may turn out to need a '/feed/' folder.
    spool = folder / "spool"
    spool.mkdir()
    bodies: dict[str, tuple[str, Path, int]] = {}
    redirects: dict[str, tuple[int, str]] = {}
    missing: dict[str, int] = {}
    reported = 0.0
    with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(articles, base)) as pool:
        while frontier:
            batches = [frontier[i:i + 50] for i in range(0, len(frontier), 50)]
            frontier = []
            for results in pool.map(_render, batches, [base] * len(batches)):
                for target, status, ctype, body, location, refs in results:
                    if status == 200:
                        spooled = spool / str(len(bodies))
                        spooled.write_bytes(body)
                        bodies[target] = (ctype, spooled, len(body))
                    elif status in (301, 302, 307, 308) and location:
                        loc = urljoin(base + target, location)
                        redirects[target] = (status, loc.removeprefix(base))
                    else:
                        missing[target] = status
                    for ref in refs - seen:
                        seen.add(ref)
                        frontier.append(ref)
            # The last rounds find a handful of URLs each: one line every few seconds is enough.
            if time.monotonic() - reported >= 5 or not frontier:
                reported = time.monotonic()
                say(f"static site: {len(seen)} URLs found, {len(bodies)} pages rendered "
                    f"({time.monotonic() - started:.0f} s)")
    site = _write(folder, root, port, articles, bodies, redirects, missing, time.monotonic() - started)
    say(f"static site: {site.files} files, {site.bytes / 1e6:.0f} MB, {site.redirects} redirects, "
        f"{site.missing} missing, in {site.render_seconds:.0f} s")
    return site


def _write(folder: Path, root: Path, port: int, articles: int, bodies: dict[str, tuple[str, Path, int]],
           redirects: dict[str, tuple[int, str]], missing: dict[str, int], seconds: float) -> StaticSite:
    paths = {t.split("?", 1)[0] for t in bodies}
    dirs = {p[: i + 1] for p in paths for i in range(len(p)) if p[i] == "/"}
    overrides: dict[str, str] = {}  # exact request path -> content type
    query_files: dict[str, str] = {}  # request URI with a query -> internal file
    total = 0
    for n, (target, (ctype, spooled, size)) in enumerate(sorted(bodies.items())):
        path, _, query = target.partition("?")
        if query:
            name = f"__query/{n}{Path(path).suffix}"
            query_files[target] = "/" + name
        elif path + "/" in dirs:  # '/feed' as a file and '/feed/…' as a folder: file goes inside
            name = _file_for(path + "/")
        else:
            name = _file_for(path)
        dest = root / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(spooled, dest)
        total += size
        suffix = Path(name).suffix.lower()
        expected = _BY_EXTENSION.get(suffix, DEFAULT_TYPE if not suffix else None)
        if ctype and ctype != expected and not query:
            overrides[path] = ctype
    (folder / "spool").rmdir()
    # The fixture's own 404 page, served for every missing path as the real site does.
    _init_worker(articles, f"http://127.0.0.1:{port}")
    (root / "__404.html").write_bytes(_APP.not_found().body)
    conf = {
        "redirects": {t: list(v) for t, v in sorted(redirects.items())},
        "missing": missing, "overrides": overrides, "query_files": query_files,
    }
    (folder / "routes.json").write_text(json.dumps(conf, indent=1))
    site = StaticSite(folder=folder, port=port, articles=articles, files=len(bodies), bytes=total,
                      redirects=len(redirects), missing=len(missing), render_seconds=seconds)
    data = {"port": port, "articles": articles, "files": site.files, "bytes": total,
            "redirects": site.redirects, "missing": site.missing, "render_seconds": seconds}
    (folder / MARKER).write_text(json.dumps(data))
    return site


def nginx_conf(site: StaticSite, run_dir: Path) -> str:
    """An nginx.conf serving the copy like the fixture: 1 worker, no access log, gzip level 1."""
    routes = json.loads((site.folder / "routes.json").read_text())

    def quote(s: str) -> str:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

    maps = []
    for code in (301, 302, 307, 308):
        entries = [f"    {quote(t)} {quote(loc)};" for t, (status, loc) in routes["redirects"].items()
                   if status == code]
        maps.append(f"  map $request_uri $redirect_{code} {{\n    default \"\";\n"
                    + "\n".join(entries) + "\n  }")
    entries = [f"    {quote(t)} {quote(f)};" for t, f in routes["query_files"].items()]
    maps.append("  map $request_uri $query_file {\n    default \"\";\n" + "\n".join(entries) + "\n  }")
    gone = [f"    {quote(t)} 1;" for t, s in routes["missing"].items() if s == 410]
    maps.append("  map $request_uri $gone {\n    default \"\";\n" + "\n".join(gone) + "\n  }")
    typed = "\n".join(
        f"    location = {quote(path)} {{ default_type {quote(ctype)}; "
        f"try_files $uri $uri/index.html =404; }}"
        for path, ctype in sorted(routes["overrides"].items()))
    temp = run_dir / "tmp"
    # Started as root, nginx drops its worker to "nobody", which cannot read a private work folder
    # (pytest's tmp_path is 0700): keep the worker as the user who runs the benchmark.
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
    return f"""{user}worker_processes 1;
daemon off;
pid {run_dir / 'nginx.pid'};
error_log {run_dir / 'error.log'} warn;
events {{ worker_connections 1024; }}
http {{
  include /etc/nginx/mime.types;
  default_type {DEFAULT_TYPE};
  charset utf-8;
  charset_types text/xml text/plain text/css text/xsl application/javascript application/rss+xml application/json;
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 65;
  keepalive_requests 1000000;
  server_tokens off;
  map_hash_max_size 1048576;
  map_hash_bucket_size 512;
  # As the fixture (and nginx's default level): gzip level 1 when the client asks for it.
  gzip on;
  gzip_comp_level 1;
  gzip_vary on;
  gzip_types text/css text/xml text/plain text/xsl application/javascript application/rss+xml application/json image/svg+xml;
  client_body_temp_path {temp}/body;
  proxy_temp_path {temp}/proxy;
  fastcgi_temp_path {temp}/fastcgi;
  uwsgi_temp_path {temp}/uwsgi;
  scgi_temp_path {temp}/scgi;
{chr(10).join(maps)}
  server {{
    listen 127.0.0.1:{site.port};
    root {site.root};
    index index.html;
    error_page 404 /__404.html;
    if ($redirect_301) {{ return 301 $redirect_301; }}
    if ($redirect_302) {{ return 302 $redirect_302; }}
    if ($redirect_307) {{ return 307 $redirect_307; }}
    if ($redirect_308) {{ return 308 $redirect_308; }}
    if ($gone) {{ return 410; }}
    if ($query_file) {{ rewrite ^ $query_file last; }}
    location / {{ try_files $uri $uri/index.html =404; }}
    location ^~ /__query/ {{ }}
{typed}
  }}
}}
"""


def main(argv: Iterable[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="render the fixture site into a static folder")
    parser.add_argument("folder")
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--port", type=int, default=8790)
    args = parser.parse_args(list(argv) if argv is not None else None)
    site = render(Path(args.folder), args.articles, args.port)
    print(json.dumps(site.as_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
