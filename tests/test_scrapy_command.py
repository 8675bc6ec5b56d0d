"""``scrapy crawl`` fails as ``lifegate-archive crawl`` does: schedulers judge a job by its exit status."""

from __future__ import annotations

import subprocess
import sys

from archive.lock import StoreLock
from archive.storage import FileStorage
from tests.conftest import ROOT, TEST_CRAWL_SETTINGS


def test_scrapy_crawl_exits_non_zero_when_the_archive_fails(fixture_site, tmp_path):
    _, running = fixture_site
    store = tmp_path / "store"
    # Another live run holds the store: the archive cannot open (finish reason archive-failed).
    lock = StoreLock(FileStorage(str(store)), "another-run")
    lock.acquire()
    try:
        process = subprocess.run(
            [
                sys.executable,
                "-m",
                "scrapy",
                "crawl",
                "lifegate",
                "-a",
                f"base_url={running.base_urls['it']}",
                "-s",
                f"ARCHIVE_STORE={store}",
                *TEST_CRAWL_SETTINGS,
            ],
            cwd=ROOT,
            check=False,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        lock.release()
    assert process.returncode == 1, process.stderr[-3000:]
    assert "archive-failed" in process.stderr
    assert not list(store.glob("crawls/*/manifest.json"))
