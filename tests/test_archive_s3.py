"""S3 stores, through boto3 against moto's S3 server on 127.0.0.1: the storage interface, conditional
writes, multipart, a store that goes down, a killed upload, bad credentials, and a crawl into S3."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from archive.crawl import CrawlManifest, ManifestEntry
from archive.publisher import Publisher, RetryPolicy
from archive.s3 import S3Storage
from archive.s3_client import S3Options
from archive.storage import PublishConflict, StorageError, StoreUnavailable, open_storage
from archive.verify import verify_store
from tests.conftest import ROOT, TEST_CRAWL_SETTINGS, run_cli
from tests.s3_fixtures import (
    CRAWL,
    FlakyProxy,
    MotoServer,
    spool_crawl,
    write_warc,
)

MiB = 1024 * 1024
# Parts at S3's 5 MiB minimum (moto enforces it), so a 12 MiB file goes up in three.
SMALL_PARTS = {"multipart_threshold": 5 * MiB, "multipart_chunksize": 5 * MiB}


def big_file(path: Path, size: int = 12 * MiB) -> bytes:
    data = os.urandom(size)
    path.write_bytes(data)
    return data


def uploads_in_progress(server: MotoServer, bucket: str) -> list[str]:
    return [
        u["Key"] for u in server.client().list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    ]


def keys_in(server: MotoServer, bucket: str) -> list[str]:
    return [o["Key"] for o in server.client().list_objects_v2(Bucket=bucket).get("Contents", [])]


def publish_cli(
    store: str, spool: Path, endpoint: str, *extra: str, log_level: str = "INFO"
) -> subprocess.CompletedProcess:
    return run_cli(
        "--log-level", log_level, "publish", "--store", store,
        "-s", f"AWS_ENDPOINT_URL={endpoint}",
        "-s", f"ARCHIVE_SPOOL_DIR={spool}",
        "-s", "ARCHIVE_PUBLISH_BACKOFF=0.05",
        *extra,
        timeout=60,
    )  # fmt: skip


def test_the_storage_interface_on_s3(make_store, s3_server, bucket):
    storage = make_store(list_page_size=2)  # small pages: listing must follow continuation tokens
    stored = storage.put_bytes("crawls/a/file.bin", b"0123456789")
    assert (stored.size, stored.sha256) == (10, hashlib.sha256(b"0123456789").hexdigest())
    assert storage.read_range("crawls/a/file.bin", 3, 4) == b"3456"
    assert storage.read_range("crawls/a/file.bin", 8, 100) == b"89"
    assert storage.read_range("crawls/a/file.bin", 50, 4) == b""
    assert storage.read_range("crawls/a/file.bin", 0, 0) == b""
    lines = b"".join(b'{"n": %d}\n' % n for n in range(5000))
    storage.put_bytes("crawls/a/text.jsonl", lines)
    with storage.open("crawls/a/text.jsonl") as fh:
        assert fh.read(9) == b'{"n": 0}\n'
        assert sum(1 for _ in fh) == 4999  # line iteration, as the manifest and text readers do
    for n in range(5):
        storage.put_bytes(f"crawls/b/{n}", b"x")
    assert [o.key for o in storage.list("crawls/b/")] == [f"crawls/b/{n}" for n in range(5)]
    assert len(list(storage.list())) == 7
    assert storage.exists("crawls/b/0") and not storage.exists("crawls/b/9")
    assert not storage.exists("../escape")
    with pytest.raises(StorageError, match="no such object"):
        storage.open("crawls/missing")
    # Keys live under the URI's prefix; the spool is emptied as objects are published.
    assert keys_in(s3_server, bucket)[0] == "archive/crawls/a/file.bin"
    assert not list(storage.unfinished()) and not list(storage.pending())


def test_spooled_files_are_unfinished_until_published(make_store):
    storage = make_store()
    path = storage.staging_path("crawls/c/warc/x.warc.gz.open")
    assert storage.spool in path.parents
    path.write_bytes(b"being written")
    done = storage.staging_path("crawls/c/text/articles.jsonl")
    done.write_bytes(b"{}\n")
    assert [p.name for p in storage.unfinished("crawls/")] == ["articles.jsonl", "x.warc.gz.open"]
    assert list(storage.pending()) == [("crawls/c/text/articles.jsonl", done)]
    assert not list(storage.list())


def test_if_none_match_never_overwrites(make_store, s3_server, bucket):
    storage = make_store(keep_spooled=True)
    first = storage.put_bytes("crawls/a/manifest.json", b'{"v": 1}')
    # A re-run publishing the same bytes: refused by If-None-Match (412), and counted as published.
    spooled = storage.staging_path("crawls/a/manifest.json")
    (spooled.parent / "manifest.json.published").unlink()
    assert storage.put_file("crawls/a/manifest.json", spooled) == first
    with pytest.raises(PublishConflict, match="already exists with different content"):
        storage.put_bytes("crawls/a/manifest.json", b'{"v": 2}')
    assert storage.read_range("crawls/a/manifest.json", 0, 100) == b'{"v": 1}'
    assert spooled.read_bytes() == b'{"v": 2}'  # the local data is kept, loudly refused
    assert keys_in(s3_server, bucket) == ["archive/crawls/a/manifest.json"]


def test_multipart_above_the_threshold(make_store, s3_server, bucket, tmp_path):
    storage = make_store(**SMALL_PARTS)
    key = "crawls/m/warc/big.warc.gz"
    data = big_file(storage.staging_path(key))
    stored = storage.put_file(key, storage.staging_path(key))
    assert (stored.size, stored.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    head = s3_server.client().head_object(
        Bucket=bucket, Key=f"archive/{key}", ChecksumMode="ENABLED"
    )
    assert head["ETag"].endswith('-3"')  # three parts
    assert head["Metadata"]["sha256"] == stored.sha256
    assert head["ChecksumSHA256"]  # per-part SHA-256 checksums were sent and combined
    with storage.open(key) as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == stored.sha256
    assert not storage.staging_path(key).exists()
    # Publishing it again (a re-run): CompleteMultipartUpload is refused, the upload aborted.
    again = tmp_path / "again.warc.gz"
    again.write_bytes(data)
    assert storage.put_file(key, again) == stored
    assert uploads_in_progress(s3_server, bucket) == []
    again.write_bytes(data[:-1] + b"!")
    with pytest.raises(PublishConflict):
        storage.put_file(key, again)
    assert uploads_in_progress(s3_server, bucket) == []


def test_md5_checksums_for_stores_without_sha256(make_store, s3_server, bucket, tmp_path):
    storage = make_store(checksum="md5", **SMALL_PARTS)
    small = storage.put_bytes("small.bin", b"abc")
    path = tmp_path / "big.bin"
    data = big_file(path, 11 * MiB)
    big = storage.put_file("big.bin", path)
    assert small.sha256 == hashlib.sha256(b"abc").hexdigest()
    assert big.sha256 == hashlib.sha256(data).hexdigest()


def test_verify_reads_a_crawl_in_s3(make_store, s3_server, bucket, monkeypatch, tmp_path):
    storage = make_store()
    files, manifest = spool_crawl(storage)
    for key, path in files:
        storage.put_file(key, path)
    storage.put_bytes(f"crawls/{CRAWL}/manifest.json", manifest)
    report = verify_store(storage)
    assert report.ok, report.problems
    assert (report.crawls, report.warc_files, report.records) == (1, 1, 7)
    # The command line finds the endpoint through boto3's own AWS_ENDPOINT_URL variable.
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.url)
    done = run_cli("verify", "--store", storage.uri, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "1 WARC files, 7 records: OK" in done.stderr
    # A torn WARC, committed as it is, is found by streaming it through the gzip check.
    key, path = files[0]
    other = "20261128T100000Z-lifegate"
    torn = tmp_path / "torn.warc.gz"
    torn.write_bytes(storage.read_range(key, 0, 10_000)[:-7])
    stored = storage.put_file(key.replace(CRAWL, other), torn)
    CrawlManifest(
        other, "lifegate", "s", "f", "finished", [ManifestEntry.from_stored(stored)]
    ).write(storage)
    problems = [str(p) for p in verify_store(storage).problems]
    assert len(problems) == 1 and "truncated" in problems[0] and other in problems[0]


def test_settings_map_to_the_client(tmp_path):
    from cli.settings import project_settings

    settings = project_settings(
        {
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
            "AWS_SECRET_ACCESS_KEY": "s3cr3t-never-shown",
            "AWS_VERIFY": "False",
            "ARCHIVE_SPOOL_DIR": str(tmp_path / "spool"),
            "ARCHIVE_S3_MULTIPART_THRESHOLD": "6000000",
        }
    )
    storage = S3Storage.from_settings("s3://bkt/some/prefix/", settings)
    assert storage.uri == "s3://bkt/some/prefix"
    assert storage.spool == (tmp_path / "spool" / "bkt" / "some" / "prefix").resolve()
    assert storage.options.multipart_threshold == 6_000_000 and storage.options.checksum == "sha256"
    assert not storage.is_aws and storage.endpoint_url == "http://127.0.0.1:9"
    assert "s3cr3t" not in repr(storage) + storage.uri
    assert isinstance(open_storage("s3://bkt/x"), S3Storage)  # the s3 scheme is built in
    with pytest.raises(StorageError) as refused:
        S3Storage("s3://AKIA:s3cr3t-never-shown@bkt/x")
    assert "s3cr3t" not in str(refused.value) and "not accepted" in str(refused.value)
    with pytest.raises(StorageError, match="must be a number"):
        S3Storage.from_settings("s3://bkt/x", {"ARCHIVE_S3_MULTIPART_THRESHOLD": "lots"})


def test_boto3_is_imported_only_when_a_store_is_used():
    code = (
        "import sys\n"
        "from archive.s3 import S3Storage\n"
        "from archive.s3_client import S3Options\n"
        "import archive.publisher\n"
        "S3Storage('s3://bkt/x', S3Options(spool_dir='/nonexistent'))\n"
        "print('boto3' in sys.modules, 'botocore' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False", "False"]


def test_store_down_mid_upload_keeps_the_spool_and_a_later_run_finishes(
    make_store, s3_server, bucket
):
    proxy = FlakyProxy(s3_server.port)
    try:
        storage = make_store(endpoint_url=proxy.url, max_attempts=1, **SMALL_PARTS)
        path = write_warc(storage.staging_path("crawls/d/warc/x").parent, 12 * MiB)
        key = f"crawls/d/warc/{path.name}"
        data = path.read_bytes()
        # The store goes away after the first part is in.
        storage.client().meta.events.register("after-call.s3.UploadPart", lambda **_: proxy.cut())
        with Publisher(storage, policy=RetryPolicy(attempts=2, backoff=0.01)) as publisher:
            future = publisher.submit(key, path)
            assert publisher.drain(timeout=30)
        with pytest.raises(StoreUnavailable):
            future.result()
        assert path.read_bytes() == data
        assert list(storage.pending()) == [(key, path)]
        assert uploads_in_progress(s3_server, bucket) == [
            f"archive/{key}"
        ]  # abort could not reach it
        assert keys_in(s3_server, bucket) == []
        # The store is back: the next run aborts the half-done upload (its id was kept) and publishes.
        proxy.restore()
        retry = make_store(endpoint_url=proxy.url, **SMALL_PARTS)
        with Publisher(retry) as publisher:
            stored = publisher.submit(key, path).result(timeout=30)
        assert stored.sha256 == hashlib.sha256(data).hexdigest()
        assert uploads_in_progress(s3_server, bucket) == []
        assert keys_in(s3_server, bucket) == [f"archive/{key}"]
        assert not path.exists() and not list(retry.unfinished())
    finally:
        proxy.close()


def test_store_down_then_publish_command_uploads_the_rest(make_store, s3_server, bucket, tmp_path):
    down = make_store(endpoint_url="http://127.0.0.1:9", max_attempts=1)  # nothing listens there
    files, manifest = spool_crawl(down)
    with Publisher(down, policy=RetryPolicy(attempts=2, backoff=0.01)) as publisher:
        futures = [publisher.submit(key, path) for key, path in files]
        assert publisher.drain(timeout=30)
    assert all(isinstance(f.exception(), StoreUnavailable) for f in futures)
    # The crawl leaves its manifest in the spool, uncommitted.
    down.staging_path(f"crawls/{CRAWL}/manifest.json").write_bytes(manifest)
    assert len(list(down.pending())) == 3
    done = publish_cli(down.uri, tmp_path / "spool", s3_server.url)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert f"committed {CRAWL}" in done.stderr
    up = make_store()
    assert verify_store(up).ok and not list(up.unfinished())
    assert len(keys_in(s3_server, bucket)) == 3
    # Nothing left: a second run uploads nothing.
    again = publish_cli(down.uri, tmp_path / "spool", s3_server.url)
    assert again.returncode == 0 and "nothing to publish" in again.stderr


KILLED_UPLOADER = """
import sys, time
from archive.s3 import S3Storage
from archive.s3_client import S3Options
storage = S3Storage(sys.argv[1], S3Options(endpoint_url=sys.argv[2], region_name="us-east-1",
                    spool_dir=sys.argv[3], multipart_threshold=5 << 20, multipart_chunksize=5 << 20))
