"""One configuration for every command, and errors a user can read: each subcommand takes
``-s NAME=VALUE`` (S3 endpoint included), bad settings and arguments are one line and exit 2
before anything is written, an unusable store is one line and exit 2 for every command, a held
lock exit 3 (README, "Exit codes"). Commands run as a user runs them: subprocesses, moto for S3."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import ROOT, TEST_CRAWL_SETTINGS, run_cli

# Every command that reads a store, with the arguments it needs besides --store.
STORE_COMMANDS = {
    "verify": [],
    "index": [],
    "coverage": [],
    "reextract": ["--workers", "1"],
    "export": ["--no-reextract"],
    "download": ["v2000.01.01", "--to", "{tmp}"],
    "wacz": ["--out", "{tmp}/out.wacz"],
    "replay": ["--port", "0"],
    "publish": [],
}


def _args(command: str, tmp: Path) -> list[str]:
    return [command, *(a.format(tmp=tmp) for a in STORE_COMMANDS[command])]


def _one_line(process: subprocess.CompletedProcess, command: str) -> str:
    assert "Traceback" not in process.stderr, process.stderr
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1, process.stderr
    assert lines[0].startswith(f"lifegate-archive {command}: "), lines
    return lines[0]


# --- bad arguments and settings: exit 2, one line, nothing written ---------------------------------


@pytest.mark.parametrize(
    ("extra", "names"),
    [
        (["-s", "WARC_GZIP_LEVEL=abc"], "WARC_GZIP_LEVEL"),
        (["-s", "WARC_GZIP_LEVEL=99"], "WARC_GZIP_LEVEL"),
        (["-s", "EXTRACT_WORKERS=abc"], "EXTRACT_WORKERS"),
        (["-s", "CONCURRENT_REQUESTS=-1"], "CONCURRENT_REQUESTS"),
        (["-s", "WARC_MAX_SIZE=-1"], "WARC_MAX_SIZE"),
        (["-s", "NOEQUALS"], "NAME=VALUE"),
        (["--base-url", "not-a-url"], "--base-url"),
        (["--limit", "0"], "--limit"),
        (["--limit", "-5"], "--limit"),
    ],
)
def test_a_bad_setting_or_argument_is_one_line_exit_2_and_writes_nothing(tmp_path, extra, names):
    store = tmp_path / "store"
    process = run_cli("crawl", "--store", str(store), *extra, timeout=60)
    assert process.returncode == 2
    line = _one_line(process, "crawl")
    assert names in line
    assert not store.exists()


def test_a_bad_setting_is_refused_by_every_command(tmp_path):
    for command in ("verify", "export", "reextract", "publish", "coverage"):
        process = run_cli(
            command, "--store", str(tmp_path), "-s", "EXTRACT_WORKERS=abc", timeout=60
        )
        assert process.returncode == 2, (command, process.stderr)
        assert "EXTRACT_WORKERS" in _one_line(process, command)


def test_scrapy_settings_module_is_honoured(tmp_path):
    (tmp_path / "site_settings.py").write_text("WARC_GZIP_LEVEL = 42\n")
    process = subprocess.run(
        [sys.executable, "-m", "cli", "verify", "--store", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        check=False,
        text=True,
        timeout=60,
        env={**_env(), "SCRAPY_SETTINGS_MODULE": "site_settings", "PYTHONPATH": str(tmp_path)},
    )
    assert process.returncode == 2
    assert "WARC_GZIP_LEVEL=42" in _one_line(process, "verify")


def _env() -> dict[str, str]:
    return dict(os.environ)


def test_version():
    process = run_cli("--version", timeout=30)
    assert process.returncode == 0
    from importlib.metadata import version

    assert process.stdout.strip() == f"lifegate-archive {version('lifegate-archive')}"


# --- unusable stores: exit 2, one line, for every command ------------------------------------------


@pytest.mark.parametrize("command", [*sorted(STORE_COMMANDS), "crawl"])
def test_a_regular_file_as_the_store_is_one_line_exit_2(tmp_path, command):
    store = tmp_path / "a-file"
    store.write_text("not a store\n")
    args = (
        ["crawl", "--base-url", "http://127.0.0.1:9"]
        if command == "crawl"
        else _args(command, tmp_path)
    )
    process = run_cli(*args, "--store", str(store), timeout=60)
    if command == "publish":
        assert process.returncode == 0  # nothing spooled for a local store: nothing to do
        return
    assert process.returncode == 2, process.stderr
    assert "not a folder" in _one_line(process, command)


def test_a_store_under_proc_is_one_line_exit_2(tmp_path):
    command = "crawl"
    process = run_cli(
        "crawl", "--base-url", "http://127.0.0.1:9", "--store", "/proc/lifegate-store", timeout=60
    )
    assert process.returncode == 2, process.stderr
    assert "/proc/lifegate-store" in _one_line(process, command)


def test_verify_of_a_warc_replaced_by_a_symlink_is_one_line_exit_2(tmp_path, fixture_site):
    _, running = fixture_site
    store = tmp_path / "store"
    crawled = run_cli(
        "crawl", "--store", str(store), "--base-url", running.base_urls["republisher"],
        "--spider", "republications", "--no-throttle", *TEST_CRAWL_SETTINGS,
    )  # fmt: skip
    assert crawled.returncode == 0, crawled.stderr[-3000:]
    [warc] = store.glob("crawls/*/warc/*.warc.gz")
    outside = tmp_path / "elsewhere.warc.gz"
    warc.rename(outside)
    warc.symlink_to(outside)
    process = run_cli("verify", "--store", str(store), timeout=60)
    assert process.returncode == 2
    line = [x for x in process.stderr.splitlines() if x.startswith("lifegate-archive verify:")]
    assert len(line) == 1 and "escapes the store" in line[0] and "Traceback" not in process.stderr


def test_debug_shows_the_traceback(tmp_path):
    store = tmp_path / "a-file"
    store.write_text("")
    process = run_cli("verify", "--store", str(store), "--debug", timeout=60)
    assert process.returncode == 2 and "Traceback" in process.stderr


def test_a_held_lock_is_exit_3(tmp_path):
    from archive.lock import StoreLock
    from archive.storage import FileStorage

    lock = StoreLock(FileStorage(str(tmp_path)), "other-run")
    lock.acquire()
    try:
        process = run_cli("crawl", "--store", str(tmp_path), "--base-url", "http://127.0.0.1:9")
    finally:
        lock.release()
    assert process.returncode == 3
    assert "in use by run other-run" in _one_line(process, "crawl")


# --- S3: the endpoint setting reaches every command --------------------------------------------------


@pytest.fixture
def dead_default_endpoint(monkeypatch):
    # Were -s AWS_ENDPOINT_URL ignored, boto3 would fall back to this closed port, never to AWS.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")


@pytest.mark.parametrize("command", [*sorted(STORE_COMMANDS), "crawl"])
def test_a_missing_bucket_is_one_line_exit_2(
    s3_server, s3_env, dead_default_endpoint, tmp_path, command
):
    args = (
        ["crawl", "--base-url", "http://127.0.0.1:9"]
        if command == "crawl"
        else _args(command, tmp_path)
    )
    process = run_cli(
        *args, "--store", "s3://no-such-bucket-here/archive",
        "-s", f"AWS_ENDPOINT_URL={s3_server.url}", "-s", f"ARCHIVE_SPOOL_DIR={tmp_path / 'spool'}",
        timeout=60,
    )  # fmt: skip
    if command == "publish":
        assert process.returncode == 0  # an empty spool: nothing to publish, the bucket not asked
        return
    assert process.returncode == 2, process.stderr
    assert "NoSuchBucket" in _one_line(process, command)


def test_every_command_reads_an_s3_store_with_the_endpoint_setting(
    fixture_site, s3_server, bucket, dead_default_endpoint, tmp_path
):
    _, running = fixture_site
    store = f"s3://{bucket}/archive"
    s3 = [
        "-s",
        f"AWS_ENDPOINT_URL={s3_server.url}",
        "-s",
        f"ARCHIVE_SPOOL_DIR={tmp_path / 'spool'}",
    ]
    crawled = run_cli(
        "crawl", "--store", store, "--base-url", running.base_urls["it"], "--limit", "3",
        "--no-throttle", *TEST_CRAWL_SETTINGS, *s3,
    )  # fmt: skip
    assert crawled.returncode == 0, crawled.stderr[-3000:]
    alias = ["--site-alias", f"{urlsplit(running.base_urls['it']).netloc}=lifegate.it"]
    for command in ("verify", "index", "coverage", "reextract", "export"):
        extra = alias if command == "export" else []
        done = run_cli(*_args(command, tmp_path), *extra, "--store", store, *s3, timeout=120)
        assert done.returncode == 0, (command, done.stderr[-3000:])
        if command == "reextract":
            # Its worker processes read the WARCs through the same endpoint setting.
            assert "warc-unreadable" not in done.stdout and "re-extracted 3 of 3" in done.stdout
    datasets = {o["Key"].split("/")[2] for o in _objects(s3_server, bucket, "archive/datasets/")}
    [release] = datasets
    done = run_cli("download", release, "--to", str(tmp_path), "--store", store, *s3, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    done = run_cli("wacz", "--out", str(tmp_path / "all.wacz"), "--store", store, *s3, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    replay = subprocess.Popen(
        [sys.executable, "-m", "cli", "replay", "--port", "0", "--store", store, *s3],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        first = replay.stdout.readline()
    finally:
        replay.terminate()
        replay.communicate(timeout=30)
    assert first.startswith("http://127.0.0.1:")


def _objects(server, bucket: str, prefix: str) -> list[dict]:
    return server.client().list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])


def test_bytes_stored_is_what_the_store_received(fixture_site, tmp_path):
    _, running = fixture_site
    store = tmp_path / "store"
    crawled = run_cli(
        "crawl", "--store", str(store), "--base-url", running.base_urls["republisher"],
        "--spider", "republications", "--no-throttle", *TEST_CRAWL_SETTINGS,
    )  # fmt: skip
    assert crawled.returncode == 0
    [crawl_dir] = (store / "crawls").iterdir()
    report = json.loads((crawl_dir / "report.json").read_text())
    received = sum(
        p.stat().st_size
        for p in crawl_dir.rglob("*")
        # The report and manifest describe the rest; the index is derived, built after the commit.
        if p.is_file() and p.name not in ("report.json", "manifest.json", "index.cdxj")
    )
    assert report["bytes"]["stored"] == received > 0


# --- --limit, quiet crawls -------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 4])
def test_limit_n_writes_n_article_records(fixture_site, tmp_path, limit):
    _, running = fixture_site
    store = tmp_path / "store"
    process = run_cli(
        "crawl", "--store", str(store), "--base-url", running.base_urls["it"], "--no-throttle",
        "--limit", str(limit), *TEST_CRAWL_SETTINGS,
    )  # fmt: skip
    assert process.returncode == 0, process.stderr[-3000:]
    [text] = store.glob("crawls/*/text/articles.jsonl")
    assert len(text.read_text().splitlines()) == limit
    [manifest] = store.glob("crawls/*/manifest.json")
    assert json.loads(manifest.read_text())["status"] == "closespider_itemcount"


def test_a_crawl_is_quiet_unless_verbose(fixture_site, tmp_path):
    _, running = fixture_site
    quiet = run_cli(
        "crawl", "--store", str(tmp_path / "quiet"), "--base-url", running.base_urls["republisher"],
        "--spider", "republications", "--no-throttle", *TEST_CRAWL_SETTINGS,
    )  # fmt: skip
    assert quiet.returncode == 0
    assert "ScrapyDeprecationWarning" not in quiet.stderr and "Disabled" not in quiet.stderr
    assert "Spider opened" not in quiet.stderr
    assert len((quiet.stdout + quiet.stderr).splitlines()) <= 5
    [log] = (tmp_path / "quiet").glob("crawls/*/crawl.log")
    assert "Overridden settings" in log.read_text() and "Archiving crawl" in log.read_text()
    verbose = run_cli(
        "crawl", "--store", str(tmp_path / "verbose"), "--base-url", running.base_urls["republisher"],
        "--spider", "republications", "--no-throttle", "--verbose", *TEST_CRAWL_SETTINGS,
    )  # fmt: skip
    assert verbose.returncode == 0 and "Spider opened" in verbose.stderr
