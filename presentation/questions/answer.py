"""An intent answered from the hall's hourly rollups, in one or two sentences with a link.

Numbers are written as the hall's pages write them (:mod:`presentation.numbers`), times
on the hall's local 24-hour clock. When the readings cover less than half of the time
asked about, the answer says so instead of giving figures (``declined``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from presentation.insight_basics import round_half_up
from presentation.numbers import decimals_for, format_value
from presentation.questions.intent import Intent
from presentation.questions.periods import Period, day_words, windows
from presentation.questions.series import Hour, RollupSource, Series, expected_hours, hourly, latest
from presentation.vocabulary import METRICS

COLD_BELOW_C = 18.0
"""Too cold below 18 °C: the WHO Housing and health guidelines (2018) minimum indoors."""
WARM_ABOVE_C = 25.0
"""Too warm above 25 °C: CIBSE Guide A's summer comfort range for halls tops out at 25 °C."""
LEAST_COVERAGE = 0.5
"""Figures need readings in at least half of the hours asked about."""

View = Literal["trend", "busy_times", "home"]
NAMES = {
    "temperature": "temperature",
    "co2": "CO2",
    "relative_humidity": "humidity",
    "noise": "noise level",
    "pm2_5": "PM2.5",
    "pm10": "PM10",
    "people": "people",
}


@dataclass(frozen=True, slots=True)
class Link:
    """The page that shows the figures: a trend, the busy times, or the home page.

    A trend names its ``sensor_id``, ``metric`` and ``period`` (one of ``day``,
    ``week``, ``month`` or ``year``, whichever first reaches back to the time asked about).
    """

    view: View
    sensor_id: str | None = None
    metric: str | None = None
    period: str | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """The answer in words, the page showing it, and the figures it quotes (for checking)."""

    text: str
    link: Link | None
    figures: tuple[str, ...] = ()
    declined: bool = False


def _trend_link(series: Series, start: datetime, now: datetime) -> Link | None:
    if series.sensor_id is None:
        return None
    metric = "footfall" if series.metric == "people" else series.metric
    back = now - start
    for key, days in (("day", 1), ("week", 7), ("month", 30)):
        if back <= timedelta(days=days, minutes=1):
            return Link("trend", series.sensor_id, metric, key)
    return Link("trend", series.sensor_id, metric, "year")


def _when(period: Period, intent: Intent) -> str:
    """The time asked about in words; "this morning (06:00 to 12:00)", not "… in the morning"."""
    part = intent.part
    if part is None:
        return period.words
    if period.words.endswith(part.name):
        return f"{period.words} ({part.words.split('(')[1]}"
    return f"{period.words} {part.words}"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _shown(metric: str, value: float) -> float:
    """``value`` rounded as the page shows it, so a threshold and the words agree."""
    places = decimals_for(METRICS[metric].unit, None) if metric in METRICS else 0
    scale = 10.0**places
    return round_half_up(value * scale) / scale


def _runs(hours: list[Hour]) -> list[tuple[Hour, Hour]]:
    """Consecutive hours grouped: each run's first and last hour."""
    runs: list[tuple[Hour, Hour]] = []
    for hour in hours:
        if runs and hour.start - runs[-1][1].start == timedelta(hours=1):
            runs[-1] = (runs[-1][0], hour)
        else:
            runs.append((hour, hour))
    return runs


def _run_words(run: tuple[Hour, Hour], period: Period, zone: ZoneInfo, now: datetime) -> str:
    first = run[0].start.astimezone(zone)
    end = run[1].start.astimezone(zone) + timedelta(hours=1)
    today = now.astimezone(zone).date()
    last_day = (end - timedelta(microseconds=1)).date()
    if last_day != first.date():
        return (
            f"from {first:%H}:00 on {day_words(first.date(), today)} "
            f"to {end:%H}:00 on {day_words(end.date(), today)}"
        )
    span = f"{first:%H}:00 to {end:%H}:00"
    return span if period.one_day else f"{span} on {day_words(first.date(), today)}"


def _at(hour: Hour, period: Period, zone: ZoneInfo, today: datetime) -> str:
    local = hour.start.astimezone(zone)
    span = f"the hour from {local:%H}:00"
    if period.one_day:
        return span
    return f"{span} on {day_words(local.date(), today.date())}"


def _people(count: float) -> str:
    number = round_half_up(count)
    return "1 person" if number == 1 else f"{number:,} people"


