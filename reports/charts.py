"""Server-side SVG charts: horizontal bar charts and a funnel, the same on pages and in PDFs.

No JavaScript and nothing fetched: each chart is one self-contained ``<svg>``
element with ``role="img"``, a ``<title>`` and a ``<desc>`` naming it (and
``aria-labelledby`` pointing at both), and a ``<title>`` on every bar so the
value is announced and shown on hover. Pages put the chart's table beside it;
the chart never carries information the table does not.

Labels are escaped here (user text such as an organisation's country name can
reach a chart), so the markup returned is safe to insert as it is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from html import escape

from markupsafe import Markup

# Colours with a contrast ratio of at least 3:1 against white (WCAG non-text contrast).
BAR_COLOUR = "#0b5394"
FUNNEL_COLOUR = "#1f3b64"
TEXT_COLOUR = "#1d2733"
FONT = "DejaVu Sans, MMD Document Sans, sans-serif"

Number = int | float | Decimal


@dataclass(frozen=True)
class Bar:
    label: str
    value: Number


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "chart"


def format_figure(value: Number, unit: str = "") -> str:
    """A value as the chart writes it: thousands separated, money with two decimals."""
    text = f"{Decimal(value):,.2f}" if isinstance(value, Decimal | float) else f"{value:,}"
    return f"{unit} {text}" if unit else text


def _truncate(label: str, width: int) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


def _open(chart_id: str, width: int, height: int, title: str, desc: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{chart_id}" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" font-family="{FONT}" '
        f'font-size="12">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
    ]


def bar_chart(
    title: str,
    bars: Sequence[Bar] | Sequence[tuple[str, Number]],
    *,
    desc: str | None = None,
    unit: str = "",
    chart_id: str | None = None,
    width: int = 560,
    label_width: int = 200,
    bar_height: int = 20,
    gap: int = 6,
) -> Markup:
    """A horizontal bar chart, one bar per (label, value), longest bar the largest value."""
    items = [b if isinstance(b, Bar) else Bar(str(b[0]), b[1]) for b in bars]
    chart_id = chart_id or "chart-" + _slug(title)
    if desc is None:
        desc = "; ".join(f"{b.label}: {format_figure(b.value, unit)}" for b in items) or "No data."
    height = max(1, len(items)) * (bar_height + gap) + gap
    value_width = 110
    plot = width - label_width - value_width
    largest = max((float(b.value) for b in items), default=0.0)
    parts = _open(chart_id, width, height, title, desc)
    if not items:
        parts.append(f'<text x="0" y="{bar_height}" fill="{TEXT_COLOUR}">No data</text>')
    for n, item in enumerate(items):
        y = gap + n * (bar_height + gap)
        value = float(item.value)
        length = 0.0 if largest <= 0 else max(0.0, value / largest * plot)
        text_y = y + bar_height * 0.7
        shown = format_figure(item.value, unit)
        parts.append(
            f'<g class="bar" data-label="{escape(item.label)}" data-value="{item.value}">'
            f"<title>{escape(item.label)}: {escape(shown)}</title>"
            f'<text x="{label_width - 6}" y="{text_y:.1f}" text-anchor="end" '
            f'fill="{TEXT_COLOUR}">{escape(_truncate(item.label, label_width // 7))}</text>'
            f'<rect x="{label_width}" y="{y}" width="{length:.1f}" height="{bar_height}" '
            f'fill="{BAR_COLOUR}"/>'
            f'<text x="{label_width + length + 4:.1f}" y="{text_y:.1f}" '
            f'fill="{TEXT_COLOUR}">{escape(shown)}</text>'
            "</g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every piece of text is escaped above


def funnel_chart(
    title: str,
    stages: Sequence[Bar] | Sequence[tuple[str, Number]],
    *,
    desc: str | None = None,
    chart_id: str | None = None,
    width: int = 560,
    step_height: int = 34,
    gap: int = 4,
) -> Markup:
    """A funnel: centred bars, each as wide as its count, with the share of the first stage."""
    items = [s if isinstance(s, Bar) else Bar(str(s[0]), s[1]) for s in stages]
    chart_id = chart_id or "chart-" + _slug(title)
    first = float(items[0].value) if items else 0.0
    if desc is None:
        desc = "; ".join(
            f"{s.label}: {format_figure(s.value)}{_share(s.value, first)}" for s in items
        ) or "No data."
    height = max(1, len(items)) * (step_height + gap) + gap
    largest = max((float(s.value) for s in items), default=0.0)
    parts = _open(chart_id, width, height, title, desc)
    if not items:
        parts.append(f'<text x="0" y="{step_height}" fill="{TEXT_COLOUR}">No data</text>')
    for n, stage in enumerate(items):
        y = gap + n * (step_height + gap)
        value = float(stage.value)
        length = 0.0 if largest <= 0 else value / largest * width
        x = (width - length) / 2
        caption = f"{stage.label}: {format_figure(stage.value)}{_share(stage.value, first)}"
        parts.append(
            f'<g class="step" data-label="{escape(stage.label)}" data-value="{stage.value}">'
            f"<title>{escape(caption)}</title>"
            f'<rect x="{x:.1f}" y="{y}" width="{length:.1f}" height="{step_height}" '
            f'fill="{FUNNEL_COLOUR}" fill-opacity="{1 - n * 0.1 if n < 6 else 0.4:.2f}"/>'
            f'<text x="{width / 2:.1f}" y="{y + step_height * 0.65:.1f}" text-anchor="middle" '
            f'fill="{TEXT_COLOUR}" stroke="#ffffff" stroke-width="3" paint-order="stroke">'
            f"{escape(caption)}</text>"
            "</g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every piece of text is escaped above


def _share(value: Number, first: float) -> str:
    if first <= 0:
        return ""
    return f" ({float(value) / first:.0%})"
