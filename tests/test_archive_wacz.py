"""WACZ export: valid for py-wacz's validator, and checked against the WACZ 1.1.1 spec directly."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.index import CaptureEntry
from archive.indexer import build_indexes
from archive.storage import StorageError
from archive.wacz import write_wacz
from cli import main
from tests.builders import T0, commit_crawl, exchange, store_copy

CLOCK = lambda: datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
SECOND = "20270101T000000Z-lifegate"


def wacz_validate(path: Path) -> subprocess.CompletedProcess:
    """py-wacz's ``wacz validate`` (its ``python -m wacz`` always exits 0: call main for the code)."""
    pytest.importorskip("wacz")
    code = "import sys; from wacz.main import main; sys.exit(main(['validate', '-f', sys.argv[1]]))"
    return subprocess.run(
        [sys.executable, "-c", code, str(path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )


def check_spec(path: Path) -> dict:
    """WACZ 1.1.1 by hand: layout, stored WARCs, hashes, digest file, index and pages."""
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        package_bytes = zf.read("datapackage.json")
        package = json.loads(package_bytes)
        digest = json.loads(zf.read("datapackage-digest.json"))
        assert digest == {
            "path": "datapackage.json",
            "hash": "sha256:" + hashlib.sha256(package_bytes).hexdigest(),
        }
        assert package["profile"] == "data-package" and package["wacz_version"] == "1.1.1"
        assert package["created"].endswith("Z") and package["software"].startswith(
            "lifegate-archive"
        )
        listed = {r["path"]: r for r in package["resources"]}
        assert set(listed) == set(names) - {"datapackage.json", "datapackage-digest.json"}
        for name, resource in listed.items():
            data = zf.read(name)
            assert resource["hash"] == "sha256:" + hashlib.sha256(data).hexdigest()
            assert resource["bytes"] == len(data)
        warcs = [n for n in names if n.startswith("archive/")]
        assert warcs and all(zf.getinfo(n).compress_type == zipfile.ZIP_STORED for n in warcs)
        lines = zf.read("indexes/index.cdxj").decode().splitlines()
        assert lines == sorted(lines)
        for line in lines[:: max(1, len(lines) // 25)]:
            entry = CaptureEntry.from_line(line)
            # Filenames are relative to archive/; one range read of the member gives the record.
            with zf.open(f"archive/{entry.filename}") as member:
                member.seek(entry.offset)
                record = next(iter(ArchiveIterator(io.BytesIO(member.read(entry.length)))))
            assert record.rec_headers.get_header("WARC-Target-URI") == entry.url
        pages = [json.loads(p) for p in zf.read("pages/pages.jsonl").decode().splitlines()]
        assert pages[0]["format"] == "json-pages-1.0"
        assert all({"id", "url", "ts"} <= set(p) for p in pages[1:])
        assert len({p["id"] for p in pages[1:]}) == len(pages) - 1
    return {"package": package, "warcs": warcs, "lines": lines, "pages": pages[1:]}


def test_a_crawl_exports_as_a_valid_wacz(it_crawl, tmp_path):
    storage = store_copy(it_crawl, tmp_path)
    build_indexes(storage)
    out = tmp_path / "crawl.wacz"
    report = write_wacz(storage, out, [it_crawl.crawl_dir.name], clock=CLOCK)
    spec = check_spec(out)
    assert spec["package"]["created"] == "2026-01-02T03:04:05Z"
    assert spec["warcs"] == [f"archive/{p.name}" for p in it_crawl.warc_files]
    assert len(spec["pages"]) == len(it_crawl.text_records) == report.pages
    assert {p["url"] for p in spec["pages"]} == {r["url"] for r in it_crawl.text_records}
    assert len(spec["lines"]) == report.records > 100
    result = wacz_validate(out)
    assert result.returncode == 0 and "Validation succeeded" in result.stdout, (
        result.stdout + result.stderr
    )
    assert not out.with_name(out.name + ".part").exists()


def test_the_whole_store_exports_and_a_tampered_wacz_fails_validation(it_crawl, tmp_path):
    storage = store_copy(it_crawl, tmp_path)  # no index built: the export indexes what it needs
    commit_crawl(
        storage,
        SECOND,
        lambda w: w.write_exchange(exchange("http://example.org/b", b"<p>b</p>", T0)),
    )
    out = tmp_path / "all.wacz"
    report = write_wacz(storage, out, clock=CLOCK)
    spec = check_spec(out)
    assert report.crawls == (it_crawl.crawl_dir.name, SECOND) and len(spec["warcs"]) == 2
    assert any('"url": "http://example.org/b"' in line for line in spec["lines"])
    assert wacz_validate(out).returncode == 0

    tampered = tmp_path / "tampered.wacz"
    with zipfile.ZipFile(out) as src, zipfile.ZipFile(tampered, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "pages/pages.jsonl":
                data = data.replace(b'"title": "', b'"title": "X', 1)
            dst.writestr(info, data)
    result = wacz_validate(tampered)
    assert result.returncode != 0 and "Validation failed" in result.stdout
    with pytest.raises(AssertionError):
        check_spec(tampered)


def test_wacz_command(it_crawl, tmp_path, capsys):
    storage = store_copy(it_crawl, tmp_path)
    out = tmp_path / "c.wacz"
    args = [
        "wacz",
        "--store",
        str(storage.root),
        "--crawl",
        it_crawl.crawl_dir.name,
        "--out",
        str(out),
    ]
    assert main(args) == 0
    assert "1 crawls, 1 WARC files" in capsys.readouterr().out and zipfile.is_zipfile(out)
    assert (
        main(
            [
                "wacz",
                "--store",
                str(storage.root),
                "--crawl",
                "20990101T000000Z-x",
                "--out",
                str(out),
            ]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert err.startswith("lifegate-archive wacz: no committed crawl") and "Traceback" not in err
    assert (
        main(["wacz", "--store", str(storage.root), "--out", str(tmp_path / "no" / "x.wacz")]) == 2
    )
    with pytest.raises(StorageError):
        write_wacz(storage, out, ["../../etc"])
