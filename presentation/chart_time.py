"""A trend's points as time buckets, and their times in the hall's words.

Inputs. A trend takes :class:`presentation.rollup.Rollup` objects (as ``EdgeStore.rollups``
returns them) or plain ``(start, mean, min, max)`` tuples (:class:`Point`; ``min`` and
``max`` may be None), all of one sensor's one metric. ``start`` must be an aware datetime:
a minute or hour bucket's start in any zone, a day bucket's local midnight. Points with a
mean that is NaN or infinite are skipped (that bucket becomes a gap).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from presentation.rollup import Resolution, Rollup

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class Point(NamedTuple):
    """One bucket of a trend: its start (aware), its mean, and optionally its range."""

    start: datetime
    mean: float
    min: float | None = None
    max: float | None = None


PointLike = Rollup | tuple[datetime, float, float | None, float | None]
"""What :func:`line_chart` and :func:`trend_table` take: a Rollup or a 4-tuple (Point)."""


def _ambiguous(local: datetime) -> bool:
    """Whether this wall-clock time happens twice (the hour the clocks go back)."""
    other = local.replace(fold=1 - local.fold)
    return other.utcoffset() != local.utcoffset()


def bucket_time(moment: datetime, zone: ZoneInfo, resolution: Resolution, *, year: bool) -> str:
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


class Bucket(NamedTuple):
    """One usable point of a trend, with its end and its range."""

    start: datetime
    end: datetime
    mean: float
    low: float  # the lowest value in the bucket (its min, or its mean when none)
    high: float
    has_range: bool


def finite(value: float | None) -> float | None:
    """``value`` as a float, or None when it is missing, NaN or infinite."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _unpack(point: PointLike) -> tuple[datetime, float | None, float | None, float | None]:
    if isinstance(point, Rollup):
        return point.start, finite(point.mean), finite(point.min), finite(point.max)
    start, mean, low, high = point
    return start, finite(mean), finite(low), finite(high)


_STEP = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1)}


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The start of local ``day`` in ``zone``."""
    return datetime.combine(day, time(0), tzinfo=zone)


def _bucket_end(start: datetime, zone: ZoneInfo, resolution: Resolution) -> datetime:
    if resolution == "day":
        return local_midnight(start.astimezone(zone).date() + timedelta(days=1), zone)
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


def buckets_of(
    points: Iterable[PointLike], zone: ZoneInfo, resolution: Resolution | None
) -> tuple[list[Bucket], Resolution]:
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
        result.append(Bucket(start, end, mean, lowest, highest, has_range))
    return result, chosen


def runs_of(
    buckets: Sequence[Bucket], zone: ZoneInfo, resolution: Resolution
) -> list[list[Bucket]]:
    """Unbroken runs of buckets: a missing bucket between two starts a new run."""
    runs: list[list[Bucket]] = []
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


def domain_of(
    buckets: Sequence[Bucket], start: datetime | None, end: datetime | None
) -> tuple[datetime, datetime] | None:
    """The period a chart shows: [start, end), by default the buckets' span."""
    for moment in (start, end):
        if moment is not None and (moment.tzinfo is None or moment.utcoffset() is None):
            raise ValueError(f"chart periods need aware datetimes, not {moment!r}")
    first = start if start is not None else (buckets[0].start if buckets else None)
    last = end if end is not None else (max(b.end for b in buckets) if buckets else None)
    if first is None or last is None or last <= first:
        return None
    return first, last


def period_text(start: datetime, end: datetime, zone: ZoneInfo, resolution: Resolution) -> str:
    """The period in words: "Tue 3 Nov 2026 14:00 to ..."."""
    if resolution == "day":
        final = (end - timedelta(microseconds=1)).astimezone(zone)
        first = bucket_time(start, zone, "day", year=True)
        return f"{first} to {bucket_time(final, zone, 'day', year=True)}"
    first = bucket_time(start, zone, resolution, year=True)
    return f"{first} to {bucket_time(end, zone, resolution, year=True)}"
