"""Server-rendered SVG charts, and the data tables that say the same in words and numbers.

The community page draws its trends and busy times here, as strings of SVG markup that a
Jinja template embeds inline (the Flask side marks them safe): no JavaScript, no images to
fetch, nothing from another origin. Every chart has an accessible alternative, a plain
HTML ``<table>`` built from the same numbers with the same formatting.

Public API:

- :func:`line_chart`: one metric over time (24 hours, 7 days, 30 days or a year): the
  mean as a line, the min-max range as a band behind it; a missing bucket breaks the line.
- :func:`trend_table`: the same points as a table (time, average, lowest, highest).
- :func:`busy_times_chart`: a heatmap of the mean per hour of the week (7 days by 24 hours).
- :func:`busy_times_table`: the same as a table (one row per hour, one column per day).
- :func:`data_table`: the table builder the two above use, for any other table.
- :func:`format_value`: a number as people read it, with its unit ("21.5 °C", "612 ppm").

Inputs. A trend takes :class:`edge.rollups.Rollup` objects (as ``EdgeStore.rollups``
returns them) or plain ``(start, mean, min, max)`` tuples (:class:`Point`; ``min`` and
``max`` may be None), all of one sensor's one metric. ``start`` must be an aware datetime:
a minute or hour bucket's start in any zone, a day bucket's local midnight. Points with a
mean that is NaN or infinite are skipped (that bucket becomes a gap). Busy times take a
mapping from ``(weekday, hour)`` (0 = Monday, hours 0 to 23 of the hall's local clock) to the
mean for that hour of the week.

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
import itertools
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from edge.rollups import Resolution, Rollup

__all__ = [
    "FONT_SIZE",
    "NO_DATA",
    "WIDTH",
    "Point",
    "PointLike",
    "busy_times_chart",
    "busy_times_table",
    "data_table",
    "format_reading",
    "format_value",
    "line_chart",
    "trend_table",
]

WIDTH = 360
"""The width of every chart's viewBox, in user units."""
FONT_SIZE = 15
"""Text size in user units: 12 CSS px when a chart is drawn 288 CSS px wide."""
NO_DATA = "No data for this period"
"""What a chart or table with nothing to show says instead."""

_LINE_HEIGHT = 18
_CHAR_WIDTH = 0.6 * FONT_SIZE  # a generous estimate of one character's advance
_LABEL_GAP = 10

# Colours: graphics at least 3:1 against white, text at least 4.5:1.
_TEXT = "#1a1a1a"  # 17.4:1
_AXIS = "#595959"  # 7.0:1
_GRID = "#8c8c8c"  # 3.4:1
_LINE = "#08306b"  # 12.8:1 (and 3.8:1 against the band it is drawn over)
_BAND = "#5b8fd0"  # 3.3:1
_OUTLINE = "#949494"  # 3.0:1, the outline of heatmap cells with nothing in them
_HATCH = "#767676"  # 4.5:1
_WHITE = "#ffffff"
_HEAT = ("#5b8fd0", "#2171b5", "#08519c", "#08306b")  # 3.3, 5.1, 7.9, 12.8 :1
_HEAT_LEVELS = len(_HEAT)

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
# A table cell that holds a number ("1,204", "21.5", "1.2 million", "1e+20").
_NUMBER = re.compile(r"-?[\d,]+(\.\d+)?( [a-z]+)?|-?\d(\.\d+)?e[+-]\d+")
# Characters XML 1.0 forbids (a label from settings could hold any of them).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")

# Decimal places by unit when the caller does not say; others get one.
_DECIMALS = {
    "°C": 1,
    "%": 0,
    "ppm": 0,
    "µg/m³": 1,
    "hPa": 0,
    "dBA": 0,
    "V": 2,
    "MB": 0,
    "count": 1,
    "people": 1,
    "bool": 2,
    "1": 2,
}
# Units that read better without a suffix ("12", not "12 count").
_BARE_UNITS = frozenset({"", "1", "count", "bool"})


class Point(NamedTuple):
    """One bucket of a trend: its start (aware), its mean, and optionally its range."""

    start: datetime
    mean: float
    min: float | None = None
    max: float | None = None


