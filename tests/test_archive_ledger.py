"""The ledger cache built from committed journals: a line that is not an event is skipped and named,
the rest of the crawl's journal still applies."""

from __future__ import annotations

import json
import logging

from archive.crawl import CrawlManifest, ledger_key
from archive.ledger import Ledger
from archive.storage import FileStorage

CRAWL = "20261128T090000Z-lifegate"


def test_a_torn_journal_line_is_skipped_and_logged_and_the_other_events_apply(tmp_path, caplog):
    storage = FileStorage(str(tmp_path / "store"))
    events = [
        {"type": "seen", "url": "https://www.lifegate.it/a", "time": "2026-11-28T09:00:00Z"},
        {"type": "gone", "url": "https://www.lifegate.it/b", "time": "2026-11-28T09:00:01Z"},
    ]
    lines = [json.dumps(events[0]), '{"type": "seen", "url": "https://www.life', json.dumps(events[1])]
    storage.put_bytes(ledger_key(CRAWL), ("\n".join(lines) + "\n").encode())
    CrawlManifest(CRAWL, "lifegate", "s", "f", "finished").write(storage)

    ledger = Ledger(tmp_path / "ledger.sqlite")
    try:
        with caplog.at_level(logging.WARNING):
            assert ledger.sync(storage) == [CRAWL]
        assert ledger.get("https://www.lifegate.it/a") is not None
        assert ledger.get("https://www.lifegate.it/b").status == "gone"
    finally:
        ledger.close()
    assert f"{ledger_key(CRAWL)}:2: skipped a line that is not JSON" in caplog.text


def test_an_uncommitted_crawl_is_not_applied(tmp_path):
    storage = FileStorage(str(tmp_path / "store"))
    event = {"type": "seen", "url": "https://www.lifegate.it/a", "time": "2026-11-28T09:00:00Z"}
    storage.put_bytes(ledger_key(CRAWL), (json.dumps(event) + "\n").encode())
    ledger = Ledger(tmp_path / "ledger.sqlite")
    try:
        assert ledger.sync(storage) == []
        assert ledger.get("https://www.lifegate.it/a") is None
    finally:
        ledger.close()