def _value(metric: str, value: float) -> str:
    return format_value(value, METRICS[metric].unit)


def _mean(series: Series) -> float:
    return sum(h.mean * h.count for h in series.hours) / sum(h.count for h in series.hours)


def _gather(
    intent: Intent, period: Period, metric: str, source: RollupSource, now: datetime
) -> tuple[Series, Answer | None]:
    """The series for the period, or an answer saying there are too few readings."""
    spans = windows(period, intent.part, now)
    series = hourly(source, metric, spans)
    wanted = expected_hours(spans)
    when = _when(period, intent)
    if not series.hours:
        return series, Answer(f"There are no {NAMES[metric]} readings {when}.", None, (), True)
    if len(series.hours) < LEAST_COVERAGE * wanted:
        text = (
            f"I only have {NAMES[metric]} readings for {len(series.hours)} of the {wanted} "
            f"hours {when}, too few to answer."
        )
        return series, Answer(text, None, (), True)
    return series, None


def answer(intent: Intent, source: RollupSource, now: datetime, zone: ZoneInfo) -> Answer:
    """``intent`` answered from ``source``'s hourly rollups, as of ``now`` in ``zone``."""
    if intent.kind == "opening_hours":
        if not intent.assumed:
            return Answer(
                "The hall's opening hours are not on its page yet.", Link("home"), (), True
            )
        return Answer(f"The hall is open {intent.assumed}.", Link("home"), (intent.assumed,))
    if intent.kind == "current":
        return _current(intent, source, now, zone)
    if intent.period is None or intent.metric is None:
        raise ValueError(f"a {intent.kind} intent needs a period and a metric")
    if intent.kind == "compare":
        return _compare(intent, source, now, zone)
    metrics = ("co2", "pm2_5") if intent.metric == "air" else (intent.metric,)
    parts, figures, link = [], [], None
    for metric in metrics:
        series, missing = _gather(intent, intent.period, metric, source, now)
        if missing:
            return missing
        link = link or _trend_link(series, intent.period.start, now)
        text, numbers = _ANSWERS[intent.kind](intent, series, intent.period, now, zone, source)
        parts.append(text)
        figures.extend(numbers)
    if intent.kind == "busiest":
        link = Link("busy_times")
    return Answer(" ".join(parts), link, tuple(figures))


def _people_total(
    intent: Intent,
    series: Series,
    period: Period,
    now: datetime,
    zone: ZoneInfo,
    source: RollupSource,
) -> tuple[str, list[str]]:
    total = sum(h.mean for h in series.hours)
    text = f"{_people(total)} came through the door {_when(period, intent)}."
    return text, [f"{round_half_up(total):,}"]


def _busiest(
    intent: Intent,
    series: Series,
    period: Period,
    now: datetime,
    zone: ZoneInfo,
    source: RollupSource,
) -> tuple[str, list[str]]:
    most = intent.kind == "busiest"
    word = "busiest" if most else "quietest"
    if period.one_day:
        pick = max if most else min
        hour = pick(
            series.hours,
            key=lambda h: (
                h.mean,
                -h.start.timestamp() if most else h.start.timestamp(),
            ),
        )
        text = (
            f"The {word} hour {_when(period, intent)} was {_at(hour, period, zone, now)}, "
            f"with {_people(hour.mean)}."
        )
        return text, [f"{hour.start.astimezone(zone):%H}:00", f"{round_half_up(hour.mean):,}"]
    days: dict[date, float] = {}
    for hour in series.hours:
        day = hour.start.astimezone(zone).date()
        days[day] = days.get(day, 0.0) + hour.mean
    order = sorted(days, key=lambda d: (-days[d] if most else days[d], d))
    top = order[0]
    ties = sum(1 for d in days if round_half_up(days[d]) == round_half_up(days[top]))
    today = now.astimezone(zone).date()
    top_words = day_words(top, today)
    text = f"The {word} day {_when(period, intent)} was {top_words}, with {_people(days[top])}."
    if ties > 1:
        text += f" {ties} days had {'that many' if most else 'as few'}."
    if most:
        best = max(
            (h for h in series.hours if h.start.astimezone(zone).date() == top),
            key=lambda h: h.mean,
        )
        text += (
            f" Its busiest hour began at {best.start.astimezone(zone):%H}:00, "
            f"with {_people(best.mean)}."
        )
    return text, [top_words, f"{round_half_up(days[top]):,}"]


