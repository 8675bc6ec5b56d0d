"""Text lines of a page no site rule covers: trafilatura's fast mode, the later chunks of a body
split in several containers, and trafilatura's fallbacks where the fast text skips the lead.

trafilatura reads the densest block of a page; a theme that splits the body into sibling
containers of one class (around ads and figures) loses every chunk after the first, with or
without fallbacks. The chunks are found from the container of the last fast paragraph.

trafilatura's fallbacks (readability, jusText) recover what fast mode misses; run on every page
they cost ~30 % more CPU and, where the fast text was fine, often bring the boilerplate around
the article along. So they run per page, in two cases:

- the fast text looks deficient the way trafilatura's own comparison tests it (short, without
  paragraphs, mostly tables, or under half the page's main block of paragraphs): trafilatura's
  whole result with its fallbacks is taken, as trafilatura itself would decide;
- the fast text skips a prose paragraph between the headline and the body (not a caption, credit
  or the standfirst): only the prose lines the fallbacks' result has right before the fast text
  are taken, two extractors agreeing they lead the article.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from copy import copy
from typing import TYPE_CHECKING, cast

import trafilatura
from trafilatura.settings import Extractor

from pipelines.text_blocks import HTML, TRAFILATURA, walk

if TYPE_CHECKING:
    from trafilatura.settings import Document

__all__ = ["continuation", "short_text", "skipped_lead", "trafilatura_lines", "whole_links"]

Lines = list[tuple[str, float]]

# A line taken from the fallbacks' result: sentence-long and ending like a sentence.
_PROSE_CHARS = 80
_PROSE_CHARS_UNSPACED = 30  # scripts without spaces between words (Chinese, Japanese, Thai)
_WHOLE_ARTICLE_TAGS = frozenset(("article", "main", "body", "html"))
_BLOCK_MIN_CHARS = 25  # shorter blocks (labels, bylines) do not count towards the main block
_FALLBACK_RATIO = 2.0  # trafilatura prefers readability's text when it is twice as long
_WALL_CHARS = 1000  # one block this long with no break is menus and text glued together
_CHUNK_LEVELS = 3  # ancestors of the last paragraph tried as the chunk a body is split into
_LEAD_LOOKAHEAD = 10  # paragraphs after the headline searched for a skipped lead
_BLOCKS = frozenset(
    ("p", "div", "section", "article", "ul", "ol", "table", "figure", "blockquote", "h2", "h3")
)
_HEADINGS = frozenset(("h1", "h2", "h3", "h4", "h5", "h6"))
# The nearest of these around a link is the block a whole-link line would come from: what starts
# a line when a page is read into lines.
_LINK_BLOCKS = HTML.blocks | HTML.cells
_NOT_LEAD_TAGS = frozenset(("figure", "figcaption", "header", "aside", "nav", "footer", "form"))
_NOT_LEAD_CLASS = re.compile(
    r"caption|credit|byline|author|newsletter|promo|related", re.IGNORECASE
)
_SENTENCE_END = re.compile(r"[.!?\u2026\u3002\uff01\uff1f\u061f\u0964\"'\u201d\u2019\u00bb)]$")


def skipped_lead(tree, fast: Lines, standfirst: Iterable[str] = ()) -> bool:
    """True when a prose paragraph (a ``p``, or a ``div`` of text) between the headline and the
    first fast line is not in the fast text: a lead set apart from the body."""
    if not fast:
        return False
    first = fast[0][0]
    known = {text for text, _ in fast} | set(standfirst)
    seen_h1, skipped, paragraphs = False, False, 0
    for el in tree.iter("h1", "p", "div"):
        if el.tag == "h1":
            seen_h1, skipped, paragraphs = True, False, 0
            continue
        if not seen_h1 or (el.tag == "div" and any(child.tag in _BLOCKS for child in el)):
            continue  # a container: its paragraphs come next
        text = " ".join("".join(el.itertext()).split())
        if text == first:
            return skipped
        paragraphs += 1
        if paragraphs > _LEAD_LOOKAHEAD:
            return False
        skipped = skipped or (text not in known and _is_prose(text, 0.0) and not _aside(el))
    return False


def _aside(el) -> bool:
    """A caption, credit or byline, or a block of a header, aside or figure: not a lead."""
    for node in (el, *el.iterancestors()):
        if node.tag in _NOT_LEAD_TAGS or _NOT_LEAD_CLASS.search(node.get("class") or ""):
            return True
    return False


def _extract(tree, options: Extractor):
    """trafilatura's result body for ``tree`` (None when it found nothing)."""
    # A Document without as_dict=True (trafilatura's signature has no overload for it).
    doc = cast("Document | None", trafilatura.bare_extraction(tree, options=options))
    return doc.body if doc is not None else None


def _body_lines(body) -> Lines:
    return walk(body, TRAFILATURA) if body is not None else []


def _lines(tree, options: Extractor) -> Lines:
    return _body_lines(_extract(tree, options))


def _main_block(tree) -> int:
    """Characters in the page's largest block of paragraphs: the text of the ``p``, ``pre`` and
    ``td`` elements of one parent, or the text written directly in one ``div`` (between ``br``s).
    A cheap stand-in for what readability would take."""
    tally: dict[object, int] = {}
    for el in tree.iter("p", "pre", "td", "div"):
        if el.tag == "div":
            size = len((el.text or "").strip()) + sum(len((c.tail or "").strip()) for c in el)
            parent = el
        else:
            size = len(" ".join("".join(el.itertext()).split()))
            parent = el.getparent()
        if size >= _BLOCK_MIN_CHARS and parent is not None:
            tally[parent] = tally.get(parent, 0) + size
    return max(tally.values(), default=0)


