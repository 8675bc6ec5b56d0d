"""Each crawler component built on its own: by Scrapy's ``from_crawler`` on a test crawler
(``scrapy.utils.test.get_crawler``), or from plain values, and made to do its job.

No reactor, no network: the components are called directly from asyncio, and collaborators that
the crawl would provide (the archive session, the Redis server, the engine) are small stand-ins.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request, Spider
from scrapy.exceptions import DropItem, IgnoreRequest, NotConfigured
from scrapy.http import Response, TextResponse
from scrapy.utils.test import get_crawler

from archive.ledger import ArticleState, RecrawlPolicy
from cli.settings import project_settings
from crawler.distributed import INFLIGHT_KEY, DistributedRun, InflightSpiderMiddleware
from crawler.dupefilter import RedirectAwareDupeFilter
from crawler.host_rate import SharedHostRateMiddleware
from crawler.hostile import HostileRefusal
from crawler.incremental import LEDGER_STATE, ConditionalRequestMiddleware, RecrawlFilterMiddleware
from crawler.items import ArticlePage
from crawler.keepalive import idle_connections_per_host
from crawler.politeness import RetryAfterMiddleware
from crawler.progress import ProgressReporter
from crawler.robots import RobotsPolicyMiddleware
from crawler.scope import ScopeMiddleware, ScopeRules
from crawler.warc_capture import (
    CAPTURE_KIND,
    RESPONSE_RECORD,
    ArchiveWriteError,
    WarcCaptureMiddleware,
)
from crawler.watchdog import Watchdog, stopping
from pipelines.extraction import ExtractionPipeline
from pipelines.extractor import ExtractorConfig
from pipelines.ledger_journal import LedgerJournalPipeline

CASES = Path(__file__).parent / "extraction_cases"


class SiteSpider(Spider):
    """A spider whose scope is one host, as the archive spider's is."""

    name = "components"

    def in_scope(self, url: str) -> bool:
        return url.startswith("http://site.test/")


def crawler_for(**overrides: Any):
    """A crawler with the project's settings and no archive session (nothing is written)."""
    settings = project_settings(
        {"TWISTED_REACTOR_ENABLED": False, "ARCHIVE_ENABLED": False, **overrides}
    ).copy_to_dict()
    crawler = get_crawler(SiteSpider, settings)
    crawler.spider = crawler._create_spider()
    return crawler


def stats():
    return crawler_for().stats


def response_for(request: Request, status: int = 200, body: bytes = b"", **headers: str):
    return Response(request.url, status=status, headers=headers, body=body, request=request)


# --- stand-ins for what a running crawl provides --------------------------------------------------


@dataclass
class Location:
    record_id: str = "<urn:uuid:1>"

    def as_dict(self) -> dict[str, Any]:
        return {"warc_file": "a.warc.gz", "offset": 0, "length": 10, "record_id": self.record_id}


@dataclass
class FakeLedger:
    states: dict[str, ArticleState] = field(default_factory=dict)

    def get(self, url: str) -> ArticleState | None:
        return self.states.get(url)


@dataclass
class FakeSession:
    """The parts of the archive session the components call."""

    ledger: FakeLedger | None = None
    policy: RecrawlPolicy = field(default_factory=RecrawlPolicy)
    payloads: Any = None
    crawl_id: str = "crawl-1"
    fail_writes: bool = False
    exchanges: list[Any] = field(default_factory=list)
    events: list[tuple] = field(default_factory=list)
    journal_lines: list[dict] = field(default_factory=list)
    texts: list[dict] = field(default_factory=list)
    seen_urls: list[tuple] = field(default_factory=list)

    def seen(self, url: str, source: str, lastmod: str | None) -> None:
        self.seen_urls.append((url, source, lastmod))

    async def write_exchange(self, exchange) -> list[Location]:
        if self.fail_writes:
            raise OSError(28, "No space left on device")
        self.exchanges.append(exchange)
        return [Location()]

    def log_event(self, kind: str, url: str, reason: str, **details: Any) -> None:
        self.events.append((kind, url, reason))

    def journal(self, event: dict) -> None:
        self.journal_lines.append(event)

    def warc_store_key(self, name: str) -> str:
        return f"crawls/{self.crawl_id}/warc/{name}"

    async def write_text(self, record: dict) -> None:
        self.texts.append(record)


