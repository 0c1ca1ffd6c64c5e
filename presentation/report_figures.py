"""The monthly report's figures, computed from hourly rollups: people, comfort, air, noise.

Every figure here comes from the same hourly rollups the hall's pages chart (``Rollup``
objects of ``EdgeStore.rollups("hour", ...)``), so the report and the pages agree. An
hour is identified by the POSIX second it starts at; local days and hours are the hall's.

"In use": the hall's opening hours are a sentence of free text in the settings, so the
report goes by what its sensors saw. An hour counts as *in use* when the motion sensor
saw someone in it (an ``occupancy`` rollup whose maximum is 1) or the door counted at
least one person in it. A *session* is a run of consecutive in-use hours on one local day.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from presentation.air_quality import DAQI_HOURS_NEEDED, daqi_band, daqi_index
from presentation.insight_basics import round_half_up, total_of, usable
from presentation.people_today import people_rollups
from presentation.report_month import ReportMonth, hour_start
from presentation.rollup import Rollup
from presentation.ventilation import CO2_POOR_ABOVE, CO2_STUFFY_FROM

TOO_COLD_BELOW = 18.0
"""°C: an in-use hour whose mean, to 0.1 °C, is below this is too cold (a hall for sitting
still; CIBSE Guide A suggests 19-21 °C for halls in winter, 18 °C as the floor)."""
TOO_WARM_ABOVE = 25.0
"""°C: an in-use hour whose mean, to 0.1 °C, is above this is too warm."""
LOUD_FROM = 65
"""dB(A), rounded: an in-use hour at this level or above was loud (presentation.words)."""
SENSOR_SHORT_SHARE = 0.9
"""A sensor with readings in fewer than this share of the month's recorded hours is named."""

BANDS = ("Low", "Moderate", "High", "Very High")


@dataclass(frozen=True, slots=True)
class Hourly:
    """The month's rollups by hour: per metric, the count-weighted mean of all its sensors."""

    means: dict[str, dict[int, float]]
    maxima: dict[str, dict[int, float]]
    people: dict[int, float]
    sensors: dict[str, set[int]]
    recorded: set[int]


