"""The frontier hands out expected articles while extraction has room for them and other pages
otherwise; with extraction off it is one priority queue; its state survives a JOBDIR restart; its
in-memory queues hold requests compactly and give them back as they were."""

from __future__ import annotations

import threading
import tracemalloc
from types import SimpleNamespace

from scrapy import FormRequest, Request, Spider
from scrapy.squeues import PickleFifoDiskQueue
from scrapy.utils.test import get_crawler

from crawler.frontier import (
    ARTICLE_EXPECTED,
    CompactFifoMemoryQueue,
    ExtractionPacedPriorityQueue,
)


def frontier(key: str = "", startprios=(), queue=CompactFifoMemoryQueue, **settings):
    crawler = get_crawler(
        settings_dict={
            "EXTRACT_ENABLED": True,
            "EXTRACT_WORKERS": 1,
            "ARCHIVE_ARTICLES_IN_FLIGHT": 2,
            **settings,
        }
    )
    # What the queue reads of the engine: requests downloading, and those the scraper holds.
    crawler.engine = SimpleNamespace(
        downloader=SimpleNamespace(active=set()),
        scraper=SimpleNamespace(slot=SimpleNamespace(active=set(), queue=[])),
    )
    return crawler, ExtractionPacedPriorityQueue.from_crawler(crawler, queue, key, startprios)


def article(n: int, priority: int = -3) -> Request:
    return Request(
        f"http://lifegate.test/article-{n}", priority=priority, meta={ARTICLE_EXPECTED: True}
    )


def page(n: int, priority: int = -5) -> Request:
    return Request(f"http://lifegate.test/category/news/page/{n}/", priority=priority)


def test_articles_go_out_while_extraction_has_room_then_other_pages():
    crawler, queue = frontier()
    for n in range(3):
        queue.push(article(n))
        queue.push(page(n))
    assert len(queue) == 6
    first = queue.pop()
    assert first.url.endswith("article-0")
    crawler.engine.downloader.active.add(first)
    second = queue.pop()
    assert second.url.endswith("article-1")
    # Two expected articles in flight (ARCHIVE_ARTICLES_IN_FLIGHT): the other pages come next,
    # although their priority is lower.
    crawler.engine.scraper.slot.active.add(second)
    assert [queue.pop().url[-2:] for _ in range(3)] == ["0/", "1/", "2/"]
    # Nothing else left: the article goes out whatever the backlog.
    assert queue.pop().url.endswith("article-2")
    assert queue.pop() is None and len(queue) == 0


def test_an_article_done_with_makes_room_for_the_next():
    crawler, queue = frontier()
    for n in range(2):
        queue.push(article(n))
    queue.push(page(0))
    held = [queue.pop(), queue.pop()]
    assert all(r.meta.get(ARTICLE_EXPECTED) for r in held)
    crawler.engine.scraper.slot.queue.extend((None, r, None) for r in held)
    queue.push(article(2))
    assert queue.pop().url.endswith("page/0/")
    crawler.engine.scraper.slot.queue.clear()
    assert queue.pop().url.endswith("article-2")


def test_with_extraction_off_it_is_one_priority_queue():
    _, queue = frontier(EXTRACT_ENABLED=False)
    queue.push(page(0, priority=1))
    queue.push(article(0, priority=-3))
    queue.push(page(1, priority=-5))
    queue.push(article(1, priority=-3))
    order = [queue.pop().url for _ in range(4)]
    assert order == [page(0).url, article(0).url, article(1).url, page(1).url]


def test_the_state_of_both_queues_survives_a_jobdir_restart(tmp_path):
    _, queue = frontier(str(tmp_path / "q"), queue=PickleFifoDiskQueue)
    queue.push(article(0))
    queue.push(page(0))
    queue.push(page(1, priority=0))
    state = queue.close()
    assert set(state) == {"other", "articles"}
    _, reopened = frontier(str(tmp_path / "q"), startprios=state, queue=PickleFifoDiskQueue)
    assert len(reopened) == 3
    urls = {reopened.pop().url for _ in range(3)}
    assert urls == {article(0).url, page(0).url, page(1).url}


def test_a_jobdir_written_by_scrapys_own_queue_is_read_as_other_pages(tmp_path):
    from scrapy.pqueues import ScrapyPriorityQueue

    crawler = get_crawler()
    stock = ScrapyPriorityQueue.from_crawler(crawler, PickleFifoDiskQueue, str(tmp_path / "q"))
    stock.push(page(0))
    state = stock.close()
    _, reopened = frontier(str(tmp_path / "q"), startprios=state, queue=PickleFifoDiskQueue)
    assert reopened.pop().url == page(0).url


class Site(Spider):
    name = "site"

    def parse_page(self, response):
        return None

    def on_error(self, failure):
        return None


def compact_queue():
    crawler = get_crawler(Site)
    crawler.spider = Site()
    return crawler.spider, CompactFifoMemoryQueue.from_crawler(crawler, "")


def test_a_compact_queue_gives_back_each_request_as_it_was_pushed():
    spider, queue = compact_queue()
    pushed = [
        Request(
            f"http://lifegate.test/article-{n}",
            spider.parse_page,
            errback=spider.on_error,
            priority=-n,
            meta={ARTICLE_EXPECTED: True, "depth": n, "discovered_via": "sitemap"},
            headers={"If-None-Match": f'"{n}"'},
            cb_kwargs={"n": n},
            dont_filter=bool(n % 2),
        )
        for n in range(3)
    ] + [Request("http://lifegate.test/feed", method="HEAD", flags=["x"])]
    for request in pushed:
        queue.push(request)
    assert len(queue) == 4
    assert queue.peek().url == pushed[0].url
    popped = [queue.pop() for _ in range(4)]
    assert queue.pop() is None and len(queue) == 0
    for before, after in zip(pushed, popped, strict=True):
        assert after.to_dict(spider=spider) == before.to_dict(spider=spider)
    # Each request gets its own meta, never one shared with a request of the same shape.
    popped[0].meta["depth"] = 99
    queue.push(pushed[1])
    queue.push(pushed[1])
    first, second = queue.pop(), queue.pop()
    first.meta["depth"] = 99
    assert second.meta["depth"] == 1


def test_a_request_the_compact_queue_cannot_rebuild_is_kept_as_it_is():
    _, queue = compact_queue()
    odd = [
        Request("http://lifegate.test/a", callback=lambda response: None),
        Request("http://lifegate.test/b", meta={"lock": threading.Lock()}),
        FormRequest("http://lifegate.test/c", formdata={"q": "x"}),
    ]
    for request in odd:
        queue.push(request)
    assert [queue.pop() for _ in odd] == odd


def test_queued_requests_take_a_fraction_of_their_objects_memory():
    spider, queue = compact_queue()

    def sitemap_entry(n: int) -> Request:
        meta = {"discovered_via": "sitemap", ARTICLE_EXPECTED: True, "depth": 1}
        return Request(f"http://lifegate.test/{n:05d}/", spider.parse_page, meta=meta)

    tracemalloc.start()
    try:
        held = [sitemap_entry(n) for n in range(2000)]
        as_objects = tracemalloc.get_traced_memory()[0]
        del held
        tracemalloc.reset_peak()
        baseline = tracemalloc.get_traced_memory()[0]
        for n in range(2000):
            queue.push(sitemap_entry(n))
        compact = tracemalloc.get_traced_memory()[0] - baseline
    finally:
        tracemalloc.stop()
    assert compact < as_objects / 2