def archived_state(url: str, **changes: Any) -> ArticleState:
    fields: dict[str, Any] = {
        "url": url,
        "status": "ok",
        "first_seen": "2020-01-01T00:00:00+00:00",
        "last_checked": "2999-01-01T00:00:00+00:00",  # just checked: not due
        "date_published": "2020-01-01T00:00:00+00:00",
        "sitemap_lastmod": None,
        "etag": '"v1"',
        "last_modified": None,
        "payload_digest": "sha1:AAAA",
        "text_sha256": None,
        "record_id": "<urn:uuid:old>",
        "record_date": "2020-01-02T00:00:00Z",
        "sources": "sitemap",
        "versions": 1,
    }
    return ArticleState(**{**fields, **changes})


# --- politeness --------------------------------------------------------------------------------


def test_retry_after_middleware_reads_its_limit_from_the_settings():
    crawler = crawler_for(ARCHIVE_RETRY_AFTER_MAX=5, RETRY_TIMES=4)
    middleware = RetryAfterMiddleware.from_crawler(crawler)
    assert (middleware.max_wait, middleware.max_retries) == (5.0, 4)
    request = Request("http://site.test/page")
    # 6 s is past the 5 s read from the settings: answered at once, never retried.
    response = response_for(request, 429, **{"Retry-After": "6"})
    assert asyncio.run(middleware.process_response(request, response)) is response
    assert request.meta["dont_retry"] is True
    assert crawler.stats.get_value("politeness/retry_after_refused") == 1


def test_retry_after_middleware_from_plain_values_decides_without_a_crawler():
    counts = stats()
    middleware = RetryAfterMiddleware(counts, max_wait=60, max_retries=2)
    long_wait = Request("http://site.test/a")
    response = response_for(long_wait, 503, **{"Retry-After": "3600"})
    assert asyncio.run(middleware.process_response(long_wait, response)) is response
    assert long_wait.meta["dont_retry"] is True
    # A wait it accepts needs a running crawl to retry in: left to Scrapy's RetryMiddleware.
    short_wait = Request("http://site.test/b")
    response = response_for(short_wait, 503, **{"Retry-After": "1"})
    assert asyncio.run(middleware.process_response(short_wait, response)) is response
    assert "dont_retry" not in short_wait.meta
    assert counts.get_value("politeness/retry_after_refused") == 1


# --- scope -------------------------------------------------------------------------------------


def test_scope_middleware_refuses_a_trap_by_the_settings_and_an_offsite_redirect():
    crawler = crawler_for(ARCHIVE_SCOPE_MAX_HOPS=3)
    middleware = ScopeMiddleware.from_crawler(crawler)
    middleware.process_request(Request("http://site.test/a", meta={"depth": 3}))
    with pytest.raises(HostileRefusal) as deep:
        middleware.process_request(Request("http://site.test/b", meta={"depth": 4}))
    assert deep.value.case == "trap-link-depth"
    # The spider's scope decides where redirects may lead; a page's resources may be anywhere.
    redirected = {"redirect_urls": ["http://site.test/old"]}
    with pytest.raises(HostileRefusal) as offsite:
        middleware.process_request(Request("http://elsewhere.test/x", meta=redirected))
    assert offsite.value.case == "redirect-offsite"
    middleware.process_request(
        Request("http://cdn.test/x.css", meta={**redirected, "discovered_via": "resource"})
    )
    middleware.process_request(Request("http://site.test/new", meta=redirected))


def test_scope_middleware_from_plain_rules_counts_tracking_parameters():
    counts = stats()
    middleware = ScopeMiddleware(ScopeRules(ignored_params=("utm_*",)), counts)
    middleware.process_request(Request("http://site.test/a?utm_source=x&id=1"))
    middleware.process_request(Request("http://site.test/b?id=2"))
    assert counts.get_value("hostile/tracking-params") == 1
    # No spider scope given: a redirect may go anywhere.
    middleware.process_request(
        Request("http://elsewhere.test/", meta={"redirect_urls": ["http://site.test/"]})
    )


# --- robots.txt --------------------------------------------------------------------------------


class RobotsEngine:
    """Answers robots.txt fetches with one status and body, counting them."""

    def __init__(self, status: int, body: bytes = b"") -> None:
        self.status, self.body, self.fetched = status, body, []

    async def download_async(self, request: Request) -> Response:
        self.fetched.append(request)
        return TextResponse(request.url, status=self.status, body=self.body, request=request)


