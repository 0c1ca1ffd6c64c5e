"""The hourly figures a question's answer is worked out from, read through a rollup source.

The answerer reads hourly rollups only, from any object with the store's ``rollups``
method (:class:`RollupSource`): the node's ``EdgeStore`` has it, and so can the hub's
store. Several sensors of one metric are merged hour by hour (gauges averaged, counts
added); people are each door sensor's entries, or its footfall when it has no entries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from presentation.insight_basics import total_of, usable
from presentation.people_today import people_rollups
from presentation.rollup import Resolution, Rollup


class RollupSource(Protocol):
    """Where rollups come from: ``EdgeStore.rollups``' signature (the hub's store may match)."""

    def rollups(
        self,
        resolution: Resolution,
        start: datetime,
        end: datetime,
        *,
        sensor_id: str | None = None,
        metric: str | None = None,
    ) -> Sequence[Rollup]:
        """Summaries of ``resolution`` starting in [start, end)."""


@dataclass(frozen=True, slots=True)
class Hour:
    """One hour of one metric: its start, mean, lowest and highest, and readings behind it.

    For people, ``mean``, ``min`` and ``max`` are all the hour's total.
    """

    start: datetime
    mean: float
    min: float
    max: float
    count: int


@dataclass(frozen=True, slots=True)
class Series:
    """A metric's hours inside the asked-for windows, and the first sensor that gave them."""

    metric: str
    hours: tuple[Hour, ...]
    sensor_id: str | None
    unit: str


def _inside(moment: datetime, windows: Sequence[tuple[datetime, datetime]]) -> bool:
    stamp = moment.timestamp()
    return any(a.timestamp() <= stamp < b.timestamp() for a, b in windows)


def hourly(
    source: RollupSource, metric: str, windows: Sequence[tuple[datetime, datetime]]
) -> Series:
    """The hours of ``metric`` (or ``people``) that start inside ``windows``."""
    if not windows:
        return Series(metric, (), None, "")
    start = min(a for a, _ in windows)
    end = max(b for _, b in windows)
    if metric == "people":
        rows = list(source.rollups("hour", start, end, metric="entries"))
        rows += source.rollups("hour", start, end, metric="footfall")
        rows = people_rollups(rows)
    else:
        rows = [r for r in source.rollups("hour", start, end, metric=metric) if usable(r)]
    rows = [r for r in rows if _inside(r.start, windows)]
    by_start: dict[float, list[Rollup]] = {}
    for row in rows:
        by_start.setdefault(row.start.timestamp(), []).append(row)
    hours = []
    for stamp in sorted(by_start):
        group = by_start[stamp]
        count = sum(r.count for r in group)
        if metric == "people":
            total = sum(total_of(r) for r in group)
            hours.append(Hour(group[0].start, total, total, total, count))
        else:
            mean = sum(r.mean * r.count for r in group) / count
            low = min(r.min for r in group)
            high = max(r.max for r in group)
            hours.append(Hour(group[0].start, mean, low, high, count))
    sensor = rows[0].sensor_id if rows else None
    unit = rows[0].unit if rows else ""
    return Series(metric, tuple(hours), sensor, unit)


def expected_hours(windows: Sequence[tuple[datetime, datetime]]) -> int:
    """How many whole or part hours the windows span."""
    return sum(max(1, round((b - a).total_seconds() / 3600)) for a, b in windows if b > a)


def latest(source: RollupSource, metric: str, now: datetime, within_s: float) -> Rollup | None:
    """The newest minute rollup of ``metric`` that started within ``within_s`` of now."""
    rows = [
        r
        for r in source.rollups(
            "minute", now - timedelta(seconds=within_s), now + timedelta(minutes=1), metric=metric
        )
        if usable(r)
    ]
    return max(rows, key=lambda r: r.start) if rows else None
