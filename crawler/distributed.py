"""Several crawl workers on one frontier: scrapy-redis's shared queue and duplicate filter, made safe.

scrapy-redis is at-most-once: a worker killed with SIGKILL loses the requests it had popped (they are
already in the duplicate filter). Here every popped request stays in an in-flight hash, owned by its
worker, until its records are committed (its response archived, or its failure logged); workers
send heartbeats, and a live worker that finds a dead one recovers the dead worker's crawl folder,
drops the requests its committed output already covers, and requeues the rest. The per-host request
rate is shared through Redis, so politeness does not multiply with the number of workers.

Queueing and popping are each one server-side script, so a connection lost in the middle of one (a
Redis restart) cannot leave a request marked seen but not queued, or popped but not in flight: a
retried queueing finds it seen and queued; a pop whose reply was lost stays in flight under this
worker's name, and the worker requeues it when it is idle (it never received it).

Settings: ``ARCHIVE_REDIS_URL``, ``ARCHIVE_RUN_ID``, ``ARCHIVE_WORKER_ID``, ``ARCHIVE_WORKER_TTL``,
``ARCHIVE_SHARED_HOST_DELAY``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

import redis
from scrapy import Request, signals
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy_redis.dupefilter import RFPDupeFilter as RedisDupeFilter
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler as RedisScheduler
from twisted.internet import task

from archive.crawl import crawl_ids, is_committed, iter_jsonl, iter_text_records, ledger_key
from archive.recovery import recover_crawl
from archive.software import CRAWL_COMPONENTS, software_versions
from pipelines.archive_session import ArchiveSession

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

INFLIGHT_KEY = "inflight_key"


def _text(value: bytes | str) -> str:
    """A Redis reply as text (the client is not told to decode replies, so they are bytes)."""
    return value.decode() if isinstance(value, bytes) else value


def run_keys(run_id: str) -> dict[str, str]:
    base = f"lifegate-archive:{run_id}"
    return {
        "queue": f"{base}:%(spider)s:requests",
        "dupefilter": f"{base}:%(spider)s:dupefilter",
        "inflight": f"{base}:inflight",
        "owner": f"{base}:inflight-owner",
        "sequence": f"{base}:inflight-sequence",
        "workers": f"{base}:workers",
        "heartbeat": f"{base}:heartbeat:",
        "host": f"{base}:host-next:",
    }


def distributed_settings(redis_url: str, run_id: str, worker_id: str) -> dict[str, object]:
    """The settings that turn a crawl into one worker of a distributed run."""
    keys = run_keys(run_id)
    return {
        "ARCHIVE_REDIS_URL": redis_url,
        "ARCHIVE_RUN_ID": run_id,
        "ARCHIVE_WORKER_ID": worker_id,
        "REDIS_URL": redis_url,
        "SCHEDULER": "crawler.distributed.DistributedScheduler",
        "DUPEFILTER_CLASS": "crawler.distributed.DistributedDupeFilter",
        "SCHEDULER_QUEUE_KEY": keys["queue"],
        "SCHEDULER_DUPEFILTER_KEY": keys["dupefilter"],
        # Workers of a run join and leave at different times: the frontier outlives each of them.
        "SCHEDULER_PERSIST": True,
        "SCHEDULER_SERIALIZER": "scrapy_redis.picklecompat",
        "SCHEDULER_QUEUE_CLASS": "scrapy_redis.queue.PriorityQueue",
    }


# KEYS: duplicate filter, queue. ARGV: fingerprint ("" when the request is not filtered), score,
# encoded request. Returns 1 when queued, 0 when already seen.
_QUEUE_SCRIPT = """
if ARGV[1] ~= '' and redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
return 1
"""

# KEYS: queue, in-flight hash, owner hash, sequence. ARGV: worker id.
# Returns {in-flight id, encoded request}, or nil when the queue is empty.
_POP_SCRIPT = """
local top = redis.call('ZRANGE', KEYS[1], 0, 0)
if #top == 0 then return false end
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, 0)
local id = tostring(redis.call('INCR', KEYS[4]))
redis.call('HSET', KEYS[2], id, top[1])
redis.call('HSET', KEYS[3], id, ARGV[1])
return {id, top[1]}
"""


def _with_redis_retries(call, what: str, seconds: float):
    """Run a Redis call, riding out a restart of the server for up to ``seconds``
    (``ARCHIVE_REDIS_RETRY_TIMEOUT``)."""
    deadline = time.monotonic() + seconds
    delay = 0.2
    while True:
        try:
            return call()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            if time.monotonic() >= deadline:
                raise RedisUnavailable(
                    f"Redis unreachable for {seconds:.0f}s while {what}: {exc}"
                ) from exc
            logger.warning("Redis unreachable while %s (%s); retrying", what, exc)
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


class RedisUnavailable(Exception):
    """Redis stayed unreachable: this worker stops; its in-flight requests are requeued later."""


class DistributedScheduler(RedisScheduler):
    """scrapy-redis's scheduler, with each popped request tracked in flight until it is done."""

    @classmethod
    def from_crawler(cls, crawler):
        scheduler = super().from_crawler(crawler)
        scheduler.crawler = crawler
        scheduler.keys = run_keys(crawler.settings.get("ARCHIVE_RUN_ID"))
        scheduler.worker_id = crawler.settings.get("ARCHIVE_WORKER_ID")
        scheduler.retry_seconds = crawler.settings.getfloat("ARCHIVE_REDIS_RETRY_TIMEOUT")
        return scheduler

    def open(self, spider):
        super().open(spider)
        if not isinstance(self.queue, PriorityQueue):
            raise TypeError(
                "a distributed crawl needs SCHEDULER_QUEUE_CLASS = scrapy_redis.queue.PriorityQueue"
            )
        self._queue_script = self.server.register_script(_QUEUE_SCRIPT)
        self._pop_script = self.server.register_script(_POP_SCRIPT)
        # In-flight ids this worker received and has not yet seen finished; at idle, an entry
        # under this worker's name that is not here was popped but never received.
        self.received: set[str] = set()
        run = self.crawler.get_extension(DistributedRun)
        if run is not None:
            run.scheduler = self

    redis_lost = False
    retry_seconds = 30.0

    def enqueue_request(self, request: Request) -> bool:
        if self.redis_lost:
            return False
        fingerprint = "" if request.dont_filter else self.df.request_fingerprint(request)
        arguments = (fingerprint, -request.priority, self.queue._encode_request(request))
        try:
            queued = _with_redis_retries(
                lambda: self._queue_script(keys=(self.df.key, self.queue.key), args=arguments),
                "queueing",
                self.retry_seconds,
            )
        except RedisUnavailable as exc:
            self._stop(exc)
            return False
        if not queued:
            self.df.log(request, self.spider)
            return False
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        return True

    def next_request(self):
        if self.redis_lost:
            return None
        keys = (self.queue.key, self.keys["inflight"], self.keys["owner"], self.keys["sequence"])
        try:
            popped = _with_redis_retries(
                lambda: self._pop_script(keys=keys, args=(self.worker_id,)),
                "dequeuing",
                self.retry_seconds,
            )
        except RedisUnavailable as exc:
            self._stop(exc)
            return None
        if not popped:
            return None
        key, encoded = _text(popped[0]), popped[1]
        self.received.add(key)
        request = self.queue._decode_request(encoded)
        if self.stats:
            self.stats.inc_value("scheduler/dequeued/redis")
        request.meta[INFLIGHT_KEY] = key
        return request

    def has_pending_requests(self) -> bool:
        if self.redis_lost:
            return False
        try:
            return _with_redis_retries(
                lambda: len(self) > 0, "counting the queue", self.retry_seconds
            )
        except RedisUnavailable as exc:
            self._stop(exc)
            return False

    def _stop(self, exc: Exception) -> None:
        if self.redis_lost:
            return
        # From here on the scheduler answers at once: waiting again per call would stall the close.
        self.redis_lost = True
        logger.critical("%s; stopping this worker", exc)
        self.crawler.stats.set_value("distributed/redis_error", str(exc))
        self._closing = asyncio.ensure_future(
            self.crawler.engine.close_spider_async(reason="redis-unavailable")
        )


