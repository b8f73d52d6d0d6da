"""The report's charts as inline SVG strings: decisions per account (horizontal stacked bars) and per day
(vertical stacked bars), one colour per decision shared with the legend and the table. Pure.

Every bar is a `<g class="bar">` with a `<title>` (its total) holding one `<rect class="seg">` per
decision, each with its own `<title>`; the chart itself has a title and a description for screen readers.
Text is escaped; nothing refers outside the document.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from html import escape

from remediator.decision import Action

COLOURS = {
    Action.DELETE.value: "#c0392b",
    Action.DEACTIVATE.value: "#e67e22",
    Action.REACTIVATE.value: "#8e44ad",
    Action.REPORT.value: "#2f74c0",
    Action.WARN.value: "#d4ac0d",
    Action.EXEMPT.value: "#138d75",
    Action.NONE.value: "#98a4a6",
    "finding": "#34495e",
    "exempt-add": "#52be80",
    "exempt-remove": "#7d6608",
}
"""The decisions the service writes; any other gets one of FALLBACK, always the same for one name."""
FALLBACK = ("#6c3483", "#1a5276", "#7b241c", "#117864", "#935116", "#4d5656")
PALETTE = tuple(dict.fromkeys((*COLOURS.values(), *FALLBACK)))
"""Every colour `colour` can return, each once."""

WIDTH = 600
_FONT = 'font-family="system-ui, sans-serif" font-size="12"'


def colour(decision: str) -> str:
    known = COLOURS.get(decision)
    if known is not None:
        return known
    return FALLBACK[sum(decision.encode()) % len(FALLBACK)]


def swatch(decision: str) -> str:
    """A decision's colour as an HTML square. A class, not a style attribute: the page's
    Content-Security-Policy refuses inline style attributes."""
    return f'<span class="sw sw-{colour(decision)[1:]}"></span>'


def swatch_css() -> str:
    """The rule of each swatch class, one per colour of PALETTE."""
    return "".join(f".sw-{hex_colour[1:]} {{ background: {hex_colour}; }}\n" for hex_colour in PALETTE)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _segments(counts: Counter[str], order: Sequence[str]) -> list[tuple[str, int]]:
    return [(name, counts[name]) for name in order if counts.get(name)]


def _open_svg(chart_id: str, width: int, height: int, title: str, description: str) -> str:
    return (
        f'<svg id="{chart_id}" class="chart" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" {_FONT}>'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>'
    )


def _describe(groups: Mapping[str, Counter[str]], order: Sequence[str]) -> str:
    parts = []
    for name, counts in groups.items():
        split = ", ".join(f"{decision} {count}" for decision, count in _segments(counts, order))
        parts.append(f"{name}: {sum(counts.values())} ({split})")
    return "; ".join(parts) + "."


def per_account_chart(per_account: Mapping[str, Counter[str]], order: Sequence[str]) -> str:
    """One horizontal bar per account, its segments by decision in `order`."""
    label_width, bar_height, gap, top = 100, 18, 8, 6
    right = 48
    height = top * 2 + len(per_account) * (bar_height + gap)
    largest = max((sum(c.values()) for c in per_account.values()), default=1)
    scale = (WIDTH - label_width - right) / largest
    parts = [
        _open_svg(
            "chart-accounts",
            WIDTH,
            height,
            "Decisions per account",
            _describe(per_account, order),
        )
    ]
    for n, (account, counts) in enumerate(per_account.items()):
        y = top + n * (bar_height + gap)
        total = sum(counts.values())
        parts.append(
            f'<g class="bar" data-account="{escape(account)}">'
            f"<title>{escape(account)}: {_plural(total, 'decision')}</title>"
            f'<text x="{label_width - 8}" y="{y + bar_height - 5}" text-anchor="end">{escape(account)}</text>'
        )
        x = float(label_width)
        for decision, count in _segments(counts, order):
            width = count * scale
            parts.append(
                f'<rect class="seg" data-decision="{escape(decision)}" x="{x:.1f}" y="{y}" '
                f'width="{width:.1f}" height="{bar_height}" fill="{colour(decision)}">'
                f"<title>{escape(account)}: {escape(decision)} {count}</title></rect>"
            )
            x += width
        parts.append(f'<text x="{x + 6:.1f}" y="{y + bar_height - 5}">{total}</text></g>')
    parts.append("</svg>")
    return "".join(parts)


def _ticks(largest: int) -> list[int]:
    """Up to five round values from 0 to at least `largest`."""
    step = max(1, math.ceil(largest / 4))
    magnitude = 10 ** (len(str(step)) - 1)
    step = math.ceil(step / magnitude) * magnitude
    return list(range(0, largest + step, step))[:6] if largest else [0, 1]


def per_day_chart(per_day: Mapping[str, Counter[str]], days: Sequence[str], order: Sequence[str]) -> str:
    """One vertical bar per day that has decisions, on an axis of every day in `days`."""
    left, right, top, bottom = 44, 12, 10, 34
    height = 240
    plot_width, plot_height = WIDTH - left - right, height - top - bottom
    slot = plot_width / max(len(days), 1)
    bar = max(slot * 0.75, 1.0)
    ticks = _ticks(max((sum(c.values()) for c in per_day.values()), default=0))
    scale = plot_height / ticks[-1]
    parts = [
        _open_svg(
            "chart-days",
            WIDTH,
            height,
            "Decisions per day (UTC)",
            _describe(per_day, order) if per_day else "No decisions.",
        )
    ]
    parts.append('<g class="axis" fill="#555">')
    for tick in ticks:
        y = top + plot_height - tick * scale
        parts.append(
            f'<line x1="{left}" x2="{WIDTH - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e3e3"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick}</text>'
        )
    every = max(1, math.ceil(64 / slot))
    for n, day in enumerate(days):
        if n % every == 0:
            x = left + n * slot + slot / 2
            parts.append(
                f'<text x="{x:.1f}" y="{height - bottom + 16}" text-anchor="middle">{escape(day[5:])}</text>'
            )
    parts.append("</g>")
    position = {day: n for n, day in enumerate(days)}
    for day, counts in per_day.items():
        if day not in position:
            continue
        x = left + position[day] * slot + (slot - bar) / 2
        y = float(top + plot_height)
        total = sum(counts.values())
        parts.append(
            f'<g class="bar" data-day="{escape(day)}">'
            f"<title>{escape(day)}: {_plural(total, 'decision')}</title>"
        )
        for decision, count in _segments(counts, order):
            length = count * scale
            y -= length
            parts.append(
                f'<rect class="seg" data-decision="{escape(decision)}" x="{x:.1f}" y="{y:.1f}" '
                f'width="{bar:.1f}" height="{length:.1f}" fill="{colour(decision)}">'
                f"<title>{escape(day)}: {escape(decision)} {count}</title></rect>"
            )
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def legend(order: Sequence[str], counts: Mapping[str, int]) -> str:
    """The colour of each decision, as an HTML list (shared by both charts and the table)."""
    items = "".join(
        f'<li>{swatch(name)}{escape(name)} <span class="n">{counts.get(name, 0)}</span></li>'
        for name in order
    )
    return f'<ul class="legend" aria-label="Colour of each decision">{items}</ul>'
