"""Re-extraction on a Dask cluster (scheduler and workers on 127.0.0.1) gives the same output as
the local process pool."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import run_cli

pytest.importorskip("distributed")


def reextracted(store: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(store.glob("reextract/*/*.jsonl"))}


def start(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_a_dask_cluster_reproduces_the_local_output(it_crawl, tmp_path):
    store = tmp_path / "store"
    shutil.copytree(it_crawl.store, store)
    local = run_cli("reextract", "--store", str(store), "--workers", "2")
    assert local.returncode == 0, local.stderr
    expected = reextracted(store)
    assert expected and all(expected.values())

    scheduler = start(["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"])
    workers = None
    try:
        address = None
        deadline = time.monotonic() + 60
        while address is None and time.monotonic() < deadline:
            line = scheduler.stderr.readline()
            if match := re.search(r"Scheduler at:\s+(tcp://127\.0\.0\.1:\d+)", line):
                address = match.group(1)
        assert address, "the Dask scheduler did not start"
        workers = start(["distributed.cli.dask_worker", address, "--nworkers", "2", "--nthreads", "1",
                         "--host", "127.0.0.1", "--no-dashboard"])
        remote = run_cli("reextract", "--store", str(store), "--force", "--dask-scheduler", address)
        assert remote.returncode == 0, remote.stderr
    finally:
        for process in (workers, scheduler):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
                process.stderr.close()
    assert reextracted(store) == expected


def test_an_unreachable_scheduler_is_one_clear_error(it_crawl, tmp_path):
    store = tmp_path / "store"
    shutil.copytree(it_crawl.store, store)
    result = run_cli(
        "reextract", "--store", str(store), "--dask-scheduler", "tcp://127.0.0.1:9",
        "-s", "ARCHIVE_DASK_CONNECT_TIMEOUT=2",
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("lifegate-archive reextract: cannot reach the Dask scheduler")