PointLike = Rollup | tuple[datetime, float, float | None, float | None]
"""What :func:`line_chart` and :func:`trend_table` take: a Rollup or a 4-tuple (Point)."""


# --------------------------------------------------------------------------- formatting


def _esc(text: str) -> str:
    """Escape text for XML and HTML alike, dropping characters XML cannot hold."""
    return html.escape(_NOT_XML.sub("", text), quote=True)


def _decimals(unit: str, decimals: int | None) -> int:
    if decimals is not None:
        return max(0, min(decimals, 10))
    return _DECIMALS.get(unit, 1)


def _format_number(value: float, decimals: int) -> str:
    """A number with thousands separators; very large ones in words or exponent form."""
    if not math.isfinite(value):
        return "no data"
    size = abs(value)
    if size >= 1e6:
        for scale, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
            if size >= scale and size < scale * 1000:
                return f"{value / scale:.3g} {word}"
        return f"{value:.3g}"
    text = f"{value:,.{decimals}f}"
    if text.startswith("-") and not text.strip("-0.,"):
        text = text[1:]  # no "-0.0"
    return text


def _unit_suffix(unit: str) -> str:
    if unit in _BARE_UNITS:
        return ""
    if unit == "%":
        return "%"
    return f" {unit}"


def format_value(value: float, unit: str, decimals: int | None = None) -> str:
    """``value`` as people read it, with its unit: "21.5 °C", "612 ppm", "45%", "1,204".

    Args:
        value: the number; NaN or infinity reads "no data".
        unit: the metric's unit as the vocabulary names it (or "people").
        decimals: decimal places; by default what suits the unit (one for °C, none for ppm).
    """
    if not math.isfinite(value):
        return "no data"
    return _format_number(value, _decimals(unit, decimals)) + _unit_suffix(unit)


def format_reading(value: float, unit: str, censor: str | None) -> str:
    """A stored value as people read it, bounds included: "fewer than 3", "more than 1,000".

    Args:
        value: the number.
        unit: its unit, as for :func:`format_value`.
        censor: "<" or ">" when the value is a bound rather than a measurement, else None.
    """
    text = format_value(value, unit)
    if censor == "<":
        return f"fewer than {text}"
    if censor == ">":
        return f"more than {text}"
    return text


def _header(name: str, unit: str) -> str:
    """A column heading with its unit: "Average (°C)"."""
    suffix = _unit_suffix(unit).strip()
    return f"{name} ({suffix})" if suffix else name


def _ambiguous(local: datetime) -> bool:
    """Whether this wall-clock time happens twice (the hour the clocks go back)."""
    other = local.replace(fold=1 - local.fold)
    return other.utcoffset() != local.utcoffset()


def _when(moment: datetime, zone: ZoneInfo, resolution: Resolution, *, year: bool) -> str:
    """A bucket's time as people say it: "Tue 3 Nov 14:00", "Tue 3 Nov 2026"."""
    local = moment.astimezone(zone)
    text = f"{DAYS[local.weekday()]} {local.day} {MONTHS[local.month - 1]}"
    if year or resolution == "day":
        text += f" {local.year}"
    if resolution != "day":
        text += f" {local:%H:%M}"
        if _ambiguous(local):
            text += f" {local.tzname()}"
    return text


def _check_id(id_prefix: str) -> str:
    if not _ID.fullmatch(id_prefix):
        raise ValueError(
            f"id_prefix {id_prefix!r} must start with a letter and hold only letters, "
            "digits, '-' and '_' (at most 64)"
        )
    return id_prefix


# --------------------------------------------------------------------------- points


class _Bucket(NamedTuple):
    start: datetime
    end: datetime
    mean: float
    low: float  # the lowest value in the bucket (its min, or its mean when none)
    high: float
    has_range: bool


def _finite(value: float | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _unpack(point: PointLike) -> tuple[datetime, float | None, float | None, float | None]:
    if isinstance(point, Rollup):
        return point.start, _finite(point.mean), _finite(point.min), _finite(point.max)
    start, mean, low, high = point
    return start, _finite(mean), _finite(low), _finite(high)


_STEP = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1)}


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def _bucket_end(start: datetime, zone: ZoneInfo, resolution: Resolution) -> datetime:
    if resolution == "day":
        return _local_midnight(start.astimezone(zone).date() + timedelta(days=1), zone)
    return start + _STEP[resolution]


