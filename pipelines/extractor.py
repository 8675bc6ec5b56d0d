"""Article extraction: raw HTML bytes + URL in, a clean-text article record out.

Plain library (never imports Scrapy), driven by ExtractorConfig and pipelines.site_rules.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import logging
import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, TypedDict, cast
from urllib.parse import urlsplit

import charset_normalizer
import trafilatura
from lxml import etree, html
from trafilatura.settings import Extractor
from trafilatura.utils import repair_faulty_html

if TYPE_CHECKING:
    from trafilatura.settings import Document

from pipelines import site_rules
from pipelines.site_rules import GENERIC_PRUNE, BoilerplateRules, SiteRule, norm, select

try:  # optional: without it the declared language is reported
    import py3langid
except ImportError:  # pragma: no cover
    py3langid = None

__all__ = [
    "EXTRACTOR_VERSION",
    "ArticleExtractor",
    "Extraction",
    "ExtractorConfig",
    "extract_article",
    "extract_with_config",
]

logger = logging.getLogger(__name__)

# Bump whenever the text produced for the same input may change.
EXTRACTOR_VERSION = "1.1.0"


@dataclass(frozen=True, slots=True)
class ExtractorConfig:
    """Every knob of the extractor; build once and share (its hash goes into each record)."""

    max_bytes: int = 10_000_000
    timeout_seconds: float | None = 30.0
    min_text_chars: int = 100
    detect_language: bool = True
    # trafilatura's fast mode skips its readability/jusText fallbacks: faster, and on the Zyte
    # benchmark it scores higher than the default (bench/extraction_quality.py).
    trafilatura_fast: bool = True
    include_tables: bool = True
    boilerplate: BoilerplateRules = field(default_factory=BoilerplateRules)

    def config_hash(self) -> str:
        """Stable sha256 of these fields and of every site rule."""
        payload = {"config": asdict(self), "rules": site_rules.rules_fingerprint()}
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Extraction:
    """Outcome of one extraction: a record, or None with the reason (a short stable code)."""

    record: dict | None
    reason: str | None = None
    flags: tuple[str, ...] = ()


class _Deadline(BaseException):
    """Raised from SIGALRM; a BaseException so that no `except Exception` in a library eats it."""


class _Watchdog:
    """One thread per process that sends SIGALRM to the extracting thread once its deadline passes.

    The signal goes to that thread itself: a process-wide alarm (``setitimer``) may be delivered to
    another thread, and CPython then runs the handler only when something else wakes the main
    thread. Past the deadline it is sent again every ``_REALARM`` seconds: a handler that happens
    to run inside a weakref callback or ``__del__`` has its exception swallowed as "unraisable",
    and the next one interrupts the work.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._due: tuple[float, int] | None = None
        self._thread: threading.Thread | None = None

    def arm(self, seconds: float, target: int) -> None:
        with self._cond:
            if self._thread is None or not self._thread.is_alive():  # first use, or after a fork
                self._thread = threading.Thread(
                    target=self._run, name="extraction-deadline", daemon=True
                )
                self._thread.start()
            self._due = (time.monotonic() + seconds, target)
            self._cond.notify()

    def disarm(self) -> None:
        # Signals are only sent with the lock held: once this returns, none is on its way.
        with self._cond:
            self._due = None
            self._cond.notify()

    def _run(self) -> None:
        with self._cond:
            while True:
                if self._due is None:
                    self._cond.wait()
                    continue
                due, target = self._due
                if (left := due - time.monotonic()) > 0:
                    self._cond.wait(left)
                    continue
                signal.pthread_kill(target, signal.SIGALRM)
                self._cond.wait(_REALARM)


_REALARM = 0.05
_WATCHDOG = _Watchdog()


