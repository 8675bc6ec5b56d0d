"""Compatibility: pywb replays this project's WARC files through this project's CDXJ index.

pywb pins old dependencies, so it lives in its own virtual environment, which `.ci/run` builds as
`.pywb-venv/` (or point LIFEGATE_PYWB_VENV at one); without it the test is skipped.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.indexer import build_indexes
from archive.storage import FileStorage
from tests.conftest import ROOT
from tests.loopback import free_port

VENV = Path(os.environ.get("LIFEGATE_PYWB_VENV", ROOT / ".pywb-venv"))
WAYBACK = VENV / "bin" / "wayback"
pytestmark = pytest.mark.skipif(not WAYBACK.exists(), reason=f"no pywb in {VENV} (.ci/run builds it)")



def archived_bodies(crawl) -> dict[str, bytes]:
    bodies = {}
    for path in crawl.warc_files:
        with open(path, "rb") as fh:
            for record in ArchiveIterator(fh):
                uri = record.rec_headers.get_header("WARC-Target-URI")
                if record.rec_type == "response" and record.http_headers.get_statuscode() == "200":
                    bodies.setdefault(uri, record.content_stream().read())
    return bodies


def test_pywb_replays_our_warcs_from_our_index(it_crawl, tmp_path):
    import shutil

    store = tmp_path / "store"
    shutil.copytree(it_crawl.store, store)
    build_indexes(FileStorage(str(store)))
    (tmp_path / "config.yaml").write_text(
        "collections:\n"
        "  lifegate:\n"
        f"    index_paths: {store / 'indexes' / 'all.cdxj'}\n"
        f"    archive_paths: {store}/\n"
    )
    port = free_port()
    server = subprocess.Popen(
        [str(WAYBACK), "-b", "127.0.0.1", "-p", str(port)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.1)
        bodies = archived_bodies(it_crawl)
        checked = 0
        for record in it_crawl.text_records[:5]:
            url = record["url"]
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/lifegate/2026id_/{url}", timeout=30) as response:
                assert response.status == 200
                assert response.read() == bodies[url]
            checked += 1
        assert checked == 5
    finally:
        server.terminate()
        server.wait(timeout=30)
