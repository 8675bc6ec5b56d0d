"""Local files written whole or not at all."""

from __future__ import annotations

import pytest

from archive.atomic_file import atomic_write, part_path, write_atomic


def test_a_write_replaces_the_file_and_leaves_no_partial_file(tmp_path):
    target = tmp_path / "manifest.json"
    target.write_bytes(b"old")
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]


def test_a_write_that_fails_leaves_the_old_file_and_no_partial_file(tmp_path):
    target = tmp_path / "manifest.json"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_write(target) as fh:
        fh.write(b"half of the new")
        assert part_path(target).exists() and target.read_bytes() == b"old"
        raise RuntimeError("disk gone")
    assert target.read_bytes() == b"old"
    assert not part_path(target).exists()
