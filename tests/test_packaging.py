"""The package as pip builds it, and the versions it records: license, dependencies, entry points."""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from email.parser import Parser
from importlib import metadata

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from warcio.archiveiterator import ArchiveIterator

from cli.settings import project_settings
from tests.conftest import ROOT, project_copy


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Iterator[zipfile.ZipFile]:
    out = tmp_path_factory.mktemp("wheel")
    source = project_copy(tmp_path_factory.mktemp("source"))
    # No build isolation: the environment's setuptools (test extra) builds it, offline.
    command = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "-q",
        "-w",
        str(out),
    ]
    result = subprocess.run(
        [*command, str(source)], capture_output=True, text=True, timeout=180, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    [path] = out.glob("lifegate_archive-*.whl")
    with zipfile.ZipFile(path) as built:
        yield built


def _dist_info(wheel: zipfile.ZipFile, name: str) -> str:
    [member] = [n for n in wheel.namelist() if n.endswith(f".dist-info/{name}")]
    return wheel.read(member).decode()


def test_wheel_declares_an_spdx_license_and_ships_the_file(wheel):
    meta = Parser().parsestr(_dist_info(wheel, "METADATA"))
    assert meta["License-Expression"] == "MIT"
    assert meta.get_all("License-File") == ["LICENSE"]
    assert "MIT License" in _dist_info(wheel, "licenses/LICENSE")
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")


def test_ci_tests_the_oldest_and_newest_declared_python(wheel):
    meta = Parser().parsestr(_dist_info(wheel, "METADATA"))
    declared = sorted(
        tuple(int(p) for p in c.rsplit(" ", 1)[1].split("."))
        for c in meta.get_all("Classifier")
        if c.startswith("Programming Language :: Python :: 3.")
    )
    oldest, newest = declared[0], declared[-1]
    assert meta["Requires-Python"] == f">={oldest[0]}.{oldest[1]}"
    ci = (ROOT / ".ci" / "run").read_text()
    # The suite runs in the venv of Debian's python3 (the oldest), then on the newest.
    assert f"for candidate in python{newest[0]}.{newest[1]} " in ci
    assert f"sys.version_info[:2] != {newest}" in ci


def test_test_only_libraries_are_not_runtime_dependencies(wheel):
    meta = Parser().parsestr(_dist_info(wheel, "METADATA"))
    required = [Requirement(r) for r in meta.get_all("Requires-Dist")]
    runtime = {r.name.lower(): r.specifier for r in required if r.marker is None}
    assert {"scrapy", "warcio", "trafilatura"} <= runtime.keys()
    assert not runtime.keys() & {"jsonschema", "pytest", "scrapyd", "datasets", "pyyaml"}
    # Private APIs are used (scrapy-redis _encode_request, cdxj-indexer _get_digest): the tested
    # minor only.
    assert "0.9.1" in runtime["scrapy-redis"] and "0.10.0" not in runtime["scrapy-redis"]
    assert "1.5.0" in runtime["cdxj-indexer"] and "1.6.0" not in runtime["cdxj-indexer"]


def _imported_modules() -> set[str]:
    """Top-level modules the packages import at run time (``if TYPE_CHECKING:`` blocks left out)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
            return
        if isinstance(node, ast.If) and ast.unparse(node.test).startswith("sys.version_info"):
            # Only the branch this interpreter takes imports anything here.
            taken = eval(compile(ast.Expression(node.test), "<test>", "eval"), {"sys": sys})
            for child in node.body if taken else node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        for child in ast.iter_child_nodes(node):
            visit(child)

    for package in ("cli", "crawler", "pipelines", "archive", "fixture_site"):
        for path in (ROOT / package).rglob("*.py"):
            visit(ast.parse(path.read_text(), str(path)))
    return found


def test_every_library_the_packages_import_is_declared(wheel):
    meta = Parser().parsestr(_dist_info(wheel, "METADATA"))
    required = [Requirement(r) for r in meta.get_all("Requires-Dist")]
    # Run time needs: the dependencies, and the cluster extra for `reextract --dask-scheduler`.
    declared = {
        canonicalize_name(r.name)
        for r in required
        if r.marker is None or "cluster" in str(r.marker) or r.marker.evaluate({"extra": ""})
    }
    first_party = {"archive", "cli", "crawler", "pipelines", "fixture_site"}
    third_party = _imported_modules() - set(sys.stdlib_module_names) - first_party - {"__future__"}
    providers = metadata.packages_distributions()
    undeclared = {
        module: providers.get(module)
        for module in third_party
        if not {canonicalize_name(d) for d in providers.get(module, [])} & declared
    }
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"


def test_wheel_carries_the_scrapy_settings_entry_point(wheel):
    # scrapyd (and any egg runner) finds the project's settings through this entry point.
    entry_points = _dist_info(wheel, "entry_points.txt")
    assert "[scrapy]\nsettings = crawler.settings" in entry_points


def test_wheel_ships_the_command_line_package_and_its_script(wheel):
    entry_points = _dist_info(wheel, "entry_points.txt")
    assert "[console_scripts]\nlifegate-archive = cli:main" in entry_points
    shipped = set(wheel.namelist())
    for path in (ROOT / "cli").rglob("*.py"):
        assert path.relative_to(ROOT).as_posix() in shipped, path


def test_user_agent_names_the_installed_version():
    version = metadata.version("lifegate-archive")
    assert project_settings({}).get("USER_AGENT").startswith(f"lifegate-archive/{version} (+http")


def test_crawl_records_the_installed_versions(it_crawl):
    expected = {
        name: metadata.version(name)
        for name in ("lifegate-archive", "scrapy", "warcio", "trafilatura")
    }
    software = it_crawl.manifest["software"]
    assert {name: software[name] for name in expected} == expected
    with it_crawl.warc_files[0].open("rb") as stream:
        warcinfo = next(iter(ArchiveIterator(stream)))
        fields = warcinfo.content_stream().read().decode()
    assert warcinfo.rec_type == "warcinfo"
    assert f"warcio {expected['warcio']}" in fields and "unknown" not in fields
    assert f"lifegate-archive/{expected['lifegate-archive']} " in fields
