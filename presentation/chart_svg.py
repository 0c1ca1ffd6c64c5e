"""SVG building blocks every chart shares: size, colours, escaping, text, the empty chart.

Accessibility and the Content-Security-Policy. The page ships a CSP without
``'unsafe-inline'``, so the SVG carries no ``style`` attribute and no ``<style>`` element:
colours, strokes and sizes are presentation attributes (which any stylesheet rule
overrides), and every element has a class the external stylesheet may style. Each
``<svg>`` has ``role="img"``, ``aria-labelledby`` pointing at its ``<title>`` and
``aria-describedby`` at its ``<desc>`` (the period, lowest, highest and latest figures),
with ids made from the caller's ``id_prefix``, which must be unique on the page. Every
colour used for a graphic has at least 3:1 contrast with white and every text colour at
least 4.5:1. The ``viewBox`` is :data:`WIDTH` units wide and the ``<svg>`` has no width or
height, so it fills its container; text is :data:`FONT_SIZE` units, which is at least
12 CSS px whenever the chart is drawn at 288 CSS px wide or more (a 320 px phone less the
page's margins). Give the chart a ``max-width`` in the stylesheet rather than letting it
fill a wide screen. All text is escaped; sensor labels come from settings.

CSS classes (all optional to style; the attributes alone draw a complete chart):

- ``hs-chart``: every chart's ``<svg>``; also ``hs-chart-line-chart``,
  ``hs-chart-busy-times`` and ``hs-chart-empty`` (no data: the chart shows
  :data:`NO_DATA` only). Suggested: ``width: 100%; height: auto; max-width: 40rem``.
- ``hs-chart-text``: every ``<text>``; ``hs-chart-tick`` (axis labels),
  ``hs-chart-unit`` (the unit above the y axis), ``hs-chart-message`` (the no-data text),
  ``hs-chart-legend-label`` (the heatmap's legend).
- ``hs-chart-axis``: the axis lines; ``hs-chart-grid``: the gridlines.
- ``hs-chart-band``: the min-max band (a path per unbroken run, or a whisker line for a
  lone point); ``hs-chart-line``: the mean (one ``<path>`` per unbroken run);
  ``hs-chart-point``: a lone point's dot (a run of one bucket).
- ``hs-heat-cell`` on each heatmap cell and on each legend swatch, with one of
  ``hs-heat-none`` (no data: hatched), ``hs-heat-0`` (zero) and ``hs-heat-1`` to
  ``hs-heat-4`` (lightest to darkest); ``hs-chart-legend`` is the legend's group.
- ``hs-data-table``: each ``<table>``; ``hs-num`` on each number cell (align it right).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

WIDTH = 360
"""The width of every chart's viewBox, in user units."""
FONT_SIZE = 15
"""Text size in user units: 12 CSS px when a chart is drawn 288 CSS px wide."""
NO_DATA = "No data for this period"
"""What a chart or table with nothing to show says instead."""

LINE_HEIGHT = 18
CHAR_WIDTH = 0.6 * FONT_SIZE  # a generous estimate of one character's advance
LABEL_GAP = 10

# Colours: graphics at least 3:1 against white, text at least 4.5:1.
TEXT_COLOUR = "#1a1a1a"  # 17.4:1
AXIS_COLOUR = "#595959"  # 7.0:1
GRID_COLOUR = "#8c8c8c"  # 3.4:1
LINE_COLOUR = "#08306b"  # 12.8:1 (and 3.8:1 against the band it is drawn over)
BAND_COLOUR = "#5b8fd0"  # 3.3:1

_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
# Characters XML 1.0 forbids (a label from settings could hold any of them).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def escape_text(text: str) -> str:
    """Escape text for XML and HTML alike, dropping characters XML cannot hold."""
    return html.escape(_NOT_XML.sub("", text), quote=True)


def check_id(id_prefix: str) -> str:
    """``id_prefix`` if it is a safe id, else ValueError."""
    if not _ID.fullmatch(id_prefix):
        raise ValueError(
            f"id_prefix {id_prefix!r} must start with a letter and hold only letters, "
            "digits, '-' and '_' (at most 64)"
        )
    return id_prefix


def coord(value: float) -> str:
    """A coordinate, short."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def svg_open(kind: str, height: float, id_prefix: str, title: str, desc: str) -> list[str]:
    """The opening of a chart's ``<svg>``: its title and description."""
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="hs-chart {kind}" '
        f'viewBox="0 0 {WIDTH} {coord(height)}" role="img" '
        f'aria-labelledby="{id_prefix}-title" aria-describedby="{id_prefix}-desc" '
        f'font-size="{FONT_SIZE}">',
        f'<title id="{id_prefix}-title">{escape_text(title)}</title>',
        f'<desc id="{id_prefix}-desc">{escape_text(desc)}</desc>',
    ]


def svg_text(
    x: float,
    y: float,
    lines: Sequence[str],
    *,
    kind: str = "hs-chart-tick",
    anchor: str = "middle",
) -> str:
    """A <text> of one or more lines, anchored at (x, y) for its first line's baseline."""
    head = (
        f'<text class="hs-chart-text {kind}" x="{coord(x)}" y="{coord(y)}" '
        f'text-anchor="{anchor}" fill="{TEXT_COLOUR}" font-size="{FONT_SIZE}">'
    )
    if len(lines) == 1:
        return head + escape_text(lines[0]) + "</text>"
    spans = "".join(
        f'<tspan x="{coord(x)}" dy="{0 if i == 0 else LINE_HEIGHT}">{escape_text(line)}</tspan>'
        for i, line in enumerate(lines)
    )
    return head + spans + "</text>"


def label_x(x: float, lines: Sequence[str], low: float, high: float) -> float:
    """Keep a centred label inside [low, high], with room for wide letters such as "W"."""
    half = max(len(line) for line in lines) * CHAR_WIDTH / 2 + 4
    return min(max(x, low + half), high - half)


def empty_chart(kind: str, id_prefix: str, title: str, desc: str) -> str:
    """A chart that says :data:`NO_DATA` only."""
    height = 80
    parts = svg_open(f"{kind} hs-chart-empty", height, id_prefix, title, desc)
    parts.append(
        f'<rect class="hs-chart-axis" x="1" y="1" width="{WIDTH - 2}" height="{height - 2}" '
        f'fill="none" stroke="{AXIS_COLOUR}" stroke-width="1"/>'
    )
    parts.append(
        svg_text(WIDTH / 2, height / 2 + FONT_SIZE * 0.35, [NO_DATA], kind="hs-chart-message")
    )
    parts.append("</svg>")
    return "\n".join(parts)