def _infer_resolution(starts: Sequence[datetime]) -> Resolution:
    gaps = [b - a for a, b in itertools.pairwise(starts) if b > a]
    if not gaps:
        return "hour"
    smallest = min(gaps)
    if smallest >= timedelta(hours=20):
        return "day"
    if smallest >= timedelta(minutes=50):
        return "hour"
    return "minute"


def _buckets(
    points: Iterable[PointLike], zone: ZoneInfo, resolution: Resolution | None
) -> tuple[list[_Bucket], Resolution]:
    """The usable points as buckets, in time order, one per start (the last one wins)."""
    by_start: dict[datetime, tuple[float, float | None, float | None]] = {}
    for point in points:
        start, mean, low, high = _unpack(point)
        if start.tzinfo is None or start.utcoffset() is None:
            raise ValueError(f"chart points need aware datetimes, not {start!r}")
        if mean is None:
            continue  # NaN, infinite or missing: this bucket is a gap
        by_start[start] = (mean, low, high)
    starts = sorted(by_start)
    chosen = resolution if resolution is not None else _infer_resolution(starts)
    result = []
    for start in starts:
        mean, low, high = by_start[start]
        has_range = low is not None and high is not None
        lowest = min(v for v in (mean, low, high) if v is not None)
        highest = max(v for v in (mean, low, high) if v is not None)
        end = _bucket_end(start, zone, chosen)
        result.append(_Bucket(start, end, mean, lowest, highest, has_range))
    return result, chosen


def _runs(
    buckets: Sequence[_Bucket], zone: ZoneInfo, resolution: Resolution
) -> list[list[_Bucket]]:
    """Unbroken runs of buckets: a missing bucket between two starts a new run."""
    runs: list[list[_Bucket]] = []
    for bucket in buckets:
        if runs:
            previous = runs[-1][-1]
            if resolution == "day":
                before = previous.start.astimezone(zone).date()
                joined = bucket.start.astimezone(zone).date() - before <= timedelta(days=1)
            else:
                joined = bucket.start - previous.start <= _STEP[resolution] * 1.5
            if joined:
                runs[-1].append(bucket)
                continue
        runs.append([bucket])
    return runs


# --------------------------------------------------------------------------- scales


def _nice_step(raw: float) -> float:
    """The smallest of 1, 2 or 5 times a power of ten that is at least ``raw`` (> 0)."""
    exponent = math.floor(math.log10(raw))
    base = 10.0**exponent
    for multiple in (1.0, 2.0, 5.0, 10.0):
        step = multiple * base
        if step >= raw * (1 - 1e-9):
            return step
    return raw  # pragma: no cover - 10 * base always reaches raw


class _YScale(NamedTuple):
    low: float
    high: float
    ticks: list[float]
    labels: list[str]

    def fraction(self, value: float) -> float:
        """Where ``value`` sits between low (0) and high (1), computed without overflow."""
        span = self.high / 2 - self.low / 2
        return (value / 2 - self.low / 2) / span if span > 0 else 0.5


def _y_scale(low: float, high: float, *, include_zero: bool, count: int = 5) -> _YScale:
    if include_zero:
        low, high = min(low, 0.0), max(high, 0.0)
    middle = low / 2 + high / 2
    if high / 2 - low / 2 <= max(abs(low), abs(high)) * 1e-9:
        pad = abs(middle) * 0.1 if abs(middle) >= 1e-6 else 1.0
        low, high = middle - pad, middle + pad
        if include_zero and middle >= 0:
            low = max(low, 0.0)
    raw = (high - low) / (count - 1)
    if not math.isfinite(raw):
        raw = high / (count - 1) - low / (count - 1)
    step = _nice_step(raw)
    if not math.isfinite(step):
        step = raw
    first, last = math.floor(low / step), math.ceil(high / step)
    ticks = [k * step for k in range(first, last + 1)] if last - first <= 2 * count else []
    ticks = [t for t in ticks if math.isfinite(t)]
    axis_low = ticks[0] if ticks and ticks[0] <= low else low
    axis_high = ticks[-1] if ticks and ticks[-1] >= high else high
    return _YScale(axis_low, axis_high, ticks, _tick_labels(ticks, step))