@contextmanager
def _deadline(seconds: float | None) -> Iterator[None]:
    """Interrupt the block after ``seconds`` (main thread of a process only; no-op elsewhere).

    The handler raises only while the block runs, so an alarm that lands during clean-up cannot
    escape it. A previous Python handler is put back; a default one is not, since a late alarm
    would then end the process: SIGALRM stays handled (and ignored) from the first use on.
    """
    if (
        not seconds
        or not hasattr(signal, "pthread_kill")
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return
    armed = [True]

    def _on_alarm(signum, frame):
        if armed[0]:
            raise _Deadline

    previous = signal.signal(signal.SIGALRM, _on_alarm)
    try:
        try:
            _WATCHDOG.arm(seconds, threading.get_ident())
            yield
        finally:
            armed[0] = False
    finally:
        _WATCHDOG.disarm()
        if callable(previous):
            signal.signal(signal.SIGALRM, previous)


# ---------------------------------------------------------------- bytes -> str

_MAGIC = (
    b"%PDF",
    b"\x89PNG",
    b"\xff\xd8\xff",
    b"GIF87a",
    b"GIF89a",
    b"\x1f\x8b",
    b"PK\x03\x04",
    b"BZh",
    b"\xfd7zXZ",
    b"7z\xbc\xaf",
    b"Rar!",
    b"OggS",
    b"ID3",
    b"fLaC",
    b"\x7fELF",
    b"wOFF",
    b"wOF2",
    b"RIFF",
    b"\x00\x00\x01\x00",
    b"\xd0\xcf\x11\xe0",
)
_BINARY_TYPES = re.compile(r"^(?:image|audio|video|font)/|^application/(?:pdf|zip|(?:x-)?gzip)")
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 12, 13, 27))
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE)


def _utf16_without_bom(sample: bytes) -> str | None:
    """The UTF-16 flavour of BOM-less UTF-16 text (NUL at every other byte), else None."""
    half = len(sample) // 2
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    if half >= 32 and odd > 0.6 * half and even < 0.05 * half:
        return "utf-16-le"
    if half >= 32 and even > 0.6 * half and odd < 0.05 * half:
        return "utf-16-be"
    return None


def _is_binary(body: bytes, content_type: str | None) -> bool:
    if content_type and _BINARY_TYPES.match(content_type.strip().lower()):
        return body.lstrip()[:1] != b"<"  # mislabelled HTML still gets a chance
    if body.startswith(_MAGIC) or body[4:8] == b"ftyp":
        return True
    sample = body[:4096]
    if body.startswith(tuple(bom for bom, _ in _BOMS)) or _utf16_without_bom(sample):
        return False
    # Text has no control bytes; random or compressed data has ~10 % of them.
    return len(sample.translate(None, _CONTROL)) < 0.95 * len(sample)


def _codec(name: str | bytes | None) -> str | None:
    if isinstance(name, bytes):
        name = name.decode("ascii", "ignore")
    try:
        codec = codecs.lookup(name).name if name else None
    except LookupError:
        return None
    # WHATWG: latin-1 and ascii labels mean windows-1252.
    return "cp1252" if codec in ("iso8859-1", "ascii", "latin-1") else codec


def _decode(body: bytes, content_type: str | None, flags: list[str]) -> str:
    """Decode without mojibake: BOM, then valid UTF-8, then the declared charset, then detection.

    Valid UTF-8 wins over a declared legacy charset: multi-byte UTF-8 sequences practically never
    occur by chance in cp1252/latin-1 text, while servers often mislabel (trusting the header, as
    w3lib does, turns `è` into `Ã¨`).
    """
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body.decode(encoding, errors="replace")
    utf16 = _utf16_without_bom(body[:4096])
    if utf16:
        return body.decode(utf16, errors="replace")
    header = _HEADER_CHARSET.search(content_type or "")
    meta = _META_CHARSET.search(body[:8192])
    declared = _codec(header and header.group(1)) or _codec(meta and meta.group(1))
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        if declared not in (None, "utf-8") and not body.isascii():
            flags.append("charset-mismatch")
        return text
    if declared and declared != "utf-8":
        try:
            return body.decode(declared)
        except (UnicodeDecodeError, LookupError):
            pass
    flags.append("charset-fallback")
    guess = charset_normalizer.from_bytes(body[:500_000]).best()
    return body.decode(guess.encoding if guess else "cp1252", errors="replace")


# ------------------------------------------------------------------ str -> tree