def pause(**_):
    print("part uploaded", flush=True)
    time.sleep(60)
storage.client().meta.events.register("after-call.s3.UploadPart", pause)
storage.put_file(sys.argv[4], storage.staging_path(sys.argv[4]))
"""


def test_sigkill_during_a_multipart_upload_leaves_nothing_half_visible(
    make_store, s3_server, bucket, tmp_path
):
    storage = make_store()
    path = write_warc(storage.staging_path("crawls/k/warc/x").parent, 12 * MiB)
    key = f"crawls/k/warc/{path.name}"
    data = path.read_bytes()
    uploader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            KILLED_UPLOADER,
            storage.uri,
            s3_server.url,
            str(tmp_path / "spool"),
            key,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert uploader.stdout.readline() == "part uploaded\n"
    finally:
        uploader.send_signal(signal.SIGKILL)
        uploader.communicate(timeout=30)
    assert keys_in(s3_server, bucket) == []  # parts are invisible until completed
    assert uploads_in_progress(s3_server, bucket) == [f"archive/{key}"]
    done = publish_cli(
        storage.uri,
        tmp_path / "spool",
        s3_server.url,
        "-s",
        "ARCHIVE_S3_MULTIPART_THRESHOLD=5242880",
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert uploads_in_progress(s3_server, bucket) == []
    assert keys_in(s3_server, bucket) == [f"archive/{key}"]
    with storage.open(key) as fh:
        assert fh.read() == data


def test_wrong_credentials_are_one_clear_line_and_the_spool_is_kept(
    make_store, s3_server, tmp_path, monkeypatch
):
    storage = make_store()
    path = storage.staging_path("crawls/w/events.jsonl")
    path.write_bytes(b"{}\n")
    secret = "s3cr3t-DO-NOT-PRINT-0123456789"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIANOTAREALKEY00000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    s3_server.set_auth(0)  # from now on moto checks every request against its (empty) IAM
    try:
        done = publish_cli(storage.uri, tmp_path / "spool", s3_server.url, log_level="DEBUG")
    finally:
        s3_server.set_auth(float("inf"))
    assert done.returncode == 2  # refused credentials: an unusable store
    errors = [
        line for line in done.stderr.splitlines() if line.startswith("lifegate-archive publish:")
    ]
    assert len(errors) == 1 and "InvalidAccessKeyId" in errors[0] and "1 files kept" in errors[0]
    assert "Traceback" not in done.stderr
    assert secret not in done.stdout + done.stderr
    assert path.read_bytes() == b"{}\n"


def test_a_missing_bucket_is_one_clear_line(s3_server, s3_env, tmp_path):
    storage = S3Storage(
        "s3://no-such-bucket-here/x",
        S3Options(endpoint_url=s3_server.url, spool_dir=tmp_path / "spool"),
    )
    path = storage.staging_path("crawls/w/events.jsonl")
    path.write_bytes(b"{}\n")
    done = publish_cli(storage.uri, tmp_path / "spool", s3_server.url)
    assert done.returncode == 2  # an unusable store
    assert "NoSuchBucket" in done.stderr and "Traceback" not in done.stderr
    assert path.exists()


def test_crawl_into_s3_matches_file_store(
    fixture_site, s3_server, bucket, tmp_path, monkeypatch, request
):
    _, running = fixture_site
    # Were the endpoint setting ignored, boto3 would fall back to this closed port, never to AWS.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    store = f"s3://{bucket}/prefix"
    done = run_cli(
        "crawl", "--store", store, "--base-url", running.base_urls["it"], "--no-throttle",
        *TEST_CRAWL_SETTINGS,
        "-s", f"AWS_ENDPOINT_URL={s3_server.url}",
        "-s", f"ARCHIVE_SPOOL_DIR={tmp_path / 'spool'}",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    storage = S3Storage(store, S3Options(endpoint_url=s3_server.url, spool_dir=tmp_path / "spool"))
    [crawl_id] = {o.key.split("/")[1] for o in storage.list("crawls/")}
    report = verify_store(storage)
    assert report.ok, report.problems
    assert not list(storage.unfinished())
    manifest = json.loads(storage.read_range(f"crawls/{crawl_id}/manifest.json", 0, 10**7))
    file_crawl = request.getfixturevalue("it_crawl")
    assert manifest["status"] == file_crawl.manifest["status"]
    kinds = sorted(entry["kind"] for entry in manifest["objects"])
    assert kinds == sorted(entry["kind"] for entry in file_crawl.manifest["objects"])
    text = storage.read_range(f"crawls/{crawl_id}/text/articles.jsonl", 0, 10**8).decode()
    urls = sorted(json.loads(line)["url"] for line in text.splitlines())
    assert urls == sorted(record["url"] for record in file_crawl.text_records)


def test_derived_objects_are_replaced_and_locks_are_exclusive(make_store):
    from archive.lock import LockHeld, StoreLock

    storage = make_store()
    storage.put_bytes("indexes/state.json", b"{}")
    storage.put_bytes("indexes/state.json", b'{"v": 2}')  # derived data: replaced, never spooled
    assert storage.read_range("indexes/state.json", 0, 100) == b'{"v": 2}'
    assert not list(storage.unfinished())
    lock = StoreLock(storage, "run-1")
    lock.acquire()
    with pytest.raises(LockHeld, match="in use by run run-1"):
        StoreLock(storage, "run-2").acquire()
    lock.heartbeat()
    lock.release()
    assert not storage.exists("locks/crawl.lock")
    assert storage.create_exclusive("locks/other", b"1") and not storage.create_exclusive(
        "locks/other", b"2"
    )


def test_a_download_cut_mid_way_resumes_where_it_stopped(make_store, s3_server, tmp_path):
    proxy = FlakyProxy(s3_server.port)
    try:
        storage = make_store(endpoint_url=proxy.url)
        path = tmp_path / "big.bin"
        data = big_file(path, 8 * MiB)
        storage.put_file("crawls/r/big.bin", path)
        with storage.open("crawls/r/big.bin") as fh:
            head = fh.read(MiB)
            proxy.cut(refuse=0)  # the connection drops; the store stays reachable
            rest = fh.read()
        assert head + rest == data
    finally:
        proxy.close()
