"""S3 for the tests: moto's server on 127.0.0.1, a relay that can take it down mid-request, and
fixtures (one server per session, one bucket per test); registered by ``tests/conftest.py``."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from archive.crawl import CrawlManifest, ManifestEntry, object_kind, text_key, warc_key
from archive.storage import sha256_file
from archive.warc import HttpExchange, RollingWarcWriter, WarcFileNamer
from tests.builders import article_exchange

# moto accepts any credentials unless its IAM checks are switched on (see ``s3_auth``).
DUMMY_KEY = "testing"
REGION = "us-east-1"
CRAWL = "20261128T090000Z-lifegate"


class MotoServer:
    """moto's S3 on 127.0.0.1 in this process; its data outlives a stop (moto keeps it globally)."""

    def __init__(self, port: int = 0) -> None:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self._server.start()
        self.port = self._server.get_host_and_port()[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._server.stop()
        self._server._server.server_close()  # stop() leaves the listening socket open

    def client(self, **options):
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=DUMMY_KEY,
            aws_secret_access_key=DUMMY_KEY,
            config=Config(
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                **options,
            ),
        )

    def set_auth(self, checked_after: float) -> None:
        """moto's own switch: requests after the first ``checked_after`` are checked against IAM."""
        request = urllib.request.Request(
            f"{self.url}/moto-api/reset-auth",
            data=str(checked_after).encode(),
            # urllib's default form type makes the body unreadable to moto (research A.3).
            headers={"Content-Type": "application/octet-stream"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200


class FlakyProxy:
    """A TCP relay on 127.0.0.1 in front of the server: ``cut()`` drops every connection and refuses
    new ones (for ``refuse`` connections, or until ``restore()``), as a store that goes down does."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._refuse: float = 0
        self.refused = 0
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self, refuse: float = float("inf")) -> None:
        with self._lock:
            self._refuse = refuse
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            _close(sock)

    def restore(self) -> None:
        with self._lock:
            self._refuse = 0

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                if self._refuse > 0:
                    self._refuse -= 1
                    self.refused += 1
                    _close(client)
                    continue
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
                self._sockets.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(1 << 16):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            _close(source)
            _close(sink)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@pytest.fixture(scope="session")
def s3_server():
    server = MotoServer()
    yield server
    server.stop()


@pytest.fixture
def s3_env(monkeypatch, tmp_path):
    """Dummy credentials in the environment (inherited by CLI subprocesses), no AWS config files,
    no instance-metadata lookups, and a private cache folder."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", DUMMY_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", DUMMY_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def bucket(s3_server, s3_env) -> str:
    name = f"test-{uuid.uuid4().hex[:16]}"
    s3_server.client().create_bucket(Bucket=name)
    return name


@pytest.fixture
def make_store(s3_server, bucket, tmp_path):
    """``make_store(**options)``: an ``S3Storage`` at ``s3://<bucket>/archive`` with its own spool."""
    from archive.s3 import S3Storage
    from archive.s3_client import S3Options

    def make(endpoint_url: str | None = None, **options) -> S3Storage:
        options.setdefault("spool_dir", tmp_path / "spool")
        return S3Storage(
            f"s3://{bucket}/archive",
            S3Options(endpoint_url=endpoint_url or s3_server.url, region_name=REGION, **options),
        )

    return make


def write_warc(directory: Path, size: int) -> Path:
    """A valid WARC of at least ``size`` bytes (incompressible 1 MiB bodies), closed in ``directory``."""
    writer = RollingWarcWriter(
        directory, namer=WarcFileNamer("BIG", hostname="h"), warcinfo_fields={"a": "b"}
    )
    n = 0
    while writer.current_path is None or writer.current_path.stat().st_size < size:
        body = os.urandom(1 << 20)
        writer.write_exchange(
            HttpExchange(
                url=f"http://127.0.0.1:8080/big-{n}",
                method="GET",
                request_headers=[(b"User-Agent", b"test")],
                status=200,
                response_headers=[(b"Content-Type", b"application/octet-stream")],
                body=body,
                fetch_started=datetime.now(UTC),
            )
        )
        n += 1
    writer.close()
    [path] = writer.closed_files
    return path


def spool_crawl(
    storage, crawl_id: str = CRAWL, exchanges: int = 3
) -> tuple[list[tuple[str, Path]], bytes]:
    """Write a small crawl into ``storage``'s staging area, as a crawl does; nothing is published.

    Returns the (key, path) of each finished file, and the manifest the crawl would commit.
    """
    directory = storage.staging_path(warc_key(crawl_id, "x")).parent
    writer = RollingWarcWriter(
        directory, namer=WarcFileNamer("T", hostname="h"), warcinfo_fields={"a": "b"}
    )
    for n in range(exchanges):
        writer.write_exchange(article_exchange(n))
    writer.close()
    files = [(warc_key(crawl_id, p.name), p) for p in writer.closed_files]
    text = storage.staging_path(text_key(crawl_id))
    text.write_text("".join(json.dumps({"n": n}) + "\n" for n in range(exchanges)))
    files.append((text_key(crawl_id), text))
    entries = [
        ManifestEntry(key, path.stat().st_size, sha256_file(path), object_kind(key), records)
        for key, path in files
        for records in [1 + 2 * exchanges if key.endswith(".warc.gz") else None]
    ]
    manifest = CrawlManifest(crawl_id, "lifegate", "s", "f", "finished", entries)
    return files, manifest.to_json()
