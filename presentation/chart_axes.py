"""Chart axes: a y scale with round ticks, and time ticks on the hall's local clock that fit."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from presentation.chart_svg import CHAR_WIDTH, LABEL_GAP, label_x
from presentation.chart_time import DAYS, MONTHS, local_midnight
from presentation.numbers import format_number


def _nice_step(raw: float) -> float:
    """The smallest of 1, 2 or 5 times a power of ten that is at least ``raw`` (> 0)."""
    exponent = math.floor(math.log10(raw))
    base = 10.0**exponent
    for multiple in (1.0, 2.0, 5.0, 10.0):
        step = multiple * base
        if step >= raw * (1 - 1e-9):
            return step
    return raw  # pragma: no cover - 10 * base always reaches raw


class YScale(NamedTuple):
    """A y axis: its range and its round ticks with their labels."""

    low: float
    high: float
    ticks: list[float]
    labels: list[str]

    def fraction(self, value: float) -> float:
        """Where ``value`` sits between low (0) and high (1), computed without overflow."""
        span = self.high / 2 - self.low / 2
        return (value / 2 - self.low / 2) / span if span > 0 else 0.5


def y_scale(low: float, high: float, *, include_zero: bool, count: int = 5) -> YScale:
    """A y axis covering [low, high] with about ``count`` round ticks."""
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
    return YScale(axis_low, axis_high, ticks, _tick_labels(ticks, step))


def _tick_labels(ticks: Sequence[float], step: float) -> list[str]:
    """Labels for the y axis's ticks, as short as they can be while telling them apart."""
    largest = max((abs(t) for t in ticks), default=0.0)
    if step >= 1e-4 and largest < 1e6:
        decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
        return [format_number(t, decimals) for t in ticks]
    digits = max(1, min(17, math.floor(math.log10(largest / step)) + 2)) if largest else 1
    return [f"{t:.{digits}g}" for t in ticks]


Tick = tuple[datetime, tuple[str, ...]]


Fit = Callable[[Sequence[Tick]], bool]


def fitter(x_of: Callable[[datetime], float], low: float, high: float) -> Fit:
    """A test of whether a set of time labels, centred on their ticks, leave each other room."""

    def fits(ticks: Sequence[Tick]) -> bool:
        spans = []
        for moment, lines in ticks:
            half = max(len(line) for line in lines) * CHAR_WIDTH / 2
            x = label_x(x_of(moment), lines, low, high)
            spans.append((x - half, x + half))
        return all(a[1] + LABEL_GAP <= b[0] for a, b in itertools.pairwise(spans))

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
        midnight = local_midnight(day, zone)
        if midnight > end:
            return result
        if midnight >= start:
            result.append((midnight, day))
        day += timedelta(days=1)


def time_ticks(start: datetime, end: datetime, zone: ZoneInfo, fits: Fit) -> list[Tick]:
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
