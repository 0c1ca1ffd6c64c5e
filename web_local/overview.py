"""What the home page and the kiosk show, gathered from the store's rollups in one place.

Reads only rollups and the latest-value table (never raw scans), so the page stays fast
with years of data.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from edge.store import EdgeStore
from edge.store_records import StoredReading
from presentation.air_quality import AirQualityIndex, daqi_window, pm25_daqi
from presentation.freshness import Freshness, freshness
from presentation.insight_basics import PEOPLE_METRICS
from presentation.numbers import format_reading
from presentation.people_today import PeopleToday, people_today, people_window
from presentation.rollup import Rollup
from presentation.ventilation import Ventilation, ventilation_advice
from presentation.vocabulary import METRICS
from presentation.weekly_summary import summary_window, weekly_summary
from presentation.words import plain_label, sound_level
from web_local.site import PageSettings

NOW_METRICS = ("temperature", "relative_humidity", "co2", "pm2_5", "noise", "people_estimate")
"""The "now" figures on the home page, in this order."""


@dataclass(frozen=True)
class NowFigure:
    """One figure of "now": a metric's newest value, as a person reads it.

    ``advice`` is the one bold line under the value (what a visitor needs: "Fresh",
    "Quiet", the air quality band), ``advice_level`` a stable key for its colour,
    ``detail`` a sentence in normal weight with the numbers behind it, ``note`` the
    small print (what the figure is and is not).
    """

    metric: str
    label: str
    text: str
    at: datetime
    note: str = ""
    advice: str = ""
    advice_level: str = ""
    detail: str = ""


@dataclass(frozen=True)
class Overview:
    """Everything the home page shows."""

    hall_name: str
    figures: list[NowFigure]
    ventilation: Ventilation | None
    air_quality: AirQualityIndex | None
    people: PeopleToday
    freshness: Freshness
    summary: list[str]


def _censor(reading: StoredReading) -> str | None:
    return reading.censor.value if reading.censor is not None else None


def public_latest(store: EdgeStore, page: PageSettings) -> list[StoredReading]:
    """The newest reading of each public sensor metric, finite values first per metric."""
    return [r for r in store.latest() if r.metric in page.public_metrics]


def _first_per_metric(readings: Iterable[StoredReading]) -> dict[str, StoredReading]:
    chosen: dict[str, StoredReading] = {}
    for reading in readings:
        held = chosen.get(reading.metric)
        if held is None or (not math.isfinite(held.value) and math.isfinite(reading.value)):
            chosen[reading.metric] = reading
    return chosen


def _rollups(
    store: EdgeStore, window: tuple[datetime, datetime], metrics: Sequence[str]
) -> list[Rollup]:
    out: list[Rollup] = []
    for name in metrics:
        out.extend(store.rollups("hour", window[0], window[1], metric=name))
    return out


def visitor_label(page: PageSettings, sensor_id: str, metric: str) -> str:
    """What visitors call a sensor's metric: the hall's own label, else a plain name."""
    own = page.sensor_labels.get(sensor_id)
    if own:
        return own
    known = METRICS.get(metric)
    return plain_label(metric, known.description if known else metric)


def reading_words(reading: StoredReading) -> str:
    """A stored reading's value in words: "35 decibels (quiet)", "In use", "21.5 °C"."""
    if reading.metric == "noise" and reading.censor is None and math.isfinite(reading.value):
        sound = sound_level(reading.value)
        return f"{sound.text} ({sound.band.lower()})"
    return format_reading(reading.value, reading.unit, _censor(reading), reading.metric)


def _figure(
    page: PageSettings,
    reading: StoredReading,
    ventilation: Ventilation | None,
    air: AirQualityIndex | None,
) -> NowFigure:
    """One "now" figure with its advice: ventilation for CO2, the band for PM2.5, how loud."""
    name = reading.metric
    label = visitor_label(page, reading.sensor_id, name)
    text = format_reading(reading.value, reading.unit, _censor(reading), name)
    if name == "co2" and ventilation is not None:
        return NowFigure(
            name,
            label,
            text,
            reading.timestamp,
            note=ventilation.explanation,
            advice=ventilation.words,
            advice_level=ventilation.level,
        )
    if name == "pm2_5" and air is not None:
        return NowFigure(
            name,
            label,
            text,
            reading.timestamp,
            # The DAQI's label goes with a DAQI figure; with no band there is none to label.
            note=air.label if air.index is not None else "",
            advice=air.headline,
            advice_level="" if air.index is None else f"daqi-{air.index}",
            detail=air.detail,
        )
    if name == "noise" and reading.censor is None and math.isfinite(reading.value):
        sound = sound_level(reading.value)
        return NowFigure(
            name,
            label,
            sound.text,
            reading.timestamp,
            advice=sound.band,
            advice_level=sound.level,
            detail=sound.explanation,
        )
    return NowFigure(name, label, text, reading.timestamp)


