"""HTTP transport of the fixture: threaded stdlib servers with gzip, chunking and fault framing.

Routes decide what to answer; this decides the wire format and records the bytes sent.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import TYPE_CHECKING

from fixture_site import codings

if TYPE_CHECKING:
    from typing import Self

log = logging.getLogger("fixture_site")

SERVER_HEADER = "nginx"
CHUNK_SIZE = 8192
KEEPALIVE_TIMEOUT = 30.0
TRICKLE_INTERVAL = 0.5
TRUNCATED_SHORTFALL = 2048


@dataclass(frozen=True)
class Request:
    """What a route needs to know about an incoming request."""

    method: str
    target: str
    headers: Mapping[str, str]
    body: bytes = b""

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> str:
        return self.target.split("?", 1)[1] if "?" in self.target else ""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Response:
    """What a route answers; the transport picks content coding and framing.

    `fault` is "truncate" (announce more bytes than are sent, then close) or "trickle"
    (send the body one byte every TRICKLE_INTERVAL seconds).
    """

    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    compressible: bool = False
    chunked: bool = False
    fault: str | None = None


@dataclass(frozen=True)
class RequestLogEntry:
    """One request as a fixture server saw it, with the body bytes it put on the wire.

    `body_sent` is the entity body after content coding (gzip) and without chunk framing;
    for a truncated or interrupted response it is the part actually sent.
    """

    site: str
    method: str
    path: str
    headers: dict[str, str]
    status: int
    body_sent: bytes = b""
    chunked: bool = False


class RequestLog:
    """Thread-safe append-only log shared by the three servers of one RunningSite."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[RequestLogEntry] = []

    def append(self, entry: RequestLogEntry) -> None:
        with self._lock:
            self._entries.append(entry)

    def snapshot(self) -> list[RequestLogEntry]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


App = Callable[[Request], Response]


class FixtureHTTPServer(ThreadingHTTPServer):
    """One imitated site. Tracks open connections so stopping never waits on idle clients."""

    daemon_threads = True
    # server_close() would join every handler thread, including keep-alive connections a
    # client left open; stop() closes those sockets itself and joins with a timeout.
    block_on_close = False

    def __init__(
        self, address: tuple[str, int], site_key: str, log_: RequestLog, stopping: threading.Event
    ) -> None:
        super().__init__(address, FixtureRequestHandler)
        self.site_key = site_key
        self.request_log = log_
        self.stopping = stopping
        self.app: App | None = None
        self._conn_lock = threading.Lock()
        self._connections: dict[socket.socket, threading.Thread] = {}

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, which can stall on machines
        # without working reverse DNS; a loopback fixture has no use for the name.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def finish_request(self, request, client_address) -> None:
        with self._conn_lock:
            self._connections[request] = threading.current_thread()
            if self.stopping.is_set():
                _shutdown_socket(request)
        try:
            super().finish_request(request, client_address)
        finally:
            with self._conn_lock:
                self._connections.pop(request, None)

    def handle_error(self, request, client_address) -> None:
        # Clients dropping connections is routine for a crawler's test server; anything
        # else is a bug worth a traceback, through logging rather than bare stderr.
        if isinstance(sys.exc_info()[1], OSError):
            return
        log.exception("fixture server failed serving %s", client_address)

    def close_connections(self) -> list[threading.Thread]:
        with self._conn_lock:
            for sock in self._connections:
                _shutdown_socket(sock)
            return list(self._connections.values())


