"""The benchmark harness runs end to end at a tiny size (``python -m bench --smoke``): nginx serves the
rendered site, wget and our WARC-only crawl run, and results.json / results.md come out."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.loopback import free_port

ROOT = Path(__file__).resolve().parent.parent



@pytest.mark.skipif(shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(),
                    reason="nginx is not installed (apt-get install -y nginx)")
@pytest.mark.skipif(shutil.which("wget") is None or shutil.which("taskset") is None,
                    reason="wget or taskset is missing")
def test_smoke_run_writes_results(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--variants", "wget,ours-warc-c8",
         "--work", str(tmp_path / "work"), "--out", str(out), "--port", str(free_port()),
         "--real-pages", str(ROOT / "tests" / "extraction_benchmark_sample")],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    size = results["sizes"]["40"]
    assert size["server"] == "nginx"
    by_variant = {r["variant"]: r for r in size["runs"]}
    assert by_variant["wget"]["responses"] > 40
    assert by_variant["ours-warc-c8"]["responses"] > 40
    assert by_variant["ours-warc-c8"]["statuses"].get("200", 0) > 40
    assert results["machine"]["nproc"] >= 1
    # The real-page site: every article one of the benchmark's real pages, byte for byte.
    real = {r["variant"]: r for r in results["sizes"]["real-40"]["runs"]}
    assert results["sizes"]["real-40"]["site"]["files"] == 40 + 1 + 2  # articles, listing, sitemap + robots
    for variant in ("wget", "ours-warc-c8"):
        assert real[variant]["unique_html_pages"] >= 41, real[variant]
    table = (out / "results.md").read_text()
    assert "### real-page site, 40 articles" in table
    assert "| wget `--recursive --level=inf --warc-file` (1 connection) |" in table
