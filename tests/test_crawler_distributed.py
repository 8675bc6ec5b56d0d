"""Distributed runs on scrapy-redis: two workers share a frontier, a killed worker loses nothing,
Redis restarting is survived, and the per-host rate is shared."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from fixture_site import FixtureSite
from tests.conftest import ROOT, crawl_command, run_cli
from tests.loopback import free_port

REDIS = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(REDIS is None, reason="redis-server is not installed (apt-get install redis-server)")



class RedisServer:
    """redis-server on 127.0.0.1, with an append-only file so a restart keeps the frontier."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [REDIS, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "yes",
             "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


def worker(store: Path, base: str, redis_url: str, name: str, *extra: str) -> subprocess.Popen:
    command = crawl_command(
        store, base, "--redis-url", redis_url, "--run-id", "test", "--worker-id", name,
        "-s", "ARCHIVE_SHARED_HOST_DELAY=0", "-s", "ARCHIVE_WORKER_TTL=8", *extra,
    )
    # Its own process group: a kill takes its extraction workers too, as a lost machine would.
    return subprocess.Popen(
        [sys.executable, "-m", "cli", *command],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def reap(*processes: subprocess.Popen) -> None:
    """Kill workers a failed test left running, so none outlives it (nor its pipes: left open,
    they would be reported as unclosed during a later test)."""
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.communicate()
        for stream in (process.stdout, process.stderr):
            if stream is not None and not stream.closed:
                stream.close()


def text_urls(store: Path) -> list[str]:
    urls = []
    for path in store.glob("crawls/*/text/articles.jsonl"):
        urls += [json.loads(line)["url"] for line in path.read_text().splitlines() if line.strip()]
    return urls


def test_two_workers_archive_every_article_exactly_once(tmp_path, redis_server):
    store = tmp_path / "store"
    site = FixtureSite(include_faults=False)
    with site.serve(host="127.0.0.1") as running:
        base = running.base_urls["it"]
        workers = [worker(store, base, redis_server.url, name) for name in ("w1", "w2")]
        try:
            outputs = [w.communicate(timeout=400) for w in workers]
        finally:
            reap(*workers)
        requests = running.requests
    for process, (_out, err) in zip(workers, outputs, strict=True):
        assert process.returncode == 0, err[-3000:]
    crawls = sorted(p.name for p in (store / "crawls").iterdir())
    assert sorted(c.rsplit(".", 1)[-1] for c in crawls) == ["w1", "w2"]
    assert all((store / "crawls" / c / "manifest.json").exists() for c in crawls)
    assert all("-w1.warc.gz" in p.name or "-w2.warc.gz" in p.name for p in store.glob("crawls/*/warc/*"))
    urls = text_urls(store)
    articles = {base + a.path for a in site.articles if a.site == "it"}
    assert sorted(urls) == sorted(articles)
    fetched = [e.path for e in requests if e.status == 200 and base + e.path in articles]
    assert sorted(fetched) == sorted(a.path for a in site.articles if a.site == "it")
    assert not (store / "locks" / "crawl.lock").exists()
    assert run_cli("verify", "--store", str(store)).returncode == 0


# A worker killed (SIGKILL: a lost machine) is recovered by the survivor; one stopped on purpose
# (SIGINT: Ctrl-C in its terminal) commits its crawl and leaves its requests in flight to the run.
STOPS = {"killed": (signal.SIGKILL, "recovered"), "ctrl-c": (signal.SIGINT, "shutdown")}


@pytest.mark.parametrize("stop", list(STOPS))
def test_a_stopped_worker_loses_nothing(tmp_path, redis_server, stop):
    how, status = STOPS[stop]
    store = tmp_path / "store"
    site = FixtureSite(include_faults=False, extra_articles=40)
    with site.serve(host="127.0.0.1") as running:
        base = running.base_urls["it"]
        slow = ["-s", "CONCURRENT_REQUESTS=2"]
        survivor = worker(store, base, redis_server.url, "w1", *slow)
        victim = worker(store, base, redis_server.url, "w2", *slow)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not list(store.glob("crawls/*.w2/warc/*.open")):
                time.sleep(0.05)
            time.sleep(1.5)
            os.killpg(victim.pid, how)
            _out, victim_err = victim.communicate(timeout=120)
            _out, err = survivor.communicate(timeout=400)
        finally:
            reap(survivor, victim)
    logs = f"w2:\n{victim_err[-2000:]}\nw1:\n{err[-2000:]}"
    if how == signal.SIGINT:
        assert victim.returncode == 0, logs
    assert survivor.returncode == 0, logs
    urls = text_urls(store)
    articles = {base + a.path for a in site.articles if a.site == "it"}
    assert articles <= set(urls), (articles - set(urls), logs)
    assert len(urls) == len(set(urls)), ("an article was archived twice", logs)
    manifests = [json.loads(p.read_text()) for p in store.glob("crawls/*/manifest.json")]
    assert sorted(m["status"] for m in manifests) == sorted(["finished", status]), logs
    assert run_cli("verify", "--store", str(store)).returncode == 0


def test_redis_restarting_mid_crawl_is_survived(tmp_path, redis_server):
    store = tmp_path / "store"
    site = FixtureSite(include_faults=False, extra_articles=60)
    with site.serve(host="127.0.0.1") as running:
        base = running.base_urls["it"]
        process = worker(store, base, redis_server.url, "w1", "-s", "CONCURRENT_REQUESTS=2")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list(store.glob("crawls/*/warc/*.open")):
            time.sleep(0.05)
        time.sleep(1)
        redis_server.stop()
        time.sleep(2)
        redis_server.start()
        try:
            _out, err = process.communicate(timeout=400)
        finally:
            reap(process)
    assert process.returncode == 0, err[-3000:]
    assert "Redis unreachable" in err
    articles = {base + a.path for a in site.articles if a.site == "it"}
    assert articles <= set(text_urls(store))


def test_redis_gone_for_good_is_reported_and_fails(tmp_path, redis_server, monkeypatch):
    store = tmp_path / "store"
    site = FixtureSite(include_faults=False, extra_articles=60)
    with site.serve(host="127.0.0.1") as running:
        process = worker(
            store, running.base_urls["it"], redis_server.url, "w1",
            "-s", "CONCURRENT_REQUESTS=1", "-s", "ARCHIVE_REDIS_RETRY_TIMEOUT=5",
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list(store.glob("crawls/*/warc/*.open")):
            time.sleep(0.05)
        redis_server.stop()
        try:
            out, err = process.communicate(timeout=400)
        finally:
            reap(process)
    assert process.returncode != 0
    assert "Redis unreachable for 5s" in err and "redis-unavailable" in out + err


def test_the_host_rate_is_shared_across_workers(redis_server):
    import redis

    from crawler.distributed import run_keys
    from crawler.host_rate import HostRateLimiter

    interval = 0.05
    times: list[float] = []
    lock = threading.Lock()

    def one_worker():
        limiter = HostRateLimiter(redis.Redis.from_url(redis_server.url), run_keys("rate")["host"], interval)
        for _ in range(15):
            time.sleep(limiter.reserve("127.0.0.1:8080"))
            with lock:
                times.append(time.monotonic())

    threads = [threading.Thread(target=one_worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    times.sort()
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(times) == 30
    assert min(gaps) > interval * 0.6  # sleep granularity, not a second worker, explains any slack
    assert times[-1] - times[0] >= interval * 29 * 0.95


class Outage:
    """A Redis client whose connection drops once, at its ``at``-th command: before the server ran
    it, or after (its reply lost), as when Redis restarts mid-crawl."""

    def __init__(self, client, at: int = 0, ran: bool = False) -> None:
        self.client, self.at, self.ran = client, at, ran
        self.count = 0

    def execute_command(self, *args, **options):
        import redis

        self.count += 1
        if self.count != self.at:
            return self.client.execute_command(*args, **options)
        if self.ran:
            self.client.execute_command(*args, **options)
        raise redis.ConnectionError(f"connection lost at {args[0]}")

    def __getattr__(self, name):
        # The commands redis-py builds on execute_command go through the one above.
        import redis

        attribute = getattr(redis.Redis, name, None)
        if callable(attribute) and name not in ("pipeline",):
            return attribute.__get__(self)
        return getattr(self.client, name)


def open_scheduler(redis_url: str, worker_id: str):
    from scrapy import Spider
    from scrapy.utils.test import get_crawler

    from crawler.distributed import DistributedRun, DistributedScheduler, distributed_settings

    settings = distributed_settings(redis_url, "faults", worker_id)
    settings["ARCHIVE_REDIS_RETRY_TIMEOUT"] = 5
    crawler = get_crawler(Spider, settings)
    spider = Spider("frontier")
    spider.crawler, spider.settings = crawler, crawler.settings
    scheduler = DistributedScheduler.from_crawler(crawler)
    clean = scheduler.server
    clean.flushdb()
    scheduler.server = Outage(clean)
    crawler.get_extension = lambda cls: None
    scheduler.open(spider)
    scheduler.df.server = scheduler.server
    run = DistributedRun(clean, crawler.stats, run_id="faults", worker_id=worker_id, ttl=30)
    run.scheduler = scheduler
    return scheduler, run


OUTAGES = [(at, ran) for at in range(1, 5) for ran in (False, True)]


@pytest.mark.parametrize(("at", "ran"), OUTAGES)
def test_a_connection_lost_while_queueing_neither_loses_nor_doubles_the_request(redis_server, at, ran):
    from scrapy import Request

    scheduler, run = open_scheduler(redis_server.url, "w1")
    scheduler.server.count, scheduler.server.at, scheduler.server.ran = 0, at, ran
    scheduler.enqueue_request(Request("http://site.test/a"))
    assert not scheduler.enqueue_request(Request("http://site.test/a"))
    queued = run.server.zrange(scheduler.queue.key, 0, -1)
    assert [scheduler.queue._decode_request(q).url for q in queued] == ["http://site.test/a"]


@pytest.mark.parametrize(("at", "ran"), OUTAGES)
def test_a_connection_lost_while_dequeuing_loses_nothing(redis_server, at, ran):
    from scrapy import Request

    scheduler, run = open_scheduler(redis_server.url, "w1")
    for path in ("a", "b"):
        assert scheduler.enqueue_request(Request(f"http://site.test/{path}"))
    scheduler.server.count, scheduler.server.at, scheduler.server.ran = 0, at, ran
    received = []
    while True:
        # A pop whose reply was lost stays in flight under this worker's name, until it is idle.
        while (request := scheduler.next_request()) is not None:
            received.append(request)
            run.finished(request)
        if not run.requeue_unreceived():
            break
    assert sorted(r.url for r in received) == ["http://site.test/a", "http://site.test/b"]
    assert run.server.hlen(run.keys["inflight"]) == 0 and run.server.zcard(scheduler.queue.key) == 0
