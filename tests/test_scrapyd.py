"""The project deployed to a real scrapyd on 127.0.0.1, as users deploy it (scrapy.cfg, scrapyd-deploy).

The egg activates (its ``[scrapy] settings`` entry point), both spiders list, a job scheduled through
``schedule.json`` crawls the fixture site into a store and commits, and a job whose archive fails
ends with a non-zero exit status, which is how scrapyd tells a failed job.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Self

import pytest

from archive.lock import StoreLock
from archive.storage import FileStorage
from tests.conftest import ROOT, TEST_CRAWL_SETTINGS, project_copy
from tests.loopback import free_port

pytest.importorskip("scrapyd", reason="scrapyd is not installed (pip install -e '.[test]')")
pytest.importorskip(
    "scrapyd_client", reason="scrapyd-client is not installed (pip install -e '.[test]')"
)

PROJECT = "lifegate"
# The loopback crawl of tests/conftest.py, as scrapyd `setting=` parameters.
JOB_SETTINGS = [
    *TEST_CRAWL_SETTINGS[1::2],
    "AUTOTHROTTLE_ENABLED=False",
    "DOWNLOAD_DELAY=0",
    "CONCURRENT_REQUESTS_PER_DOMAIN=8",
]



class Scrapyd:
    """A scrapyd started in a temporary folder with its own configuration; its log is a file."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = home / "scrapyd.out"
        (home / "scrapyd.conf").write_text(
            "[scrapyd]\n"
            f"bind_address = 127.0.0.1\nhttp_port = {self.port}\n"
            f"eggs_dir = {home / 'eggs'}\nlogs_dir = {home / 'logs'}\ndbs_dir = {home / 'dbs'}\n"
            "items_dir =\njobs_to_keep = 5\npoll_interval = 0.5\nmax_proc = 2\n"
        )
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Self:
        with self.log.open("wb") as out:
            # The folder is its working directory: scrapyd reads ./scrapyd.conf, and its jobs find
            # the project only in the deployed egg.
            self.process = subprocess.Popen(
                [sys.executable, "-m", "scrapyd"],
                cwd=self.home,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while True:
            try:
                self.get("daemonstatus.json")
                return self
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"scrapyd did not start:\n{self.log.read_text()[-3000:]}"
                    ) from None
                time.sleep(0.2)

    def __exit__(self, *exc_info) -> None:
        assert self.process is not None
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def get(self, endpoint: str, **params: str) -> dict:
        url = self.url + endpoint + ("?" + urllib.parse.urlencode(params) if params else "")
        with urllib.request.urlopen(url, timeout=60) as response:
            return json.loads(response.read())

    def post(self, endpoint: str, fields: list[tuple[str, str]]) -> dict:
        data = urllib.parse.urlencode(fields).encode()
        with urllib.request.urlopen(self.url + endpoint, data=data, timeout=60) as response:
            answer = json.loads(response.read())
        assert answer["status"] == "ok", answer
        return answer

    def run_job(self, spider: str, store: Path, **spider_args: str) -> str:
        """Schedule a job, wait until its process has ended; returns scrapyd's line about it."""
        fields = [("project", PROJECT), ("spider", spider), ("setting", f"ARCHIVE_STORE={store}")]
        fields += [("setting", setting) for setting in JOB_SETTINGS]
        fields += list(spider_args.items())
        job = self.post("schedule.json", fields)["jobid"]
        ended = re.compile(rf"Process (?:finished|died)[^\n]*job='{job}'")
        deadline = time.monotonic() + 240
        while not (found := ended.search(self.log.read_text(errors="replace"))):
            assert time.monotonic() < deadline, (
                f"job {job} did not end:\n{self.log.read_text()[-3000:]}"
            )
            time.sleep(0.5)
        return found.group(0)

    def job_log(self, spider: str) -> str:
        return "\n".join(
            p.read_text(errors="replace")
            for p in sorted((self.home / "logs").rglob(f"{spider}/*.log"))
        )


@pytest.fixture(scope="module")
def scrapyd(tmp_path_factory):
    home = tmp_path_factory.mktemp("scrapyd")
    # Deployed from a copy: setup.py, build/ and *.egg-info stay out of the source tree.
    project = project_copy(tmp_path_factory.mktemp("project"))
    with Scrapyd(home) as server:
        config = (project / "scrapy.cfg").read_text()
        (project / "scrapy.cfg").write_text(
            re.sub(r"(?m)^url = .*$", f"url = {server.url}", config)
        )
        deploy = subprocess.run(
            [str(Path(sys.executable).with_name("scrapyd-deploy")), "-v", "r1"],
            cwd=project,
            check=False,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert deploy.returncode == 0, deploy.stdout + deploy.stderr
        yield server


def test_scrapyd_deploy_leaves_no_untracked_file():
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "setup.py"], cwd=ROOT, timeout=30, check=False
    )
    assert ignored.returncode == 0, "scrapyd-deploy writes setup.py: .gitignore must cover it"


def test_deployed_egg_lists_both_spiders(scrapyd):
    assert scrapyd.get("listversions.json", project=PROJECT)["versions"] == ["r1"]
    assert scrapyd.get("listspiders.json", project=PROJECT)["spiders"] == [
        "lifegate",
        "republications",
    ]


def test_scheduled_job_crawls_the_fixture_site_and_commits(scrapyd, fixture_site, tmp_path):
    _, running = fixture_site
    store = tmp_path / "store"
    ended = scrapyd.run_job("lifegate", store, base_url=running.base_urls["it"])
    assert ended.startswith("Process finished"), ended + "\n" + scrapyd.job_log("lifegate")[-3000:]
    [manifest_path] = store.glob("crawls/*-lifegate/manifest.json")
    manifest = json.loads(manifest_path.read_text())
    assert manifest["status"] == "finished"
    keys = {o["key"] for o in manifest["objects"]}
    assert any(key.endswith(".warc.gz") for key in keys)
    articles = manifest_path.parent / "text" / "articles.jsonl"
    assert f"crawls/{manifest['crawl_id']}/text/articles.jsonl" in keys
    assert [json.loads(line)["url"] for line in articles.read_text().splitlines()]


def test_job_whose_archive_fails_exits_non_zero(scrapyd, fixture_site, tmp_path):
    _, running = fixture_site
    store = tmp_path / "store"
    # Another live run holds the store: the job cannot open its archive (finish reason archive-failed).
    lock = StoreLock(FileStorage(str(store)), "another-run")
    lock.acquire()
    try:
        ended = scrapyd.run_job("republications", store, base_url=running.base_urls["republisher"])
    finally:
        lock.release()
    assert ended.startswith("Process died: exitstatus=1"), ended
    assert "archive-failed" in scrapyd.job_log("republications")
    assert not list(store.glob("crawls/*/manifest.json"))