def test_robots_middleware_disallows_a_host_whose_robots_txt_fails():
    crawler = crawler_for(ARCHIVE_ROBOTS_RETRIES=0, ARCHIVE_ROBOTS_TIMEOUT=3, DOWNLOAD_TIMEOUT=60)
    middleware = RobotsPolicyMiddleware.from_crawler(crawler)
    assert (middleware.retries, middleware.timeout) == (0, 3.0)
    crawler.engine = engine = RobotsEngine(503)
    with pytest.raises(HostileRefusal) as refused:
        asyncio.run(middleware.process_request(Request("http://site.test/page")))
    assert refused.value.case == "robots-unreachable"
    assert engine.fetched[0].meta["download_timeout"] == 3.0
    assert crawler.stats.get_value("hostile/robots-unreachable") == 1


def test_robots_middleware_obeys_the_rules_it_fetched():
    crawler = crawler_for()
    middleware = RobotsPolicyMiddleware.from_crawler(crawler)
    crawler.engine = RobotsEngine(200, b"User-agent: *\nDisallow: /private/\n")

    async def both() -> None:
        await middleware.process_request(Request("http://site.test/public"))
        with pytest.raises(IgnoreRequest):
            await middleware.process_request(Request("http://site.test/private/x"))

    asyncio.run(both())


# --- keep-alive --------------------------------------------------------------------------------


def test_keepalive_pool_keeps_as_many_idle_connections_as_the_crawl_has_requests():
    # The handler itself needs Twisted's reactor (tests/test_crawler_keepalive.py crawls with it);
    # its pool size is the plain value from_crawler passes it.
    settings = crawler_for(CONCURRENT_REQUESTS=12, CONCURRENT_REQUESTS_PER_DOMAIN=2).settings
    assert idle_connections_per_host(settings) == 12
    settings = crawler_for(ARCHIVE_IDLE_CONNECTIONS_PER_HOST=3, CONCURRENT_REQUESTS=12).settings
    assert idle_connections_per_host(settings) == 3


# --- watchdog ------------------------------------------------------------------------------------


def test_watchdog_reads_its_bounds_and_stopping_wakes_its_waits():
    crawler = crawler_for(ARCHIVE_IDLE_WAIT_MAX=7, ARCHIVE_NO_PROGRESS_TIMEOUT=11)
    watchdog = Watchdog.from_crawler(crawler)
    assert (watchdog.idle_wait_max, watchdog.no_progress_timeout) == (7.0, 11.0)
    told: list[bool] = []
    crawler.signals.connect(lambda: told.append(True), signal=stopping, weak=False)

    async def wait_then_stop() -> tuple[bool, float]:
        started = time.monotonic()
        waiting = asyncio.ensure_future(watchdog.wait(5))
        await asyncio.sleep(0.05)
        watchdog.stop()
        return await waiting, time.monotonic() - started

    completed, took = asyncio.run(wait_then_stop())
    assert completed is False and took < 4
    assert told == [True]
    assert asyncio.run(watchdog.wait(30)) is False  # stopped: no new wait starts


def test_watchdog_from_plain_values_lets_a_short_wait_end():
    watchdog = Watchdog(stats(), idle_wait_max=1, no_progress_timeout=0)
    assert asyncio.run(watchdog.wait(0.05)) is True
    assert watchdog.stopped is False


# --- progress ------------------------------------------------------------------------------------


def test_progress_reporter_is_off_at_interval_zero_and_reports_the_stats():
    with pytest.raises(NotConfigured):
        ProgressReporter.from_crawler(crawler_for(ARCHIVE_PROGRESS_INTERVAL=0))
    crawler = crawler_for(ARCHIVE_PROGRESS_INTERVAL=3)
    reporter = ProgressReporter.from_crawler(crawler)
    assert reporter.interval == 3.0
    crawler.stats.set_value("response_received_count", 12)
    crawler.stats.set_value("extract/records", 5)
    crawler.stats.set_value("archive/events/fetch-failed", 2)
    line = reporter.line()
    assert line.startswith("pages 12 (") and "articles 5" in line and "problems logged 2" in line


# --- duplicate filter ----------------------------------------------------------------------------


