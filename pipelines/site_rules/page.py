"""Applying site rules to an lxml tree, and reading the conventions every site shares
(schema.org JSON-LD, OpenGraph/<meta>, rel=canonical, Creative Commons licence names).
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from urllib.parse import urljoin, urlsplit, urlunsplit

from cssselect import HTMLTranslator
from lxml import etree
from lxml.cssselect import CSSSelector

from pipelines.site_rules import header
from pipelines.site_rules.rules import (
    ARTICLE_BODY_CLASSES,
    CREDIT_LINE,
    CREDIT_TEXT,
    GENERIC_PRUNE,
    LISTING_BODY_CLASSES,
    SECTION_BODY_CLASSES,
    SITE_RULES,
    SiteRule,
)

__all__ = [
    "article_head",
    "canonical_url",
    "compile_lines",
    "dates",
    "declared_language",
    "figures",
    "find_credit",
    "is_listing",
    "iso_date",
    "json_ld",
    "language_code",
    "license_name",
    "match_host",
    "match_markup",
    "meta_tags",
    "names",
    "norm",
    "prune",
    "select",
    "select_all",
    "text_of",
]


@lru_cache(maxsize=512)
def _compiled(selector: str) -> CSSSelector:
    return CSSSelector(selector, translator="html")


@lru_cache(maxsize=64)
def _union(selectors: tuple[str, ...]) -> etree.XPath:
    # One traversal with an or-ed predicate rather than one traversal per selector.
    translate = HTMLTranslator().css_to_xpath
    tests = " or ".join(translate(s, prefix="self::") for s in selectors)
    return etree.XPath(f"descendant-or-self::*[{tests}]")


def norm(text: str) -> str:
    """Collapse every run of whitespace (NBSP included) to one space; drop soft hyphens."""
    # Soft hyphens (German and Dutch sites hyphenate long words with &shy;) and stray byte-order
    # marks are invisible on the page and gone from a copy of its text; left in, "regis\xadtriertem"
    # no longer matches "registriertem". str.replace, not str.translate: a translation table with
    # non-ASCII keys takes the slow path, a dictionary lookup per character of every text.
    if "\xad" in text or "\ufeff" in text:
        text = text.replace("\xad", "").replace("\ufeff", "")
    return " ".join(text.split())


def text_of(el) -> str:
    """Whitespace-normalised text of an element ("" for None)."""
    return norm(el.text_content()) if el is not None else ""


def select(tree, selectors: tuple[str, ...]) -> list:
    """Matches of the first selector in ``selectors`` that matches anything."""
    for selector in selectors:
        found = _compiled(selector)(tree)
        if found:
            return found
    return []


def select_all(tree, selectors: tuple[str, ...]) -> list:
    """Every element matching any of ``selectors``, in one pass for those without combinators."""
    simple = tuple(dict.fromkeys(s for s in selectors if not re.search(r"[\s>+~]", s)))
    found = _union(simple)(tree) if simple else []
    for selector in selectors:
        if selector not in simple:
            found.extend(_compiled(selector)(tree))
    return found


def prune(root, selectors: tuple[str, ...]) -> None:
    """Remove the elements matching ``selectors`` below ``root``; text after them stays."""
    for el in select_all(root, selectors):
        if el is not root and el.getparent() is not None:
            el.drop_tree()


def match_host(host: str) -> SiteRule | None:
    """The rule whose host pattern covers ``host`` (exact host or any subdomain of it)."""
    host = host.lower().rstrip(".")
    for rule in SITE_RULES:
        if any(host == h or host.endswith("." + h) for h in rule.hosts):
            return rule
    return None


def match_markup(tree, source: str, credited: bool) -> SiteRule | None:
    """The rule whose signature selectors all match ``tree``, for pages from unknown hosts.

    ``source`` is the page's HTML: a selector whose class or id names do not even occur in it
    cannot match, which spares a tree traversal on nearly every page. A ``credited`` rule only
    applies when the page carries a credit line (``credited`` is True).
    """
    for rule in SITE_RULES:
        if rule.credited and not credited:
            continue
        tokens = (t for s in rule.signature for t in re.findall(r"[.#]([\w-]+)", s))
        if all(t in source for t in tokens) and all(_compiled(s)(tree) for s in rule.signature):
            return rule
    return None


def is_listing(tree, rule: SiteRule | None) -> bool:
    """True for listing pages (archives, search, tag pages): they have no article."""
    if rule is not None and select(tree, rule.body):
        return False
    body = tree.find("body")
    classes = set((body.get("class") or "").split()) if body is not None else set()
    listing = bool(classes & LISTING_BODY_CLASSES) and not classes & ARTICLE_BODY_CLASSES
    if listing and classes & LISTING_BODY_CLASSES <= SECTION_BODY_CLASSES:
        listing = _ENTRIES(tree) >= 2
    return listing or bool(rule and select(tree, rule.listing))


_ENTRIES = etree.XPath(
    "count(//article | //*[contains(concat(' ', normalize-space(@class), ' '), ' hentry ')])"
)


def find_credit(tree, base_url: str, rule: SiteRule | None) -> str | None:
    """The URL of the original that a republication credits ("Quelle: Lifegate <a href=...>")."""
    starts = select(tree, rule.source) if rule and rule.source else []
    for line in starts + tree.xpath(CREDIT_TEXT):
        for _ in range(3):  # label and link may sit in nested inline elements
            if line is None:
                break
            text = text_of(line)
            if len(text) <= 300 and CREDIT_LINE.search(text):
                link = line if line.tag == "a" else line.find(".//a[@href]")
                if link is not None and link.get("href"):
                    return urljoin(base_url, link.get("href").strip())
            line = line.getparent()
    return None


def figures(scope, rule: SiteRule, base_url: str) -> list[dict]:
    """The article's images with caption and credit; images in pruned boxes are skipped."""
    images = []
    pruned = set(select_all(scope, rule.prune + GENERIC_PRUNE))
    for fig in select(scope, rule.figures):
        img = fig.find(".//img")
        if img is None or any(a in pruned for a in fig.iterancestors()):
            continue
        # Lazy-loading themes put a placeholder in src and the image in data-src.
        src = img.get("data-src") or img.get("src") or ""
        credit = text_of(next(iter(select(fig, rule.credit)), None)) or None
        caption = text_of(next(iter(select(fig, rule.caption)), None))
        if credit and caption.endswith(credit):
            caption = caption[: -len(credit)].strip()
        elif not credit and "©" in caption:
            caption, _, rest = caption.partition("©")
            caption, credit = caption.strip(), "©" + rest
        url = urljoin(base_url, src.strip())
        images.append({"url": url, "caption": caption or None, "credit": credit})
    return images


