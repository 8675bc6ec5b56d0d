"""The storage interface: scheme dispatch, key safety, atomic publishing."""

from __future__ import annotations

import pytest

from archive.s3 import S3Storage
from archive.s3_client import S3Options
from archive.spool import Spool
from archive.storage import (
    DEFAULT_STORAGES,
    FileStorage,
    StorageCapabilities,
    StorageError,
    StoredObject,
    capabilities,
    open_storage,
    storage_table,
)


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


class MemoryStorage:
    """A store of the bare interface: no optional capabilities declared."""

    def __init__(self, uri):
        self.uri = uri


def test_settings_tables_add_schemes_over_the_base(tmp_path):
    # As given on the command line (-s ARCHIVE_STORAGES=...), a table is JSON text.
    settings = {"ARCHIVE_STORAGES": '{"mem": "tests.test_archive_storage.MemoryStorage"}'}
    table = storage_table(settings)
    assert table == {**DEFAULT_STORAGES, "mem": "tests.test_archive_storage.MemoryStorage"}
    opened = open_storage("mem://x", settings=settings)  # this module, imported by its dotted name
    assert type(opened).__name__ == "MemoryStorage" and opened.uri == "mem://x"
    # A base given in full replaces the default table, as Scrapy's *_BASE settings do.
    only_files = {"ARCHIVE_STORAGES_BASE": {"": "archive.storage.FileStorage"}}
    with pytest.raises(StorageError, match=r"no storage for s3:// URIs"):
        open_storage("s3://bucket/x", settings=only_files)
    assert isinstance(open_storage(str(tmp_path), settings=only_files), FileStorage)
    with pytest.raises(StorageError, match="ARCHIVE_STORAGES must be a JSON object"):
        storage_table({"ARCHIVE_STORAGES": "{not json"})


def test_the_crawler_settings_default_is_the_storage_table():
    from crawler import settings

    assert settings.ARCHIVE_STORAGES_BASE == DEFAULT_STORAGES


def test_capabilities_are_declared_or_neutral(tmp_path):
    local = FileStorage(str(tmp_path))
    assert isinstance(local, StorageCapabilities) and capabilities(local) is local
    assert not local.needs_read_back_verification and local.spool is None
    assert local.local_root == tmp_path.resolve()
    remote = S3Storage("s3://bkt/x", S3Options(spool_dir=tmp_path / "spool"))
    assert isinstance(remote, StorageCapabilities)
    assert remote.needs_read_back_verification and remote.local_root is None
    assert remote.spool == (tmp_path / "spool" / "bkt" / "x").resolve()
    bare = capabilities(MemoryStorage("mem://x"))
    assert not isinstance(MemoryStorage("mem://x"), StorageCapabilities)
    assert bare.needs_read_back_verification and bare.spool is None and bare.local_root is None
    bare.check(write=True)  # nothing to check: the first write tells
    assert bare.abort_stale_uploads(["a"]) == 0


def test_s3_options_keep_secrets_out_of_their_repr():
    options = S3Options(
        access_key_id="AKIAEXAMPLE", secret_access_key="s3cr3t", session_token="t0k"
    )
    assert not {"AKIAEXAMPLE", "s3cr3t", "t0k"} & set(repr(options).replace("'", " ").split())
    assert "s3cr3t" not in repr(options)
    assert S3Options(multipart_chunksize=1).multipart_chunksize == 5 * 1024 * 1024
    with pytest.raises(StorageError, match="ARCHIVE_S3_CHECKSUM"):
        S3Options(checksum="crc32")
    verify = S3Options.from_settings({"AWS_VERIFY": "/etc/ca.pem", "AWS_USE_SSL": "false"})
    assert verify.verify == "/etc/ca.pem" and verify.use_ssl is False


def test_the_spool_tracks_what_waits_and_what_was_published(tmp_path):
    spool = Spool.for_store(tmp_path, "bucket/prefix", keep=True)
    assert spool.root == (tmp_path / "bucket" / "prefix").resolve()
    spool.staging_path("crawls/c/x.warc.gz.open").write_bytes(b"being written")
    path = spool.write("crawls/c/text.jsonl", b"{}\n")
    assert spool.holds("crawls/c/text.jsonl", path)
    assert list(spool.pending()) == [("crawls/c/text.jsonl", path)]
    assert [p.name for p in spool.unfinished()] == ["text.jsonl", "x.warc.gz.open"]
    spool.record_upload("crawls/c/text.jsonl", "upload-1")
    assert spool.recorded_upload("crawls/c/text.jsonl") == "upload-1"
    assert list(spool.pending()) == [("crawls/c/text.jsonl", path)]  # state files are no objects
    spool.clear_upload("crawls/c/text.jsonl")
    assert spool.recorded_upload("crawls/c/text.jsonl") is None
    stored = StoredObject("crawls/c/text.jsonl", 3, "ab" * 32)
    spool.mark_published("crawls/c/text.jsonl", stored, path.stat().st_mtime_ns)
    assert spool.published("crawls/c/text.jsonl") == stored and path.exists()  # kept
    assert not list(spool.pending())
    path.write_bytes(b"{}\n{}\n")  # rewritten since: the record is not this file's
    assert spool.published("crawls/c/text.jsonl") is None
    dropping = Spool(tmp_path / "other")
    gone = dropping.write("crawls/d/a.json", b"{}")
    dropping.mark_published("crawls/d/a.json", StoredObject("crawls/d/a.json", 2), 0)
    assert not gone.exists() and not list(dropping.unfinished())
