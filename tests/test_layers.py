"""Layers point one way: crawler -> pipelines -> archive. archive/ runs without Scrapy."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def modules(package: str) -> list[str]:
    return [f"{package}.{m.name}" for m in pkgutil.iter_modules([str(ROOT / package)])]


def imported_after(module_names: list[str]) -> set[str]:
    code = (
        "import sys\n"
        f"for name in {module_names!r}:\n"
        "    __import__(name)\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_archive_never_imports_scrapy_twisted_or_the_upper_layers():
    loaded = imported_after(modules("archive"))
    assert not {m for m in loaded if m.split(".")[0] in {"scrapy", "twisted", "crawler", "pipelines"}}


def test_the_extractor_runs_without_scrapy():
    loaded = imported_after(["pipelines.extractor"])
    assert not {m for m in loaded if m.split(".")[0] in {"scrapy", "twisted", "crawler"}}


def test_pipelines_never_import_the_crawler_package():
    for path in (ROOT / "pipelines").rglob("*.py"):
        source = path.read_text()
        assert "from crawler" not in source and "import crawler" not in source, path
