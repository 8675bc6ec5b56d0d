"""The documentation keeps up with the code: every setting documented, the README short, links alive."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIGURATION = ROOT / "docs" / "configuration.md"


def setting_names() -> list[str]:
    tree = ast.parse((ROOT / "crawler" / "settings.py").read_text())
    names = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        names += [t.id for t in targets if isinstance(t, ast.Name) and t.id.isupper()]
    return names


def test_every_setting_is_in_the_configuration_page():
    names = setting_names()
    assert len(names) > 50  # the parse found the settings module's assignments
    documented = CONFIGURATION.read_text()
    missing = [n for n in names if not re.search(rf"`{n}`", documented)]
    assert not missing, f"settings missing from docs/configuration.md: {missing}"


def test_readme_is_a_short_manual_that_starts_with_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    blocks = re.findall(r"```sh\n(.*?)```", readme, flags=re.DOTALL)
    assert "lifegate-archive crawl" in blocks[0]
    assert "python -m pytest" in blocks[1]
    assert any("lifegate-archive demo" in b for b in blocks)


def test_links_between_documents_resolve():
    pages = [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if re.match(r"^[a-z]+:", target):
                continue  # an external link
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not broken, broken


def test_no_document_points_outside_the_repository():
    pages = [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]
    for page in pages:
        text = page.read_text()
        assert "../shared" not in text, page
        assert not re.search(r"\bresearch[: ]+[A-Z]\.\d|perf-baseline\.md|reliability\.md", text), page
