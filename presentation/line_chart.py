"""One metric over time as an SVG line chart: the mean over its min-max band."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from presentation.chart_axes import fitter, time_ticks, y_scale
from presentation.chart_svg import (
    AXIS_COLOUR,
    BAND_COLOUR,
    CHAR_WIDTH,
    FONT_SIZE,
    GRID_COLOUR,
    LINE_COLOUR,
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
from presentation.chart_time import (
    Bucket,
    PointLike,
    bucket_time,
    buckets_of,
    domain_of,
    period_text,
    runs_of,
)
from presentation.numbers import decimals_for, format_value, unit_suffix
from presentation.rollup import Resolution


def line_chart(
    points: Iterable[PointLike],
    *,
    title: str,
    unit: str,
    zone: ZoneInfo,
    id_prefix: str,
    resolution: Resolution | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    decimals: int | None = None,
    include_zero: bool = False,
    height: int = 240,
) -> str:
    """One metric over a period, as an SVG string: the mean as a line over its min-max band.

    Args:
        points: the series' buckets (Rollups or ``(start, mean, min, max)`` tuples), in any
            order; NaN or infinite means are skipped, so their bucket is a gap.
        title: what the chart shows, e.g. "Temperature in the main hall" (escaped).
        unit: the metric's unit, e.g. "°C" (shown above the y axis and in the description).
        zone: the hall's time zone; every time label is on its local clock.
        id_prefix: unique on the page; the title's and description's ids start with it.
        resolution: the buckets' size ("minute", "hour" or "day"); guessed from the spacing
            of the points when None. A missing bucket breaks the line.
        start: the period's start (aware); by default the first bucket's start.
        end: the period's end, exclusive (aware); by default the last bucket's end. Points
            outside [start, end) are left out.
        decimals: decimal places of the figures; by default what suits the unit.
        include_zero: start the y axis at zero (for counts).
        height: the viewBox's height in user units (its width is :data:`WIDTH`).

    Returns:
        An ``<svg>`` element; "No data for this period" drawn in it when there is nothing to
        show.
    """
    check_id(id_prefix)
    buckets, chosen = buckets_of(points, zone, resolution)
    domain = domain_of(buckets, start, end)
    if domain is not None:
        buckets = [b for b in buckets if domain[0] <= b.start < domain[1]]
    if domain is None or not buckets:
        period = f", {period_text(*domain, zone, chosen)}" if domain else ""
        return empty_chart("hs-chart-line-chart", id_prefix, title, f"{title}{period}: {NO_DATA}.")
    t0, t1 = domain
    places = decimals_for(unit, decimals)
    runs = runs_of(buckets, zone, chosen)
    desc = _line_desc(title, unit, places, buckets, runs, t0, t1, zone, chosen)

    scale = y_scale(
        min(b.low for b in buckets), max(b.high for b in buckets), include_zero=include_zero
    )
    widest = max((len(label) for label in scale.labels), default=1)
    left = min(max(widest * CHAR_WIDTH + 12, 30), WIDTH / 3)
    right = WIDTH - 10
    top = FONT_SIZE + 14
    bottom = height - (2 * LINE_HEIGHT + 10)
    plot_w, plot_h = right - left, max(bottom - top, 20)
    bottom = top + plot_h
    total = (t1 - t0).total_seconds()

    def x_of(moment: datetime) -> float:
        return left + plot_w * (moment - t0).total_seconds() / total

    def y_of(value: float) -> float:
        return bottom - plot_h * min(max(scale.fraction(value), 0.0), 1.0)

    parts = svg_open("hs-chart-line-chart", bottom + 2 * LINE_HEIGHT + 10, id_prefix, title, desc)
    grid = [
        f'<line class="hs-chart-grid" x1="{coord(left)}" y1="{coord(y_of(v))}" x2="{coord(right)}" '
        f'y2="{coord(y_of(v))}" stroke="{GRID_COLOUR}" stroke-width="0.5"/>'
        for v in scale.ticks
    ]
    labels = [
        svg_text(left - 6, y_of(v) + FONT_SIZE * 0.35, [label], anchor="end")
        for v, label in zip(scale.ticks, scale.labels, strict=True)
    ]
    for moment, lines in time_ticks(t0, t1, zone, fitter(x_of, 0, WIDTH)):
        x = x_of(moment)
        grid.append(
            f'<line class="hs-chart-grid" x1="{coord(x)}" y1="{coord(top)}" x2="{coord(x)}" '
            f'y2="{coord(bottom)}" stroke="{GRID_COLOUR}" stroke-width="0.5"/>'
        )
        labels.append(svg_text(label_x(x, lines, 0, WIDTH), bottom + FONT_SIZE + 6, lines))
    parts.append('<g class="hs-chart-grids">' + "".join(grid) + "</g>")
    suffix = unit_suffix(unit).strip()
    if suffix:
        parts.append(svg_text(4, FONT_SIZE + 2, [suffix], kind="hs-chart-unit", anchor="start"))
    parts.append("".join(labels))

    def middle(bucket: Bucket) -> float:
        return x_of(bucket.start + (bucket.end - bucket.start) / 2)

    for run in runs:
        ranged = [b for b in run if b.has_range]
        if len(run) > 1 and ranged:
            upper = [f"{coord(middle(b))} {coord(y_of(b.high))}" for b in run]
            lower = [f"{coord(middle(b))} {coord(y_of(b.low))}" for b in reversed(run)]
            parts.append(
                f'<path class="hs-chart-band" d="M{"L".join(upper + lower)}Z" '
                f'fill="{BAND_COLOUR}" stroke="none"/>'
            )
        elif ranged:
            (only,) = run
            x = middle(only)
            parts.append(
                f'<line class="hs-chart-band" x1="{coord(x)}" y1="{coord(y_of(only.high))}" '
                f'x2="{coord(x)}" '
                f'y2="{coord(y_of(only.low))}" stroke="{BAND_COLOUR}" stroke-width="4"/>'
            )
    for run in runs:
        if len(run) == 1:
            (only,) = run
            cx, cy = coord(middle(only)), coord(y_of(only.mean))
            parts.append(
                f'<circle class="hs-chart-point" cx="{cx}" cy="{cy}" r="3" fill="{LINE_COLOUR}"/>'
            )
            continue
        coords = "L".join(f"{coord(middle(b))} {coord(y_of(b.mean))}" for b in run)
        parts.append(
            f'<path class="hs-chart-line" d="M{coords}" fill="none" stroke="{LINE_COLOUR}" '
            'stroke-width="2.5" stroke-linejoin="round" stroke-linecap="round"/>'
        )
    parts.append(
        f'<path class="hs-chart-axis" '
        f'd="M{coord(left)} {coord(top)}V{coord(bottom)}H{coord(right)}" '
        f'fill="none" stroke="{AXIS_COLOUR}" stroke-width="1"/>'
    )
    parts.append("</svg>")
    return "\n".join(parts)


def _line_desc(
    title: str,
    unit: str,
    places: int,
    buckets: Sequence[Bucket],
    runs: Sequence[Sequence[Bucket]],
    t0: datetime,
    t1: datetime,
    zone: ZoneInfo,
    resolution: Resolution,
) -> str:
    lowest = min(buckets, key=lambda b: b.low)
    highest = max(buckets, key=lambda b: b.high)
    latest = buckets[-1]

    def at(bucket: Bucket) -> str:
        return bucket_time(bucket.start, zone, resolution, year=False)

    text = (
        f"{title}, {period_text(t0, t1, zone, resolution)}. "
        f"Lowest {format_value(lowest.low, unit, places)} ({at(lowest)}); "
        f"highest {format_value(highest.high, unit, places)} ({at(highest)}); "
        f"latest average {format_value(latest.mean, unit, places)} ({at(latest)})."
    )
    if len(runs) > 1:
        text += " Some periods have no data; the line is broken there."
    return text
