"""The per-host request rate of a distributed run, shared by all its workers through Redis."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import redis
from scrapy import Request
from scrapy.exceptions import NotConfigured

from crawler.distributed import run_keys


class SharedHostRateMiddleware:
    """Downloader middleware: at most one request per ``ARCHIVE_SHARED_HOST_DELAY`` seconds per host,
    across all workers of the run (a Redis-side schedule of each host's next free slot)."""

    _SCRIPT = """
    local now = tonumber(ARGV[1])
    local interval = tonumber(ARGV[2])
    local next_free = tonumber(redis.call('GET', KEYS[1]) or '0')
    local start = math.max(now, next_free)
    redis.call('SET', KEYS[1], tostring(start + interval), 'PX', math.ceil((start + interval - now) * 1000) + 60000)
    return tostring(start - now)
    """

    def __init__(self, limiter: HostRateLimiter, stats) -> None:
        self.limiter = limiter
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler) -> SharedHostRateMiddleware:
        settings = crawler.settings
        if not settings.get("ARCHIVE_REDIS_URL"):
            raise NotConfigured  # not a distributed crawl (silently: no "Disabled" warning)
        interval = settings.getfloat("ARCHIVE_SHARED_HOST_DELAY")
        if interval <= 0:
            raise NotConfigured("ARCHIVE_SHARED_HOST_DELAY is 0")
        limiter = HostRateLimiter(
            redis.Redis.from_url(settings.get("ARCHIVE_REDIS_URL"), socket_timeout=10),
            run_keys(settings.get("ARCHIVE_RUN_ID"))["host"],
            interval,
        )
        return cls(limiter, crawler.stats)

    async def process_request(self, request: Request) -> None:
        wait = self.limiter.reserve(urlsplit(request.url).netloc)
        if wait > 0:
            self.stats.inc_value("politeness/shared_waits")
            await asyncio.sleep(wait)


class HostRateLimiter:
    """Reserves the next free slot of a host in Redis; ``reserve`` returns the seconds to wait."""

    def __init__(self, server: redis.Redis, prefix: str, interval: float) -> None:
        self.server = server
        self.prefix = prefix
        self.interval = interval
        self._script = server.register_script(SharedHostRateMiddleware._SCRIPT)

    def reserve(self, host: str) -> float:
        # Redis's clock, not ours: workers on several machines agree on it.
        seconds, micros = self.server.time()
        now = seconds + micros / 1e6
        return float(self._script(keys=[self.prefix + host], args=[now, self.interval]))
