"""Layers point one way: cli -> crawler -> pipelines -> archive. archive/ runs without Scrapy, and so
does every command but ``crawl`` and ``demo``."""

from __future__ import annotations

import ast
import json
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


def _imported_names(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_the_command_line_is_the_top_layer_nothing_imports_it():
    # cli/ may import crawler, pipelines and archive; none of them, nor the fixture site, imports cli.
    for package in ("crawler", "pipelines", "archive", "fixture_site"):
        for path in (ROOT / package).rglob("*.py"):
            assert not {n for n in _imported_names(path) if n.split(".")[0] == "cli"}, path


def test_no_command_imports_another_command():
    # What commands share lives in cli/settings.py, cli/store.py and the libraries below.
    for path in (ROOT / "cli" / "commands").glob("*.py"):
        assert not {n for n in _imported_names(path) if n.startswith("cli.commands")}, path


# Runs every command that does not crawl, in one process, and says which Scrapy or Twisted modules
# each one loaded. Real invocations where a command ends by itself; --help for the servers.
_NO_SCRAPY_DRIVER = """
import contextlib, importlib, io, json, sys
from cli import COMMANDS, CRAWL_COMMANDS, build_parser, main

empty, page, url, out = sys.argv[1:5]
invocations = {
    "coverage": ["coverage", "--store", empty],
    "fixture_site": ["fixture-site", "--help"],
    "verify": ["verify", "--store", empty],
    "extract": ["extract", page, "--url", url],
    "reextract": ["reextract", "--store", empty],
    "export": ["export", "--store", empty],
    "download": ["download", "v2026.01.01", "--store", empty, "--to", out],
    "publish": ["publish", "--store", empty],
    "index": ["index", "--store", empty],
    "replay": ["replay", "--store", empty + "/missing"],
    "wacz": ["wacz", "--store", empty, "--out", out + "/all.wacz"],
}
def loaded():
    return sorted(m for m in sys.modules if m.split(".")[0] in ("scrapy", "twisted"))

build_parser()  # imports every command module, crawl and demo included
report = {"(every command module)": {"status": 0, "stderr": "", "loaded": loaded()}}
for name in COMMANDS:
    if name.replace("_", "-") in CRAWL_COMMANDS:
        continue
    importlib.import_module("cli.commands." + name)
    argv = invocations.get(name, [name.replace("_", "-"), "--help"])
    stderr = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(stderr):
        try:
            status = main(argv)
        except SystemExit as exc:
            status = exc.code
    if name == "fixture_site":
        importlib.import_module("fixture_site.__main__")
    report[name] = {"status": status, "stderr": stderr.getvalue()[-500:], "loaded": loaded()}
print(json.dumps(report))
"""


def test_every_command_but_crawl_and_demo_runs_without_scrapy_or_twisted(tmp_path):
    empty = tmp_path / "store"
    empty.mkdir()
    case = min(p for p in (ROOT / "tests" / "extraction_cases").iterdir() if (p / "page.html").exists())
    url = json.loads((case / "meta.json").read_text())["url"]
    process = subprocess.run(
        [sys.executable, "-c", _NO_SCRAPY_DRIVER, str(empty), str(case / "page.html"), url, str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert process.returncode == 0, process.stderr[-3000:]
    report = json.loads(process.stdout.splitlines()[-1])
    assert len(report) >= 12 and "crawl" not in report and "demo" not in report
    for name, outcome in report.items():
        # Each command ran to its own end: an exit status of its own, never a crash.
        assert outcome["status"] in (0, 1, 2), (name, outcome)
        assert "unexpected error" not in outcome["stderr"], (name, outcome)
        assert not outcome["loaded"], f"{name} loaded {outcome['loaded'][:5]}"
    assert report["extract"]["status"] == 0  # a real extraction, with the extractor loaded


def test_the_settings_module_and_the_package_roots_load_without_scrapy():
    loaded = imported_after(["crawler", "crawler.settings", "cli", "cli.settings", "cli.store"])
    assert not {m for m in loaded if m.split(".")[0] in {"scrapy", "twisted"}}


def test_a_crawl_without_extraction_loads_no_extractor():
    # The extraction pipeline is imported with every crawl's components; the extractor and
    # trafilatura load in its worker processes only.
    crawl = [*modules("crawler"), "crawler.spiders.archive_spider", "pipelines.extraction"]
    loaded = imported_after(crawl)
    assert "pipelines.extraction" in loaded
    assert not {m for m in loaded if m.split(".")[0] == "trafilatura" or m == "pipelines.extractor"}