def overview(
    store: EdgeStore, page: PageSettings, now: datetime, *, with_summary: bool = True
) -> Overview:
    """The home page's figures, advice and (``with_summary``) week in words for ``now``."""
    zone: ZoneInfo = page.zone
    latest = public_latest(store, page)
    newest = _first_per_metric(latest)
    ventilation = None
    if "co2" in newest:
        ventilation = ventilation_advice(newest["co2"].value)
    air = None
    if "pm2_5" in page.public_metrics and "pm2_5" in newest:
        air = pm25_daqi(_rollups(store, daqi_window(now), ["pm2_5"]), now)
    figures = [
        _figure(page, newest[name], ventilation, air)
        for name in NOW_METRICS
        if name in page.public_metrics and name in newest
    ]
    people_metrics = [m for m in PEOPLE_METRICS if m in page.public_metrics]
    people = people_today(_rollups(store, people_window(now, zone), people_metrics), now, zone)
    summary: list[str] = []
    if with_summary:
        summary_metrics = [
            m for m in ("temperature", "co2", *PEOPLE_METRICS) if m in page.public_metrics
        ]
        window = summary_window(now, zone)
        summary = weekly_summary(_rollups(store, window, summary_metrics), now, zone)
    times = [r.timestamp for r in latest]
    return Overview(
        hall_name=page.hall_name,
        figures=figures,
        ventilation=ventilation,
        air_quality=air,
        people=people,
        freshness=freshness(max(times) if times else None, now),
        summary=summary,
    )


PERIODS = {
    "day": ("the last 24 hours", timedelta(days=1), "hour"),
    "week": ("the last 7 days", timedelta(days=7), "hour"),
    "month": ("the last 30 days", timedelta(days=30), "day"),
    "year": ("the last 12 months", timedelta(days=365), "day"),
}
"""Trend periods: words, length and the rollup resolution they are drawn from."""


def series_of(store: EdgeStore, page: PageSettings) -> list[tuple[str, str, str]]:
    """(sensor_id, metric, label) of every public series the node has, in vocabulary order."""
    order = {name: n for n, name in enumerate(METRICS)}
    found = {(r.sensor_id, r.metric) for r in store.latest() if r.metric in page.public_metrics}
    return [
        (sensor, metric, visitor_label(page, sensor, metric))
        for sensor, metric in sorted(found, key=lambda s: (order.get(s[1], 999), s[0]))
    ]


def trend_points(
    rollups: Iterable[Rollup],
) -> list[tuple[datetime, float, float | None, float | None]]:
    """Chart points: a gauge's mean over its min-max band, a count's total per bucket.

    An on/off state's point is the percentage of the bucket it was on.
    """
    points: list[tuple[datetime, float, float | None, float | None]] = []
    for r in rollups:
        kind = METRICS[r.metric].kind if r.metric in METRICS else "gauge"
        if kind == "count":
            points.append((r.start, r.mean * r.count, None, None))
        elif kind == "state":
            points.append((r.start, r.mean * 100, None, None))
        else:
            points.append((r.start, r.mean, r.min, r.max))
    return points


BUSY_WEEKS = 4


def busy_hours(store: EdgeStore, page: PageSettings, now: datetime) -> dict[tuple[int, int], float]:
    """Mean people per hour by (weekday, local hour) over the last four weeks."""
    zone = page.zone
    start = now - timedelta(weeks=BUSY_WEEKS)
    rollups: list[Rollup] = []
    for name in PEOPLE_METRICS:
        if name in page.public_metrics:
            rollups.extend(store.rollups("hour", start, now, metric=name))
    # A door counted in and out reports entries: count those, not its footfall too.
    with_entries = {r.sensor_id for r in rollups if r.metric == "entries"}
    totals: dict[tuple[int, int], list[float]] = defaultdict(list)
    per_hour: dict[datetime, float] = defaultdict(float)
    for r in rollups:
        if r.metric == "footfall" and r.sensor_id in with_entries:
            continue
        per_hour[r.start] += r.mean * r.count
    for start_utc, people in per_hour.items():
        local = start_utc.astimezone(zone)
        totals[(local.weekday(), local.hour)].append(people)
    return {key: sum(v) / len(v) for key, v in totals.items()}