def _tick_labels(ticks: Sequence[float], step: float) -> list[str]:
    """Labels for the y axis's ticks, as short as they can be while telling them apart."""
    largest = max((abs(t) for t in ticks), default=0.0)
    if step >= 1e-4 and largest < 1e6:
        decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
        return [_format_number(t, decimals) for t in ticks]
    digits = max(1, min(17, math.floor(math.log10(largest / step)) + 2)) if largest else 1
    return [f"{t:.{digits}g}" for t in ticks]


Tick = tuple[datetime, tuple[str, ...]]


Fit = Callable[[Sequence[Tick]], bool]


def _fitter(x_of: Callable[[datetime], float], low: float, high: float) -> Fit:
    """A test of whether a set of time labels, centred on their ticks, leave each other room."""

    def fits(ticks: Sequence[Tick]) -> bool:
        spans = []
        for moment, lines in ticks:
            half = max(len(line) for line in lines) * _CHAR_WIDTH / 2
            x = _label_x(x_of(moment), lines, low, high)
            spans.append((x - half, x + half))
        return all(a[1] + _LABEL_GAP <= b[0] for a, b in itertools.pairwise(spans))

    return fits


def _choose(candidates: Sequence[list[Tick]], fits: Fit) -> list[Tick]:
    """The first candidate set of ticks whose labels fit (they go from dense to sparse)."""
    for ticks in candidates:
        if fits(ticks):
            return ticks
    return candidates[-1] if candidates else []


def _local_days(start: datetime, end: datetime, zone: ZoneInfo) -> list[tuple[datetime, date]]:
    """Every local midnight in [start, end], with its date."""
    day = start.astimezone(zone).date()
    result: list[tuple[datetime, date]] = []
    while True:
        midnight = _local_midnight(day, zone)
        if midnight > end:
            return result
        if midnight >= start:
            result.append((midnight, day))
        day += timedelta(days=1)


