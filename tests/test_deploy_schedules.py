"""The shipped schedules (cron, systemd, Kubernetes, scrapyd) run commands this project accepts."""

from __future__ import annotations

import configparser
import shlex
import subprocess
import sys

import yaml

from cli import build_parser
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"

# Peak RSS measured by the benchmarks (docs/benchmarks): the crawler process and each extraction
# worker. A memory limit below their sum gets the crawl OOM-killed.
CRAWLER_MB = 200
WORKER_MB = 156
UNITS = {"": 1, "K": 1000, "M": 1000**2, "G": 1000**3, "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3}


def parses_as_crawl(argv: list[str]) -> None:
    assert argv[0].endswith("lifegate-archive")
    args = build_parser().parse_args(argv[1:])
    assert args.command == "crawl"


def extract_workers(argv: list[str]) -> int:
    """The fixed pool size a shipped command sets; 0 would follow the host's cores."""
    args = build_parser().parse_args(argv[1:])
    values = [pair.split("=", 1)[1] for pair in args.set if pair.startswith("EXTRACT_WORKERS=")]
    assert values, f"EXTRACT_WORKERS is not set in {argv}"
    workers = int(values[-1])
    assert workers > 0
    return workers


def megabytes(quantity: str) -> float:
    """A Kubernetes or systemd memory quantity (512Mi, 1Gi, 768M) in MB."""
    number = quantity.rstrip("KMGi")
    return float(number) * UNITS[quantity[len(number):]] / 1000**2


def needed_mb(workers: int) -> float:
    return CRAWLER_MB + WORKER_MB * workers


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
    assert extract_workers(shlex.split(command)) >= 1


def test_systemd_service_and_timer():
    service = configparser.ConfigParser(strict=False, interpolation=None)
    service.read(DEPLOY / "systemd" / "lifegate-archive.service")
    assert service["Service"]["Type"] == "oneshot"
    assert service["Service"]["KillSignal"] == "SIGTERM"
    parses_as_crawl(shlex.split(service["Service"]["ExecStart"]))
    workers = extract_workers(shlex.split(service["Service"]["ExecStart"]))
    assert megabytes(service["Service"]["MemoryMax"]) >= megabytes(service["Service"]["MemoryHigh"])
    assert megabytes(service["Service"]["MemoryHigh"]) >= needed_mb(workers)
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


def test_kubernetes_memory_fits_the_extraction_pool():
    job = yaml.safe_load((DEPLOY / "kubernetes" / "cronjob.yaml").read_text())
    [container] = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    workers = extract_workers(container["command"])
    resources = container["resources"]
    requested = megabytes(resources["requests"]["memory"])
    assert needed_mb(workers) <= requested <= megabytes(resources["limits"]["memory"])
    # Each worker is a process that wants a core when pages arrive faster than it extracts.
    assert float(resources["requests"]["cpu"]) >= workers


def test_scrapy_and_scrapyd_find_the_spiders():
    # scrapyd runs `scrapy crawl <spider>` inside the deployed project: the same spiders must load.
    result = subprocess.run(
        [sys.executable, "-m", "scrapy", "list"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["lifegate", "republications"]
    config = configparser.ConfigParser()
    config.read(ROOT / "scrapy.cfg")
    assert config["settings"]["default"] == "crawler.settings"
    assert config["deploy"]["project"] == "lifegate"