def test_dupefilter_sees_spellings_of_one_url_and_counts_redirect_loops():
    crawler = crawler_for()
    dupefilter = RedirectAwareDupeFilter.from_crawler(crawler)
    assert not dupefilter.request_seen(Request("http://site.test/a?utm_source=feed"))
    assert dupefilter.request_seen(Request("http://site.test/a"))
    assert not dupefilter.request_seen(Request("http://site.test/b"))
    chain = ["http://site.test/a", "http://site.test/b"]
    for back_to in chain:  # a -> b -> a, and a -> b -> b
        dupefilter.log(Request(back_to, meta={"redirect_urls": chain}), crawler.spider)
    dupefilter.log(
        Request("http://site.test/b", meta={"redirect_urls": ["http://site.test/old"]}),
        crawler.spider,
    )
    assert crawler.stats.get_value("outcome/redirect-loop") == 2
    assert crawler.stats.get_value("dupefilter/redirect_to_known_url") == 1


# --- incremental crawling ----------------------------------------------------------------------


def test_recrawl_filter_is_built_by_from_crawler_and_needs_the_session():
    crawler = crawler_for()  # ARCHIVE_ENABLED off: no session extension
    middleware = RecrawlFilterMiddleware.from_crawler(crawler)
    request = Request("http://site.test/a", meta={"discovered_via": "sitemap"})
    assert list(middleware.process_spider_output(None, [request])) == [request]
    with pytest.raises(NotConfigured, match="RecrawlFilterMiddleware needs the ArchiveSession"):
        middleware.spider_opened(crawler.spider)


def test_recrawl_filter_skips_known_articles_that_are_not_due():
    counts = stats()
    known = "http://site.test/known"
    session = FakeSession(ledger=FakeLedger({known: archived_state(known)}))
    middleware = RecrawlFilterMiddleware(counts, session)
    out = list(
        middleware.process_spider_output(
            None,
            [
                Request(known, meta={"discovered_via": "sitemap"}),
                Request("http://site.test/new", meta={"discovered_via": "link"}),
                {"not": "a request"},
            ],
        )
    )
    assert [getattr(o, "url", o) for o in out] == ["http://site.test/new", {"not": "a request"}]
    assert counts.get_value("incremental/not_due") == 1
    assert [url for url, _, _ in session.seen_urls] == [known, "http://site.test/new"]


def test_conditional_requests_carry_the_validators_of_the_last_capture():
    counts = stats()
    known = "http://site.test/known"
    state = archived_state(known, last_modified="Wed, 01 Jan 2020 00:00:00 GMT")
    middleware = ConditionalRequestMiddleware(
        counts, FakeSession(ledger=FakeLedger({known: state}))
    )
    request = Request(known)
    middleware.process_request(request)
    assert request.headers[b"If-None-Match"] == b'"v1"'
    assert request.headers[b"If-Modified-Since"] == b"Wed, 01 Jan 2020 00:00:00 GMT"
    assert 304 in request.meta["handle_httpstatus_list"] and request.meta[LEDGER_STATE] is state
    # Reached through a redirect and not due: skipped.
    with pytest.raises(IgnoreRequest):
        middleware.process_request(Request(known, meta={"redirect_urls": ["http://site.test/o"]}))
    fresh = Request("http://site.test/other")
    middleware.process_request(fresh)
    assert b"If-None-Match" not in fresh.headers
    assert counts.get_value("incremental/conditional_requests") == 1


# --- WARC capture ------------------------------------------------------------------------------


def test_warc_capture_is_off_with_warc_disabled():
    with pytest.raises(NotConfigured):
        WarcCaptureMiddleware.from_crawler(crawler_for(WARC_ENABLED=False))
    assert isinstance(WarcCaptureMiddleware.from_crawler(crawler_for()), WarcCaptureMiddleware)


def test_warc_capture_writes_each_exchange_and_fails_loudly():
    counts = stats()
    session = FakeSession()
    middleware = WarcCaptureMiddleware(counts, session)
    request = Request("http://site.test/a")
    middleware.process_request(request)
    response = response_for(request, 200, b"<html>page</html>", **{"Content-Type": "text/html"})
    assert asyncio.run(middleware.process_response(request, response)) is response
    [exchange] = session.exchanges
    assert (exchange.url, exchange.status, exchange.body) == (request.url, 200, response.body)
    assert request.meta[CAPTURE_KIND] == "response"
    assert request.meta[RESPONSE_RECORD]["record_id"] == "<urn:uuid:1>"
    session.fail_writes = True
    with pytest.raises(ArchiveWriteError, match="No space left"):
        asyncio.run(middleware.process_response(request, response))
    assert "No space left" in counts.get_value("run/store_failed")