def _time_ticks(start: datetime, end: datetime, zone: ZoneInfo, fits: Fit) -> list[Tick]:
    """Tick marks and labels on the hall's local clock, as many as fit in ``width``."""
    span = end - start
    if span <= timedelta(days=2, hours=1):
        return _clock_ticks(start, end, zone, fits)
    days = _local_days(start, end, zone)
    if span <= timedelta(days=10, hours=1):
        labelled: list[Tick] = [(m, (DAYS[d.weekday()], str(d.day))) for m, d in days]
        return _choose(
            [labelled, labelled[::2], [t for t in labelled if t[0].weekday() == 0]], fits
        )
    if span <= timedelta(days=75):
        dated: list[Tick] = [(m, (f"{d.day} {MONTHS[d.month - 1]}",)) for m, d in days]
        mondays = [t for t in dated if t[0].weekday() == 0]
        fortnights = [t for t in mondays if t[0].toordinal() // 7 % 2 == 0]
        return _choose([dated, dated[::2], mondays, fortnights], fits)
    firsts = [(m, d) for m, d in days if d.day == 1]
    if span <= timedelta(days=4 * 366):
        candidates: list[list[Tick]] = []
        for step in (1, 2, 3, 6, 12):
            chosen = [(m, d) for m, d in firsts if (d.month - 1) % step == 0]
            candidates.append([(m, _month_label(d, i == 0)) for i, (m, d) in enumerate(chosen)])
        return _choose(candidates, fits)
    years: list[Tick] = [(m, (str(d.year),)) for m, d in firsts if d.month == 1]
    return _choose(
        [[t for t in years if int(t[1][0]) % s == 0] for s in (1, 2, 5, 10, 20, 50)], fits
    )


def _month_label(day: date, first: bool) -> tuple[str, ...]:
    """A month's name, with its year under January's and the first label's."""
    name = MONTHS[day.month - 1]
    return (name, str(day.year)) if day.month == 1 or first else (name,)


def _clock_ticks(start: datetime, end: datetime, zone: ZoneInfo, fits: Fit) -> list[Tick]:
    """Ticks at round local times ("14:00"), midnight also naming the day it begins."""
    # Every local clock time on a five-minute mark (any zone's offset is a multiple of 15).
    first = start.replace(second=0, microsecond=0) - timedelta(minutes=start.minute % 5)
    marks: list[tuple[datetime, datetime]] = []
    moment = first
    while moment <= end:
        if moment >= start:
            marks.append((moment, moment.astimezone(zone)))
        moment += timedelta(minutes=5)
    several_days = start.astimezone(zone).date() != end.astimezone(zone).date()
    candidates = []
    for step in (5, 10, 15, 30, 60, 120, 180, 360, 720):
        ticks: list[Tick] = []
        for moment, local in marks:
            if (local.hour * 60 + local.minute) % step:
                continue
            label = f"{local:%H:%M}"
            if local.hour == 0 and local.minute == 0 and several_days:
                ticks.append((moment, (label, f"{DAYS[local.weekday()]} {local.day}")))
            else:
                ticks.append((moment, (label,)))
        candidates.append(ticks)
    return _choose(candidates, fits)


# --------------------------------------------------------------------------- svg parts


def _n(value: float) -> str:
    """A coordinate, short."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _svg_open(kind: str, height: float, id_prefix: str, title: str, desc: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="hs-chart {kind}" '
        f'viewBox="0 0 {WIDTH} {_n(height)}" role="img" '
        f'aria-labelledby="{id_prefix}-title" aria-describedby="{id_prefix}-desc" '
        f'font-size="{FONT_SIZE}">',
        f'<title id="{id_prefix}-title">{_esc(title)}</title>',
        f'<desc id="{id_prefix}-desc">{_esc(desc)}</desc>',
    ]


def _text(
    x: float,
    y: float,
    lines: Sequence[str],
    *,
    kind: str = "hs-chart-tick",
    anchor: str = "middle",
) -> str:
    """A <text> of one or more lines, anchored at (x, y) for its first line's baseline."""
    head = (
        f'<text class="hs-chart-text {kind}" x="{_n(x)}" y="{_n(y)}" '
        f'text-anchor="{anchor}" fill="{_TEXT}" font-size="{FONT_SIZE}">'
    )
    if len(lines) == 1:
        return head + _esc(lines[0]) + "</text>"
    spans = "".join(
        f'<tspan x="{_n(x)}" dy="{0 if i == 0 else _LINE_HEIGHT}">{_esc(line)}</tspan>'
        for i, line in enumerate(lines)
    )
    return head + spans + "</text>"


def _label_x(x: float, lines: Sequence[str], low: float, high: float) -> float:
    """Keep a centred label inside [low, high], with room for wide letters such as "W"."""
    half = max(len(line) for line in lines) * _CHAR_WIDTH / 2 + 4
    return min(max(x, low + half), high - half)


def _empty_chart(kind: str, id_prefix: str, title: str, desc: str) -> str:
    height = 80
    parts = _svg_open(f"{kind} hs-chart-empty", height, id_prefix, title, desc)
    parts.append(
        f'<rect class="hs-chart-axis" x="1" y="1" width="{WIDTH - 2}" height="{height - 2}" '
        f'fill="none" stroke="{_AXIS}" stroke-width="1"/>'
    )
    parts.append(
        _text(WIDTH / 2, height / 2 + FONT_SIZE * 0.35, [NO_DATA], kind="hs-chart-message")
    )
    parts.append("</svg>")
    return "\n".join(parts)


# --------------------------------------------------------------------------- line chart


def _domain(
    buckets: Sequence[_Bucket], start: datetime | None, end: datetime | None
) -> tuple[datetime, datetime] | None:
    for moment in (start, end):
        if moment is not None and (moment.tzinfo is None or moment.utcoffset() is None):
            raise ValueError(f"chart periods need aware datetimes, not {moment!r}")
    first = start if start is not None else (buckets[0].start if buckets else None)
    last = end if end is not None else (max(b.end for b in buckets) if buckets else None)
    if first is None or last is None or last <= first:
        return None
    return first, last


def _period_text(start: datetime, end: datetime, zone: ZoneInfo, resolution: Resolution) -> str:
    if resolution == "day":
        final = (end - timedelta(microseconds=1)).astimezone(zone)
        return f"{_when(start, zone, 'day', year=True)} to {_when(final, zone, 'day', year=True)}"
    return (
        f"{_when(start, zone, resolution, year=True)} to {_when(end, zone, resolution, year=True)}"
    )


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
    _check_id(id_prefix)
    buckets, chosen = _buckets(points, zone, resolution)
    domain = _domain(buckets, start, end)
    if domain is not None:
        buckets = [b for b in buckets if domain[0] <= b.start < domain[1]]
    if domain is None or not buckets:
        period = f", {_period_text(*domain, zone, chosen)}" if domain else ""
        return _empty_chart("hs-chart-line-chart", id_prefix, title, f"{title}{period}: {NO_DATA}.")
    t0, t1 = domain
    places = _decimals(unit, decimals)
    runs = _runs(buckets, zone, chosen)
    desc = _line_desc(title, unit, places, buckets, runs, t0, t1, zone, chosen)

    scale = _y_scale(
        min(b.low for b in buckets), max(b.high for b in buckets), include_zero=include_zero
    )
    widest = max((len(label) for label in scale.labels), default=1)
    left = min(max(widest * _CHAR_WIDTH + 12, 30), WIDTH / 3)
    right = WIDTH - 10
    top = FONT_SIZE + 14
    bottom = height - (2 * _LINE_HEIGHT + 10)
    plot_w, plot_h = right - left, max(bottom - top, 20)
    bottom = top + plot_h
    total = (t1 - t0).total_seconds()

    def x_of(moment: datetime) -> float:
        return left + plot_w * (moment - t0).total_seconds() / total

    def y_of(value: float) -> float:
        return bottom - plot_h * min(max(scale.fraction(value), 0.0), 1.0)

    parts = _svg_open("hs-chart-line-chart", bottom + 2 * _LINE_HEIGHT + 10, id_prefix, title, desc)
    grid = [
        f'<line class="hs-chart-grid" x1="{_n(left)}" y1="{_n(y_of(v))}" x2="{_n(right)}" '
        f'y2="{_n(y_of(v))}" stroke="{_GRID}" stroke-width="0.5"/>'
        for v in scale.ticks
    ]
    labels = [
        _text(left - 6, y_of(v) + FONT_SIZE * 0.35, [label], anchor="end")
        for v, label in zip(scale.ticks, scale.labels, strict=True)
    ]
    for moment, lines in _time_ticks(t0, t1, zone, _fitter(x_of, 0, WIDTH)):
        x = x_of(moment)
        grid.append(
            f'<line class="hs-chart-grid" x1="{_n(x)}" y1="{_n(top)}" x2="{_n(x)}" '
            f'y2="{_n(bottom)}" stroke="{_GRID}" stroke-width="0.5"/>'
        )
        labels.append(_text(_label_x(x, lines, 0, WIDTH), bottom + FONT_SIZE + 6, lines))
    parts.append('<g class="hs-chart-grids">' + "".join(grid) + "</g>")
    suffix = _unit_suffix(unit).strip()
    if suffix:
        parts.append(_text(4, FONT_SIZE + 2, [suffix], kind="hs-chart-unit", anchor="start"))
    parts.append("".join(labels))

    def middle(bucket: _Bucket) -> float:
        return x_of(bucket.start + (bucket.end - bucket.start) / 2)

    for run in runs:
        ranged = [b for b in run if b.has_range]
        if len(run) > 1 and ranged:
            upper = [f"{_n(middle(b))} {_n(y_of(b.high))}" for b in run]
            lower = [f"{_n(middle(b))} {_n(y_of(b.low))}" for b in reversed(run)]
            parts.append(
                f'<path class="hs-chart-band" d="M{"L".join(upper + lower)}Z" '
                f'fill="{_BAND}" stroke="none"/>'
            )
        elif ranged:
            (only,) = run
            x = middle(only)
            parts.append(
                f'<line class="hs-chart-band" x1="{_n(x)}" y1="{_n(y_of(only.high))}" x2="{_n(x)}" '
                f'y2="{_n(y_of(only.low))}" stroke="{_BAND}" stroke-width="4"/>'
            )
    for run in runs:
        if len(run) == 1:
            (only,) = run
            cx, cy = _n(middle(only)), _n(y_of(only.mean))
            parts.append(
                f'<circle class="hs-chart-point" cx="{cx}" cy="{cy}" r="3" fill="{_LINE}"/>'
            )
            continue
        coords = "L".join(f"{_n(middle(b))} {_n(y_of(b.mean))}" for b in run)
        parts.append(
            f'<path class="hs-chart-line" d="M{coords}" fill="none" stroke="{_LINE}" '
            'stroke-width="2.5" stroke-linejoin="round" stroke-linecap="round"/>'
        )
    parts.append(
        f'<path class="hs-chart-axis" d="M{_n(left)} {_n(top)}V{_n(bottom)}H{_n(right)}" '
        f'fill="none" stroke="{_AXIS}" stroke-width="1"/>'
    )
    parts.append("</svg>")
    return "\n".join(parts)


def _line_desc(
    title: str,
    unit: str,
    places: int,
    buckets: Sequence[_Bucket],
    runs: Sequence[Sequence[_Bucket]],
    t0: datetime,
    t1: datetime,
    zone: ZoneInfo,
    resolution: Resolution,
) -> str:
    lowest = min(buckets, key=lambda b: b.low)
    highest = max(buckets, key=lambda b: b.high)
    latest = buckets[-1]

    def at(bucket: _Bucket) -> str:
        return _when(bucket.start, zone, resolution, year=False)

    text = (
        f"{title}, {_period_text(t0, t1, zone, resolution)}. "
        f"Lowest {format_value(lowest.low, unit, places)} ({at(lowest)}); "
        f"highest {format_value(highest.high, unit, places)} ({at(highest)}); "
        f"latest average {format_value(latest.mean, unit, places)} ({at(latest)})."
    )
    if len(runs) > 1:
        text += " Some periods have no data; the line is broken there."
    return text


def trend_table(
    points: Iterable[PointLike],
    *,
    title: str,
    unit: str,
    zone: ZoneInfo,
    resolution: Resolution | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    decimals: int | None = None,
    table_id: str | None = None,
) -> str:
    """The points of a :func:`line_chart` as a table: time, average, lowest, highest.

    Takes the same arguments as :func:`line_chart` (less the drawing ones) and shows the
    same figures formatted the same way; times are on the hall's local clock (the hour the
    clocks go back names its zone, "01:00 BST" then "01:00 GMT"). A table of a day of
    minute buckets has 1,440 rows: the page may rather pass that day's hourly rollups.
    """
    buckets, chosen = _buckets(points, zone, resolution)
    domain = _domain(buckets, start, end)
    if domain is not None:
        buckets = [b for b in buckets if domain[0] <= b.start < domain[1]]
        caption = f"{title}, {_period_text(*domain, zone, chosen)}"
    else:
        caption = title
    places = _decimals(unit, decimals)
    rows = [
        (
            _when(b.start, zone, chosen, year=chosen == "day"),
            [
                _format_number(b.mean, places),
                _format_number(b.low, places) if b.has_range else "",
                _format_number(b.high, places) if b.has_range else "",
            ],
        )
        for b in buckets
    ]
    columns = [
        "Date" if chosen == "day" else "Time",
        _header("Average", unit),
        _header("Lowest", unit),
        _header("Highest", unit),
    ]
    return data_table(caption=caption, columns=columns, rows=rows, table_id=table_id)


# --------------------------------------------------------------------------- busy times


def _hour_of_week(values: Mapping[tuple[int, int], float]) -> dict[tuple[int, int], float]:
    """The usable entries: weekday 0 to 6, hour 0 to 23, a finite value."""
    result = {}
    for key, value in values.items():
        day, hour = key
        number = _finite(value)
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
    _check_id(id_prefix)
    cells = _hour_of_week(values)
    lead = f"{title}, {period}" if period else title
    if not cells:
        return _empty_chart("hs-chart-busy-times", id_prefix, title, f"{lead}: {NO_DATA}.")
    places = _decimals(unit, decimals)
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
    left, top = 3 * _CHAR_WIDTH + 10, FONT_SIZE + 12
    cell_w = (WIDTH - left - 6) / 24
    cell_h = 20
    grid_bottom = top + 7 * cell_h

    legend, legend_height = _legend(step, unit, cells, grid_bottom + 14, id_prefix)
    height = grid_bottom + 14 + legend_height
    parts = _svg_open("hs-chart-busy-times", height, id_prefix, title, desc)
    parts.append(
        f'<defs><pattern id="{id_prefix}-nodata" width="6" height="6" '
        'patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        f'<rect width="6" height="6" fill="{_WHITE}"/>'
        f'<line x1="0" y1="0" x2="0" y2="6" stroke="{_HATCH}" stroke-width="1.5"/>'
        "</pattern></defs>"
    )
    for hour in range(0, 24, 6):
        label = [f"{hour:02d}:00"]
        x = _label_x(left + hour * cell_w, label, 0, WIDTH)
        parts.append(_text(x, FONT_SIZE + 2, label))
    rects = []
    for day in range(7):
        y = top + day * cell_h
        parts.append(_text(left - 6, y + cell_h / 2 + FONT_SIZE * 0.35, [DAYS[day]], anchor="end"))
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
    box = f'x="{_n(x + 0.5)}" y="{_n(y + 0.5)}" width="{_n(w - 1)}" height="{_n(h - 1)}"'
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
        high = _format_number(level * step, places)
        text = (
            f"up to {high}"
            if level == 1
            else f"{_format_number((level - 1) * step, places)} to {high}"
        )
        entries.append((f"hs-heat-{level}", text))
    heading = f"Average {unit}:" if unit else "Average:"
    parts = ['<g class="hs-chart-legend">']
    y = top + FONT_SIZE
    parts.append(_text(4, y, [heading], kind="hs-chart-legend-label", anchor="start"))
    x = 4 + len(heading) * _CHAR_WIDTH + 8
    swatch = 14
    for kind, text in entries:
        item_w = swatch + 6 + len(text) * _CHAR_WIDTH + 12
        if x + item_w > WIDTH:
            x, y = 4.0, y + _LINE_HEIGHT + 6
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
        parts.append(_text(x + swatch + 6, y, [text], kind="hs-chart-legend-label", anchor="start"))
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
    places = _decimals(unit, decimals)
    caption = f"{title}, {period}" if period else title
    suffix = _unit_suffix(unit).strip()
    if suffix:
        caption += f" (average {suffix} per hour)"
    rows = []
    if cells:
        for hour in range(24):
            row = []
            for day in range(7):
                value = cells.get((day, hour))
                row.append("no data" if value is None else _format_number(value, places))
            rows.append((f"{hour:02d}:00", row))
    return data_table(
        caption=caption, columns=["Hour starting", *DAYS], rows=rows, table_id=table_id
    )


# --------------------------------------------------------------------------- tables


def data_table(
    *,
    caption: str,
    columns: Sequence[str],
    rows: Iterable[tuple[str, Sequence[str]]],
    table_id: str | None = None,
) -> str:
    """An accessible HTML table: a caption, column headings and a heading for each row.

    Args:
        caption: what the table shows (escaped), with the period it covers.
        columns: the column headings, the first one for the row headings; put units here,
            e.g. "Average (°C)".
        rows: each row's heading (e.g. its time) and its cells, already formatted; cells
            that hold a number get the class ``hs-num``.
        table_id: an id for the ``<table>`` (letters, digits, '-' and '_'), e.g. for a
            link from its chart.

    Returns:
        A ``<table class="hs-data-table">``; with no rows, one row saying "No data for this
        period".
    """
    opening = '<table class="hs-data-table"'
    if table_id is not None:
        opening += f' id="{_check_id(table_id)}"'
    head = "".join(f'<th scope="col">{_esc(name)}</th>' for name in columns)
    parts = [
        f"{opening}>",
        f"<caption>{_esc(caption)}</caption>",
        f"<thead><tr>{head}</tr></thead>",
        "<tbody>",
    ]
    count = 0
    for heading, cells in rows:
        tds = "".join(
            f'<td class="hs-num">{_esc(cell)}</td>'
            if _NUMBER.fullmatch(cell)
            else f"<td>{_esc(cell)}</td>"
            for cell in cells
        )
        parts.append(f'<tr><th scope="row">{_esc(heading)}</th>{tds}</tr>')
        count += 1
    if not count:
        parts.append(f'<tr><td colspan="{max(len(columns), 1)}">{NO_DATA}</td></tr>')
    parts.append("</tbody></table>")
    return "\n".join(parts)