# Generic conventions every site shares: schema.org JSON-LD, OpenGraph/<meta>, rel=canonical and
# Creative Commons licence names.
_ARTICLE_TYPES = {
    "Article",
    "NewsArticle",
    "BlogPosting",
    "Report",
    "ReportageNewsArticle",
    "AnalysisNewsArticle",
    "OpinionNewsArticle",
    "TechArticle",
    "ScholarlyArticle",
}
_CC_TEXT = re.compile(
    r"\bCC[\s-]?(?:BY|0)(?:[\s-](?:NC|ND|SA)){0,3}(?:[\s-]\d\.\d)?\b", re.IGNORECASE
)
_CC_URL = re.compile(
    r"creativecommons\.org/(?:licenses|publicdomain)/([a-z-]+)/(\d\.\d)?", re.IGNORECASE
)


_LICENSE_LINK = etree.XPath("//a[@rel='license'] | //link[@rel='license']")
_TIME = etree.XPath("(//time[@datetime])[1]")


def _first_text(tree, selectors: tuple[str, ...]) -> str:
    found = select(tree, selectors) if selectors else []
    return text_of(found[0]) if found else ""


def article_head(tree, rule: SiteRule | None, meta: dict, ld: dict, url: str) -> dict:
    """Title, kicker, standfirst, authors, tags, licence and figures, read before any pruning.

    ``headlines`` lists every form of the headline the page carries (rule, h1, og:title, JSON-LD,
    <title>): a text line equal to one of them repeats the title.
    """
    h1s = [text_of(h) for h in tree.xpath("(//h1)[position() <= 3]")]
    candidates = [ld.get("headline"), meta.get("og:title"), meta.get("twitter:title")]
    candidates.append(tree.findtext(".//title"))
    named = [norm(n) for n in candidates if isinstance(n, str) and n.strip()]
    title = _first_text(tree, rule.title) if rule else ""
    if not title:
        title = next((h for h in h1s if h and any(h.casefold() in n.casefold() for n in named)), "")
    title = title or (named[0] if named else "") or (h1s[0] if h1s else "")
    standfirst: list[str] = []
    if rule and rule.standfirst:
        found = select(tree, rule.standfirst)
        if found:
            paras = found[0].xpath(".//p")
            standfirst = [t for t in map(text_of, paras or found[:1]) if t]
    kicker = _first_text(tree, rule.kicker) if rule else ""
    h1 = next(iter(tree.xpath("(//h1)[1]")), None)
    if h1 is not None and not (rule and rule.standfirst and rule.kicker):
        # Read from the conventions around the headline, so a markup change or an unknown
        # republisher theme still keeps the standfirst out of the text.
        descriptions = [
            meta.get(k, "") for k in ("description", "og:description", "twitter:description")
        ]
        descriptions.append(ld.get("description") if isinstance(ld.get("description"), str) else "")
        standfirst = standfirst or header.standfirst(h1, descriptions)
        kicker = kicker or header.kicker(h1) or ""
    license_el = next(iter(select(tree, rule.license)), None) if rule and rule.license else None
    license_link = next(iter(_LICENSE_LINK(tree)), None)
    ld_license = ld.get("license") if isinstance(ld.get("license"), str) else None
    license_ = (
        license_name(text_of(license_el))
        or license_name(None, license_link.get("href") if license_link is not None else None)
        or license_name(ld_license, ld_license)
    )
    authors = [text_of(a) for a in select(tree, rule.authors)] if rule and rule.authors else []
    authors = authors or names(ld.get("author")) or names(meta.get("author"))
    tags = [text_of(a) for a in select(tree, rule.tags)] if rule and rule.tags else []
    if not tags:
        keywords = ld.get("keywords") or meta.get("article:tag") or ""
        tags = keywords if isinstance(keywords, list) else keywords.split(",")
    images = []
    if rule:
        scope = next(iter(select(tree, rule.body)), tree)
        article = next(scope.iterancestors("article"), None)
        images = figures(article if article is not None else scope, rule, url)
    if not images and meta.get("og:image"):
        images = [{"url": urljoin(url, meta["og:image"]), "caption": None, "credit": None}]
    return {
        "title": title or None,
        "headlines": [t for t in [title, *named, *h1s[:1]] if t],
        "kicker": kicker or None,
        "standfirst": standfirst,
        "authors": list(dict.fromkeys(a for a in authors if a)),
        "tags": list(dict.fromkeys(norm(str(t)) for t in tags if norm(str(t)))),
        "license": license_,
        "images": images,
    }


