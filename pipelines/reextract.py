"""Re-extraction: the clean text of the whole archive rebuilt from its WARC files, no recrawl.

Each text record's provenance names its response record; one ranged read fetches it and the current
extractor (``EXTRACT_*`` settings) runs on it in a process pool, or on a Dask cluster. Output:
``reextract/<config-hash>/<crawl-id>.jsonl`` (same lines as ``text/articles.jsonl``), which
``export`` then uses. Scrapy-free: the ``reextract`` command and the benchmarks call it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)
# Pages per task: enough to amortise the round trip to a worker, small enough to balance the pool.
BATCH = 16


@lru_cache(maxsize=2)
def _worker_storage(uri: str, storages: tuple[tuple[str, str], ...], settings: tuple = ()):
    from archive.storage import open_storage

    return open_storage(uri, dict(storages), dict(settings))


def reextract_batch(
    uri: str,
    storages: tuple,
    settings: tuple,
    config,
    items: list[dict],
    max_decoded: int | None = None,
) -> list[tuple[dict | None, str | None]]:
    """Re-extract a batch of text records in a worker: (new record, None) or (None, reason).

    The worker opens the store with ``settings`` (endpoint, spool: the command's store settings).
    Damaged records (gzip or digest check failed) and bodies that cannot be decoded within
    ``max_decoded`` bytes are reasons too, ``record-damaged: <where>`` naming the record.
    """
    from archive.content_coding import DecodeError, TooLarge
    from archive.reader import MAX_DECODED_LENGTH, NotArchived, RecordDamaged, read_response
    from archive.storage import StorageError
    from pipelines.extractor import extract_with_config

    storage = _worker_storage(uri, storages, settings)
    out: list[tuple[dict | None, str | None]] = []
    for item in items:
        old, prov = item["record"], item["provenance"]
        where = f"{prov.get('warc_key')}@{prov.get('offset')}"
        try:
            response = read_response(storage, prov)
            body = response.decoded(max_decoded or MAX_DECODED_LENGTH)
        except RecordDamaged as exc:
            logger.warning("damaged WARC record of %s: %s", old.get("url"), exc)
            out.append((None, f"record-damaged: {where}"))
            continue
        except TooLarge as exc:
            logger.warning("not decoding the WARC record of %s: %s", old.get("url"), exc)
            out.append((None, f"too-large: {where}"))
            continue
        except DecodeError as exc:
            logger.warning("cannot decode the body of %s: %s", old.get("url"), exc)
            out.append((None, f"undecodable-body: {where}"))
            continue
        except (NotArchived, StorageError) as exc:
            logger.warning("cannot read the WARC record of %s: %s", old.get("url"), exc)
            out.append((None, "warc-unreadable"))
            continue
        if response.record_id != prov.get("record_id"):
            out.append((None, "provenance-mismatch"))
            continue
        result = extract_with_config(config, body, old["url"], response.content_type)
        if result.record is None:
            out.append((None, result.reason or "no-article"))
            continue
        # The spider's credit and the crawl's site survive, as in the crawl.
        record = result.text_record(
            site=old.get("site"),
            translation_of=old.get("translation_of"),
            provenance=old["provenance"],
            crawl=old.get("crawl"),
        )
        out.append((record, None))
    return out


@dataclass(slots=True)
class ReextractReport:
    """Pages re-extracted per crawl and why the others gave no record."""

    config_hash: str
    pages: int = 0
    records: int = 0
    seconds: float = 0.0
    skipped: Counter = field(default_factory=Counter)
    crawls: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Lines of text files that are no records, damaged WARC records, files left out: one line each.
    problems: list[str] = field(default_factory=list)


def reextract_store(
    storage,
    config,
    *,
    workers: int,
    storages: Mapping[str, str | type] | None = None,
    store_config: tuple[tuple[str, Any], ...] = (),
    force: bool = False,
    only: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
    interval: float = 10.0,
    executor: Executor | None = None,
    skip_damaged: bool = False,
    max_decoded: int | None = None,
) -> ReextractReport:
    """Re-extract every committed crawl of ``storage`` (or those in ``only``) not done yet for
    this configuration.

    The work runs on ``executor`` when given (a cluster's, e.g. Dask's ``Client.get_executor()``),
    else on a process pool of ``workers`` on this machine; the output is the same either way.

    A crawl whose listed text or WARC file is missing or not a regular file stops the run with a
    one-line ``StorageError``, or with ``skip_damaged`` is left out and named in ``problems``.
    """
    from archive.crawl import committed_crawls, iter_text_records, text_key, unreadable_objects
    from archive.dataset import (
        record_provenance,
        reextract_key,
        reextract_manifest_key,
    )
    from archive.storage import StorageError

    config_hash = config.config_hash()
    report = ReextractReport(config_hash)
    say = progress or (lambda message: None)
    started = last = time.monotonic()
    storage_args = (storage.uri, tuple(sorted((storages or {}).items())), tuple(store_config))
    # spawn, as the crawl pipeline does: a forked worker would inherit whatever threads hold.
    context = multiprocessing.get_context("spawn")
    owned = executor is None
    pool = executor or ProcessPoolExecutor(max(1, workers), mp_context=context)
    try:
        for crawl_id in committed_crawls(storage):
            if only is not None and crawl_id not in only:
                continue
            key = reextract_key(config_hash, crawl_id)
            if storage.exists(key) and not force:
                say(f"{crawl_id}: already re-extracted for {config_hash[:12]}")
                continue
            unreadable = unreadable_objects(storage, crawl_id, ("text", "warc"))
            if unreadable and not skip_damaged:
                raise StorageError(
                    f"{unreadable[0]} (crawl {crawl_id}); rerun with --skip-damaged to go on without it"
                )
            if any(line.startswith(text_key(crawl_id)) for line in unreadable):
                report.problems += unreadable
                say(f"{crawl_id}: skipped, its text file cannot be read")
                continue
            report.problems += unreadable  # missing WARC files: their pages count as unreadable
            items = []
            for r in iter_text_records(storage, crawl_id, report.problems):
                if not isinstance(r.get("provenance"), dict) or not r["provenance"]:
                    continue
                try:
                    items.append({"record": r, "provenance": record_provenance(r, crawl_id)})
                except (StorageError, TypeError) as exc:
                    report.problems.append(f"{crawl_id}: record {str(r.get('id'))[:40]}: {exc}")
            batches = [items[i : i + BATCH] for i in range(0, len(items), BATCH)]
            counts: Counter = Counter()
            with tempfile.TemporaryDirectory(prefix="reextract-") as tmp:
                path = Path(tmp) / "articles.jsonl"
                with open(path, "w", encoding="utf-8") as out:
                    task = partial(reextract_batch, *storage_args, config, max_decoded=max_decoded)
                    for batch in pool.map(task, batches):
                        for record, reason in batch:
                            report.pages += 1
                            if record is None:
                                kind, _, where = (reason or "").partition(": ")
                                counts[kind] += 1
                                if where:
                                    report.problems.append(f"{where}: {kind}")
                                continue
                            report.records += 1
                            counts["records"] += 1
                            out.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
                        now = time.monotonic()
                        if now - last >= interval:
                            last = now
                            say(
                                f"{report.pages} pages, {report.pages / (now - started):.1f} pages/s, "
                                f"{report.records} records"
                            )
                storage.put_file(key, path)
            report.skipped.update({k: v for k, v in counts.items() if k != "records"})
            report.crawls[crawl_id] = {"pages": len(items), **dict(counts)}
            say(f"{crawl_id}: {counts['records']} of {len(items)} pages re-extracted")
    finally:
        if owned:
            pool.shutdown()
    report.seconds = time.monotonic() - started
    if report.crawls:
        _write_index(storage, reextract_manifest_key(config_hash), config, report)
    return report


def _write_index(storage, key: str, config, report: ReextractReport) -> None:
    import trafilatura

    from archive.storage import StorageError
    from pipelines.extractor import EXTRACTOR_VERSION

    index: dict[str, Any] = {}
    if storage.exists(key):
        try:
            with storage.open(key) as fh:
                index = json.loads(fh.read())
        except (ValueError, StorageError):
            index = {}
    index.update(
        config_hash=report.config_hash,
        extractor_version=EXTRACTOR_VERSION,
        trafilatura_version=trafilatura.__version__,
        config=json.loads(json.dumps(asdict(config), default=str)),
        updated=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    index.setdefault("crawls", {}).update(report.crawls)
    storage.put_bytes(key, (json.dumps(index, indent=2, sort_keys=True) + "\n").encode())


class ClusterUnavailable(Exception):
    """The Dask scheduler given on the command line could not be reached."""


@contextlib.contextmanager
def cluster_executor(address: str | None, timeout: float = 30.0) -> Iterator[Executor | None]:
    """A Dask cluster's executor for ``address`` (``tcp://host:8786``), or None for local processes.

    Dask, because it is pure Python on both ends (no JVM as Spark, no object store daemons as Ray),
    runs these plain functions unchanged, and its workers read WARCs by byte range from the same
    store URI, S3 included.
    """
    if not address:
        yield None
        return
    try:
        from distributed import Client
    except ImportError as exc:
        raise ClusterUnavailable(
            "a Dask cluster needs `pip install 'lifegate-archive[cluster]'`"
        ) from exc
    try:
        client = Client(address, timeout=timeout)
    except OSError as exc:
        raise ClusterUnavailable(f"cannot reach the Dask scheduler at {address}: {exc}") from exc
    try:
        yield client.get_executor()
    finally:
        client.close()
