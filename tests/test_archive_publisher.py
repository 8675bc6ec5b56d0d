"""The publishing protocol: files checked before upload, transient failures retried within bounds,
a dead store never stalls the caller, and crawl manifests published last."""

from __future__ import annotations

import fcntl
import random
import time

import pytest

from archive.publisher import (
    Publisher,
    RetryPolicy,
    VerificationError,
    publish_spool,
    verify_file,
)
from archive.storage import FileStorage, StorageError, StoreUnavailable
from tests.s3_fixtures import (
    CRAWL,
    FlakyProxy,
    spool_crawl,
)

FAST = RetryPolicy(attempts=3, backoff=0.01, max_backoff=0.05)
OTHER_CRAWL = "20261128T100000Z-lifegate"


@pytest.fixture
def proxy(s3_server):
    relay = FlakyProxy(s3_server.port)
    yield relay
    relay.close()


def keys_in(server, bucket: str) -> list[str]:
    return [o["Key"] for o in server.client().list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_retry_delays_grow_with_jitter_and_stay_bounded():
    policy = RetryPolicy(attempts=8, backoff=1.0, max_backoff=8.0)
    rng = random.Random(7)
    for attempt, ceiling in [(1, 1), (2, 2), (3, 4), (4, 8), (5, 8), (7, 8)]:
        delays = {policy.delay(attempt, rng) for _ in range(20)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays) and len(delays) > 1


def test_a_torn_or_miscounted_warc_is_never_published(make_store, s3_server, bucket):
    storage = make_store()
    files, _ = spool_crawl(storage)
    warc_key, warc = files[0]
    assert verify_file(warc_key, warc) == 7
    with pytest.raises(VerificationError, match="the writer counted 9"):
        verify_file(warc_key, warc, records=9)
    data = warc.read_bytes()
    warc.write_bytes(data[:-10])
    with Publisher(storage, policy=FAST) as publisher:
        future = publisher.submit(warc_key, warc)
        with pytest.raises(VerificationError, match="truncated"):
            future.result(timeout=30)
    assert warc.read_bytes() == data[:-10]  # kept for a person to look at
    assert keys_in(s3_server, bucket) == []
    text_key, text = files[1]
    text.write_bytes(b'{"ok": 1}\n{"torn": \n')
    with pytest.raises(VerificationError, match="line 2 is not JSON"):
        verify_file(text_key, text)


def test_transient_failures_are_retried_with_backoff(make_store, proxy, s3_server, bucket):
    storage = make_store(endpoint_url=proxy.url, max_attempts=1)  # no retries inside boto3
    files, _ = spool_crawl(storage)
    proxy.cut(refuse=2)  # the next two connections are refused, then the store is back
    with Publisher(storage, policy=FAST) as publisher:
        stored = publisher.submit(*files[0]).result(timeout=30)
    assert proxy.refused == 2
    assert keys_in(s3_server, bucket) == [f"archive/{stored.key}"]
    assert not files[0][1].exists()


def test_a_dead_store_costs_one_backoff_cycle_and_keeps_every_file(make_store, proxy):
    storage = make_store(endpoint_url=proxy.url, max_attempts=1)
    files, _ = spool_crawl(storage, exchanges=1)
    third = storage.staging_path(f"crawls/{CRAWL}/events.jsonl")
    third.write_bytes(b"{}\n")
    files.append((f"crawls/{CRAWL}/events.jsonl", third))
    proxy.cut()
    publisher = Publisher(storage, policy=FAST)
    futures = [publisher.submit(key, path) for key, path in files]
    assert publisher.drain(timeout=30)
    assert not publisher.close()
    assert all(isinstance(f.exception(), StoreUnavailable) for f in futures)
    # Three attempts for the first file; once the store is known down, one each for the others.
    assert proxy.refused == 3 + 1 + 1
    assert sorted(publisher.failed) == sorted(key for key, _ in files)
    assert all(path.exists() for _, path in files)
    assert sorted(storage.pending()) == sorted(files)


def test_close_does_not_wait_out_the_backoff(make_store, proxy):
    storage = make_store(endpoint_url=proxy.url, max_attempts=1)
    files, _ = spool_crawl(storage, exchanges=1)
    proxy.cut()
    publisher = Publisher(storage, policy=RetryPolicy(attempts=5, backoff=30.0, max_backoff=30.0))
    first, second = (publisher.submit(key, path) for key, path in files)
    assert not publisher.drain(timeout=0.3)  # the first file is waiting to retry
    started = time.monotonic()
    assert not publisher.close(timeout=0)
    assert time.monotonic() - started < 5
    assert isinstance(first.exception(timeout=5), StoreUnavailable)
    assert second.cancelled()
    assert all(path.exists() for _, path in files)
    with pytest.raises(RuntimeError, match="closed"):
        publisher.submit(*files[0])


def test_publish_spool_commits_manifests_last_and_holds_back_unfinished_crawls(
    make_store, s3_server, bucket
):
    storage = make_store()
    _, manifest = spool_crawl(storage)
    storage.staging_path(f"crawls/{CRAWL}/manifest.json").write_bytes(manifest)
    # A second crawl that is still running (or was killed): a WARC still open.
    _, other_manifest = spool_crawl(storage, OTHER_CRAWL)
    open_warc = next(storage.spool.glob(f"crawls/{OTHER_CRAWL}/warc/*.warc.gz"))
    open_warc.rename(open_warc.with_name(open_warc.name + ".open"))
    storage.staging_path(f"crawls/{OTHER_CRAWL}/manifest.json").write_bytes(other_manifest)
    # Limited to the unfinished crawl: its finished file goes up, its manifest waits.
    scoped = publish_spool(storage, policy=FAST, prefix=f"crawls/{OTHER_CRAWL}/")
    assert [s.key for s in scoped.published] == [f"crawls/{OTHER_CRAWL}/text/articles.jsonl"]
    assert len(scoped.held) == 1
    order = []
    storage.client().meta.events.register(
        "before-parameter-build.s3.PutObject", lambda params, **_: order.append(params["Key"])
    )
    lines = []
    report = publish_spool(storage, policy=FAST, progress=lines.append)
    assert order[-1] == f"archive/crawls/{CRAWL}/manifest.json"
    assert f"archive/crawls/{CRAWL}/text/articles.jsonl" in order
    assert not any(OTHER_CRAWL in key and key.endswith("manifest.json") for key in order)
    assert [key for key, _ in report.held] == [f"crawls/{OTHER_CRAWL}/manifest.json"]
    assert "not published yet" in report.held[0][1]
    assert [p.name for p in report.unfinished] == [open_warc.name + ".open"]
    assert not report.ok and not report.failed
    assert any(line.startswith("committed") for line in lines)


def test_a_manifest_naming_a_missing_object_is_held_back(make_store):
    storage = make_store()
    files, manifest = spool_crawl(storage)
    for _, path in files[:1]:
        path.unlink()  # lost, never published
    storage.staging_path(f"crawls/{CRAWL}/manifest.json").write_bytes(manifest)
    report = publish_spool(storage, policy=FAST)
    [(key, reason)] = report.held
    assert key.endswith("manifest.json") and "is not in the store" in reason
    assert not storage.exists(f"crawls/{CRAWL}/manifest.json")


def test_a_file_another_process_is_publishing_is_left_alone(make_store):
    storage = make_store()
    files, _ = spool_crawl(storage, exchanges=1)
    key, path = files[0]
    with open(path, "rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        with pytest.raises(StorageError, match="being published by another process"):
            storage.put_file(key, path)
        report = publish_spool(storage, policy=FAST)
    assert [k for k, _ in report.failed] == [key]
    assert path.exists()


def test_the_publisher_works_with_a_folder_store(tmp_path):
    storage = FileStorage(str(tmp_path / "store"))
    files, _ = spool_crawl(storage)
    with Publisher(storage) as publisher:
        stored = [publisher.submit(key, path).result(timeout=30) for key, path in files]
    assert [s.key for s in stored] == [key for key, _ in files]
    assert all(path.exists() for _, path in files)  # published in place
    assert not list(storage.pending())
