"""Connections are kept alive: a crawl at one request at a time does not open a TCP connection per
request (Scrapy's pool, sized to the per-host concurrency, used to close and reopen them)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import crawl_command, run_cli

PAGES = 150


class KeepAliveHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.requests += 1
        status = 200
        if self.path == "/robots.txt":
            body, kind = b"User-agent: *\nAllow: /\n", "text/plain"
        elif self.path == "/":
            links = "".join(f'<a href="/p/{n}">{n}</a>' for n in range(PAGES))
            body, kind = f"<html><body>{links}</body></html>".encode(), "text/html"
        elif self.path.startswith("/p/"):
            body, kind = f"<html><body><p>page {self.path}</p></body></html>".encode(), "text/html"
        else:
            status, body, kind = 404, b"not here", "text/plain"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        pass


@pytest.fixture
def counting_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), KeepAliveHandler)
    server.daemon_threads = True
    server.lock = threading.Lock()
    server.connections = server.requests = 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def crawl(tmp_path, server, *settings: str):
    base = f"http://127.0.0.1:{server.server_address[1]}"
    extra = ["-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1", "-s", "EXTRACT_ENABLED=False", *settings]
    return run_cli(*crawl_command(tmp_path / "store", base, *extra))


def test_a_crawl_reuses_its_connections(tmp_path, counting_server):
    done = crawl(tmp_path, counting_server)
    assert done.returncode == 0, done.stderr[-2000:]
    assert counting_server.requests > PAGES
    # The pool keeps up to CONCURRENT_REQUESTS (16) idle connections: a handful serve every request.
    assert counting_server.connections <= counting_server.requests // 4, (
        counting_server.connections,
        counting_server.requests,
    )


def test_scrapys_own_pool_would_open_one_per_request(tmp_path, counting_server):
    # The control: the stock handler, whose pool keeps one idle connection here, churns.
    stock = '{"http": "scrapy.core.downloader.handlers.http11.HTTP11DownloadHandler"}'
    done = crawl(tmp_path, counting_server, "-s", f"DOWNLOAD_HANDLERS={stock}")
    assert done.returncode == 0, done.stderr[-2000:]
    assert counting_server.connections > counting_server.requests // 2, (
        counting_server.connections,
        counting_server.requests,
    )
