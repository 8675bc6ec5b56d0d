"""The storage interface: scheme dispatch, key safety, atomic publishing."""

from __future__ import annotations

import pytest

from archive.storage import FileStorage, StorageError, open_storage


def test_plain_path_and_file_uri_open_the_same_folder(tmp_path):
    a = open_storage(str(tmp_path))
    b = open_storage(tmp_path.as_uri())
    assert isinstance(a, FileStorage) and isinstance(b, FileStorage)
    assert a.root == b.root == tmp_path.resolve()


def test_unknown_scheme_is_one_clear_error(tmp_path):
    with pytest.raises(StorageError, match=r"no storage for gs:// URIs \(known: file://"):
        open_storage("gs://bucket/prefix")


def test_storages_mapping_adds_schemes(tmp_path):
    class MemoryStorage:
        def __init__(self, uri):
            self.uri = uri

    storage = open_storage("mem://x", {"mem": MemoryStorage})
    assert isinstance(storage, MemoryStorage) and storage.uri == "mem://x"


@pytest.mark.parametrize(
    "key", ["../outside", "/etc/passwd", "a/../../b", "a\\b", "", "a//b", "a/./b", "nul\x00"]
)
def test_keys_that_could_escape_the_store_are_refused(tmp_path, key):
    storage = FileStorage(str(tmp_path))
    with pytest.raises(StorageError):
        storage.put_bytes(key, b"x")
    assert not storage.exists(key)


def test_put_read_range_list(tmp_path):
    storage = FileStorage(str(tmp_path))
    stored = storage.put_bytes("crawls/a/file.bin", b"0123456789")
    assert stored.size == 10 and len(stored.sha256) == 64
    assert storage.read_range("crawls/a/file.bin", 3, 4) == b"3456"
    (tmp_path / "crawls" / "a" / "busy.warc.gz.open").write_bytes(b"x")
    assert [o.key for o in storage.list("crawls/")] == ["crawls/a/file.bin"]
    assert [p.name for p in storage.unfinished("crawls/")] == ["busy.warc.gz.open"]


def test_put_file_copies_from_elsewhere_and_keeps_in_place_files(tmp_path):
    storage = FileStorage(str(tmp_path / "store"))
    outside = tmp_path / "spooled.bin"
    outside.write_bytes(b"abc")
    assert storage.put_file("x/copied.bin", outside).size == 3
    in_place = storage.staging_path("x/in-place.bin")
    in_place.write_bytes(b"abcd")
    stored = storage.put_file("x/in-place.bin", in_place)
    assert stored.size == 4 and in_place.exists()
    with storage.open("x/copied.bin") as fh:
        assert fh.read() == b"abc"


def test_missing_object_is_a_storage_error(tmp_path):
    with pytest.raises(StorageError, match="no such object"):
        FileStorage(str(tmp_path)).open("nothing/here")
