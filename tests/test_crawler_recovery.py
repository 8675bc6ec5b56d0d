"""A crawl killed with SIGKILL keeps what it wrote; the next run recovers it and completes the archive."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

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
        command = crawl_command(
            store, base, "-s", "WARC_MAX_SIZE=150000", "-s", "CONCURRENT_REQUESTS=2"
        )
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", *command],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        watched = None
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                closed = list(store.glob("crawls/*/warc/*.warc.gz"))
                # An .open file that holds a whole record: the kill must not tear what is written.
                # (Right after a rollover it may hold none yet.)
                opened = list(store.glob("crawls/*/warc/*.open"))
                if len(closed) >= 2 and opened and count_complete_records(opened[0]) >= 1:
                    watched = opened[0]
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
            records, problems = check_warc(
                storage, path.relative_to(store).as_posix(), path.stat().st_size
            )
            assert records > 1 and problems == []
        [open_file] = list((killed_dir / "warc").glob("*.open"))
        with open(open_file, "rb") as fh:
            scan = scan_members(fh, open_file.stat().st_size)
        # Readable up to its last whole record: the file watched before the kill held one; a file
        # that a rollover opened in between may hold none yet.
        assert scan.members >= 1 or open_file != watched

        second = run_cli(*crawl_command(store, base))
        result = finished_crawl(store, second, "lifegate")

    manifest = json.loads((killed_dir / "manifest.json").read_text())
    assert manifest["status"] == "recovered"
    assert not list(store.rglob("*.open"))
    verify = run_cli("verify", "--store", str(store))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    urls = {r["url"] for r in result.text_records}
    assert {base + a.path for a in site.articles if a.site == "it"} <= urls


def _start_crawl(store: Path, base: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli",
            *crawl_command(store, base, "-s", "CONCURRENT_REQUESTS=2", *extra),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_for_records(
    store: Path, process: subprocess.Popen, minimum_bytes: int, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        sizes = [p.stat().st_size for p in store.glob("crawls/*/warc/*.open")]
        if sizes and max(sizes) >= minimum_bytes:
            return
        time.sleep(0.05)


def _text_records_by_url(store: Path) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = {}
    for path in sorted(store.glob("crawls/*/text/articles.jsonl")):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            seen.setdefault(record["url"], []).append(record["text_sha256"])
    return seen


def test_repeated_kills_then_a_normal_run_leave_every_article_exactly_once(tmp_path):
    import random

    rng = random.Random(20261128)
    store = tmp_path / "store"
    site = FixtureSite(include_faults=False, extra_articles=60)
    with site.serve(host="127.0.0.1") as running:
        base = running.base_urls["it"]
        for _ in range(3):
            process = _start_crawl(store, base)
            try:
                _wait_for_records(store, process, rng.randint(20_000, 400_000))
                time.sleep(rng.random())
                os.kill(process.pid, signal.SIGKILL)
            finally:
                process.wait(timeout=30)
        final = finished_crawl(store, run_cli(*crawl_command(store, base)), "lifegate")

    assert final.manifest["status"] == "finished"
    by_url = _text_records_by_url(store)
    articles = {base + a.path for a in site.articles if a.site == "it"}
    assert articles <= set(by_url)
    duplicated = {url: shas for url, shas in by_url.items() if len(shas) != len(set(shas))}
    assert not duplicated
    verify = run_cli("verify", "--store", str(store))
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_sigterm_finishes_cleanly_and_commits(tmp_path):
    store = tmp_path / "store"
    site = FixtureSite(include_faults=False, extra_articles=120)
    with site.serve(host="127.0.0.1") as running:
        base = running.base_urls["it"]
        process = _start_crawl(store, base)
        _wait_for_records(store, process, 100_000)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        [crawl_dir] = list((store / "crawls").iterdir())
        manifest = json.loads((crawl_dir / "manifest.json").read_text())
        assert manifest["status"] == "shutdown"
        assert not list(store.rglob("*.open"))
        assert not (store / "locks" / "crawl.lock").exists()
        report = json.loads((crawl_dir / "report.json").read_text())
        assert report["ok"] is True
        final = finished_crawl(store, run_cli(*crawl_command(store, base)), "lifegate")
    assert final.manifest["status"] == "finished"
    by_url = _text_records_by_url(store)
    assert {base + a.path for a in site.articles if a.site == "it"} <= set(by_url)
    assert all(len(shas) == 1 for shas in by_url.values())


def _descendants(pid: int) -> dict[int, str]:
    """Live descendants of ``pid`` and their command lines (zombies count as gone)."""
    found: dict[int, str] = {}
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            for child in children:
                try:
                    cmdline = (
                        Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                    )
                except OSError:
                    continue
                found[child] = cmdline
                todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


@pytest.mark.skipif(
    not Path("/proc/self/task").exists(), reason="reads the process tree from /proc"
)
def test_a_killed_crawl_leaves_no_extraction_workers_behind(tmp_path):
    store = tmp_path / "store"
    site = FixtureSite(include_faults=False, extra_articles=60)
    with site.serve(host="127.0.0.1") as running:
        process = _start_crawl(store, running.base_urls["it"])
        try:
            _wait_for_records(store, process, 150_000)
            workers = {p: c for p, c in _descendants(process.pid).items() if "multiprocessing" in c}
            assert workers, "the crawl should have started its extraction workers"
            os.kill(process.pid, signal.SIGKILL)
        finally:
            process.wait(timeout=30)
    # They hold their own queue's pipes open, so only their watch on the crawler can end them.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(_alive(pid) for pid in workers):
        time.sleep(0.2)
    left = {pid: cmd for pid, cmd in workers.items() if _alive(pid)}
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left