# --- distributed runs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "component", [DistributedRun, InflightSpiderMiddleware, SharedHostRateMiddleware]
)
def test_distributed_components_are_off_without_redis(component):
    with pytest.raises(NotConfigured):
        component.from_crawler(crawler_for())


def test_distributed_run_reads_its_identity_from_the_settings():
    # Redis clients connect on first use: nothing listens on this port, and nothing is sent.
    crawler = crawler_for(
        ARCHIVE_REDIS_URL="redis://127.0.0.1:9/0",
        ARCHIVE_RUN_ID="nightly",
        ARCHIVE_WORKER_ID="w2",
        ARCHIVE_WORKER_TTL=12,
    )
    run = DistributedRun.from_crawler(crawler)
    assert (run.run_id, run.worker_id, run.ttl) == ("nightly", "w2", 12.0)
    assert run.keys["inflight"] == "lifegate-archive:nightly:inflight"
    assert crawler.stats.get_value("distributed/run_id") == "nightly"


class FakeRedis:
    """Records the hash deletions of a pipeline."""

    def __init__(self) -> None:
        self.deleted: list[tuple[str, str]] = []

    def pipeline(self) -> FakeRedis:
        return self

    def hdel(self, name: str, *keys: str) -> FakeRedis:
        self.deleted += [(name, key) for key in keys]
        return self

    def execute(self) -> None:
        pass


def test_a_request_leaves_the_inflight_hash_when_its_work_is_done():
    server = FakeRedis()
    run = DistributedRun(server, stats(), run_id="r", worker_id="w1", ttl=30)
    middleware = InflightSpiderMiddleware(run)
    # A page with no article is done once its callback has run.
    page = Request("http://site.test/list", meta={INFLIGHT_KEY: "k1"})
    out = list(
        middleware.process_spider_output(response_for(page), [Request("http://site.test/x")])
    )
    assert len(out) == 1
    assert server.deleted == [
        ("lifegate-archive:r:inflight", "k1"),
        ("lifegate-archive:r:inflight-owner", "k1"),
    ]
    # An article carries its key to the pipelines, and is done when they are.
    server.deleted.clear()
    article = Request("http://site.test/article", meta={INFLIGHT_KEY: "k2"})
    [item] = list(
        middleware.process_spider_output(response_for(article), [article_item(article.url, b"")])
    )
    assert server.deleted == [] and item.extra[INFLIGHT_KEY] == "k2"
    run.item_done(item)
    assert ("lifegate-archive:r:inflight", "k2") in server.deleted


class FixedLimiter:
    def __init__(self, wait: float) -> None:
        self.wait, self.hosts = wait, []

    def reserve(self, host: str) -> float:
        self.hosts.append(host)
        return self.wait


def test_shared_host_rate_waits_as_the_shared_schedule_says():
    counts = stats()
    middleware = SharedHostRateMiddleware(FixedLimiter(0.05), counts)
    started = time.monotonic()
    asyncio.run(middleware.process_request(Request("http://site.test:8080/a")))
    assert time.monotonic() - started >= 0.04
    assert middleware.limiter.hosts == ["site.test:8080"]
    assert counts.get_value("politeness/shared_waits") == 1
    free = SharedHostRateMiddleware(FixedLimiter(0), counts)
    asyncio.run(free.process_request(Request("http://site.test/b")))
    assert counts.get_value("politeness/shared_waits") == 1


# --- item pipelines ------------------------------------------------------------------------------


def test_extraction_pipeline_reads_its_settings():
    with pytest.raises(NotConfigured):
        ExtractionPipeline.from_crawler(crawler_for(EXTRACT_ENABLED=False))
    pipeline = ExtractionPipeline.from_crawler(
        crawler_for(EXTRACT_WORKERS=3, EXTRACT_MAX_BYTES=1000, ARCHIVE_ARTICLE_LIMIT=9)
    )
    assert (pipeline.workers, pipeline.limit, pipeline.config.max_bytes) == (3, 9, 1000)


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity here")
def test_the_extraction_pool_fits_the_cores_the_crawl_may_run_on():
    allowed = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {min(allowed)})
        pipeline = ExtractionPipeline.from_crawler(crawler_for(EXTRACT_WORKERS=0))
    finally:
        os.sched_setaffinity(0, allowed)
    assert pipeline.workers == 1
    assert ExtractionPipeline.from_crawler(crawler_for(EXTRACT_WORKERS=0)).workers == len(allowed)


