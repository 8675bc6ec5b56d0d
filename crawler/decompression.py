"""Scrapy's content decoding (gzip, deflate, br, zstd) with large bodies decoded off the reactor.

A gzip body that is one whole, intact member is decoded by ISA-L where it is installed (2.5x
zlib's speed on news pages); every other body, truncated and corrupt ones included, by Scrapy's
own resilient decoders.

Decoding a gzipped news page takes ~0.4 ms, on the reactor thread that runs every other part of
the crawl. zlib, brotli and zstd release the GIL while they work, so a body decoded on another
thread uses the second core. The hop itself costs the reactor a wake-up and a callback,
so bodies below :attr:`OffloadedHttpCompressionMiddleware.THREAD_MIN_SIZE` are decoded inline.
The threads are the middleware's own (two: the machine's second core, and a third body waits
rather than adding contention), so DNS lookups on the reactor's pool never queue behind bodies.
"""

from __future__ import annotations

import asyncio
import inspect
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware

from archive.cores import usable_cores
from archive.deflate import gunzip_whole

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.http import Response


def _scrapy_hook(name: str, parameters: list[str]) -> bool:
    """Whether Scrapy's middleware still has the method ``name`` with these parameters.

    Scrapy's process_response decodes through ``_handle_encoding(body, content_encoding,
    max_size)``, which decodes each coding with ``_decode(body, encoding, max_size)``. A release
    that drops or reshapes one gets Scrapy's own behaviour for it (decoded inline, by zlib).
    """
    method = getattr(HttpCompressionMiddleware, name, None)
    if method is None:
        return False
    try:
        return list(inspect.signature(method).parameters) == parameters
    except (TypeError, ValueError):
        return False


_GZIP_CODINGS = frozenset({b"gzip", b"x-gzip"})


class OffloadedHttpCompressionMiddleware(HttpCompressionMiddleware):
    """Scrapy's ``HttpCompressionMiddleware`` whose large bodies are decoded on a thread.

    Everything but the decoding itself is Scrapy's own code, run on the reactor thread as before:
    the size limits (``DOWNLOAD_MAXSIZE`` -> ``IgnoreRequest``, ``DOWNLOAD_WARNSIZE``), the stats,
    the log lines, the ``Content-Encoding`` header and the choice of response class. The decoded
    body (or the error decoding raised) is handed to Scrapy's ``process_response`` as the result of
    its ``_handle_encoding`` call for that body. A process held to one core decodes inline: the
    thread would only take turns with the reactor on that core, and the hop costs it more.
    """

    THREADS = 2
    # Compressed bytes from which the hop pays: below it, decoding costs the reactor less than
    # waking a thread and taking its result back (docs/benchmarks/crawl-profile.md).
    THREAD_MIN_SIZE = 4 * 1024
    OFFLOAD = _scrapy_hook("_handle_encoding", ["self", "body", "content_encoding", "max_size"])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # (body, content_encoding, max_size, decoded or error) for the call in progress: set and
        # cleared around one synchronous process_response on the reactor thread.
        self._decoded: tuple[bytes, list[bytes], int, Any, BaseException | None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        # The per-request maximum is computed as Scrapy computes it, from its _max_size.
        self._offload = self.OFFLOAD and hasattr(self, "_max_size") and usable_cores() > 1
        crawler = kwargs.get("crawler")
        if crawler is not None:
            crawler.signals.connect(self.close, signals.engine_stopped)

    def close(self) -> None:
        """Let the decoding threads go (the crawl's engine stopped)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None

    async def process_response(  # type: ignore[override]
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        content_encoding = response.headers.getlist("Content-Encoding")
        if (
            not self._offload
            or request.method == "HEAD"
            or not content_encoding
            or len(response.body) < self.THREAD_MIN_SIZE
        ):
            return super().process_response(request, response)
        max_size = request.meta.get("download_maxsize", self._max_size)
        body = response.body
        decoded: Any = None
        error: BaseException | None = None
        try:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.THREADS, thread_name_prefix="decode")
            decoded = await asyncio.wrap_future(
                self._executor.submit(self._decode_all, body, content_encoding, max_size)
            )
        except Exception as exc:  # noqa: BLE001 (raised again where Scrapy's own decoding raises)
            error = exc
        self._decoded = (body, content_encoding, max_size, decoded, error)
        try:
            return super().process_response(request, response)
        finally:
            self._decoded = None

    def _decode_all(
        self, body: bytes, content_encoding: list[bytes], max_size: int
    ) -> tuple[bytes, list[bytes]]:
        return super()._handle_encoding(body, content_encoding, max_size)

    if _scrapy_hook("_decode", ["body", "encoding", "max_size"]):

        @staticmethod
        def _decode(body: bytes, encoding: bytes, max_size: int) -> bytes:
            if encoding in _GZIP_CODINGS:
                whole = gunzip_whole(body, max_size)
                if whole is not None:
                    return whole
            # Truncated, corrupt, padded, several members, past the limit: Scrapy's gunzip keeps
            # what can be read and raises Scrapy's own errors.
            return HttpCompressionMiddleware._decode(body, encoding, max_size)

    def _handle_encoding(
        self, body: bytes, content_encoding: list[bytes], max_size: int
    ) -> tuple[bytes, list[bytes]]:
        done = self._decoded
        if (
            done is not None
            and body is done[0]
            and content_encoding == done[1]
            and max_size == done[2]
        ):
            self._decoded = None
            if done[4] is not None:
                raise done[4]
            return done[3]
        return super()._handle_encoding(body, content_encoding, max_size)
