"""The last seven days in plain-English sentences."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from presentation.chart_time import local_midnight
from presentation.insight_basics import (
    HOUR,
    NOT_ENOUGH_FOR_SUMMARY,
    WEEKDAYS,
    list_words,
    require_aware,
    require_positive,
    round_half_up,
    total_of,
    usable,
)
from presentation.people_today import people_rollups
from presentation.rollup import Rollup
from presentation.ventilation import CO2_POOR_ABOVE

DAY_PARTS = (("morning", 6, 12), ("afternoon", 12, 18), ("evening", 18, 24))
"""Day-parts compared for temperature: local hours [from, to). The night is left out."""

PART_HOURS_NEEDED = 3
"""Hours of a day-part's six that need temperature readings for its mean to count."""

BASELINE_DAYS_NEEDED = 3
"""Days with a day-part's mean that a usual temperature for that day-part needs."""

TEMPERATURE_DIFFERENCE = 2.0
"""°C between a day-part's mean and the usual that make it "warmer" or "colder"."""

STUFFY_LONGER_THAN = HOUR
"""A day counts as stuffy when CO2 was above 1500 ppm for longer than this."""


def summary_week(now: datetime, zone: ZoneInfo) -> tuple[date, date]:
    """The first and last local day ``weekly_summary`` describes: the 7 days before today."""
    require_aware(now)
    today = now.astimezone(zone).date()
    return today - timedelta(days=7), today - timedelta(days=1)


def summary_window(
    now: datetime, zone: ZoneInfo, *, previous_weeks: int = 4
) -> tuple[datetime, datetime]:
    """The span [start, end) of rollups ``weekly_summary`` reads.

    That is the week it describes and the ``previous_weeks`` weeks before it, which give
    the usual temperatures.
    """
    first, last = summary_week(now, zone)
    return (
        local_midnight(first - timedelta(weeks=previous_weeks), zone),
        local_midnight(last + timedelta(days=1), zone),
    )


def _hour_end(hour: int) -> str:
    return "midnight" if hour == 24 else f"{hour:02d}:00"


def _busiest(people: dict[tuple[date, int], float], days: Sequence[date]) -> str | None:
    best: tuple[float, date, int] | None = None
    for day in days:
        for hour in range(23):
            total = people.get((day, hour), 0.0) + people.get((day, hour + 1), 0.0)
            if best is None or total > best[0]:
                best = (total, day, hour)
    if best is None or round_half_up(best[0]) == 0:
        return None
    _total_people, day, hour = best
    first = round_half_up(people.get((day, hour), 0.0))
    second = round_half_up(people.get((day, hour + 1), 0.0))
    if second == 0:
        begin, end = hour, hour + 1
    elif first == 0:
        begin, end = hour + 1, hour + 2
    else:
        begin, end = hour, hour + 2
    return (
        f"The hall was busiest on {WEEKDAYS[day.weekday()]} "
        f"between {begin:02d}:00 and {_hour_end(end)}."
    )


def _part_of(hour: int) -> str | None:
    for name, begin, end in DAY_PARTS:
        if begin <= hour < end:
            return name
    return None


def _temperature_phrases(
    means: dict[tuple[date, str], float], week: Sequence[date], earlier: Sequence[date]
) -> tuple[list[str], list[str]]:
    """Day phrases ("on Friday morning", "all day on Saturday"): colder ones, warmer ones."""
    usual: dict[str, float] = {}
    for name, _begin, _end in DAY_PARTS:
        before = [means[(d, name)] for d in earlier if (d, name) in means]
        this = [means[(d, name)] for d in week if (d, name) in means]
        pool = before if len(before) >= BASELINE_DAYS_NEEDED else this
        if len(pool) >= BASELINE_DAYS_NEEDED:
            usual[name] = statistics.fmean(pool)
    colder: list[str] = []
    warmer: list[str] = []
    for day in week:
        flagged: dict[str, list[str]] = {"colder": [], "warmer": []}
        for name, _begin, _end in DAY_PARTS:
            if (day, name) not in means or name not in usual:
                continue
            difference = round(means[(day, name)] - usual[name], 1)
            if difference >= TEMPERATURE_DIFFERENCE:
                flagged["warmer"].append(name)
            elif difference <= -TEMPERATURE_DIFFERENCE:
                flagged["colder"].append(name)
        weekday = WEEKDAYS[day.weekday()]
        for direction, phrases in (("colder", colder), ("warmer", warmer)):
            parts = flagged[direction]
            if len(parts) == len(DAY_PARTS):
                phrases.append(f"all day on {weekday}")
            elif parts:
                phrases.append(f"on {weekday} {list_words(parts)}")
    return colder, warmer


