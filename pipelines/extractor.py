"""Article extraction: raw HTML bytes + URL in, a clean-text article record out.

Plain library (never imports Scrapy); driven by ExtractorConfig and the rules in pipelines.site_rules.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import logging
import re
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit, urlunsplit

import charset_normalizer
import trafilatura
from lxml import etree, html
from trafilatura.settings import Extractor
from trafilatura.utils import repair_faulty_html

from pipelines import site_rules
from pipelines.site_rules import GENERIC_PRUNE, BoilerplateRules, SiteRule, select

try:  # optional: without it the declared language is reported
    import py3langid
except ImportError:  # pragma: no cover
    py3langid = None

__all__ = ["EXTRACTOR_VERSION", "ArticleExtractor", "Extraction", "ExtractorConfig", "extract_article"]

logger = logging.getLogger(__name__)

# Bump whenever the text produced for the same input may change.
EXTRACTOR_VERSION = "1.0.0"


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


@contextmanager
def _deadline(seconds: float | None) -> Iterator[None]:
    """Interrupt the block after ``seconds`` (main thread of a process only; no-op elsewhere)."""
    if (
        not seconds
        or not hasattr(signal, "setitimer")
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return

    def _on_alarm(signum, frame):
        raise _Deadline

    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
        finally:
            signal.signal(signal.SIGALRM, previous)


# ---------------------------------------------------------------- bytes -> str

_MAGIC = (
    b"%PDF", b"\x89PNG", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"\x1f\x8b", b"PK\x03\x04",
    b"BZh", b"\xfd7zXZ", b"7z\xbc\xaf", b"Rar!", b"OggS", b"ID3", b"fLaC", b"\x7fELF",
    b"wOFF", b"wOF2", b"RIFF", b"\x00\x00\x01\x00", b"\xd0\xcf\x11\xe0",
)
_BINARY_TYPES = re.compile(r"^(image|audio|video|font)/|^application/(pdf|zip|gzip|x-gzip|octet-stream)")
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 12, 13, 27))
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?\s*([\w.:-]+)", re.I)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w.:-]+)", re.I)


def _is_binary(body: bytes, content_type: str | None) -> bool:
    if content_type and _BINARY_TYPES.match(content_type.strip().lower()):
        return not body.lstrip()[:1] == b"<"  # mislabelled HTML still gets a chance
    if body.startswith(_MAGIC) or body[4:8] == b"ftyp":
        return True
    if body.startswith(tuple(bom for bom, _ in _BOMS)):
        return False
    sample = body[:4096]
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
    occur by chance in cp1252/latin-1 text, while servers often mislabel (research: w3lib trusts
    the header and produces `Ã¨`).
    """
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body.decode(encoding, errors="replace")
    header = _HEADER_CHARSET.search(content_type or "")
    meta = _META_CHARSET.search(body[:8192])
    declared = _codec(header.group(1) if header else None) or _codec(meta.group(1) if meta else None)
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
    collect_ids=False, default_doctype=False, encoding="utf-8",
    remove_comments=True, remove_pis=True, huge_tree=True,
)
# libxml2 drops everything below depth 255 unless huge_tree is set, and even then stops at 2048;
# trafilatura then loses the text of deep subtrees (research C.7).
_DEEP = etree.XPath("/" + "/".join(["*"] * 250))
_WRAPPER_RUN = re.compile(
    r"(?:<(?:div|span|section|font|center|b|i|u|em|strong|small)\b[^>]*>\s*){8,}", re.I
)
_CLOSING_RUN = re.compile(
    r"(?:</(?:div|span|section|font|center|b|i|u|em|strong|small)\s*>\s*){8,}", re.I
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
        "p div section article main header footer aside nav h1 h2 h3 h4 h5 h6 ul ol li dl dt dd "
        "blockquote pre figure figcaption table thead tbody tfoot tr address details summary "
        "center body fieldset form".split()
    ),
    items=frozenset({"li"}),
    breaks=frozenset({"br", "hr"}),
    links=frozenset({"a"}),
    cells=frozenset({"td", "th"}),
    skip=frozenset("script style noscript template svg button select textarea iframe object".split()),
)
# trafilatura's internal XML (see trafilatura/xml.py): head = heading, item = list item, ref = link.
_TRAF = _Markup(
    blocks=frozenset("body p head list item quote code table row div".split()),
    items=frozenset({"item"}),
    breaks=frozenset({"lb"}),
    links=frozenset({"ref"}),
    cells=frozenset({"cell"}),
    skip=frozenset({"graphic"}),
)


