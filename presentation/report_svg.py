"""The monthly report's bar charts as SVG, readable in black and white.

Each chart is an ``<svg role="img">`` with a ``<title>`` and a ``<desc>`` (the chart's
text alternative, :attr:`presentation.report_model.Bars.description`). In a ``rows``
chart each bar has its label above it, its value printed at its end and a fill pattern
of its own (solid, hatched, dotted, outlined), so neither colour nor pattern is the only
way to read it. In a ``columns`` chart (people each day) a day without data is drawn as
a hatched outline and the y axis has labelled gridlines. No ``style`` attributes.
"""

from __future__ import annotations

import math

from presentation.chart_svg import AXIS_COLOUR, TEXT_COLOUR, check_id, coord, escape_text
from presentation.report_model import Bars

WIDTH = 640
FONT = 16
_INK = "#1a1a1a"
_PATTERNS = ("solid", "hatch", "dots", "cross", "open")


def pattern_of(index: int) -> str:
    """The fill pattern of the ``index``-th bar of a rows chart (shared with the PDF)."""
    return _PATTERNS[index % len(_PATTERNS)]


def unit_words(value: float | None, unit: str) -> str:
    """The unit after a bar's value: "hours", but "1 hour"."""
    return unit.removesuffix("s") if value == 1 and unit.endswith("s") else unit


def _defs(prefix: str) -> str:
    return (
        "<defs>"
        f'<pattern id="{prefix}-hatch" width="8" height="8" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="8" height="8" fill="#ffffff"/>'
        f'<line x1="0" y1="0" x2="0" y2="8" stroke="{_INK}" stroke-width="3"/></pattern>'
        f'<pattern id="{prefix}-dots" width="6" height="6" patternUnits="userSpaceOnUse">'
        f'<rect width="6" height="6" fill="#ffffff"/><circle cx="3" cy="3" r="1.6" '
        f'fill="{_INK}"/></pattern>'
        f'<pattern id="{prefix}-cross" width="8" height="8" patternUnits="userSpaceOnUse">'
        f'<rect width="8" height="8" fill="#ffffff"/><path d="M0 4H8M4 0V8" stroke="{_INK}" '
        'stroke-width="1.5"/></pattern>'
        "</defs>"
    )


def _fill(pattern: str, prefix: str) -> str:
    if pattern == "solid":
        return _INK
    if pattern == "open":
        return "#ffffff"
    return f"url(#{prefix}-{pattern})"


def _text(x: float, y: float, text: str, anchor: str = "start", weight: str = "normal") -> str:
    return (
        f'<text x="{coord(x)}" y="{coord(y)}" font-size="{FONT}" fill="{TEXT_COLOUR}" '
        f'text-anchor="{anchor}" font-weight="{weight}">{escape_text(text)}</text>'
    )


def _open(prefix: str, height: float, chart: Bars) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="report-chart" '
        f'viewBox="0 0 {WIDTH} {coord(height)}" role="img" '
        f'aria-labelledby="{prefix}-title" aria-describedby="{prefix}-desc">',
        f'<title id="{prefix}-title">{escape_text(chart.title)}</title>',
        f'<desc id="{prefix}-desc">{escape_text(chart.description)}</desc>',
        _defs(prefix),
    ]


def rows_svg(chart: Bars, prefix: str) -> str:
    """A rows chart: a labelled, patterned bar per row, its value printed at its end."""
    check_id(prefix)
    row_h = 52
    height = len(chart.bars) * row_h + 8
    top = max((b.value or 0.0 for b in chart.bars), default=0.0) or 1.0
    room = WIDTH - 90
    parts = _open(prefix, height, chart)
    for i, bar in enumerate(chart.bars):
        y = i * row_h + 4
        parts.append(_text(0, y + FONT, bar.label))
        width = room * (bar.value or 0.0) / top
        parts.append(
            f'<rect x="1" y="{coord(y + 22)}" width="{coord(max(width, 2))}" height="22" '
            f'fill="{_fill(pattern_of(i), prefix)}" stroke="{_INK}" stroke-width="1.5"/>'
        )
        parts.append(
            _text(max(width, 2) + 8, y + 39, f"{bar.text} {unit_words(bar.value, chart.unit)}")
        )
    parts.append("</svg>")
    return "\n".join(parts)


def _nice_top(highest: float) -> float:
    if highest <= 0:
        return 1.0
    base = 10.0 ** math.floor(math.log10(highest))
    for step in (1, 2, 2.5, 5, 10):
        if step * base >= highest:
            return step * base
    return 10 * base  # pragma: no cover


def columns_svg(chart: Bars, prefix: str) -> str:
    """A columns chart (one bar per day): gridlines labelled, days without data hatched."""
    check_id(prefix)
    height, left, bottom, top_pad = 276.0, 56.0, 52.0, 12.0
    plot_h = height - bottom - top_pad
    values = [b.value for b in chart.bars if b.value is not None]
    top = _nice_top(max(values, default=0.0))
    parts = _open(prefix, height, chart)
    for step in range(5):
        value = top * step / 4
        y = top_pad + plot_h - plot_h * step / 4
        parts.append(
            f'<line x1="{left}" x2="{WIDTH}" y1="{coord(y)}" y2="{coord(y)}" '
            f'stroke="{AXIS_COLOUR}" stroke-width="{1.5 if step == 0 else 0.5}"/>'
        )
        parts.append(_text(left - 6, y + 5, f"{value:,.0f}", anchor="end"))
    slot = (WIDTH - left) / max(len(chart.bars), 1)
    for i, bar in enumerate(chart.bars):
        x = left + i * slot + slot * 0.15
        w = slot * 0.7
        base = top_pad + plot_h
        if bar.value is None:
            parts.append(
                f'<rect x="{coord(x)}" y="{coord(base - 18)}" width="{coord(w)}" height="18" '
                f'fill="url(#{prefix}-hatch)" stroke="{_INK}" stroke-width="1"/>'
            )
        else:
            h = plot_h * bar.value / top
            parts.append(
                f'<rect x="{coord(x)}" y="{coord(base - h)}" width="{coord(w)}" '
                f'height="{coord(h)}" fill="{_INK}"/>'
            )
        if i == 0 or (i + 1) % 5 == 0:
            parts.append(_text(x + w / 2, height - 28, bar.label, anchor="middle"))
    parts.append(_text(left, height - 6, f"Day of the month ({chart.unit} each day)"))
    parts.append("</svg>")
    return "\n".join(parts)


def chart_svg(chart: Bars, prefix: str) -> str:
    """The chart as SVG, whichever its kind."""
    return rows_svg(chart, prefix) if chart.kind == "rows" else columns_svg(chart, prefix)