def weekly_summary(
    rollups: Iterable[Rollup],
    now: datetime,
    zone: ZoneInfo,
    *,
    previous_weeks: int = 4,
    bucket: timedelta = HOUR,
) -> list[str]:
    """The last seven days in plain-English sentences, always the same for the same data.

    Pass minute or hourly rollups (``bucket`` says which; hourly by default) of
    ``summary_window``. Everything is in the hall's local time (``zone``).

    Rules, in the order the sentences come:

    1. The week is the seven whole local days before today (``summary_week``), so each
       weekday is named once. No rollup in it: the only sentence is
       "Not enough data yet for a summary of the week." If the readings begin during the
       week: "The readings begin on Thursday, so this covers only part of the week."
    2. People are each door sensor's entries, or its footfall if it has no entries. The
       busiest two-hour window starts on a whole local hour and stays within a day;
       ties go to the earliest. "The hall was busiest on Tuesday between 10:00 and 12:00."
       If one of its two hours had no one, only the busy hour is named ("between 10:00
       and 11:00"). A window ending at midnight says "midnight". On the day the clocks go
       back, the repeated hour counts in its clock hour.
    3. Days with door counts that add up to no one: "No one came in on Sunday." If that
       is every day with counts: "No one came in all week."
    4. Temperature by day-part (morning 06-12, afternoon 12-18, evening 18-24): a
       day-part's mean counts when at least 3 of its hours have readings. Its usual is
       the mean of that day-part's means over the previous ``previous_weeks`` weeks
       (every day, at least 3 of them), or failing that over this week's days (at least
       3, the day itself included). A difference of 2.0 °C or more (rounded to 0.1 °C)
       makes it warmer or colder: "It was colder than usual on Friday morning." All three
       day-parts the same way: "all day on Friday".
    5. CO2 above 1500 ppm (a rollup whose mean is above it counts for its whole
       ``bucket``) for more than an hour in a day: "The air was stuffy (carbon dioxide
       above 1,500 ppm) for more than an hour on Tuesday."
    6. If none of 2 to 5 said anything: "Nothing stood out in the week's readings."
    7. Days of the week after the readings began with no readings at all: "There are no
       readings for Wednesday; the sensors may have been off."
    """
    require_aware(now)
    require_positive(bucket, previous_weeks)
    rows = [r for r in rollups if usable(r)]
    first_day, last_day = summary_week(now, zone)
    week = [first_day + timedelta(days=i) for i in range(7)]
    earlier_start = first_day - timedelta(weeks=previous_weeks)
    earlier = [earlier_start + timedelta(days=i) for i in range(7 * previous_weeks)]
    week_start_s = local_midnight(first_day, zone).timestamp()
    week_end_s = local_midnight(last_day + timedelta(days=1), zone).timestamp()
    earlier_start_s = local_midnight(earlier_start, zone).timestamp()

    located: list[tuple[Rollup, date, int, bool]] = []  # rollup, local day, hour, in week
    for rollup in rows:
        at = rollup.start.timestamp()
        if earlier_start_s <= at < week_end_s:
            local = rollup.start.astimezone(zone)
            located.append((rollup, local.date(), local.hour, at >= week_start_s))
    in_week = [(r, d, h) for r, d, h, this in located if this]
    if not in_week:
        return [NOT_ENOUGH_FOR_SUMMARY]

    sentences: list[str] = []
    began = min(r.start for r in rows).astimezone(zone).date()
    if began > first_day:
        sentences.append(
            f"The readings begin on {WEEKDAYS[began.weekday()]}, "
            "so this covers only part of the week."
        )

    notable: list[str] = []
    people_ids = {id(r) for r in people_rollups(r for r, _d, _h in in_week)}
    people: dict[tuple[date, int], float] = defaultdict(float)
    counted_days: dict[date, float] = defaultdict(float)
    for rollup, day, hour in in_week:
        if id(rollup) in people_ids:
            people[(day, hour)] += total_of(rollup)
            counted_days[day] += total_of(rollup)
    if counted_days:
        busiest = _busiest(people, week)
        empty = [d for d in week if d in counted_days and round_half_up(counted_days[d]) == 0]
        if busiest is None:
            notable.append("No one came in all week.")
        else:
            notable.append(busiest)
            if empty:
                names = [WEEKDAYS[d.weekday()] for d in empty]
                notable.append(f"No one came in on {list_words(names, 'or')}.")

    sums: dict[tuple[date, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    hours: dict[tuple[date, str], set[int]] = defaultdict(set)
    for rollup, day, hour, _this in located:
        part = _part_of(hour)
        if rollup.metric == "temperature" and part is not None:
            sums[(day, part)][0] += total_of(rollup)
            sums[(day, part)][1] += rollup.count
            hours[(day, part)].add(hour)
    means = {
        key: total / count
        for key, (total, count) in sums.items()
        if len(hours[key]) >= PART_HOURS_NEEDED
    }
    colder, warmer = _temperature_phrases(means, week, earlier)
    if colder:
        notable.append(f"It was colder than usual {list_words(colder)}.")
    if warmer:
        notable.append(f"It was warmer than usual {list_words(warmer)}.")

    stuffy_buckets: dict[date, set[float]] = defaultdict(set)
    for rollup, day, _hour in in_week:
        if rollup.metric == "co2" and rollup.mean > CO2_POOR_ABOVE:
            stuffy_buckets[day].add(rollup.start.timestamp())
    stuffy = [d for d in week if len(stuffy_buckets[d]) * bucket > STUFFY_LONGER_THAN]
    if stuffy:
        names = [WEEKDAYS[d.weekday()] for d in stuffy]
        notable.append(
            "The air was stuffy (carbon dioxide above 1,500 ppm) for more than an hour "
            f"on {list_words(names)}."
        )

    sentences.extend(notable or ["Nothing stood out in the week's readings."])

    with_data = {d for _r, d, _h in in_week}
    missing = [d for d in week if d >= began and d not in with_data]
    if missing:
        names = [WEEKDAYS[d.weekday()] for d in missing]
        sentences.append(
            f"There are no readings for {list_words(names)}; the sensors may have been off."
        )
    return sentences