def _norm(text: str) -> str:
    return " ".join(text.split())


def _walk(root, markup: _Markup) -> list[tuple[str, float]]:
    """Text blocks of ``root``, one per block element, as (text, share of it inside links).

    Block boundaries always end a line, so two paragraphs are never glued (`Nordkorea.Die`).
    """
    lines: list[tuple[str, float]] = []
    buf: list[str] = []
    state = {"prefix": "", "link_chars": 0, "in_link": 0, "cells": 0}

    def add(text: str | None) -> None:
        if text:
            buf.append(text)
            if state["in_link"]:
                state["link_chars"] += len(text.strip())

    def flush() -> None:
        text = _norm("".join(buf))
        if text:
            ratio = min(1.0, state["link_chars"] / max(1, len(text)))
            lines.append((state["prefix"] + text, ratio))
        buf.clear()
        state.update(prefix="", link_chars=0, cells=0)

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


def _text_of(el) -> str:
    return _norm(el.text_content()) if el is not None else ""


def _drop(el) -> None:
    if el.getparent() is not None:
        el.drop_tree()  # keeps the tail text, which belongs to the parent


def _prune(root, selectors: tuple[str, ...]) -> None:
    for selector in selectors:
        for el in select(root, (selector,)):
            if el is not root:
                _drop(el)


# ------------------------------------------------------------------ metadata

_ARTICLE_TYPES = {
    "Article", "NewsArticle", "BlogPosting", "Report", "ReportageNewsArticle",
    "AnalysisNewsArticle", "OpinionNewsArticle", "TechArticle", "ScholarlyArticle",
}
_CC_TEXT = re.compile(r"\bCC[\s-]?(?:BY|0)(?:[\s-](?:NC|ND|SA)){0,3}(?:[\s-]\d\.\d)?\b", re.I)
_CC_URL = re.compile(r"creativecommons\.org/(?:licenses|publicdomain)/([a-z-]+)/(\d\.\d)?", re.I)


def _json_ld(tree) -> dict:
    """The first schema.org article object in the page's JSON-LD (empty when none)."""
    for script in tree.iterfind(".//script[@type='application/ld+json']"):
        try:
            data = json.loads(script.text or "")
        except ValueError:
            continue
        stack = [data]
        while stack:
            item = stack.pop(0)
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                types = item.get("@type")
                types = set(types) if isinstance(types, list) else {types}
                if types & _ARTICLE_TYPES:
                    return item
                stack.extend(item.get("@graph", []))
    return {}


def _meta(tree) -> dict[str, str]:
    found: dict[str, str] = {}
    for el in tree.iterfind(".//meta"):
        key = el.get("property") or el.get("name") or el.get("itemprop") or el.get("http-equiv")
        key = (key or "").strip().lower()
        content = el.get("content")
        if key and content and key not in found:
            found[key] = content.strip()
    return found


def _names(value) -> list[str]:
    if isinstance(value, list):
        return [n for v in value for n in _names(v)]
    if isinstance(value, dict):
        return _names(value.get("name"))
    return [_norm(value)] if isinstance(value, str) and value.strip() else []


def _iso(value) -> str | None:
    """ISO 8601 form of a date or datetime string, None when it cannot be read."""
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    try:
        if len(value) == 10:
            return date.fromisoformat(value).isoformat()
        return datetime.fromisoformat(value).isoformat()
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value).isoformat()
    except (TypeError, ValueError):
        return None


def _license(text: str | None, href: str | None = None) -> str | None:
    match = _CC_TEXT.search(text or "")
    if match:
        return match.group(0)
    match = _CC_URL.search(href or "")
    if match:
        return " ".join(filter(None, ["CC", match.group(1).upper(), match.group(2)]))
    return None


def _lang(code: str | None) -> str | None:
    code = (code or "").strip().replace("_", "-").split("-")[0].lower()
    return code if code.isalpha() and 2 <= len(code) <= 3 else None


