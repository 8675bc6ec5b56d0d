"""Small inline SVG bar charts for the archive's pages: no script, no external request, so they
work inside the replay server's strict Content-Security-Policy."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

# Colour-blind-safe palette (Okabe & Ito), cycled for the series.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")


def stacked_bars(
    data: Mapping[str, Mapping[str, int]],
    *,
    title: str,
    width: int = 500,
    height: int = 170,
) -> str:
    """An SVG of one bar per x value (``data`` keys, in order), stacked by series (inner keys)."""
    xs = list(data)
    series = sorted({name for counts in data.values() for name in counts})
    colour = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(series)}
    total = max((sum(counts.values()) for counts in data.values()), default=0)
    left, bottom, top, legend = 40, 28, 24, 18 * ((len(series) + 3) // 4)
    plot_height = height - bottom - top
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height + legend}" '
            f'viewBox="0 0 {width} {height + legend}" font-family="sans-serif" font-size="11">'
        ),
        f"<title>{escape(title)}</title>",
        f'<text x="{left}" y="14" font-weight="bold">{escape(title)}</text>',
    ]
    if not xs or total == 0:
        parts.append(f'<text x="{left}" y="{top + 20}">nothing yet</text></svg>')
        return "".join(parts)
    step = (width - left - 10) / len(xs)
    bar = min(max(step * 0.8, 1), 48)  # one month alone should not fill the chart
    base = height - bottom
    parts.append(f'<line x1="{left}" y1="{base}" x2="{width - 10}" y2="{base}" stroke="#999"/>')
    parts.append(f'<text x="{left - 4}" y="{top + 4}" text-anchor="end">{total}</text>')
    parts.append(f'<text x="{left - 4}" y="{base}" text-anchor="end">0</text>')
    label_every = max(1, len(xs) // 12)
    for i, x in enumerate(xs):
        offset: float = base
        x0 = left + i * step
        for name in series:
            value = data[x].get(name, 0)
            if not value:
                continue
            h = plot_height * value / total
            offset -= h
            parts.append(
                f'<rect x="{x0:.1f}" y="{offset:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{colour[name]}">'
                f"<title>{escape(x)} · {escape(name)}: {value}</title></rect>"
            )
        if i % label_every == 0:
            parts.append(
                f'<text x="{x0 + bar / 2:.1f}" y="{base + 14}" text-anchor="middle">{escape(x)}</text>'
            )
    for i, name in enumerate(series):
        lx = left + (i % 4) * 112
        ly = height + 4 + 18 * (i // 4)
        parts.append(f'<rect x="{lx}" y="{ly}" width="10" height="10" fill="{colour[name]}"/>')
        parts.append(f'<text x="{lx + 14}" y="{ly + 9}">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)
