"""A tree to text blocks: one line per block element, with the share of it that is link text.

Reads both HTML and trafilatura's internal XML (one Markup table each).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

from lxml import etree

from pipelines.site_rules import norm

__all__ = ["HTML", "TRAFILATURA", "Markup", "walk"]


@dataclass(frozen=True, slots=True)
class Markup:
    """Which tags start a block, an item, a line break, a link, a cell, or are skipped."""

    blocks: frozenset[str]
    items: frozenset[str]
    breaks: frozenset[str]
    links: frozenset[str]
    cells: frozenset[str]
    skip: frozenset[str]


HTML = Markup(
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
TRAFILATURA = Markup(
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


def walk(root, markup: Markup) -> list[tuple[str, float]]:
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

    # Comments and processing instructions are asked for only for the text that follows them.
    walker = etree.iterwalk(root, events=("start", "end", "comment", "pi"))
    for event, el in walker:
        tag = el.tag if isinstance(el.tag, str) else ""
        if event in ("comment", "pi"):
            add(el.tail)
        elif event == "start":
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
