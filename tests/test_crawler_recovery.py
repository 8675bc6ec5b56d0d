"""A crawl killed with SIGKILL keeps what it wrote; the next run recovers it and completes the archive."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from archive.gzip_members import scan_members
from archive.storage import FileStorage
from archive.verify import check_warc
from fixture_site import FixtureSite
from tests.conftest import ROOT, crawl_command, finished_crawl, run_cli


def count_complete_records(path: Path) -> int:
    with open(path, "rb") as fh:
        return scan_members(fh, path.stat().st_size).members


def test_sigkill_then_rerun_completes_the_archive(tmp_path):
    store = tmp_path / "store"
    site = FixtureSite(include_faults=False, extra_articles=120)
    with site.serve(host="127.0.0.1") as running:
        base = running.base_urls["it"]
        # Small files so the killed crawl has closed WARCs as well as an .open one.
        command = crawl_command(store, base, "-s", "WARC_MAX_SIZE=150000", "-s", "CONCURRENT_REQUESTS=2")
        process = subprocess.Popen(
            [sys.executable, "-m", "crawler.cli", *command],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                closed = list(store.glob("crawls/*/warc/*.warc.gz"))
                if len(closed) >= 2 and list(store.glob("crawls/*/warc/*.open")):
                    break
                assert process.poll() is None, "the crawl ended before it could be killed"
                time.sleep(0.05)
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()

        [killed_dir] = list((store / "crawls").iterdir())
        assert not (killed_dir / "manifest.json").exists()
        storage = FileStorage(str(store))
        for path in (killed_dir / "warc").glob("*.warc.gz"):
            records, problems = check_warc(storage, path.relative_to(store).as_posix(), path.stat().st_size)
            assert records > 1 and problems == []
        [open_file] = list((killed_dir / "warc").glob("*.open"))
        with open(open_file, "rb") as fh:
            scan = scan_members(fh, open_file.stat().st_size)
        assert scan.members >= 1  # readable up to its last whole record

        second = run_cli(*crawl_command(store, base))
        result = finished_crawl(store, second, "lifegate")

    manifest = json.loads((killed_dir / "manifest.json").read_text())
    assert manifest["status"] == "recovered"
    assert not list(store.rglob("*.open"))
    verify = run_cli("verify", "--store", str(store))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    urls = {r["url"] for r in result.text_records}
    assert {base + a.path for a in site.articles if a.site == "it"} <= urls