def _comfort(
    intent: Intent,
    series: Series,
    period: Period,
    now: datetime,
    zone: ZoneInfo,
    source: RollupSource,
) -> tuple[str, list[str]]:
    cold = intent.direction == "below"
    limit = COLD_BELOW_C if cold else WARM_ABOVE_C
    use = hourly(source, "occupancy", windows(period, intent.part, now))
    in_use = {h.start.timestamp() for h in use.hours if h.max > 0}
    hours = (
        [h for h in series.hours if h.start.timestamp() in in_use]
        if use.hours
        else list(series.hours)
    )
    when = _when(period, intent)
    limit_words = format_value(limit, "°C")
    if not hours:
        low = min(series.hours, key=lambda h: h.mean)
        return (
            f"No: nobody was in the hall {when}. "
            f"The lowest hourly average was {_value('temperature', low.mean)}.",
            ["no", "0"],
        )
    shown = [float(format_value(h.mean, "°C").split()[0]) for h in hours]
    bad = [h for h, v in zip(hours, shown, strict=True) if (v < limit if cold else v > limit)]
    pick = min if cold else max
    worst = pick(hours, key=lambda h: h.mean)
    edge = "coldest" if cold else "warmest"
    if bad:
        text = (
            f"Yes: {len(bad)} of the {len(hours)} hours the hall was in use {when} averaged "
            f"{'below' if cold else 'above'} {limit_words}; the {edge} was "
            f"{_value('temperature', worst.mean)}, in {_at(worst, period, zone, now)}."
        )
        return text, ["yes", str(len(bad)), str(len(hours)), _value("temperature", worst.mean)]
    text = (
        f"No: in the {len(hours)} hours the hall was in use {when}, it stayed "
        f"{'at or above' if cold else 'at or below'} {limit_words}; the {edge} hour averaged "
        f"{_value('temperature', worst.mean)}."
    )
    return text, ["no", "0", str(len(hours)), _value("temperature", worst.mean)]


def _threshold(
    intent: Intent,
    series: Series,
    period: Period,
    now: datetime,
    zone: ZoneInfo,
    source: RollupSource,
) -> tuple[str, list[str]]:
    above = intent.direction == "above"
    metric, limit = series.metric, float(intent.threshold or 0.0)
    name = NAMES[metric]
    limit_words = _people(limit) if metric == "people" else _value(metric, limit)
    when = _when(period, intent)
    hits = [
        h
        for h in series.hours
        if (_shown(metric, h.max) > limit if above else _shown(metric, h.min) < limit)
    ]
    word = "over" if above else "under"
    peak = (max if above else min)(series.hours, key=lambda h: h.max if above else h.min)
    peak_value = peak.max if above else peak.min
    shown_peak = _people(peak_value) if metric == "people" else _value(metric, peak_value)
    if not hits:
        extreme = "highest" if above else "lowest"
        text = (
            f"No: the {name} did not go {word} {limit_words} {when}; "
            f"the {extreme} was {shown_peak}, in {_at(peak, period, zone, now)}."
        )
        if metric == "people":
            text = f"No: there were never {'more' if above else 'fewer'} than {limit_words} {when}"
            text += (
                f" in an hour; the {extreme} was {shown_peak}, in {_at(peak, period, zone, now)}."
            )
        return _sentence(text), ["no", "0", shown_peak]
    runs = _runs(hits)
    listed = ", ".join(_run_words(run, period, zone, now) for run in runs[:3])
    extra = len(runs) - 3
    more = f", and {extra} more {'time' if extra == 1 else 'times'}" if extra > 0 else ""
    plural = "hour" if len(hits) == 1 else "hours"
    lead = f"The {name} went {word} {limit_words}"
    if metric == "people":
        lead = f"There were {'more' if above else 'fewer'} than {limit_words}"
    text = (
        f"{lead} in {len(hits)} {plural} {when}: {listed}{more}. "
        f"The {'highest' if above else 'lowest'} was {shown_peak}, "
        f"in {_at(peak, period, zone, now)}."
    )
    return text, ["yes", str(len(hits)), shown_peak]


