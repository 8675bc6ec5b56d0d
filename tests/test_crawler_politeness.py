"""Retry-After on 429/503 is honoured, bounded, and counted."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from scrapy import Request, Spider
from scrapy.http import Response
from scrapy.utils.test import get_crawler

from cli.settings import project_settings
from crawler.politeness import RetryAfterMiddleware, parse_retry_after


def middleware(**overrides):
    # No reactor is needed to call the middleware directly from an asyncio loop.
    settings = project_settings({"TWISTED_REACTOR_ENABLED": False, **overrides}).copy_to_dict()
    crawler = get_crawler(Spider, settings)
    crawler.spider = crawler._create_spider("politeness")
    return RetryAfterMiddleware.from_crawler(crawler), crawler


def test_parse_retry_after_forms():
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    assert parse_retry_after(b"120") == 120
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30
    assert parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now) == 0
    assert parse_retry_after(b"soon") is None and parse_retry_after(None) is None


def test_429_with_retry_after_waits_then_retries():
    mw, crawler = middleware()
    request = Request("http://127.0.0.1:9/page")
    response = Response(request.url, status=429, headers={"Retry-After": "1"}, request=request)
    started = time.monotonic()
    result = asyncio.run(mw.process_response(request, response))
    assert time.monotonic() - started >= 0.95
    assert isinstance(result, Request) and result.url == request.url and result.dont_filter
    assert crawler.stats.get_value("politeness/retry_after_waits") == 1
    assert crawler.stats.get_value("politeness/retry_after_seconds") == 1


@pytest.mark.parametrize("status", [429, 503])
def test_too_long_a_wait_is_not_retried_at_all(status):
    mw, crawler = middleware(ARCHIVE_RETRY_AFTER_MAX=10)
    request = Request("http://127.0.0.1:9/page")
    response = Response(request.url, status=status, headers={"Retry-After": "3600"}, request=request)
    result = asyncio.run(mw.process_response(request, response))
    assert result is response and request.meta["dont_retry"] is True
    assert crawler.stats.get_value("politeness/retry_after_refused") == 1


def test_other_statuses_pass_through():
    mw, _ = middleware()
    request = Request("http://127.0.0.1:9/page")
    response = Response(request.url, status=500, headers={"Retry-After": "1"}, request=request)
    assert asyncio.run(mw.process_response(request, response)) is response
