"""The shipped schedules (cron, systemd, Kubernetes, scrapyd) run commands this project accepts."""

from __future__ import annotations

import configparser
import shlex
import subprocess
import sys

import yaml

from crawler.cli import build_parser
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"


def parses_as_crawl(argv: list[str]) -> None:
    assert argv[0].endswith("lifegate-archive")
    args = build_parser().parse_args(argv[1:])
    assert args.command == "crawl"


def test_cron_line_is_a_valid_crawl():
    lines = [
        line for line in (DEPLOY / "cron" / "lifegate-archive.cron").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert len(lines) == 1
    fields = lines[0].split(None, 5)
    assert len(fields) == 6 and all(f == "*" or f.isdigit() for f in fields[:5])
    command = fields[5].split("&&", 1)[1].split(">>", 1)[0]
    parses_as_crawl(shlex.split(command))


def test_systemd_service_and_timer():
    service = configparser.ConfigParser(strict=False, interpolation=None)
    service.read(DEPLOY / "systemd" / "lifegate-archive.service")
    assert service["Service"]["Type"] == "oneshot"
    assert service["Service"]["KillSignal"] == "SIGTERM"
    parses_as_crawl(shlex.split(service["Service"]["ExecStart"]))
    timer = configparser.ConfigParser(strict=False, interpolation=None)
    timer.read(DEPLOY / "systemd" / "lifegate-archive.timer")
    assert timer["Timer"]["Unit"] == "lifegate-archive.service"
    assert timer["Timer"]["OnCalendar"] and timer["Install"]["WantedBy"] == "timers.target"


def test_kubernetes_cronjob_forbids_overlap_and_runs_a_crawl():
    job = yaml.safe_load((DEPLOY / "kubernetes" / "cronjob.yaml").read_text())
    assert job["kind"] == "CronJob" and job["spec"]["concurrencyPolicy"] == "Forbid"
    pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["terminationGracePeriodSeconds"] >= 60
    parses_as_crawl(pod["containers"][0]["command"])


def test_scrapy_and_scrapyd_find_the_spiders():
    # scrapyd runs `scrapy crawl <spider>` inside the deployed project: the same spiders must load.
    result = subprocess.run(
        [sys.executable, "-m", "scrapy", "list"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["lifegate", "republications"]
    config = configparser.ConfigParser()
    config.read(ROOT / "scrapy.cfg")
    assert config["settings"]["default"] == "crawler.settings"
    assert config["deploy"]["project"] == "lifegate"
