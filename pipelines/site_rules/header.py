"""The header themes write around an article's headline, read without site rules: the kicker
just above the headline and the standfirst just below it.

Site rules name these blocks by class for the sites they know. A redesign, or a republisher
nobody wrote a rule for, still follows the conventions read here: the kicker is a one-link
label pointing at a tag or category page; the standfirst is a short block between the headline
and the body, named like one (``entry-summary``, ``excerpt``, ``standfirst``, ``dek``…) or
repeating the page's own description. A block is only taken when the body's paragraphs are not
in it, so a page whose description copies its first paragraph keeps that paragraph as text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from lxml import etree

_TAXONOMY_HREF = re.compile(
    r"/(tags?|category|categories|categoria|categorie|kategorie|topics?|themen?|sections?|rubri\w*|argomenti)/",
    re.IGNORECASE,
)
_KICKER_CLASS = re.compile(
    r"(?:^|[\s_-])(kicker|eyebrow|overline|occhiello|surtitre|dachzeile|entry-category|category)(?:$|[\s_-])",
    re.IGNORECASE,
)
_STANDFIRST_CLASS = re.compile(
    r"(?:^|[\s_-])(standfirst|excerpt|summary|subtitle|subheadline|sottotitolo|description|dek|deck"
    r"|lead|lede|intro|abstract|chapo|chapeau|teaser|sommario)(?:$|[\s_-])",
    re.IGNORECASE,
)
# Headings are left out: a subtitle set as a heading is read as part of the article.
_BLOCKS = {"p", "div", "section", "aside", "header", "ul", "ol", "figure", "blockquote"}
_LOOKAHEAD = 12  # elements after the headline searched for the standfirst
_MAX_STANDFIRST_CHARS = 700
_MAX_KICKER_WORDS = 5
_FOLLOWING = etree.XPath(f"following::*[position() <= {_LOOKAHEAD}]")


def _text(el) -> str:
    return " ".join(el.text_content().split())


def _classes(el) -> str:
    value = el.get("class")
    return value if isinstance(value, str) else ""


def kicker(h1) -> str | None:
    """The label above the headline: a short block holding one link to a tag or category page,
    or a short block classed as a kicker."""
    above = h1.getprevious()
    parent = h1.getparent()
    if above is None and parent is not None and len(parent) == 1:
        above = parent.getprevious()  # the headline has a wrapper of its own
    if (
        above is None
        or not isinstance(above.tag, str)
        or above.tag in ("h1", "h2", "nav", "ul", "ol")
    ):
        return None
    text = _text(above)
    if not text or len(text.split()) > _MAX_KICKER_WORDS or len(text) > 60:
        return None
    links = [above] if above.tag == "a" else above.findall(".//a")
    by_link = len(links) == 1 and bool(_TAXONOMY_HREF.search(links[0].get("href") or ""))
    if by_link and _text(links[0]) == text:
        return text
    return text if _KICKER_CLASS.search(_classes(above)) and len(links) <= 1 else None


def standfirst(h1, descriptions: Iterable[str]) -> list[str]:
    """The lines of the block between the headline and the body, when there is one."""
    described = [" ".join(d.split()).casefold() for d in descriptions if d and d.strip()]
    inside_h1 = set(h1.iter())
    for el in _FOLLOWING(h1):
        if el in inside_h1 or not isinstance(el.tag, str) or el.tag not in _BLOCKS:
            continue
        paragraphs = el.findall(".//p") if el.tag != "p" else [el]
        text = _text(el)
        if not text:
            continue
        named = bool(_STANDFIRST_CLASS.search(_classes(el)))
        repeated = len(text) >= 30 and any(text.casefold() in d for d in described)
        if named or repeated:
            return _lines(el, paragraphs, text)
        if len(paragraphs) >= 2 or (el.tag == "p" and len(text) > 80):
            return []  # the body starts here: nothing above it was a standfirst
    return []


def _lines(block, paragraphs, text: str) -> list[str]:
    if len(text) > _MAX_STANDFIRST_CHARS or len(paragraphs) > 3:
        return []  # too long for a standfirst: the body itself
    if block.tag == "p":
        siblings = [p for p in block.itersiblings("p")]
        if any(len(_text(p)) > 0 for p in siblings):
            return []  # a paragraph among the body's paragraphs, not a block of its own
    lines = [_text(p) for p in paragraphs if _text(p)]
    return lines or [text]