def _credit(tree, url: str, rule: SiteRule | None) -> str | None:
    """The original article a republication credits ("Quelle: Lifegate <a href=...>")."""
    if rule is not None and rule.name == "lifegate":
        return None
    candidates = select(tree, rule.source) if rule and rule.source else []
    candidates += tree.xpath(site_rules.CREDIT_LINKS)
    for el in candidates:
        links = [el] if el.tag == "a" else el.iterfind(".//a[@href]")
        for link in links:
            line = link.getparent() if el.tag == "a" else el
            if line is not None and site_rules.CREDIT_LINE.search(_text_of(line)):
                return urljoin(url, link.get("href", "").strip())
    return None


def _figures(scope, rule: SiteRule, url: str) -> list[dict]:
    images = []
    for fig in select(scope, rule.figures):
        img = fig.find(".//img")
        if img is None:
            continue
        src = img.get("src") or img.get("data-src") or ""
        credit_el = next(iter(select(fig, rule.credit)), None)
        credit = _text_of(credit_el) or None
        caption = _text_of(next(iter(select(fig, rule.caption)), None))
        if credit and caption.endswith(credit):
            caption = caption[: -len(credit)].strip()
        elif not credit and "©" in caption:
            caption, _, rest = caption.partition("©")
            caption, credit = caption.strip(), "©" + rest
        images.append({"url": urljoin(url, src.strip()), "caption": caption or None, "credit": credit})
    return images


def _canonical(tree, url: str, meta: dict[str, str]) -> str:
    link = tree.find(".//link[@rel='canonical']")
    href = (link.get("href") if link is not None else None) or meta.get("og:url") or url
    parts = urlsplit(urljoin(url, href.strip()))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        parts = urlsplit(url)
    netloc = parts.netloc.lower()
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, ""))


def _site(canonical_url: str) -> str:
    host = (urlsplit(canonical_url).hostname or "").lower()
    return host.removeprefix("www.")


