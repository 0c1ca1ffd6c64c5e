"""How busy the hall is by hour of the week: an SVG heatmap and its table.

Both take a mapping from ``(weekday, hour)`` (0 = Monday, hours 0 to 23 of the hall's
local clock) to the mean for that hour of the week.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from presentation.chart_svg import (
    CHAR_WIDTH,
    FONT_SIZE,
    LINE_HEIGHT,
    NO_DATA,
    WIDTH,
    check_id,
    coord,
    empty_chart,
    label_x,
    svg_open,
    svg_text,
)
from presentation.chart_time import DAY_NAMES, DAYS, finite
from presentation.numbers import decimals_for, format_number, format_value, unit_suffix
from presentation.tables import data_table

_OUTLINE = "#949494"  # 3.0:1, the outline of heatmap cells with nothing in them
_HATCH = "#767676"  # 4.5:1
_WHITE = "#ffffff"
_HEAT = ("#5b8fd0", "#2171b5", "#08519c", "#08306b")  # 3.3, 5.1, 7.9, 12.8 :1
_HEAT_LEVELS = len(_HEAT)


def _hour_of_week(values: Mapping[tuple[int, int], float]) -> dict[tuple[int, int], float]:
    """The usable entries: weekday 0 to 6, hour 0 to 23, a finite value."""
    result = {}
    for key, value in values.items():
        day, hour = key
        number = finite(value)
        if number is not None and 0 <= day < len(DAYS) and 0 <= hour < 24:
            result[(int(day), int(hour))] = number
    return result


def _heat_step(highest: float) -> float:
    """The width of each shade's band: a round number, the four bands just covering the top."""
    if highest <= 0:
        return 1.0
    raw = highest / _HEAT_LEVELS
    base = 10.0 ** math.floor(math.log10(raw))
    for multiple in (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0):
        if multiple * base >= raw * (1 - 1e-9):
            return multiple * base
    return raw  # pragma: no cover - 10 * base always reaches raw


def _heat_level(value: float, step: float) -> int:
    if value <= 0:
        return 0
    return int(min(max(math.ceil(value / step - 1e-9), 1), _HEAT_LEVELS))


def _heat_decimals(step: float) -> int:
    return max(0, min(10, -math.floor(math.log10(step)))) if step < 1 else 0


def _hours(hour: int) -> str:
    return f"{hour:02d}:00 to {(hour + 1) % 24:02d}:00"


def busy_times_chart(
    values: Mapping[tuple[int, int], float],
    *,
    title: str,
    id_prefix: str,
    unit: str = "people",
    period: str | None = None,
    decimals: int | None = None,
) -> str:
    """How busy the hall is by hour of the week, as an SVG heatmap (7 rows by 24 columns).

    The shade of each cell shows its mean in one of four bands the legend names (zero is
    outlined, a missing hour hatched); the shade is never the only way to read it, since
    :func:`busy_times_table` gives the numbers and the description names the busiest and
    quietest hours.

    Args:
        values: the mean by ``(weekday, hour)``: weekday 0 is Monday, hours 0 to 23 on the
            hall's local clock. Missing keys, NaN and out-of-range keys are "no data".
        title: what it shows, e.g. "Busy times in the main hall" (escaped).
        id_prefix: unique on the page; the title's and description's ids start with it.
        unit: what the numbers count, "people" by default.
        period: the weeks it averages, in words (e.g. "the last 4 weeks"), for the
            description.
        decimals: decimal places of the figures; by default what suits the unit.
    """
    check_id(id_prefix)
    cells = _hour_of_week(values)
    lead = f"{title}, {period}" if period else title
    if not cells:
        return empty_chart("hs-chart-busy-times", id_prefix, title, f"{lead}: {NO_DATA}.")
    places = decimals_for(unit, decimals)
    busiest = max(cells, key=lambda k: (cells[k], -k[0], -k[1]))
    quietest = min(cells, key=lambda k: (cells[k], k[0], k[1]))
    desc = (
        f"{lead}. Average {unit or 'value'} by day and hour; darker is busier. "
        f"Busiest: {DAY_NAMES[busiest[0]]} {_hours(busiest[1])}, "
        f"{format_value(cells[busiest], unit, places)}. "
        f"Quietest: {DAY_NAMES[quietest[0]]} {_hours(quietest[1])}, "
        f"{format_value(cells[quietest], unit, places)}."
    )
    missing = 7 * 24 - len(cells)
    if missing:
        desc += f" {missing} of the 168 hours have no data."

    step = _heat_step(max(cells.values()))
    left, top = 3 * CHAR_WIDTH + 10, FONT_SIZE + 12
    cell_w = (WIDTH - left - 6) / 24
    cell_h = 20
    grid_bottom = top + 7 * cell_h

    legend, legend_height = _legend(step, unit, cells, grid_bottom + 14, id_prefix)
    height = grid_bottom + 14 + legend_height
    parts = svg_open("hs-chart-busy-times", height, id_prefix, title, desc)
    parts.append(
        f'<defs><pattern id="{id_prefix}-nodata" width="6" height="6" '
        'patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        f'<rect width="6" height="6" fill="{_WHITE}"/>'
        f'<line x1="0" y1="0" x2="0" y2="6" stroke="{_HATCH}" stroke-width="1.5"/>'
        "</pattern></defs>"
    )
    for hour in range(0, 24, 6):
        label = [f"{hour:02d}:00"]
        x = label_x(left + hour * cell_w, label, 0, WIDTH)
        parts.append(svg_text(x, FONT_SIZE + 2, label))
    rects = []
    for day in range(7):
        y = top + day * cell_h
        parts.append(
            svg_text(left - 6, y + cell_h / 2 + FONT_SIZE * 0.35, [DAYS[day]], anchor="end")
        )
        for hour in range(24):
            rects.append(
                _cell(
                    left + hour * cell_w, y, cell_w, cell_h, cells.get((day, hour)), step, id_prefix
                )
            )
    parts.append('<g class="hs-heat-cells">' + "".join(rects) + "</g>")
    parts.extend(legend)
    parts.append("</svg>")
    return "\n".join(parts)


