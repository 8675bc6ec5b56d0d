"""The frontier hands out expected articles while extraction has room for them and other pages
otherwise; with extraction off it is one priority queue; its state survives a JOBDIR restart."""

from __future__ import annotations

from types import SimpleNamespace

from scrapy import Request
from scrapy.squeues import FifoMemoryQueue, PickleFifoDiskQueue
from scrapy.utils.test import get_crawler

from crawler.frontier import ARTICLE_EXPECTED, ExtractionPacedPriorityQueue


def frontier(key: str = "", startprios=(), queue=FifoMemoryQueue, **settings):
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