def article_item(url: str, body: bytes, **fields: Any) -> ArticlePage:
    defaults: dict[str, Any] = {
        "status": 200,
        "content_type": "text/html; charset=utf-8",
        "fetched": "2026-12-04T00:00:00Z",
        "discovered_via": "sitemap",
        "warc_record": Location().as_dict(),
    }
    return ArticlePage(url=url, body=body, **{**defaults, **fields})


def test_extraction_pipeline_writes_text_up_to_the_article_limit():
    case = CASES / "lifegate_it_article"
    body = (case / "page.html").read_bytes()
    url = json.loads((case / "meta.json").read_text(encoding="utf-8"))["url"]
    counts = stats()
    session = FakeSession()
    pipeline = ExtractionPipeline(counts, ExtractorConfig(), article_limit=1, session=session)
    # Threads in place of the crawl's process pool: the same submit-and-await path, no spawn.
    pipeline._pool = ThreadPoolExecutor(1)
    try:
        first = asyncio.run(pipeline.process_item(article_item(url, body)))
        with pytest.raises(DropItem, match="ARCHIVE_ARTICLE_LIMIT=1"):
            asyncio.run(pipeline.process_item(article_item(url + "?2", body)))
        revisit = asyncio.run(
            pipeline.process_item(article_item(url, body, capture_kind="revisit"))
        )
    finally:
        pipeline.close_spider()
    [record] = session.texts
    assert record["url"] and record["text"] and record["crawl"]["crawl_id"] == "crawl-1"
    assert first.text_summary["text_sha256"] == record["text_sha256"]
    assert first.body is None and revisit.body is None and revisit.text_summary is None
    assert counts.get_value("extract/records") == 1


def test_ledger_journal_pipeline_is_built_by_from_crawler():
    crawler = crawler_for()
    pipeline = LedgerJournalPipeline.from_crawler(crawler)
    pipeline.open_spider()  # no session extension: counts only
    pipeline.process_item(article_item("http://site.test/a", b"x"))
    assert crawler.stats.get_value("incremental/new") == 1


def test_ledger_journal_pipeline_journals_each_capture():
    counts = stats()
    session = FakeSession()
    pipeline = LedgerJournalPipeline(counts, session)
    pipeline.process_item(article_item("http://site.test/a", b"x", status=200, known=True))
    pipeline.process_item(article_item("http://site.test/b", b"x", capture_kind="revisit"))
    pipeline.process_item({"title": "not an article"})
    first, second = session.journal_lines
    assert (first["url"], first["kind"], first["http_status"]) == (
        "http://site.test/a",
        "response",
        200,
    )
    assert first["warc"]["key"] == "crawls/crawl-1/warc/a.warc.gz"
    assert second["kind"] == "revisit"
    assert counts.get_value("incremental/changed") == 1
    assert counts.get_value("incremental/unchanged") == 1


def test_extraction_pool_workers_build_their_extractor_when_the_spider_opens():
    pipeline = ExtractionPipeline(stats(), ExtractorConfig(), workers=2)
    pipeline.open_spider()
    try:
        assert len(pipeline.warming) == 2
        for future in pipeline.warming:
            assert future.result(timeout=120) is None  # raised in the worker otherwise
        assert len({p.pid for p in pipeline._pool._processes.values()}) == 2
    finally:
        pipeline.close_spider()


def _stop_signals_ignored() -> bool:
    import signal

    return all(signal.getsignal(s) == signal.SIG_IGN for s in (signal.SIGINT, signal.SIGTERM))


def test_extraction_workers_leave_stop_signals_to_the_crawler():
    # Ctrl-C reaches every process of the group: the crawler finishes the pages in flight, so a
    # worker must not die of it.
    pipeline = ExtractionPipeline(stats(), ExtractorConfig(), workers=1)
    pipeline.open_spider()
    try:
        assert pipeline._pool.submit(_stop_signals_ignored).result(timeout=120)
    finally:
        pipeline.close_spider()


def test_the_session_commits_before_a_distributed_worker_leaves_its_run():
    # DistributedRun.spider_closed may hand a stopped worker's requests in flight to the run's
    # other workers, which read its committed output: the session's spider_closed must run first,
    # and signal handlers run in the order the extensions were built (ascending EXTENSIONS order).
    from crawler import settings

    order = settings.EXTENSIONS
    assert order["pipelines.archive_session.ArchiveSession"] < order["crawler.distributed.DistributedRun"]