def _shutdown_socket(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed by the peer
        sock.shutdown(socket.SHUT_RDWR)


class FixtureRequestHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 handler: keep-alive, gzip when accepted, chunked or sized bodies, faults."""

    protocol_version = "HTTP/1.1"
    timeout = KEEPALIVE_TIMEOUT
    server: FixtureHTTPServer

    def version_string(self) -> str:
        return SERVER_HEADER

    def log_message(self, format: str, *args) -> None:
        # Per-request lines on stderr drown test output; the RequestLog is the record.
        return

    def do_GET(self) -> None:
        self._dispatch(head_only=False)

    def do_POST(self) -> None:
        self._dispatch(head_only=False)

    def do_HEAD(self) -> None:
        self._dispatch(head_only=True)

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length and length.isdigit():
            return self.rfile.read(int(length))
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            # Request bodies are never chunked by the clients this serves; do not try to
            # resynchronise the stream, just drop the connection after answering.
            self.close_connection = True
        return b""

    def _dispatch(self, head_only: bool) -> None:
        body = self._read_body()
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        request = Request(self.command, self.path, {k.lower(): v for k, v in headers.items()}, body)
        try:
            assert self.server.app is not None
            response = self.server.app(request)
        except Exception:
            log.exception("fixture route failed for %s %s", self.command, self.path)
            response = Response(500, b"Internal Server Error", "text/plain; charset=UTF-8")
        recorded = False

        def record(sent: bytes, chunked: bool) -> None:
            nonlocal recorded
            if not recorded:
                recorded = True
                self.server.request_log.append(
                    RequestLogEntry(
                        site=self.server.site_key,
                        method=self.command,
                        path=self.path,
                        headers=headers,
                        status=response.status,
                        body_sent=sent,
                        chunked=chunked,
                    )
                )

        try:
            self._send(response, head_only, record)
        except OSError as exc:  # client went away, or the server is stopping
            self.close_connection = True
            record(getattr(exc, "sent_so_far", b""), False)

    def _send(
        self, response: Response, head_only: bool, record: Callable[[bytes, bool], None]
    ) -> None:
        """Write the response; `record` runs just before the write that completes it.

        Logging before the final write means a client that has read the whole response
        always finds it in the request log already.
        """
        status = response.status
        body = response.body
        bodyless = status in (204, 304) or 100 <= status < 200
        headers = list(response.headers)
        if response.compressible:
            headers.append(("Vary", "Accept-Encoding"))
            coding = codings.negotiate(self.headers.get("Accept-Encoding"))
            if body and not bodyless and coding:
                body = codings.encode(body, coding)
                headers.append(("Content-Encoding", coding))
        chunked = (
            response.chunked
            and not bodyless
            and response.fault is None
            and self.request_version == "HTTP/1.1"
        )
        if response.fault:
            self.close_connection = True

        self.send_response(status)
        if response.content_type:
            self.send_header("Content-Type", response.content_type)
        for name, value in headers:
            self.send_header(name, value)
        if not bodyless:
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
            elif response.fault == "truncate":
                self.send_header("Content-Length", str(len(body) + TRUNCATED_SHORTFALL))
            else:
                self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        elif self.request_version == "HTTP/1.0":
            self.send_header("Connection", "keep-alive")
        if head_only or bodyless:
            record(b"", chunked)
            self.end_headers()
            return
        self.end_headers()
        if chunked:
            for start in range(0, len(body), CHUNK_SIZE):
                piece = body[start : start + CHUNK_SIZE]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            record(body, True)
            self.wfile.write(b"0\r\n\r\n")
        elif response.fault == "trickle":
            record(self._trickle(body), False)
        else:
            # A truncated response is complete from the server's side once written; the
            # client only notices when the connection closes after the handler returns.
            record(body, False)
            self.wfile.write(body)

    def _trickle(self, body: bytes) -> bytes:
        sent = bytearray()
        for i in range(len(body)):
            if self.server.stopping.wait(TRICKLE_INTERVAL):
                break
            try:
                self.wfile.write(body[i : i + 1])
            except OSError as exc:
                exc.sent_so_far = bytes(sent)  # type: ignore[attr-defined]
                raise
            sent += body[i : i + 1]
        return bytes(sent)


class ServerGroup:
    """Servers running in threads, stopped together; a context manager.

    Subclasses fill ``_servers`` (key -> FixtureHTTPServer), ``_threads`` and ``_stopping``.
    """

    _servers: dict
    _threads: list[threading.Thread]
    _stopping: threading.Event

    def stop(self, timeout: float = 5.0) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        handlers: list[threading.Thread] = []
        for server in self._servers.values():
            server.shutdown()
            handlers += server.close_connections()
            server.server_close()
        for thread in self._threads + handlers:
            if thread is not threading.current_thread():
                thread.join(timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class RunningSite(ServerGroup):
    """The three servers of a FixtureSite while they run; a context manager that stops them."""

    def __init__(
        self,
        host: str,
        port: int,
        keys: Sequence[str],
        app_factory: Callable[[str, Mapping[str, str]], App],
    ) -> None:
        self._log = RequestLog()
        self._stopping = threading.Event()
        self._servers: dict[str, FixtureHTTPServer] = {}
        self._threads: list[threading.Thread] = []
        public_host = "127.0.0.1" if host in ("", "0.0.0.0") else host
        try:
            for offset, key in enumerate(keys):
                address = (host, port + offset if port else 0)
                self._servers[key] = FixtureHTTPServer(address, key, self._log, self._stopping)
        except BaseException:
            for server in self._servers.values():
                server.server_close()
            raise
        self.base_urls: dict[str, str] = {
            key: f"http://{public_host}:{server.server_address[1]}"
            for key, server in self._servers.items()
        }
        for key, server in self._servers.items():
            server.app = app_factory(key, self.base_urls)
        for key, server in self._servers.items():
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"fixture-site-{key}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    @property
    def requests(self) -> list[RequestLogEntry]:
        """A snapshot of every request served so far, in completion order."""
        return self._log.snapshot()

    def reset_requests(self) -> None:
        self._log.clear()

    def sent_body(self, site: str, path: str) -> bytes:
        """Body bytes of the latest response to `path` (exact target, query included)."""
        for entry in reversed(self._log.snapshot()):
            if entry.site == site and entry.path == path and entry.method != "HEAD":
                return entry.body_sent
        raise KeyError(f"no request for {path!r} on site {site!r}")

    def url(self, site: str, path: str = "/") -> str:
        return self.base_urls[site] + path
