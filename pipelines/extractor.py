"""Article extraction: raw HTML bytes + URL in, a clean-text article record out.

Plain library (never imports Scrapy), driven by ExtractorConfig and pipelines.site_rules. The
steps live in their own modules: pipelines.decoding (bytes to tree), pipelines.text_blocks (tree
to lines), pipelines.deadline (the per-document time limit).
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import trafilatura
from lxml import etree
from trafilatura.settings import Extractor

from pipelines import site_rules
from pipelines.deadline import Deadline, deadline
from pipelines.decoding import decode, is_binary, parse
from pipelines.extractor_config import EXTRACTOR_VERSION, ExtractorConfig
from pipelines.generic_text import trafilatura_lines, whole_links
from pipelines.site_rules import GENERIC_PRUNE, SiteRule, select
from pipelines.text_blocks import HTML, walk

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


@dataclass(frozen=True, slots=True)
class Extraction:
    """Outcome of one extraction: a record, or None with the reason (a short stable code)."""

    record: dict | None
    reason: str | None = None
    flags: tuple[str, ...] = ()

    def text_record(
        self,
        *,
        site: str | None = None,
        translation_of: str | None = None,
        provenance: dict | None = None,
        crawl: dict | None = None,
    ) -> dict[str, Any]:
        """The record as the archive stores it (crawl pipeline and ``reextract`` alike).

        ``site`` is the site the crawl is for, whatever host served the page (a mirror, a loopback
        copy); ``translation_of`` is a credit found on the page that linked here, used when the
        page itself names none; ``provenance`` names the WARC response record, ``crawl`` how the
        page was fetched. Only for a successful extraction.
        """
        if self.record is None:
            raise ValueError(f"no record to enrich: {self.reason}")
        record = dict(self.record)
        if self.flags:
            record["flags"] = list(self.flags)
        if not record.get("translation_of") and translation_of:
            record["translation_of"] = translation_of
        if site:
            record["site"] = site
        record["provenance"] = provenance
        record["crawl"] = crawl
        return record


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
        if is_binary(body, content_type):
            return Extraction(None, "binary-content")
        flags: list[str] = []
        try:
            with deadline(self.config.timeout_seconds):
                record, reason = self._extract(body, url, content_type, flags)
        except Deadline:
            logger.warning("extraction timed out after %ss: %s", self.config.timeout_seconds, url)
            return Extraction(None, "timeout", tuple(flags))
        except (etree.ParserError, etree.XMLSyntaxError) as exc:
            logger.warning("cannot parse %s: %s", url, exc)
            return Extraction(None, "parse-error", tuple(flags))
        return Extraction(record, reason, tuple(flags))

    def _extract(self, body: bytes, url: str, content_type: str | None, flags: list[str]):
        text = decode(body, content_type, flags)
        if "\x00" in text:  # libxml2 stops at a NUL: the rest of the page would vanish silently
            text = text.replace("\x00", "")
            flags.append("nul-bytes-stripped")
        tree = parse(text, flags)
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
            lines, _ = trafilatura_lines(
                tree,
                self._options,
                lead_fallback=self.config.lead_fallback,
                body_chunks=self.config.body_chunks,
                short_text_fallback=self.config.short_text_fallback,
                standfirst=head["standfirst"],
            )
            lines = whole_links(tree, lines)
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
        return walk(body, HTML)

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
            # py3langid's cost grows with the input; 500 characters are plenty for a verdict (the
            # same as with 1000 on every development page, at half the cost).
            language = py3langid.classify(text[:500])[0]
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


def prepare_extractor(config: ExtractorConfig) -> None:
    """Build this process's extractor for ``config`` before its first page (pool warm-up)."""
    _extractor_for(config)


def extract_with_config(
    config: ExtractorConfig, body: bytes, url: str, content_type: str | None = None
) -> Extraction:
    """Extract with an ArticleExtractor built once per process and config (pool workers)."""
    return _extractor_for(config).extract(body, url, content_type)


def extract_article(body: bytes, url: str, content_type: str | None = None) -> Extraction:
    """Extract with the default configuration; a plain top-level function for process pools."""
    return _extractor_for(ExtractorConfig()).extract(body, url, content_type)
