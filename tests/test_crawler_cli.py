"""The command line: demo, fixture-site, clear errors, and the safety of the default settings."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request

from cli import main
from tests.conftest import ROOT, run_cli


def test_demo_archives_every_fixture_article_offline(tmp_path):
    from fixture_site import FixtureSite

    store = tmp_path / "demo"
    result = run_cli("demo", "--store", str(store))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert "Next:" in result.stdout and "lifegate-archive verify" in result.stdout
    site = FixtureSite(include_faults=False)
    expected = {
        "lifegate": len([a for a in site.articles if a.site in ("it", "en")]),
        "republications": len([a for a in site.articles if a.site == "republisher" and a.credits_lifegate]),
    }
    counts = {"lifegate": 0, "republications": 0}
    for crawl in (store / "crawls").iterdir():
        manifest = json.loads((crawl / "manifest.json").read_text())
        counts[manifest["spider"]] += manifest["stats"].get("extract/records", 0)
    assert counts == expected
    assert "Public Suffix" not in result.stderr  # nothing reached for the internet
    assert run_cli("verify", "--store", str(store)).returncode == 0
    # Quiet: progress lines and the summary; Scrapy's log is in each crawl's crawl.log.
    output = (result.stdout + result.stderr).splitlines()
    assert len(output) < 60, "\n".join(output)
    assert not [line for line in output if "Warning" in line or "Disabled" in line]
    for crawl in (store / "crawls").iterdir():
        assert "Archiving crawl" in (crawl / "crawl.log").read_text()


def test_fixture_site_command_prints_its_base_url_first(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "fixture-site", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        first = process.stdout.readline().strip()
        assert first.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(first + "/robots.txt", timeout=10) as response:
            assert b"Sitemap:" in response.read()
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


def _serve_fixture_site(*extra: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "fixture-site", "--port", "0", *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    return process, process.stdout.readline().strip()


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_fixture_site_is_quick_unless_faults_are_asked_for(tmp_path):
    import time

    process, base = _serve_fixture_site()
    try:
        assert _status(base + "/fault/slow") == 404
        with urllib.request.urlopen(base + "/", timeout=10) as response:
            assert b"/fault/" not in response.read()
        # The README's crawl of the fixture site by hand finishes in seconds.
        started = time.monotonic()
        crawled = run_cli("crawl", "--store", str(tmp_path / "store"), "--base-url", base,
                          "--no-throttle", "-s", "EXTRACT_WORKERS=1", timeout=120)
        assert crawled.returncode == 0, crawled.stderr[-3000:]
        assert time.monotonic() - started < 45
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()
    process, base = _serve_fixture_site("--faults")
    try:
        with urllib.request.urlopen(base + "/", timeout=10) as response:
            assert b"/fault/slow" in response.read()
        assert _status(base + "/fault/flaky-500") == 500
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


def test_wrong_store_scheme_is_one_line_and_nonzero(capsys):
    assert main(["crawl", "--store", "gs://bucket/x"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("lifegate-archive crawl: no storage for gs:// URIs (known: file://")


def test_verify_of_an_empty_store_fails_clearly(tmp_path, capsys):
    assert main(["verify", "--store", str(tmp_path)]) == 1
    assert "no crawls" in capsys.readouterr().err


def test_extract_command_prints_a_record(tmp_path, capsys):
    page = ROOT / "tests" / "extraction_cases"
    case = min(p for p in page.iterdir() if (p / "page.html").exists())
    meta = json.loads((case / "meta.json").read_text())
    assert main(["extract", str(case / "page.html"), "--url", meta["url"]]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["url"] == meta["url"] and record["text"]
    assert main(["extract", str(case / "page.html"), "--url", meta["url"], "--format", "txt"]) == 0
    assert capsys.readouterr().out.strip() == record["text"].strip()


def test_defaults_are_polite_and_expose_no_remote_control():
    from cli.settings import project_settings as _project_settings

    settings = _project_settings()
    assert settings.getbool("ROBOTSTXT_OBEY") and settings.getbool("AUTOTHROTTLE_ENABLED")
    assert not settings.getbool("TELNETCONSOLE_ENABLED")
    assert not settings.getbool("REMOTE_CONTROL_ENABLED")
    assert settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN") <= 2
    assert "+http" in settings.get("USER_AGENT")
    assert settings.getdict("DOWNLOADER_MIDDLEWARES")["crawler.warc_capture.WarcCaptureMiddleware"] > 900


def test_secrets_are_refused_on_the_command_line(capsys):
    assert main(["crawl", "-s", "AWS_SECRET_ACCESS_KEY=hunter2"]) == 2
    [message] = capsys.readouterr().err.strip().splitlines()
    assert "environment" in message and "hunter2" not in message