_PARSER = html.HTMLParser(
    collect_ids=False,
    default_doctype=False,
    encoding="utf-8",
    remove_comments=True,
    remove_pis=True,
    huge_tree=True,
)
# libxml2's HTML parser silently drops everything below depth 255 unless huge_tree is set, and
# even then stops at 2048; trafilatura also loses the text of very deep subtrees. Depth 250 is the
# tripwire for flattening.
_DEEP = etree.XPath("/" + "/".join(["*"] * 250))
_WRAPPER_RUN = re.compile(
    r"(?:<(?:div|span|section|font|center|b|i|u|em|strong|small)\b[^>]*>\s*){8,}", re.IGNORECASE
)
_CLOSING_RUN = re.compile(
    r"(?:</(?:div|span|section|font|center|b|i|u|em|strong|small)\s*>\s*){8,}", re.IGNORECASE
)


def _parse(text: str, flags: list[str]) -> html.HtmlElement:
    text = repair_faulty_html(text, text[:50].lower())
    tree = etree.fromstring(text.encode("utf-8", "surrogatepass"), parser=_PARSER)
    if tree is not None and _DEEP(tree):
        flags.append("deep-nesting")
        # Collapse runs of bare wrapper tags (the usual shape of pathological nesting) and re-parse.
        flat = _CLOSING_RUN.sub("</div>", _WRAPPER_RUN.sub("<div>", text))
        tree = etree.fromstring(flat.encode("utf-8", "surrogatepass"), parser=_PARSER)
    if tree is None:
        raise etree.ParserError("empty tree")
    return tree


# ------------------------------------------------------------------ tree -> lines


@dataclass(frozen=True, slots=True)
class _Markup:
    """Which tags start a block, an item, a line break, a link, a cell, or are skipped."""

    blocks: frozenset[str]
    items: frozenset[str]
    breaks: frozenset[str]
    links: frozenset[str]
    cells: frozenset[str]
    skip: frozenset[str]


_HTML = _Markup(
    blocks=frozenset(
        (
            "p",
            "div",
            "section",
            "article",
            "main",
            "header",
            "footer",
            "aside",
            "nav",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "ul",
            "ol",
            "li",
            "dl",
            "dt",
            "dd",
            "blockquote",
            "pre",
            "figure",
            "figcaption",
            "table",
            "thead",
            "tbody",
            "tfoot",
            "tr",
            "address",
            "details",
            "summary",
            "center",
            "body",
            "fieldset",
            "form",
        )
    ),
    items=frozenset({"li"}),
    breaks=frozenset({"br", "hr"}),
    links=frozenset({"a"}),
    cells=frozenset({"td", "th"}),
    skip=frozenset(
        (
            "script",
            "style",
            "noscript",
            "template",
            "svg",
            "button",
            "select",
            "textarea",
            "iframe",
            "object",
        )
    ),
)
# trafilatura's internal XML (see trafilatura/xml.py): head = heading, item = list item, ref = link.
_TRAF = _Markup(
    blocks=frozenset(("body", "p", "head", "list", "item", "quote", "code", "table", "row", "div")),
    items=frozenset({"item"}),
    breaks=frozenset({"lb"}),
    links=frozenset({"ref"}),
    cells=frozenset({"cell"}),
    skip=frozenset({"graphic"}),
)


class _WalkState(TypedDict):
    prefix: str
    link_chars: int
    in_link: int
    cells: int


def _walk(root, markup: _Markup) -> list[tuple[str, float]]:
    """Text blocks of ``root``, one per block element, as (text, share of it inside links).

    Block boundaries always end a line, so two paragraphs are never glued (`Nordkorea.Die`).
    """
    lines: list[tuple[str, float]] = []
    buf: list[str] = []
    state: _WalkState = {"prefix": "", "link_chars": 0, "in_link": 0, "cells": 0}

    def add(text: str | None) -> None:
        if text:
            buf.append(text)
            if state["in_link"]:
                state["link_chars"] += len(text.strip())

    def flush() -> None:
        text = norm("".join(buf))
        if text:
            ratio = min(1.0, state["link_chars"] / max(1, len(text)))
            lines.append((state["prefix"] + text, ratio))
        buf.clear()
        state.update({"prefix": "", "link_chars": 0, "cells": 0})

    walker = etree.iterwalk(root, events=("start", "end"))
    for event, el in walker:
        tag = el.tag if isinstance(el.tag, str) else ""
        if event == "start":
            if tag in markup.skip or not tag:
                walker.skip_subtree()
                continue
            if tag in markup.blocks or tag in markup.breaks:
                flush()
            if tag in markup.items:
                state["prefix"] = "- "
            elif tag in markup.cells:
                if state["cells"]:
                    buf.append(" | ")
                state["cells"] += 1
            elif tag in markup.links:
                state["in_link"] += 1
            add(el.text)
        else:
            if tag in markup.links:
                state["in_link"] -= 1
            elif tag in markup.blocks:
                flush()
            if el is not root:
                add(el.tail)
    flush()
    return lines