def _cell(
    x: float, y: float, w: float, h: float, value: float | None, step: float, id_prefix: str
) -> str:
    box = (
        f'x="{coord(x + 0.5)}" y="{coord(y + 0.5)}" width="{coord(w - 1)}" height="{coord(h - 1)}"'
    )
    if value is None:
        return (
            f'<rect class="hs-heat-cell hs-heat-none" {box} fill="url(#{id_prefix}-nodata)" '
            f'stroke="{_OUTLINE}" stroke-width="0.5"/>'
        )
    level = _heat_level(value, step)
    if level == 0:
        return (
            f'<rect class="hs-heat-cell hs-heat-0" {box} fill="{_WHITE}" '
            f'stroke="{_OUTLINE}" stroke-width="1"/>'
        )
    return f'<rect class="hs-heat-cell hs-heat-{level}" {box} fill="{_HEAT[level - 1]}"/>'


def _legend(
    step: float, unit: str, cells: Mapping[tuple[int, int], float], top: float, id_prefix: str
) -> tuple[list[str], float]:
    """The heatmap's key, laid out in rows that wrap; returns its parts and height."""
    places = _heat_decimals(step)
    used = max(_heat_level(v, step) for v in cells.values())
    entries: list[tuple[str, str]] = []
    if len(cells) < 7 * 24:
        entries.append(("hs-heat-none", "no data"))
    entries.append(("hs-heat-0", "0"))
    for level in range(1, used + 1):
        high = format_number(level * step, places)
        text = (
            f"up to {high}"
            if level == 1
            else f"{format_number((level - 1) * step, places)} to {high}"
        )
        entries.append((f"hs-heat-{level}", text))
    heading = f"Average {unit}:" if unit else "Average:"
    parts = ['<g class="hs-chart-legend">']
    y = top + FONT_SIZE
    parts.append(svg_text(4, y, [heading], kind="hs-chart-legend-label", anchor="start"))
    x = 4 + len(heading) * CHAR_WIDTH + 8
    swatch = 14
    for kind, text in entries:
        item_w = swatch + 6 + len(text) * CHAR_WIDTH + 12
        if x + item_w > WIDTH:
            x, y = 4.0, y + LINE_HEIGHT + 6
        parts.append(
            _cell(
                x - 0.5,
                y - swatch + 2.5,
                swatch + 1,
                swatch + 1,
                _legend_value(kind, step),
                step,
                id_prefix,
            )
        )
        parts.append(
            svg_text(x + swatch + 6, y, [text], kind="hs-chart-legend-label", anchor="start")
        )
        x += item_w
    parts.append("</g>")
    return parts, y - top + 8


def _legend_value(kind: str, step: float) -> float | None:
    """A value that falls in the legend entry's band (None for "no data")."""
    if kind == "hs-heat-none":
        return None
    level = int(kind.rsplit("-", 1)[1])
    return level * step if level else 0.0


def busy_times_table(
    values: Mapping[tuple[int, int], float],
    *,
    title: str,
    unit: str = "people",
    period: str | None = None,
    decimals: int | None = None,
    table_id: str | None = None,
) -> str:
    """The :func:`busy_times_chart` figures as a table: a row per hour, a column per day.

    Hours run down the side (24 rows) and days across (7 columns), so that it fits on a
    phone; a missing hour reads "no data".
    """
    cells = _hour_of_week(values)
    places = decimals_for(unit, decimals)
    caption = f"{title}, {period}" if period else title
    suffix = unit_suffix(unit).strip()
    if suffix:
        caption += f" (average {suffix} per hour)"
    rows = []
    if cells:
        for hour in range(24):
            row = []
            for day in range(7):
                value = cells.get((day, hour))
                row.append("no data" if value is None else format_number(value, places))
            rows.append((f"{hour:02d}:00", row))
    return data_table(
        caption=caption, columns=["Hour starting", *DAYS], rows=rows, table_id=table_id
    )