def short_text(tree, body, fast: Lines, options: Extractor) -> bool:
    """True when the fast text looks deficient the way trafilatura's own comparison with
    readability and jusText tests it: short, without paragraphs, mostly tables, or under half of
    the page's main block of text; or one unbroken wall of text."""
    size = sum(len(text) for text, _ in fast)
    if size < options.min_extracted_size:
        return True
    if len(fast) == 1 and size > _WALL_CHARS:
        return True  # one block with no paragraph break: a page's menus and text glued together
    if body is not None and (
        not body.xpath(".//p//text()") or len(body.findall(".//table")) > len(body.findall(".//p"))
    ):
        return True
    return _main_block(tree) > _FALLBACK_RATIO * size


def _is_prose(text: str, link_share: float) -> bool:
    if link_share > 0.3 or not _SENTENCE_END.search(text):
        return False
    return len(text) >= (_PROSE_CHARS if " " in text else _PROSE_CHARS_UNSPACED)


def _lead(fast: Lines, full: Lines) -> Lines:
    """The prose lines of ``full`` right before the first line of ``fast`` (none when ``full``
    does not hold that line)."""
    first = fast[0][0]
    start = next((i for i, (text, _) in enumerate(full) if text == first), None)
    if start is None:
        return []
    known = {text for text, _ in fast}
    lead: Lines = []
    for text, share in reversed(full[:start]):
        if text in known or not _is_prose(text, share):
            break
        lead.append((text, share))
    return lead[::-1]


def trafilatura_lines(
    tree,
    options: Extractor,
    *,
    lead_fallback: bool = True,
    body_chunks: bool = True,
    short_text_fallback: bool = True,
    standfirst: Iterable[str] = (),
) -> tuple[Lines, bool]:
    """The text lines trafilatura finds in ``tree``, and whether its fallbacks ran.

    With ``body_chunks``, the paragraphs of the article's later chunks (``continuation``) follow
    the fast text.

    With ``options`` in fast mode and ``short_text_fallback``, trafilatura's result with its
    fallbacks replaces a fast text that looks deficient (``short_text``).

    With ``options`` in fast mode and ``lead_fallback``, the fallbacks run when the fast text skips
    a lead (``standfirst`` lines do not count as one), and the prose lines their result has right
    before the fast text are put in front of it.
    """
    body = _extract(tree, options)
    fast = _body_lines(body)
    if options.fast and short_text_fallback and short_text(tree, body, fast, options):
        slow_options = copy(options)
        slow_options.fast = False
        full = _lines(tree, slow_options)
        return (full + continuation(tree, full) if body_chunks else full), True
    if body_chunks:
        fast = fast + continuation(tree, fast)
    if not (options.fast and lead_fallback):
        return fast, False
    if not skipped_lead(tree, fast, standfirst):
        return fast, False
    slow_options = copy(options)
    slow_options.fast = False
    return _lead(fast, _lines(tree, slow_options)) + fast, True


def whole_links(tree, lines: Lines) -> Lines:
    """``lines`` with a link share of 1.0 for each line that is, somewhere on the page, a block
    holding nothing but one link (a headline's link excepted).

    trafilatura's text keeps no links, so without this a teaser or promo link it leaves in the
    body (a related headline, "get the app by clicking here") reads as a sentence. A link that is
    a heading (a product in a buying guide) and a link text that spells an address (a list of
    sources) are left alone.
    """
    candidates = {text.removeprefix("- ") for text, share in lines if share < 1.0}
    if not candidates:
        return lines
    linked: set[str] = set()
    for a in tree.iter("a"):
        # Most links hold their text alone: read it without walking their subtree.
        text = " ".join((a.text or "").split()) if not len(a) else _norm(a)
        if text not in candidates:
            continue
        block = _sole_child_block(a)
        if block is None or block.tag in _HEADINGS:
            continue
        if " " in text or not ("." in text or "@" in text):
            linked.add(text)
    if not linked:
        return lines
    return [(text, 1.0 if text.removeprefix("- ") in linked else share) for text, share in lines]


def _sole_child_block(a):
    """The nearest block around ``a`` when ``a`` is all it holds (no text or element beside it,
    at any level in between); None otherwise. Checked on the tree, without building any text."""
    node = a
    while True:
        if (node.tail or "").strip():
            return None
        parent = node.getparent()
        if parent is None or len(parent) > 1 or (parent.text or "").strip():
            return None
        if parent.tag in _LINK_BLOCKS:
            return parent
        node = parent


def continuation(tree, fast: Lines) -> Lines:
    """Paragraphs of the article's later chunks: siblings of the container that holds the last
    fast line, with its tag and class (themes that split the body around ads and figures)."""
    if not fast:
        return []
    last = fast[-1][0]
    paragraph = next((p for p in tree.iter("p") if _norm(p) == last), None)
    if paragraph is None:
        return []
    chunk = paragraph.getparent()
    for _ in range(_CHUNK_LEVELS):
        if chunk is None or chunk.tag in _WHOLE_ARTICLE_TAGS:
            return []  # siblings of a whole article are other articles (infinite scroll, teasers)
        kind = (chunk.tag, chunk.get("class"))
        if kind[1] and any((s.tag, s.get("class")) == kind for s in chunk.itersiblings()):
            break
        chunk = chunk.getparent()
    else:
        return []
    known = {text for text, _ in fast}
    lines: Lines = []
    for sibling in chunk.itersiblings():
        if (sibling.tag, sibling.get("class")) != kind:
            continue
        if next(sibling.iter("h1", "article"), None) is not None:
            break  # a headline of its own: the next article begins
        for el in sibling.iter("p", "h2", "h3"):
            text = _norm(el)
            if text and text not in known and not _aside(el):
                lines.append((text, 0.0))
    return lines


def _norm(el) -> str:
    return " ".join("".join(el.itertext()).split())
