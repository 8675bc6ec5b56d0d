"""Scheduled crawls tell the truth: a run that archived nothing fails in bounded time with one line
naming the cause, an unreachable host never holds a crawl open, and SIGINT/SIGTERM stop a crawl
within seconds from any phase. Each test runs the command as a scheduler would (a subprocess)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from fixture_site.hostile import UNRESOLVABLE_IMAGE, HostileSite
from tests.conftest import ROOT, crawl_command, run_cli

# A scheduler's grace period is shorter than a crawl's natural waits: a stop must take less.
STOP_BOUND = 30.0


@pytest.fixture(scope="module")
def hostile():
    with HostileSite().serve() as running:
        yield running


def _report(store: Path) -> dict:
    [report] = store.glob("crawls/*/report.json")
    return json.loads(report.read_text())


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the block ends: connections are refused


@pytest.mark.parametrize(
    ("base", "cause"),
    [
        ("http://www.lifegate.invalid", "site-unreachable www.lifegate.invalid: DNS lookup failed"),
        ("http://127.0.0.1:{port}", "site-unreachable 127.0.0.1:{port}: connection refused"),
    ],
    ids=["dns", "refused"],
)
def test_an_unreachable_site_is_a_failed_run_with_one_line(tmp_path, base, cause):
    port = _closed_port()
    base, cause = base.format(port=port), cause.format(port=port)
    started = time.monotonic()
    # The robots.txt retry (300 s by default) is given up once it is all that is left.
    process = run_cli(*crawl_command(tmp_path, base, "-s", "ARCHIVE_IDLE_WAIT_MAX=3"), timeout=120)
    assert time.monotonic() - started < 60
    assert process.returncode == 1, process.stdout + process.stderr[-3000:]
    assert process.stderr.strip().splitlines()[-1] == f"lifegate-archive crawl: {cause}"
    assert "Traceback" not in process.stderr
    report = _report(tmp_path)
    assert report["ok"] is False and report["failure"] == cause
    assert report["summary"].startswith("FAILED") and "OK" not in report["summary"]


def test_a_run_that_archived_no_page_is_a_failed_run(tmp_path):
    # robots.txt not consulted: every page fails on its own, and nothing is archived.
    process = run_cli(
        *crawl_command(tmp_path, "http://www.lifegate.invalid", "-s", "ROBOTSTXT_OBEY=False"),
        timeout=120,
    )
    assert process.returncode == 1
    last = process.stderr.strip().splitlines()[-1]
    assert last.startswith("lifegate-archive crawl: nothing-archived: no page answered"), last
    assert _report(tmp_path)["ok"] is False


def test_a_crawl_where_nothing_finishes_ends_as_no_progress(hostile, tmp_path):
    # robots-timeout accepts and never answers; the download timeout alone would take minutes.
    started = time.monotonic()
    process = run_cli(
        *crawl_command(
            tmp_path, hostile.base_urls["robots-timeout"],
            "-s", "DOWNLOAD_TIMEOUT=600", "-s", "ARCHIVE_NO_PROGRESS_TIMEOUT=5",
        ),
        timeout=120,
    )  # fmt: skip
    assert time.monotonic() - started < 60
    assert process.returncode == 1
    last = process.stderr.strip().splitlines()[-1]
    assert last == "lifegate-archive crawl: no-progress: no request finished in 5s", last


def test_a_site_that_fails_tls_is_a_failed_run(hostile, tmp_path):
    # An HTTP server asked for HTTPS: the handshake fails on every try.
    netloc = urlsplit(hostile.base_urls["robots-404"]).netloc
    process = run_cli(
        *crawl_command(tmp_path, f"https://{netloc}", "-s", "ARCHIVE_IDLE_WAIT_MAX=3"), timeout=120
    )
    assert process.returncode == 1
    assert process.stderr.strip().splitlines()[-1] == (
        f"lifegate-archive crawl: site-unreachable {netloc}: TLS handshake failed"
    )


def test_a_site_whose_robots_txt_answers_5xx_on_every_try_is_a_failed_run(hostile, tmp_path):
    base = hostile.base_urls["robots-500"]
    process = run_cli(*crawl_command(tmp_path, base, "-s", "ARCHIVE_IDLE_WAIT_MAX=3"), timeout=120)
    assert process.returncode == 1, process.stdout + process.stderr[-3000:]
    host = urlsplit(base).netloc
    assert process.stderr.strip().splitlines()[-1] == (
        f"lifegate-archive crawl: site-unreachable {host}: robots.txt answered HTTP 500"
    )
    assert _report(tmp_path)["ok"] is False


def test_the_default_bounds_keep_a_failed_run_short():
    from cli.settings import project_settings

    settings = project_settings()
    assert 0 < settings.getfloat("ARCHIVE_NO_PROGRESS_TIMEOUT") <= 180
    assert 0 < settings.getfloat("ARCHIVE_IDLE_WAIT_MAX") <= 60


def test_an_unreachable_image_host_is_skipped_not_waited_for(hostile, tmp_path):
    # robots.txt retries keep their default 300 s delay and ARCHIVE_IDLE_WAIT_MAX its default 60 s:
    # a retry that cannot come within the bound is given up as soon as the rest is done.
    started = time.monotonic()
    process = run_cli(*crawl_command(tmp_path, hostile.base_urls["main"]), timeout=240)
    assert process.returncode == 0, process.stdout + process.stderr[-3000:]
    assert time.monotonic() - started < 55
    [crawl_dir] = (tmp_path / "crawls").iterdir()
    events = [json.loads(line) for line in (crawl_dir / "events.jsonl").read_text().splitlines()]
    [skipped] = [e for e in events if e["url"] == UNRESOLVABLE_IMAGE and e["kind"] == "skipped"]
    assert skipped["case"] == "robots-unreachable" and skipped["host"] == "cdn.lifegate.invalid"
    assert "DNS lookup failed" in skipped["reason"]
    report = _report(tmp_path)
    assert report["ok"] is True
    [host] = [h for h in report["skipped_hosts"] if h["host"] == "cdn.lifegate.invalid"]
    assert host["reason"] == "DNS lookup failed" and host["urls"] >= 1


# --- stops stop --------------------------------------------------------------------------------


def _start(store: Path, base: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "cli", *crawl_command(store, base, *extra)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_request(running, host: str, path: str, process: subprocess.Popen) -> float:
    since = time.monotonic()
    deadline = since + 90
    while time.monotonic() < deadline and process.poll() is None:
        if any(p == path and t > since for p, t in running.requests(host)):
            return time.monotonic()
        time.sleep(0.1)
    process.kill()
    raise AssertionError(f"{path} on {host} was never requested: {process.communicate()}")


# Each phase: the host crawled, the request that puts the crawl into it, extra settings.
PHASES = {
    # robots.txt answers 500: its retry is due in 40 s, within ARCHIVE_IDLE_WAIT_MAX, so the
    # crawl waits for it (a retry due later than the bound is given up at once).
    "robots-retry-wait": (
        "robots-500", "robots-500", "/robots.txt", ("-s", "ARCHIVE_ROBOTS_RETRY_DELAY=40"),
    ),
    # 503 with Retry-After: 86400, honoured here (ARCHIVE_RETRY_AFTER_MAX raised).
    "retry-after-wait": (
        "main", "main", "/hostile/closed-for-a-day", ("-s", "ARCHIVE_RETRY_AFTER_MAX=100000"),
    ),
    # A server that accepts and never answers, with the default 60 s DOWNLOAD_TIMEOUT.
    "slow-download": ("main", "main", "/hostile/hang", ("-s", "DOWNLOAD_TIMEOUT=60")),
}  # fmt: skip


@pytest.mark.parametrize("phase", sorted(PHASES))
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_the_crawl_promptly_and_commits(hostile, tmp_path, phase, signum):
    crawled, host, path, extra = PHASES[phase]
    process = _start(tmp_path, hostile.base_urls[crawled], *extra)
    _wait_for_request(hostile, host, path, process)
    time.sleep(1.0)  # into the wait
    process.send_signal(signum)
    signalled = time.monotonic()
    try:
        stdout, stderr = process.communicate(timeout=STOP_BOUND + 30)
    finally:
        process.kill()
    assert time.monotonic() - signalled < STOP_BOUND
    assert process.returncode == 0, stdout + stderr[-3000:]
    assert "Traceback" not in stderr
    [manifest] = tmp_path.glob("crawls/*/manifest.json")
    assert json.loads(manifest.read_text())["status"] == "shutdown"
    assert not list(tmp_path.rglob("*.open"))
    # Nothing is requested after the stop began (a moment allowed for the signal to land).
    late = [p for key in hostile.base_urls for p, t in hostile.requests(key) if t > signalled + 0.5]
    assert late == []


def test_a_second_signal_exits_at_once_and_the_next_run_recovers(hostile, tmp_path):
    process = _start(tmp_path, hostile.base_urls["main"], "-s", "DOWNLOAD_TIMEOUT=60")
    _wait_for_request(hostile, "main", "/hostile/hang", process)
    process.send_signal(signal.SIGTERM)
    time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    try:
        _, stderr = process.communicate(timeout=20)
    finally:
        process.kill()
    assert time.monotonic() - signalled < 5
    assert process.returncode != 0 and "exiting now" in stderr
    # The lock of the dead process is taken over and its crawl recovered by the next run.
    again = run_cli(
        *crawl_command(tmp_path, hostile.base_urls["robots-404"], "-s", "ARCHIVE_IDLE_WAIT_MAX=3"),
        timeout=120,
    )
    assert "in use" not in again.stderr
    assert not list(tmp_path.rglob("*.open"))
    statuses = [
        json.loads(p.read_text())["status"] for p in tmp_path.glob("crawls/*/manifest.json")
    ]
    assert len(statuses) == 2


def test_a_signal_while_publishing_to_a_store_gone_down_stops_promptly(
    fixture_site, s3_server, bucket, tmp_path
):
    from tests.s3_fixtures import FlakyProxy

    _, running = fixture_site
    proxy = FlakyProxy(s3_server.port)
    spool = tmp_path / "spool"
    process = _start(
        tmp_path / "unused", running.base_urls["republisher"], "--spider", "republications",
        "--store", f"s3://{bucket}/archive",
        "-s", f"AWS_ENDPOINT_URL={proxy.url}", "-s", f"ARCHIVE_SPOOL_DIR={spool}",
        # Left alone, the uploads would be retried for 10 minutes.
        "-s", "ARCHIVE_PUBLISH_RETRIES=1000", "-s", "ARCHIVE_PUBLISH_BACKOFF=2",
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not list(spool.rglob("crawl.log.open")):
            time.sleep(0.05)
        proxy.cut()  # the store goes away once the crawl has started
        # The log is closed (renamed crawl.log) once the crawl's files are handed to the uploads.
        while time.monotonic() < deadline and not list(spool.rglob("crawl.log")):
            time.sleep(0.1)
        time.sleep(2)  # into the uploads' retries
        process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        _, stderr = process.communicate(timeout=STOP_BOUND + 30)
        assert time.monotonic() - signalled < STOP_BOUND
    finally:
        process.kill()
        proxy.close()
    # Not committed, and saying so; everything waits in the spool for `publish`.
    assert process.returncode == 1
    assert "store-failed" in stderr.strip().splitlines()[-1] and "Traceback" not in stderr, stderr
    assert list(spool.rglob("manifest.json")) and list(spool.rglob("*.warc.gz"))


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads child processes from /proc")
def test_ctrl_c_while_the_extraction_workers_start_stops_cleanly(fixture_site, tmp_path):
    # Ctrl-C in a terminal reaches the whole process group, the extraction workers included, and
    # here arrives while they are still importing, before they can ignore it.
    _, running = fixture_site
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", *crawl_command(tmp_path, running.base_urls["it"])],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None and not _children(process.pid):
            time.sleep(0.005)
        time.sleep(0.1)
        os.killpg(process.pid, signal.SIGINT)
        signalled = time.monotonic()
        stdout, stderr = process.communicate(timeout=STOP_BOUND + 30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    assert time.monotonic() - signalled < STOP_BOUND
    assert process.returncode == 0, stdout + stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
