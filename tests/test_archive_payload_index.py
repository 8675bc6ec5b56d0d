"""The payload index: digests of what the archive holds, read from the merged index, and the
revisit targets it gives (Heritrix-style identical-payload-digest deduplication)."""

from __future__ import annotations

from datetime import timedelta

from archive.indexer import build_indexes
from archive.payload_index import PayloadIndex
from archive.storage import FileStorage
from archive.warc import payload_digest
from tests.builders import T0, commit_crawl, exchange, revisit_of


def test_committed_payloads_are_found_by_digest_whatever_the_url(tmp_path):
    storage = FileStorage(str(tmp_path / "store"))
    page = exchange("https://www.lifegate.it/tag/clima/", b"<p>clima</p>", T0)
    image = exchange("https://www.lifegate.it/app/logo.svg?ver=1", b"<svg/>", T0, gz=False)
    empty = exchange("https://www.lifegate.it/vecchio", b"", T0, status=301, gz=False)

    def write(writer):
        first = writer.write_exchange(page)
        writer.write_exchange(image)
        writer.write_exchange(empty)
        later = exchange(page.url, b"<p>clima</p>", T0 + timedelta(days=1))
        revisit_of(writer, first[0], later, T0)
        return first

    commit_crawl(storage, "20250301T120000Z-lifegate", write)
    assert (
        PayloadIndex.from_store(storage).target(payload_digest(page.body)) is None
    )  # no index yet
    build_indexes(storage)
    known = PayloadIndex.from_store(storage)
    assert len(known) == 2  # the page and the image; not the empty redirect, not the revisit
    target = known.target(payload_digest(page.body))
    assert target is not None and target.target_uri == page.url
    assert target.date == "2025-03-01T12:00:00Z" and target.record_id == ""
    assert known.target(payload_digest(image.body)).target_uri == image.url
    assert known.target(payload_digest(b"")) is None
    assert known.target(payload_digest(b"never archived")) is None
    assert known.target("md5:not-a-sha1") is None
    # Captures of the running crawl join it; the first capture of a payload stays the target.
    known.add(
        payload_digest(b"new"), "https://x.example/a", "2025-03-02T00:00:00.5Z", "<urn:uuid:1>"
    )
    known.add(payload_digest(b"new"), "https://x.example/b", "2025-03-03T00:00:00Z", "<urn:uuid:2>")
    again = known.target(payload_digest(b"new"))
    assert (again.target_uri, again.record_id) == ("https://x.example/a", "<urn:uuid:1>")