def json_ld(tree) -> dict:
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


def meta_tags(tree) -> dict[str, str]:
    """<meta> contents by property/name/itemprop/http-equiv (lower-cased; the first one wins)."""
    found: dict[str, str] = {}
    for el in tree.iterfind(".//meta"):
        key = el.get("property") or el.get("name") or el.get("itemprop") or el.get("http-equiv")
        key = (key or "").strip().lower()
        content = el.get("content")
        if key and content and key not in found:
            found[key] = content.strip()
    return found


def license_name(text: str | None, href: str | None = None) -> str | None:
    """Short licence name ("CC BY-NC-ND 4.0", "CC-BY-SA") from a licence line or licence URL."""
    match = _CC_TEXT.search(text or "")
    if match:
        return match.group(0)
    match = _CC_URL.search(href or "")
    if match:
        return " ".join(filter(None, ["CC", match.group(1).upper(), match.group(2)]))
    return None


def canonical_url(tree, url: str, meta: dict[str, str]) -> str:
    """The page's canonical URL (link rel=canonical, og:url, else ``url``), without fragment."""
    link = tree.find(".//link[@rel='canonical']")
    href = (link.get("href") if link is not None else None) or meta.get("og:url") or url
    parts = urlsplit(urljoin(url, href.strip()))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        parts = urlsplit(url)
    netloc = parts.netloc.lower()
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, ""))


def names(value) -> list[str]:
    """Person names from a JSON-LD author value (string, object or list of them)."""
    if isinstance(value, list):
        return [n for v in value for n in names(v)]
    if isinstance(value, dict):
        return names(value.get("name"))
    return [norm(value)] if isinstance(value, str) and value.strip() else []


def iso_date(value) -> str | None:
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


def language_code(code: str | None) -> str | None:
    """Primary language subtag ("de" from "de-DE" or "de_DE"), None when it is not one."""
    code = (code or "").strip().replace("_", "-").split("-")[0].lower()
    return code if code.isalpha() and 2 <= len(code) <= 3 else None


def declared_language(tree, meta: dict[str, str], ld: dict) -> str | None:
    """The language the page declares: <html lang>, Content-Language, og:locale, JSON-LD."""
    in_language = ld.get("inLanguage")
    declared = (tree.get("lang"), meta.get("content-language"), meta.get("og:locale"), in_language)
    for value in declared:
        code = language_code(value if isinstance(value, str) else None)
        if code:
            return code
    return None


def dates(tree, meta: dict[str, str], ld: dict) -> tuple[str | None, str | None]:
    """(published, modified) in ISO 8601 from JSON-LD, article:* meta, else the first <time>."""
    published = iso_date(ld.get("datePublished")) or iso_date(meta.get("article:published_time"))
    if published is None:
        stamp = next(iter(_TIME(tree)), None)
        published = iso_date(stamp.get("datetime")) if stamp is not None else None
    modified = iso_date(ld.get("dateModified")) or iso_date(meta.get("article:modified_time"))
    return published, modified


@lru_cache(maxsize=32)
def compile_lines(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    """Join line patterns into one case-insensitive regex (None when there are none)."""
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)