def _extreme(
    intent: Intent,
    series: Series,
    period: Period,
    now: datetime,
    zone: ZoneInfo,
    source: RollupSource,
) -> tuple[str, list[str]]:
    high = intent.stat == "max"
    hour = (max if high else min)(series.hours, key=lambda h: h.max if high else h.min)
    value = _value(series.metric, hour.max if high else hour.min)
    text = (
        f"The {'highest' if high else 'lowest'} {NAMES[series.metric]} {_when(period, intent)} "
        f"was {value}, in {_at(hour, period, zone, now)}."
    )
    return text, [value, f"{hour.start.astimezone(zone):%H}:00"]


def _average(
    intent: Intent,
    series: Series,
    period: Period,
    now: datetime,
    zone: ZoneInfo,
    source: RollupSource,
) -> tuple[str, list[str]]:
    mean = _value(series.metric, _mean(series))
    low = _value(series.metric, min(h.min for h in series.hours))
    high = _value(series.metric, max(h.max for h in series.hours))
    when = _when(period, intent)
    text = f"The average {NAMES[series.metric]} {when} was {mean} (from {low} to {high})."
    return text, [mean, low, high]


_Answerer = Callable[
    [Intent, Series, Period, datetime, ZoneInfo, RollupSource], tuple[str, list[str]]
]
_ANSWERS: dict[str, _Answerer] = {
    "people_total": _people_total,
    "busiest": _busiest,
    "quietest": _busiest,
    "comfort": _comfort,
    "threshold": _threshold,
    "extreme": _extreme,
    "average": _average,
}


def _current(intent: Intent, source: RollupSource, now: datetime, zone: ZoneInfo) -> Answer:
    metrics = ("co2", "pm2_5") if intent.metric == "air" else (str(intent.metric),)
    parts, figures = [], []
    for metric in metrics:
        row = latest(source, metric, now, 30 * 60)
        if row is None:
            return Answer(
                f"There is no {NAMES[metric]} reading from the last half hour.", None, (), True
            )
        value = _value(metric, row.mean)
        parts.append(f"The {NAMES[metric]} is {value} (at {row.start.astimezone(zone):%H:%M}).")
        figures.append(value)
    return Answer(" ".join(parts), Link("home"), tuple(figures))


def _compare(intent: Intent, source: RollupSource, now: datetime, zone: ZoneInfo) -> Answer:
    if intent.period is None or intent.other is None:
        raise ValueError("a compare intent needs two periods")
    metrics = ("co2", "pm2_5") if intent.metric == "air" else (str(intent.metric),)
    sentences, figures, verdicts, link = [], [], [], None
    for metric in metrics:
        here, missing = _gather(intent, intent.period, metric, source, now)
        there, missing_there = _gather(intent, intent.other, metric, source, now)
        if missing or missing_there:
            return missing or missing_there  # type: ignore[return-value]
        link = link or _trend_link(here, min(intent.period.start, intent.other.start), now)
        if metric == "people":
            a = sum(h.mean for h in here.hours) / _day_count(here, zone)
            b = sum(h.mean for h in there.hours) / _day_count(there, zone)
            a_words, b_words = f"{a:,.0f} people a day", f"{b:,.0f}"
        else:
            a, b = _mean(here), _mean(there)
            a_words, b_words = _value(metric, a), _value(metric, b)
        change = (
            "about the same" if abs(a - b) <= 0.05 * abs(b) else ("higher" if a > b else "lower")
        )
        verdicts.append(change)
        if metric == "people":
            change = {"higher": "busier", "lower": "quieter"}.get(change, change)
            lead = f"{_sentence(_when(intent.period, intent))} the hall had {a_words}"
        else:
            lead = f"The average {NAMES[metric]} {_when(intent.period, intent)} was {a_words}"
        sentences.append(f"{lead}, against {b_words} {_when(intent.other, intent)}: {change}.")
        figures += [a_words.split(" people")[0], b_words, change]
    if intent.metric in ("air", "co2", "pm2_5", "pm10"):
        if set(verdicts) <= {"lower", "about the same"} and "lower" in verdicts:
            sentences.append("So the air is better.")
        elif set(verdicts) <= {"higher", "about the same"} and "higher" in verdicts:
            sentences.append("So the air is worse.")
        elif set(verdicts) == {"about the same"}:
            sentences.append("So the air is about the same.")
        else:
            sentences.append("So it is better in one way and worse in another.")
    return Answer(" ".join(sentences), link, tuple(figures))


def _day_count(series: Series, zone: ZoneInfo) -> int:
    return max(1, len({h.start.astimezone(zone).date() for h in series.hours}))
