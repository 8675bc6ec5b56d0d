"""Shared fixtures: the fixture site on 127.0.0.1 and crawls of it into temporary stores."""

from __future__ import annotations

pytest_plugins = ["tests.s3_fixtures"]

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from fixture_site import FixtureSite

ROOT = Path(__file__).resolve().parent.parent

# Fast, loopback-only crawling: politeness delays off, short timeouts for the slow fault page.
TEST_CRAWL_SETTINGS = [
    "-s", "DOWNLOAD_TIMEOUT=3",
    "-s", "RETRY_TIMES=1",
    "-s", "ARCHIVE_PROGRESS_INTERVAL=0",
    "-s", "EXTRACT_WORKERS=2",
]


def run_cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def crawl_command(store: Path, base_url: str, *extra: str) -> list[str]:
    return ["crawl", "--store", str(store), "--base-url", base_url, "--no-throttle", *TEST_CRAWL_SETTINGS, *extra]


@dataclass
class CrawlResult:
    """One finished crawl of the fixture site: its store, process output and committed files."""

    store: Path
    process: subprocess.CompletedProcess
    crawl_dir: Path
    # What the fixture site served while this crawl ran (other tests also fetch from it directly).
    served: list = field(default_factory=list)

    @property
    def manifest(self) -> dict:
        return json.loads((self.crawl_dir / "manifest.json").read_text())

    @property
    def text_records(self) -> list[dict]:
        path = self.crawl_dir / "text" / "articles.jsonl"
        if not path.exists():  # a run that found nothing new writes no text file
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    @property
    def events(self) -> list[dict]:
        path = self.crawl_dir / "events.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    @property
    def warc_files(self) -> list[Path]:
        return sorted((self.crawl_dir / "warc").glob("*.warc.gz"))


def finished_crawl(store: Path, process: subprocess.CompletedProcess, spider: str) -> CrawlResult:
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-6000:]
    [crawl_dir] = [p for p in sorted((store / "crawls").iterdir()) if p.name.endswith(f"-{spider}")][-1:]
    return CrawlResult(store, process, crawl_dir)


@pytest.fixture(scope="session")
def fixture_site():
    site = FixtureSite(include_faults=True)
    with site.serve(host="127.0.0.1") as running:
        yield site, running


@pytest.fixture(scope="session")
def it_crawl(fixture_site, tmp_path_factory) -> CrawlResult:
    """The lifegate.it fixture site crawled once, faults included."""
    _, running = fixture_site
    store = tmp_path_factory.mktemp("it-store")
    before = len(running.requests)
    # A lock stale after 10 s is renewed every second: the crawl's heartbeats get exercised.
    lock = ("-s", "ARCHIVE_LOCK_STALE_AFTER=10")
    process = run_cli(*crawl_command(store, running.base_urls["it"], *lock))
    result = finished_crawl(store, process, "lifegate")
    result.served = running.requests[before:]
    return result


@pytest.fixture(scope="session")
def en_crawl(fixture_site, tmp_path_factory) -> CrawlResult:
    _, running = fixture_site
    store = tmp_path_factory.mktemp("en-store")
    process = run_cli(*crawl_command(store, running.base_urls["en"], "--site", "com"))
    return finished_crawl(store, process, "lifegate")


@pytest.fixture(scope="session")
def republication_crawl(fixture_site, tmp_path_factory) -> CrawlResult:
    _, running = fixture_site
    store = tmp_path_factory.mktemp("republisher-store")
    urls = running.base_urls
    process = run_cli(
        *crawl_command(
            store,
            urls["republisher"],
            "--spider", "republications",
            "--lifegate-base-url", urls["it"],
            "--lifegate-base-url", urls["en"],
        )
    )
    return finished_crawl(store, process, "republications")


# What setuptools needs to build the package (wheel, scrapyd egg).
PACKAGED = ["pyproject.toml", "README.md", "LICENSE", "scrapy.cfg", "cli", "crawler", "pipelines", "archive", "fixture_site"]


def project_copy(dest: Path) -> Path:
    """The packaged part of the project copied to ``dest``: builds write build/, *.egg-info and
    (scrapyd-deploy) setup.py there, not into the source tree."""
    import shutil

    for name in PACKAGED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, dest / name)
    return dest
