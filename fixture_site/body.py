"""HTML of an article body's blocks, shared by the LifeGate theme and the republisher.

Inline links wrap a slice of text in place, so an element's text is exactly its block's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from fixture_site.layout import attr, esc, lazy_img, resized, srcset

_WORD = re.compile(r"[^\W\d_]{6,}")


def _link_span(text: str, salt: int) -> tuple[int, int] | None:
    """Pick one word to link, like an editor linking a key term: among the longest words."""
    words = sorted(_WORD.finditer(text), key=lambda m: (-len(m.group()), m.start()))[:3]
    if not words:
        return None
    chosen = sorted(words, key=lambda m: m.start())[salt % len(words)]
    return chosen.start(), chosen.end()


def paragraph_html(text: str, href: str | None, salt: int) -> str:
    span = _link_span(text, salt) if href else None
    if span is None or href is None:
        return esc(text)
    start, end = span
    return f'{esc(text[:start])}<a href="{attr(href)}">{esc(text[start:end])}</a>{esc(text[end:])}'


def figure_html(block: dict[str, Any], base: str, style: str) -> str:
    src = block.get("src") or ""
    img = lazy_img(
        base + resized(src, 1024, 683),
        srcset(base, src),
        sizes="(max-width: 1024px) 100vw, 1024px",
        alt=block.get("caption", ""),
        width=1024,
        height=683,
    )
    caption, credit = esc(block.get("caption", "")), esc(block.get("credit", ""))
    if style == "republisher":
        return (
            f'<figure class="wp-block-image size-large">{img}'
            f'<figcaption class="wp-element-caption">{caption} <span class="credit">{credit}</span>'
            "</figcaption></figure>"
        )
    return (
        f'<figure class="wp-block-image size-large">{img}<figcaption class="figcaption">'
        f'<span class="figcaption__caption">{caption}</span> '
        f'<span class="figcaption__credit">{credit}</span></figcaption></figure>'
    )


def blocks_html(
    blocks: Sequence[dict[str, Any]],
    *,
    base: str,
    post_id: int,
    link_targets: Sequence[str],
    style: str = "lifegate",
    insert_after: int | None = None,
    insert_html: str = "",
) -> str:
    """Render body blocks; every third paragraph carries an inline link to `link_targets`."""
    out: list[str] = []
    paragraphs = 0
    if insert_after is not None:
        insert_after = max(0, min(insert_after, len(blocks) - 1))
    for index, block in enumerate(blocks):
        kind = block["type"]
        if kind == "p":
            href = None
            if link_targets and (post_id + paragraphs) % 3 == 1:
                href = link_targets[(paragraphs // 3) % len(link_targets)]
            out.append(f"<p>{paragraph_html(block['text'], href, post_id + index)}</p>")
            paragraphs += 1
        elif kind in ("h2", "h3", "h4"):
            out.append(f'<{kind} class="wp-block-heading">{esc(block["text"])}</{kind}>')
        elif kind == "ul":
            items = "".join(f"<li>{esc(item)}</li>" for item in block["items"])
            out.append(f'<ul class="wp-block-list">{items}</ul>')
        elif kind == "blockquote":
            out.append(
                f'<blockquote class="wp-block-quote"><p>{esc(block["text"])}</p></blockquote>'
            )
        elif kind == "figure":
            out.append(figure_html(block, base, style))
        if insert_after is not None and index == insert_after:
            out.append(insert_html)
    if not blocks and insert_html:
        out.append(insert_html)
    return "\n".join(out)
