"""Builders shared by the tests: made-up HTTP exchanges, committed crawls written from them, archive
sessions on a fake clock, stores made of the fixture site's crawls, and the rows of a release.

Test modules import what they share from here (never from one another).
"""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator

from archive.crawl import CrawlManifest, ManifestEntry, warc_key
from archive.crawl_files import WarcOptions
from archive.ledger import RecrawlPolicy
from archive.publisher import RetryPolicy
from archive.session import CrawlSession, SessionOptions
from archive.storage import FileStorage
from archive.warc import (
    PROFILE_IDENTICAL_PAYLOAD,
    HttpExchange,
    RecordLocation,
    RevisitTarget,
    RollingWarcWriter,
    WarcFileNamer,
    warc_date,
)
from cli import main
from pipelines.run_report import build_run_report

# --- Archive sessions ---------------------------------------------------------------------------


class FakeClock:
    """Wall-clock time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def options(**changes) -> SessionOptions:
    values = {
        "warc": WarcOptions(
            enabled=True, prefix="TEST", max_size=10_000_000, gzip_level=6, fsync=False
        ),
        "recover_on_start": True,
        "state_dir": None,
        "recrawl_policy": RecrawlPolicy(),
        "lock_stale_after": timedelta(minutes=30),
        "dedup_payloads": False,
        "index_at_commit": False,
        "publish_policy": RetryPolicy(attempts=1, backoff=0.0),
        "publish_timeout": 30.0,
        "warcinfo_settings": {"operator": "tests", "robots": "obey"},
        "log_file": False,
        "log_level": "INFO",
    }
    values.update(changes)
    return SessionOptions(**values)


def session_on(storage, clock: FakeClock, **changes) -> CrawlSession:
    return CrawlSession(storage, options(**changes), report=build_run_report, clock=clock)


# --- Exchanges and crawls written from them ----------------------------------------------------

T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


def exchange(url: str, body: bytes, when: datetime, *, status: int = 200, headers=(), gz=True) -> HttpExchange:
    response_headers = [(b"Content-Type", b"text/html; charset=utf-8"), *headers]
    if gz:
        response_headers.append((b"Content-Encoding", b"gzip"))
        body = gzip.compress(body, mtime=0)
    return HttpExchange(
        url=url,
        method="GET",
        request_headers=[(b"User-Agent", b"test")],
        status=status,
        response_headers=response_headers,
        body=body,
        fetch_started=when,
    )


def commit_crawl(storage: FileStorage, crawl_id: str, write) -> list[RecordLocation]:
    """A committed crawl whose WARC holds what ``write(writer)`` writes; returns the locations."""
    directory = storage.staging_path(warc_key(crawl_id, "x")).parent
    writer = RollingWarcWriter(directory, namer=WarcFileNamer("T", hostname="h"), warcinfo_fields={"a": "b"})
    locations = write(writer)
    writer.close()
    entries = [ManifestEntry.from_stored(storage.put_file(warc_key(crawl_id, p.name), p)) for p in writer.closed_files]
    CrawlManifest(crawl_id, "lifegate", "s", "f", "finished", entries).write(storage)
    return locations


def revisit_of(writer: RollingWarcWriter, first: RecordLocation, ex: HttpExchange, when: datetime):
    target = RevisitTarget(first.record_id, first.target_uri or ex.url, warc_date(when))
    return writer.write_revisit(
        ex, profile=PROFILE_IDENTICAL_PAYLOAD, refers_to=target, payload_digest=first.payload_digest
    )


def store_copy(crawl, tmp_path: Path) -> FileStorage:
    """A private copy of a session crawl's store (indexing writes into it)."""
    dest = tmp_path / "store"
    shutil.copytree(crawl.crawl_dir, dest / "crawls" / crawl.crawl_dir.name)
    return FileStorage(str(dest))


def article_exchange(n: int) -> HttpExchange:
    """Article ``n`` of a made-up site on 127.0.0.1:8080, gzip-encoded, fetched now."""
    return HttpExchange(
        url=f"http://127.0.0.1:8080/articolo-{n}",
        method="GET",
        request_headers=[(b"User-Agent", b"test")],
        status=200,
        response_headers=[(b"Content-Type", b"text/html"), (b"Content-Encoding", b"gzip")],
        body=gzip.compress(f"<p>articolo {n}</p>".encode() * 50, mtime=0),
        fetch_started=datetime.now(UTC),
    )


# --- Stores made of the fixture site's crawls -----------------------------------------------------


def fixture_store(dest: Path, *crawls) -> Path:
    """One store holding the crawls of several fixture stores (each fixture crawls into its own)."""
    for crawl in crawls:
        shutil.copytree(crawl.crawl_dir, dest / "crawls" / crawl.crawl_dir.name)
    return dest


def alias_args(fixture_site) -> list[str]:
    """The fixture sites all live on 127.0.0.1; name them as the real sites."""
    _, running = fixture_site
    names = {"it": "lifegate.it", "en": "lifegate.com", "republisher": "gratisforgratis.com"}
    args = []
    for key, name in names.items():
        args += ["--site-alias", f"{urlsplit(running.base_urls[key]).netloc}={name}"]
    return args


def aliases(fixture_site) -> dict[str, str]:
    args = alias_args(fixture_site)
    return dict(a.split("=") for a in args[1::2])


def add_crawl(store: Path, crawl_id: str, records: list[dict], warcs_from: Path | None = None) -> None:
    """A committed crawl made of the given text records (WARC files copied when provenance needs them)."""
    folder = store / "crawls" / crawl_id
    (folder / "text").mkdir(parents=True)
    if warcs_from is not None:
        shutil.copytree(warcs_from / "warc", folder / "warc")
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    (folder / "text" / "articles.jsonl").write_text(lines, encoding="utf-8")
    CrawlManifest(crawl_id, crawl_id.split("-", 1)[1], "2099-01-01T00:00:00Z",
                  "2099-01-01T00:00:01Z", "finished").write(FileStorage(str(store)))


def archived_payload(crawl, url: str) -> bytes:
    """The decoded body of the first response record of ``url`` in the crawl's WARC files."""
    for path in crawl.warc_files:
        with open(path, "rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type == "response" and record.rec_headers.get_header("WARC-Target-URI") == url:
                    return record.content_stream().read()
    raise KeyError(url)


# --- Releases ----------------------------------------------------------------------------------


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def parquet_rows(release_dir: Path) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(release_dir / "data").to_pylist()


def article_page(
    paragraphs: list[str], *, head: str = "", title: str = "Un articolo di prova"
) -> str:
    """A plain article page: navigation, the article (headline and paragraphs), a footer."""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<!DOCTYPE html><html><head>{head}<title>{title}</title></head><body>"
        f"<nav><a href='/'>Home</a> <a href='/ambiente'>Ambiente</a></nav>"
        f"<main><article><h1>{title}</h1>{body}</article></main>"
        f"<footer><p>Contatti</p></footer></body></html>"
    )