def _first_text(tree, selectors: tuple[str, ...]) -> str:
    found = select(tree, selectors) if selectors else []
    return _text_of(found[0]) if found else ""


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
        if "\x00" in text:  # NUL silently truncates libxml2's parse (research C.7)
            text = text.replace("\x00", "")
            flags.append("nul-bytes-stripped")
        tree = _parse(text, flags)
        meta, ld = _meta(tree), _json_ld(tree)
        rule = site_rules.match_host(urlsplit(url).hostname or "")
        translation_of = _credit(tree, url, rule)
        if rule is None:
            rule = site_rules.match_markup(tree, credited=translation_of is not None)
        listing = site_rules.GENERIC_LISTING + (rule.listing if rule else ())
        if select(tree, listing) and not (rule and select(tree, rule.body)):
            return None, "no-article"

        head = self._head_fields(tree, rule, meta, ld, url)
        lines = self._rule_lines(tree, rule) if rule else []
        if not lines:
            if rule:
                flags.append("site-rule-fallback")
            _prune(tree, GENERIC_PRUNE + (rule.prune if rule else ()))
            doc = trafilatura.bare_extraction(tree, options=self._options)
            lines = _walk(doc.body, _TRAF) if doc is not None and doc.body is not None else []
        kept, license_line = self._clean(lines, head, rule)
        text = "\n".join(kept)
        if len(text) < self.config.min_text_chars:
            return None, "no-article"
        return self._record(tree, url, meta, ld, head, text, translation_of, license_line), None

    def _head_fields(self, tree, rule: SiteRule | None, meta: dict, ld: dict, url: str) -> dict:
        """Title, kicker, standfirst, authors, tags, licence and figures, read before pruning."""
        h1s = [_text_of(h) for h in tree.xpath("(//h1)[position() <= 3]")]
        named = [ld.get("headline"), meta.get("og:title"), meta.get("twitter:title"), tree.findtext(".//title")]
        named = [_norm(n) for n in named if isinstance(n, str) and n.strip()]
        title = _first_text(tree, rule.title) if rule else ""
        if not title:
            title = next((h for h in h1s if h and any(h.casefold() in n.casefold() for n in named)), "")
        title = title or (named[0] if named else "") or (h1s[0] if h1s else "")
        standfirst: list[str] = []
        if rule and rule.standfirst:
            found = select(tree, rule.standfirst)
            if found:
                paras = found[0].xpath(".//p")
                standfirst = [t for t in map(_text_of, paras or found[:1]) if t]
        license_el = next(iter(select(tree, rule.license)), None) if rule and rule.license else None
        license_link = tree.find(".//*[@rel='license']")
        ld_license = ld.get("license") if isinstance(ld.get("license"), str) else None
        license_ = (
            _license(_text_of(license_el))
            or _license(None, license_link.get("href") if license_link is not None else None)
            or _license(ld_license, ld_license)
        )
        authors = [_text_of(a) for a in select(tree, rule.authors)] if rule and rule.authors else []
        authors = authors or _names(ld.get("author")) or _names(meta.get("author"))
        tags = [_text_of(a) for a in select(tree, rule.tags)] if rule and rule.tags else []
        if not tags:
            keywords = ld.get("keywords") or meta.get("article:tag") or ""
            tags = keywords if isinstance(keywords, list) else keywords.split(",")
        images = []
        if rule:
            scope = next(iter(select(tree, rule.body)), tree)
            article = next(scope.iterancestors("article"), None)
            images = _figures(article if article is not None else scope, rule, url)
        if not images and meta.get("og:image"):
            images = [{"url": urljoin(url, meta["og:image"]), "caption": None, "credit": None}]
        return {
            "title": title or None,
            "titles": {_key(t) for t in [title, *named, *h1s[:1]] if t},
            "kicker": (_first_text(tree, rule.kicker) if rule else "") or None,
            "standfirst": standfirst,
            "authors": list(dict.fromkeys(a for a in authors if a)),
            "tags": list(dict.fromkeys(_norm(str(t)) for t in tags if _norm(str(t)))),
            "license": license_,
            "images": images,
        }

    def _rule_lines(self, tree, rule: SiteRule) -> list[tuple[str, float]]:
        found = select(tree, rule.body)
        if not found:
            return []
        body = found[0]
        _prune(body, rule.prune + GENERIC_PRUNE + rule.figures + rule.standfirst + rule.kicker)
        return _walk(body, _HTML)

    def _clean(self, lines, head: dict, rule: SiteRule | None) -> tuple[list[str], str | None]:
        """Drop title repeats, the standfirst, and lines matching the boilerplate patterns."""
        limit = self.config.boilerplate.short_words
        rule_lines = site_rules.compile_lines(rule.drop_lines) if rule else None
        skip = head["titles"] | {_key(s) for s in head["standfirst"]}
        kept: list[str] = []
        license_line = None
        for text, _link_share in lines:
            bare = text[2:] if text.startswith("- ") else text
            if _key(bare) in skip:
                continue
            short = len(bare.split()) <= limit
            if (
                (short and self._short_lines and self._short_lines.search(bare))
                or (self._any_lines and self._any_lines.search(bare))
                or (rule_lines and rule_lines.search(bare))
            ):
                license_line = license_line or _license(bare)
                continue
            kept.append(text)
        return kept, license_line

    def _record(self, tree, url, meta, ld, head, text, translation_of, license_line) -> dict:
        canonical = _canonical(tree, url, meta)
        declared = (
            _lang(tree.get("lang")) or _lang(meta.get("content-language"))
            or _lang(meta.get("og:locale")) or _lang(ld.get("inLanguage") if isinstance(ld.get("inLanguage"), str) else None)
        )
        language = declared
        if self.config.detect_language and py3langid is not None and len(text) >= 20:
            language = py3langid.classify(text[:3000])[0]
        published = _iso(ld.get("datePublished")) or _iso(meta.get("article:published_time"))
        if published is None:
            stamp = tree.find(".//time[@datetime]")
            published = _iso(stamp.get("datetime")) if stamp is not None else None
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
            "date_modified": _iso(ld.get("dateModified")) or _iso(meta.get("article:modified_time")),
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


_DEFAULT: ArticleExtractor | None = None


def extract_article(body: bytes, url: str, content_type: str | None = None) -> Extraction:
    """Extract with a default ArticleExtractor built once per process (ProcessPoolExecutor-friendly)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = ArticleExtractor()
    return _DEFAULT.extract(body, url, content_type)