def _site(canonical_url: str) -> str:
    host = (urlsplit(canonical_url).hostname or "").lower()
    return host.removeprefix("www.")


def _key(text: str | None) -> str:
    return " ".join(re.sub(r"\W+", " ", text or "").casefold().split())


# ------------------------------------------------------------------ the extractor


class ArticleExtractor:
    """Turns one HTML document into an article record (pipelines/article.schema.json).

    Pages matching a SiteRule (by host, or by markup when served from elsewhere) are read from
    their body container directly; all others go through trafilatura. Both paths end in the
    same line cleaning, so boilerplate no rule names is still removed.
    """

    def __init__(self, config: ExtractorConfig | None = None) -> None:
        self.config = config or ExtractorConfig()
        self._hash = self.config.config_hash()
        rules = self.config.boilerplate
        self._short_lines = site_rules.compile_lines(rules.short_lines)
        self._any_lines = site_rules.compile_lines(rules.any_length)
        # One options object for every document (trafilatura's settings.Extractor). Comments are
        # never article text. Links stay off: with include_links trafilatura's main-content
        # selection changes and can keep a short sidebar block instead of the article.
        self._options = Extractor(
            output_format="txt",
            fast=self.config.trafilatura_fast,
            comments=False,
            tables=self.config.include_tables,
        )

    def extract(self, body: bytes, url: str, content_type: str | None = None) -> Extraction:
        """Extract the article of ``body`` (the HTTP payload) fetched from ``url``."""
        if not body or not body.strip():
            return Extraction(None, "empty-body")
        if len(body) > self.config.max_bytes:
            return Extraction(None, "too-large")
        if _is_binary(body, content_type):
            return Extraction(None, "binary-content")
        flags: list[str] = []
        try:
            with _deadline(self.config.timeout_seconds):
                record, reason = self._extract(body, url, content_type, flags)
        except _Deadline:
            logger.warning("extraction timed out after %ss: %s", self.config.timeout_seconds, url)
            return Extraction(None, "timeout", tuple(flags))
        except (etree.ParserError, etree.XMLSyntaxError) as exc:
            logger.warning("cannot parse %s: %s", url, exc)
            return Extraction(None, "parse-error", tuple(flags))
        return Extraction(record, reason, tuple(flags))

    def _extract(self, body: bytes, url: str, content_type: str | None, flags: list[str]):
        text = _decode(body, content_type, flags)
        if "\x00" in text:  # libxml2 stops at a NUL: the rest of the page would vanish silently
            text = text.replace("\x00", "")
            flags.append("nul-bytes-stripped")
        tree = _parse(text, flags)
        meta, ld = site_rules.meta_tags(tree), site_rules.json_ld(tree)
        rule = site_rules.match_host(urlsplit(url).hostname or "")
        # Cheap pre-check (no lower() copy of the page): a page that never names the publisher
        # cannot credit it.
        credited = "ifegate" in text or "IFEGATE" in text
        translation_of = None
        if credited and not (rule and rule.name == "lifegate"):
            translation_of = site_rules.find_credit(tree, url, rule)
        if rule is None:
            rule = site_rules.match_markup(tree, text, credited=translation_of is not None)
        if site_rules.is_listing(tree, rule):
            return None, "no-article"

        head = site_rules.article_head(tree, rule, meta, ld, url)
        lines = self._rule_lines(tree, rule) if rule else []
        if not lines:
            # Unknown sites get no selector pruning: trafilatura's own cleaning already covers
            # what GENERIC_PRUNE names (no F1 change on the Zyte benchmark) and the extra
            # traversal costs ~7 % of the extraction time.
            if rule:
                flags.append("site-rule-fallback")
                site_rules.prune(tree, rule.prune + GENERIC_PRUNE)
            # A Document without as_dict=True (trafilatura's signature has no overload for it).
            doc = cast("Document | None", trafilatura.bare_extraction(tree, options=self._options))
            lines = _walk(doc.body, _TRAF) if doc is not None and doc.body is not None else []
        kept, license_line = self._clean(lines, head, rule)
        text = "\n".join(kept)
        if len(text) < self.config.min_text_chars:
            return None, "no-article"
        return self._record(tree, url, meta, ld, head, text, translation_of, license_line), None

    def _rule_lines(self, tree, rule: SiteRule) -> list[tuple[str, float]]:
        found = select(tree, rule.body)
        if not found:
            return []
        body = found[0]
        site_rules.prune(
            body,
            rule.prune
            + GENERIC_PRUNE
            + rule.figures
            + rule.standfirst
            + rule.kicker
            + rule.source
            + rule.license,
        )
        return _walk(body, _HTML)

    def _clean(self, lines, head: dict, rule: SiteRule | None) -> tuple[list[str], str | None]:
        """Drop title repeats, the standfirst, and lines matching the boilerplate patterns."""
        rules = self.config.boilerplate
        rule_lines = site_rules.compile_lines(rule.drop_lines) if rule else None
        skip = {_key(s) for s in head["headlines"] + head["standfirst"]}
        kept: list[str] = []
        license_line = None
        longest = max(map(len, skip), default=0)
        for text, link_share in lines:
            bare = text.removeprefix("- ")
            if len(bare) <= longest + 10 and _key(bare) in skip:
                continue
            short = len(bare.split()) <= rules.short_words
            if short and link_share >= rules.link_dense_share:
                continue
            if (
                (short and self._short_lines and self._short_lines.search(bare))
                or (self._any_lines and self._any_lines.search(bare))
                or (rule_lines and rule_lines.search(bare))
            ):
                license_line = license_line or site_rules.license_name(bare)
                continue
            kept.append(text)
        return kept, license_line

    def _record(self, tree, url, meta, ld, head, text, translation_of, license_line) -> dict:
        canonical = site_rules.canonical_url(tree, url, meta)
        declared = site_rules.declared_language(tree, meta, ld)
        language = declared
        if self.config.detect_language and py3langid is not None and len(text) >= 20:
            # py3langid's cost grows with the input; 1000 characters are plenty for a verdict.
            language = py3langid.classify(text[:1000])[0]
        published, modified = site_rules.dates(tree, meta, ld)
        return {
            "id": hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32],
            "url": url,
            "canonical_url": canonical,
            "site": _site(canonical),
            "language": language,
            "declared_language": declared,
            "title": head["title"],
            "kicker": head["kicker"],
            "standfirst": "\n".join(head["standfirst"]) or None,
            "authors": head["authors"],
            "date_published": published,
            "date_modified": modified,
            "tags": head["tags"],
            "license": head["license"] or license_line,
            "translation_of": translation_of,
            "images": head["images"],
            "text": text,
            "word_count": len(re.findall(r"\w+", text)),
            "text_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
            "extractor": {
                "name": "lifegate-archive",
                "version": EXTRACTOR_VERSION,
                "trafilatura_version": trafilatura.__version__,
                "config_hash": self._hash,
            },
        }


@lru_cache(maxsize=4)
def _extractor_for(config: ExtractorConfig) -> ArticleExtractor:
    return ArticleExtractor(config)


def extract_with_config(
    config: ExtractorConfig, body: bytes, url: str, content_type: str | None = None
) -> Extraction:
    """Extract with an ArticleExtractor built once per process and config (pool workers)."""
    return _extractor_for(config).extract(body, url, content_type)


def extract_article(body: bytes, url: str, content_type: str | None = None) -> Extraction:
    """Extract with the default configuration; a plain top-level function for process pools."""
    return _extractor_for(ExtractorConfig()).extract(body, url, content_type)


def extraction_workers(settings) -> int:
    """Processes in an extraction pool (crawl and ``reextract``): ``EXTRACT_WORKERS``, or one per core."""
    return settings.getint("EXTRACT_WORKERS") or os.cpu_count() or 1