def hourly(rollups: Iterable[Rollup]) -> Hourly:
    """Group hourly rollups by metric and hour (only usable ones: a finite mean, a count)."""
    rows = [r for r in rollups if usable(r)]
    sums: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0.0, 0]))
    maxima: dict[str, dict[int, float]] = defaultdict(dict)
    sensors: dict[str, set[int]] = defaultdict(set)
    recorded: set[int] = set()
    for rollup in rows:
        hour = int(rollup.start.timestamp()) // 3600 * 3600
        acc = sums[rollup.metric][hour]
        acc[0] += total_of(rollup)
        acc[1] += rollup.count
        top = maxima[rollup.metric]
        top[hour] = max(top.get(hour, rollup.max), rollup.max)
        sensors[rollup.sensor_id].add(hour)
        recorded.add(hour)
    means = {
        metric: {hour: total / count for hour, (total, count) in by_hour.items()}
        for metric, by_hour in sums.items()
    }
    people: dict[int, float] = defaultdict(float)
    for rollup in people_rollups(rows):
        people[int(rollup.start.timestamp()) // 3600 * 3600] += total_of(rollup)
    return Hourly(means, dict(maxima), dict(people), dict(sensors), recorded)


def in_use_hours(data: Hourly) -> set[int]:
    """Hours when the motion sensor saw someone or the door counted at least one person."""
    moving = {h for h, top in data.maxima.get("occupancy", {}).items() if top >= 0.5}
    counted = {h for h, people in data.people.items() if round_half_up(people) >= 1}
    return moving | counted


def sessions(hours: Iterable[int], zone: ZoneInfo) -> list[tuple[int, int]]:
    """Runs [first, last] of consecutive in-use hours within one local day, in time order."""
    runs: list[tuple[int, int]] = []
    for hour in sorted(hours):
        if runs:
            first, last = runs[-1]
            same_day = hour_start(hour, zone).date() == hour_start(last, zone).date()
            if hour == last + 3600 and same_day:
                runs[-1] = (first, hour)
                continue
        runs.append((hour, hour))
    return runs


@dataclass(frozen=True, slots=True)
class Busy:
    """How busy the hall was: people counted, sessions, busiest weekday and hour."""

    has_counts: bool
    people: int
    sessions: int
    people_per_session: float | None
    by_day: dict[date, float | None]
    busiest_weekday: int | None
    busiest_weekday_average: float
    busiest_hour: tuple[int, int] | None
    busiest_hour_average: float
    hour_of_week: dict[tuple[int, int], float]


def busy(data: Hourly, month: ReportMonth, zone: ZoneInfo) -> Busy:
    """People by day, per session, by weekday and by hour of the week."""
    by_day: dict[date, float | None] = dict.fromkeys(month.days())
    for hour, people in data.people.items():
        day = hour_start(hour, zone).date()
        if day in by_day:
            by_day[day] = (by_day[day] or 0.0) + people
    runs = sessions(in_use_hours(data), zone)
    per_session = [
        sum(data.people.get(h, 0.0) for h in range(first, last + 1, 3600)) for first, last in runs
    ]
    counted_days = {d: v for d, v in by_day.items() if v is not None}
    weekday_totals: dict[int, list[float]] = defaultdict(list)
    for day, value in counted_days.items():
        weekday_totals[day.weekday()].append(value)
    weekday_means = {w: statistics.fmean(v) for w, v in weekday_totals.items()}
    busiest_weekday = (
        max(weekday_means, key=lambda w: (weekday_means[w], -w)) if weekday_means else None
    )
    hour_cells: dict[tuple[int, int], list[float]] = defaultdict(list)
    for hour, people in data.people.items():
        local = hour_start(hour, zone)
        hour_cells[(local.weekday(), local.hour)].append(people)
    hour_of_week = {key: statistics.fmean(values) for key, values in hour_cells.items()}
    busiest_hour = (
        max(hour_of_week, key=lambda k: (hour_of_week[k], -k[0], -k[1])) if hour_of_week else None
    )
    total = sum(counted_days.values())
    return Busy(
        has_counts=bool(counted_days),
        people=round_half_up(total),
        sessions=len(runs),
        people_per_session=(
            sum(per_session) / len(per_session) if per_session and counted_days else None
        ),
        by_day=by_day,
        busiest_weekday=busiest_weekday,
        busiest_weekday_average=weekday_means.get(busiest_weekday, 0.0)
        if busiest_weekday is not None
        else 0.0,
        busiest_hour=busiest_hour,
        busiest_hour_average=hour_of_week.get(busiest_hour, 0.0) if busiest_hour else 0.0,
        hour_of_week=hour_of_week,
    )


@dataclass(frozen=True, slots=True)
class Comfort:
    """In-use hours with a temperature, and how many were too cold or too warm."""

    hours: int
    too_cold: int
    too_warm: int
    coldest: float | None
    warmest: float | None


def comfort(data: Hourly, in_use: set[int]) -> Comfort:
    """Temperature in in-use hours against :data:`TOO_COLD_BELOW` and :data:`TOO_WARM_ABOVE`."""
    values = [round(v, 1) for h, v in data.means.get("temperature", {}).items() if h in in_use]
    return Comfort(
        hours=len(values),
        too_cold=sum(v < TOO_COLD_BELOW for v in values),
        too_warm=sum(v > TOO_WARM_ABOVE for v in values),
        coldest=min(values, default=None),
        warmest=max(values, default=None),
    )


@dataclass(frozen=True, slots=True)
class Air:
    """CO2 in in-use hours: how many hours had a mean of 1,000 ppm or more, above 1,500."""

    hours: int
    stuffy: int
    very_stuffy: int
    worst: int | None
    worst_hour: int | None


def air(data: Hourly, in_use: set[int]) -> Air:
    """CO2 hourly means (whole ppm, halves up) in in-use hours against the ventilation bands."""
    values = {h: round_half_up(v) for h, v in data.means.get("co2", {}).items() if h in in_use}
    worst_hour = max(values, key=lambda h: (values[h], -h)) if values else None
    return Air(
        hours=len(values),
        stuffy=sum(v >= CO2_STUFFY_FROM for v in values.values()),
        very_stuffy=sum(v > CO2_POOR_ABOVE for v in values.values()),
        worst=values[worst_hour] if worst_hour is not None else None,
        worst_hour=worst_hour,
    )


@dataclass(frozen=True, slots=True)
class Particulates:
    """Local days banded by the DAQI for PM2.5 on the day's mean of hourly means."""

    days_by_band: dict[str, int]
    days_without: int
    worst_day: date | None
    worst_index: int | None


def particulates(data: Hourly, month: ReportMonth, zone: ZoneInfo) -> Particulates:
    """Each day with PM2.5 in at least 18 of its hours, banded as the page's DAQI is."""
    by_day: dict[date, list[float]] = defaultdict(list)
    for hour, value in data.means.get("pm2_5", {}).items():
        by_day[hour_start(hour, zone).date()].append(value)
    counts = dict.fromkeys(BANDS, 0)
    worst: tuple[int, date] | None = None
    banded = 0
    for day in month.days():
        values = by_day.get(day, [])
        if len(values) < DAQI_HOURS_NEEDED:
            continue
        index = daqi_index(statistics.fmean(values))
        counts[daqi_band(index)] += 1
        banded += 1
        if worst is None or index > worst[0]:
            worst = (index, day)
    return Particulates(
        counts,
        len(month.days()) - banded,
        worst[1] if worst else None,
        worst[0] if worst else None,
    )


@dataclass(frozen=True, slots=True)
class Noise:
    """Sound in in-use hours: the typical (median) hourly level, the loudest, loud hours."""

    hours: int
    typical: int | None
    loudest: int | None
    loudest_hour: int | None
    loud: int


def noise(data: Hourly, in_use: set[int]) -> Noise:
    """Hourly mean sound levels (whole dB(A), halves up) in in-use hours."""
    values = {h: round_half_up(v) for h, v in data.means.get("noise", {}).items() if h in in_use}
    loudest_hour = max(values, key=lambda h: (values[h], -h)) if values else None
    return Noise(
        hours=len(values),
        typical=round_half_up(statistics.median(values.values())) if values else None,
        loudest=values[loudest_hour] if loudest_hour is not None else None,
        loudest_hour=loudest_hour,
        loud=sum(v >= LOUD_FROM for v in values.values()),
    )


@dataclass(frozen=True, slots=True)
class Completeness:
    """Hours of the month with and without readings, its longest gaps, and short sensors."""

    hours: int
    recorded: int
    gaps: list[tuple[int, int]]
    short_sensors: list[tuple[str, int]]
    first_recorded: int | None


def completeness(data: Hourly, month_hours: Sequence[int]) -> Completeness:
    """Which of ``month_hours`` have readings; gaps are runs of hours without, longest first."""
    gaps: list[tuple[int, int]] = []
    recorded = [h for h in month_hours if h in data.recorded]
    for hour in month_hours:
        if hour in data.recorded:
            continue
        if gaps and gaps[-1][1] == hour - 3600:
            gaps[-1] = (gaps[-1][0], hour)
        else:
            gaps.append((hour, hour))
    gaps.sort(key=lambda g: (g[0] - g[1], g[0]))
    wanted = set(month_hours)
    short = sorted(
        (sensor, len(hours & wanted))
        for sensor, hours in data.sensors.items()
        if len(hours & wanted) < SENSOR_SHORT_SHARE * len(recorded)
    )
    return Completeness(
        hours=len(month_hours),
        recorded=len(recorded),
        gaps=gaps,
        short_sensors=short,
        first_recorded=min(recorded, default=None),
    )