class DistributedDupeFilter(RedisDupeFilter):
    """The shared duplicate filter; a filtered redirect finishes its request's in-flight entry."""

    def log(self, request: Request, spider) -> None:
        super().log(request, spider)
        run = spider.crawler.get_extension(DistributedRun)
        if run is not None:
            run.finished(request)


class DistributedRun:
    """Extension: worker membership, heartbeats, completion of in-flight requests, reconciliation."""

    def __init__(
        self,
        server: redis.Redis,
        stats,
        *,
        run_id: str,
        worker_id: str,
        ttl: float,
        retry_seconds: float = 30.0,
    ) -> None:
        self.server = server
        self.retry_seconds = retry_seconds
        self.stats = stats
        self.run_id = run_id
        self.worker_id = worker_id
        self.ttl = ttl
        self.keys = run_keys(self.run_id)
        self.crawler: Crawler | None = None  # set by from_crawler: the engine, the session
        self._heartbeat: task.LoopingCall | None = None
        self.scheduler: DistributedScheduler | None = None
        self._joined = False
        self._closing: asyncio.Future | None = None
        # One worker of a run may find nothing to do (the others took it all): not a failed run.
        stats.set_value("distributed/run_id", self.run_id)

    @classmethod
    def from_crawler(cls, crawler) -> DistributedRun:
        settings = crawler.settings
        if not settings.get("ARCHIVE_REDIS_URL"):
            raise NotConfigured  # not a distributed crawl (silently: no "Disabled" warning)
        run = cls(
            redis.Redis.from_url(settings.get("ARCHIVE_REDIS_URL"), socket_timeout=10),
            crawler.stats,
            run_id=settings.get("ARCHIVE_RUN_ID"),
            worker_id=settings.get("ARCHIVE_WORKER_ID"),
            ttl=settings.getfloat("ARCHIVE_WORKER_TTL"),
            retry_seconds=settings.getfloat("ARCHIVE_REDIS_RETRY_TIMEOUT"),
        )
        run.crawler = crawler
        crawler.signals.connect(run.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(run.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(run.spider_closed, signal=signals.spider_closed)
        for signal in (signals.item_scraped, signals.item_dropped, signals.item_error):
            crawler.signals.connect(run.item_done, signal=signal)
        return run

    def _session(self) -> ArchiveSession | None:
        return self.crawler.get_extension(ArchiveSession) if self.crawler is not None else None

    # --- membership ------------------------------------------------------------------------------

    def beat(self) -> None:
        try:
            if self._joined and not self.server.sismember(self.keys["workers"], self.worker_id):
                # Another worker took this one for dead and requeued its work: carrying on would
                # write into files it has already recovered.
                logger.critical(
                    "Worker %s was declared dead by run %s; stopping", self.worker_id, self.run_id
                )
                if self.crawler is not None:
                    self._closing = asyncio.ensure_future(
                        self.crawler.engine.close_spider_async(reason="fenced")
                    )
                return
            self.server.set(
                self.keys["heartbeat"] + self.worker_id, str(time.time()), px=int(self.ttl * 1000)
            )
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            logger.warning("Heartbeat not sent (Redis unreachable: %s)", exc)

    def live_workers(self) -> set[str]:
        members = {_text(m) for m in self.server.smembers(self.keys["workers"])}
        return {
            w
            for w in members
            if w == self.worker_id or self.server.exists(self.keys["heartbeat"] + w)
        }

    def spider_opened(self, spider) -> None:
        session = self._session()
        if session is not None:
            # Workers of one run share the store: the lock is the run's, released by its last worker.
            session.lock_release_allowed = lambda: self.live_workers() <= {self.worker_id}
        _with_redis_retries(
            lambda: self.server.sadd(self.keys["workers"], self.worker_id),
            "joining the run",
            self.retry_seconds,
        )
        self._joined = True
        self.beat()
        self._heartbeat = task.LoopingCall(self.beat)
        self._heartbeat.start(max(self.ttl / 3, 0.5), now=False)
        logger.info("Worker %s joined run %s", self.worker_id, self.run_id)

    def spider_closed(self, spider, reason: str) -> None:
        if self._heartbeat is not None and self._heartbeat.running:
            self._heartbeat.stop()
        try:
            owned = sum(w == self.worker_id for w in self.owners().values())
            pipe = self.server.pipeline()
            if owned:
                # Stopped with requests in flight (Ctrl-C, SIGTERM, a limit): leave as a killed
                # worker would, a member without a heartbeat, so the run's other workers requeue
                # what this crawl's committed output does not cover. ArchiveSession, an earlier
                # extension, has committed the crawl by now: its spider_closed runs first.
                pipe.sadd(self.keys["workers"], self.worker_id)
            else:
                pipe.srem(self.keys["workers"], self.worker_id)
            pipe.delete(self.keys["heartbeat"] + self.worker_id)
            pipe.execute()
            if owned:
                logger.warning(
                    "Worker %s stopped with %d requests in flight: the run's other workers "
                    "(or the next one to join) requeue them",
                    self.worker_id,
                    owned,
                )
            elif reason == "finished" and not self.live_workers() - {self.worker_id}:
                self._clear_finished_run(spider)
        except (redis.ConnectionError, redis.TimeoutError):
            logger.warning(
                "Could not leave run %s cleanly; other workers will see this one as dead",
                self.run_id,
            )

    def _clear_finished_run(self, spider) -> None:
        # The last worker of a completed run clears its frontier, so the next scheduled run with
        # the same run id starts afresh (the ledger, not the duplicate filter, remembers the past).
        queue_key = self.keys["queue"] % {"spider": spider.name}
        if self.server.zcard(queue_key) or self.server.hlen(self.keys["inflight"]):
            return
        names = [queue_key, self.keys["dupefilter"] % {"spider": spider.name}, self.keys["workers"]]
        names.append(self.keys["sequence"])
        names += list(self.server.scan_iter(match=self.keys["host"] + "*"))
        self.server.delete(*names)
        logger.info("Run %s is complete; its frontier is cleared", self.run_id)

    # --- completion ----------------------------------------------------------------------------

    def finished(self, request: Request) -> None:
        """The request's records are committed (or its failure is logged): it is no longer in flight."""
        key = request.meta.get(INFLIGHT_KEY)
        if key is not None:
            self.finish_key(key)

    def item_done(self, item, response=None, spider=None, **kwargs) -> None:
        # An article is done once the pipelines have written (or refused) its text and journal line.
        key = getattr(item, "extra", {}).get(INFLIGHT_KEY) if hasattr(item, "extra") else None
        if key is not None:
            self.finish_key(key)

    def finish_key(self, key: str) -> None:
        try:
            pipe = self.server.pipeline()
            pipe.hdel(self.keys["inflight"], key)
            pipe.hdel(self.keys["owner"], key)
            pipe.execute()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            # The entry stays under this worker's name, as received: cleared when the worker is idle.
            logger.warning("Could not mark a request done (%s)", exc)
            return
        if self.scheduler is not None:
            self.scheduler.received.discard(key)

    # --- reconciliation --------------------------------------------------------------------------

    def owners(self) -> dict[str, str]:
        """In-flight id -> the worker it was dequeued for, for every request in flight in the run."""
        return {_text(k): _text(w) for k, w in self.server.hgetall(self.keys["owner"]).items()}

    def dead_workers(self) -> list[str]:
        members = [_text(m) for m in self.server.smembers(self.keys["workers"])]
        return [
            w
            for w in members
            if w != self.worker_id and not self.server.exists(self.keys["heartbeat"] + w)
        ]

    def reconcile(self) -> int:
        """Requeue what dead workers had in flight and did not commit; returns how many."""
        requeued = 0
        for worker in self.dead_workers():
            committed = self._recover_worker_output(worker)
            owned = [k for k, w in self.owners().items() if w == worker]
            requeued_here = sum(self._leave_flight(key, covered=committed) for key in owned)
            self.server.srem(self.keys["workers"], worker)
            logger.warning(
                "Worker %s of run %s is dead: %d of its %d requests in flight requeued",
                worker,
                self.run_id,
                requeued_here,
                len(owned),
            )
            requeued += requeued_here
        self.stats.inc_value("distributed/requeued", requeued)
        return requeued

    def _leave_flight(self, key: str, covered: set[str]) -> bool:
        """Take an in-flight entry out of flight, back into the queue unless its URL is among the
        ``covered`` (committed) ones, in one transaction; returns whether it was requeued."""
        queue = self.scheduler.queue if self.scheduler is not None else None
        encoded = self.server.hget(self.keys["inflight"], key)
        pipe = self.server.pipeline()  # MULTI/EXEC: never both queued and in flight, nor neither
        requeued = False
        if encoded is not None and queue is not None:
            request = queue._decode_request(encoded)
            if request.url not in covered:
                # Straight into the queue (its fingerprint is already in the duplicate filter),
                # keeping dont_filter as it was: a redirect it leads to must still be filtered
                # against what the run has fetched.
                pipe.execute_command("ZADD", queue.key, -request.priority, encoded)
                requeued = True
        pipe.hdel(self.keys["inflight"], key)
        pipe.hdel(self.keys["owner"], key)
        pipe.execute()
        return requeued

    def _recover_worker_output(self, worker: str) -> set[str]:
        """Commit a dead worker's crawl folder and return the URLs its committed output covers."""
        session = self._session()
        if session is None:
            return set()
        storage = session.storage
        covered: set[str] = set()
        for crawl_id in crawl_ids(storage):
            if not crawl_id.endswith(f".{self.run_id}.{worker}"):
                continue
            if not is_committed(storage, crawl_id):
                recover_crawl(storage, crawl_id, software_versions(*CRAWL_COMPONENTS))
            # A request that redirected is covered by the capture of where it led.
            for record in iter_text_records(storage, crawl_id):
                covered.update(
                    filter(None, (record["url"], (record.get("crawl") or {}).get("requested_url")))
                )
            if storage.exists(ledger_key(crawl_id)):
                for event in iter_jsonl(storage, ledger_key(crawl_id)):
                    covered.update(filter(None, (event["url"], event.get("requested_url"))))
        return covered

    def requeue_unreceived(self, owners: dict[str, str] | None = None) -> int:
        """Requeue the entries under this worker's name (in ``owners``, read when not given) that
        it never received (a pop whose reply was lost with the connection, or an earlier process
        with the same worker id); returns how many."""
        if self.scheduler is None:
            return 0
        received = self.scheduler.received
        owners = self.owners() if owners is None else owners
        unreceived = [k for k, w in owners.items() if w == self.worker_id and k not in received]
        for key in unreceived:
            self._leave_flight(key, covered=set())
        if unreceived:
            logger.warning(
                "Requeued %d requests dequeued for worker %s but never received",
                len(unreceived),
                self.worker_id,
            )
            self.stats.inc_value("distributed/requeued_unreceived", len(unreceived))
        return len(unreceived)

    def spider_idle(self, spider) -> None:
        try:
            if self.reconcile():
                raise DontCloseSpider("requeued requests of a dead worker")
            owners = self.owners()
            if self.requeue_unreceived(owners):
                raise DontCloseSpider("requeued requests whose dequeuing reply was lost")
            # Idle means nothing of ours is in progress: entries still under our name are leftovers
            # of requests this worker received (a redirect's first hop, a failed "done" message).
            mine = [k for k, w in owners.items() if w == self.worker_id]
            if mine:
                pipe = self.server.pipeline()
                pipe.hdel(self.keys["inflight"], *mine)
                pipe.hdel(self.keys["owner"], *mine)
                pipe.execute()
                if self.scheduler is not None:
                    self.scheduler.received.difference_update(mine)
                self.stats.inc_value("distributed/stale_inflight_cleared", len(mine))
            if any(w != self.worker_id for w in owners.values()):
                # Another worker is still busy: stay, to pick up its work if it dies.
                raise DontCloseSpider("other workers still have requests in flight")
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            logger.error("Redis unreachable during reconciliation (%s); closing this worker", exc)


class InflightSpiderMiddleware:
    """Spider middleware: a response is done when its callback yields no article (its WARC records
    are flushed already); an article carries its in-flight key to the pipelines, and is done when
    they have written its text (``item_scraped``)."""

    def __init__(self, run: DistributedRun | None = None) -> None:
        self._run = run
        self.crawler: Crawler | None = None  # set by from_crawler: where the run is found

    @classmethod
    def from_crawler(cls, crawler) -> InflightSpiderMiddleware:
        if not crawler.settings.get("ARCHIVE_REDIS_URL"):
            raise NotConfigured  # not a distributed crawl (silently: no "Disabled" warning)
        middleware = cls()
        middleware.crawler = crawler
        return middleware

    @property
    def run(self) -> DistributedRun | None:
        """The run's extension; from the crawler on first use, as extensions may come later."""
        if self._run is None and self.crawler is not None:
            self._run = self.crawler.get_extension(DistributedRun)
        return self._run

    def _pass(self, response, item, state: list[bool]):
        key = response.meta.get(INFLIGHT_KEY)
        extra = getattr(item, "extra", None)
        if key is not None and isinstance(extra, dict) and not isinstance(item, Request):
            extra[INFLIGHT_KEY] = key
            state[0] = True
        return item

    def _finish(self, response, state: list[bool]) -> None:
        run = self.run
        if run is not None and not state[0]:
            run.finished(response.request)

    def process_spider_output(self, response, result):
        state = [False]
        for item in result:
            yield self._pass(response, item, state)
        self._finish(response, state)

    async def process_spider_output_async(self, response, result):
        state = [False]
        async for item in result:
            yield self._pass(response, item, state)
        self._finish(response, state)
