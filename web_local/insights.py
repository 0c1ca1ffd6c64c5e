"""What the hall's readings mean, in words: the sentences the community page shows.

Pure functions over rollups (``edge.rollups.Rollup``) and aware datetimes, with no Flask,
no store and no clock of their own: the page queries the store (the ``*_window`` helpers
say which span each needs) and passes ``now`` and the hall's time zone in.

- ``ventilation_advice``: CO2 in ppm as advice a parish clerk can act on.
- ``pm25_daqi``: the UK Daily Air Quality Index for PM2.5 on its 24-hour running mean,
  always labelled indoor and indicative (``DAQI_LABEL``).
- ``people_today``: people so far today against a usual day (same weekday, same time).
- ``weekly_summary``: plain-English sentences about the last seven days.
- ``freshness``: how old the newest reading is ("Updated 2 minutes ago").

Local days and hours are the hall's (``zone``, Europe/London unless the settings say
otherwise), summer time included; times are written on the 24-hour clock and weekdays in
English, whatever the machine's locale. Every comparison of instants is made on POSIX
timestamps, never on wall times, so the repeated hour when the clocks go back cannot
confuse it.

Rounding: a value is compared with a threshold after rounding it as it is shown, to a
whole number, halves up (``round_half_up``): 799.5 ppm shows as 800 and is "Fine", 11.5
µg/m³ shows as 12 and is DAQI 2. The threshold and the words then never disagree.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from edge.rollups import Rollup
from edge.status import ago
from sensors.vocabulary import metric

LONDON = ZoneInfo("Europe/London")
"""The default hall time zone (the settings' ``timezone`` default)."""

HOUR = timedelta(hours=1)
"""The length of an hourly rollup, the default ``bucket`` of the functions below."""

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
"""English weekday names by ``date.weekday()``, independent of the machine's locale."""

PEOPLE_METRICS = ("entries", "footfall")
"""The metrics counting people at the door; a rollup's total is ``mean * count``."""

NOT_ENOUGH_FOR_SUMMARY = "Not enough data yet for a summary of the week."


def round_half_up(value: float) -> int:
    """``value`` to the nearest whole number, halves rounded up (11.5 → 12, 799.5 → 800).

    Python's ``round`` rounds halves to even (``round(12.5) == 12``), which is not what a
    reader expects of a number printed on a page.
    """
    return math.floor(value + 0.5)


def _require_aware(moment: datetime, name: str = "now") -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (with a time zone), got {moment!r}")


def _require_positive(bucket: timedelta, weeks: int) -> None:
    if bucket <= timedelta(0):
        raise ValueError(f"bucket must be a positive length of time, got {bucket}")
    if weeks < 1:
        raise ValueError(f"compare with at least one earlier week, got {weeks}")


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def _list_words(items: Sequence[str], last: str = "and") -> str:
    """``a``, ``a and b``, ``a, b and c``; ``a, b, and c`` when an item holds an "and"."""
    if len(items) <= 1:
        return "".join(items)
    if any(" and " in item for item in items):
        return ", ".join(items[:-1]) + f", {last} " + items[-1]
    return ", ".join(items[:-1]) + f" {last} " + items[-1]


def _usable(rollup: Rollup) -> bool:
    return rollup.count > 0 and math.isfinite(rollup.mean)


def _total(rollup: Rollup) -> float:
    """What a count rollup adds up to: people (or events) in its interval."""
    return rollup.mean * rollup.count


# --- 1. Ventilation -----------------------------------------------------------------------

# Bands from UK guidance on CO2 as a sign of ventilation:
# - HSE, "Ventilation in the workplace: using CO2 monitors"
#   (https://www.hse.gov.uk/ventilation/using-co2-monitors.htm) and CIBSE's COVID-19
#   ventilation guidance it relies on: consistently below 800 ppm indicates a well
#   ventilated space; above 1500 ppm indicates poor ventilation that needs action.
# - DfE Building Bulletin 101 (2018), "Guidelines on ventilation, thermal comfort and
#   indoor air quality in schools": a daily average below 1000 ppm in occupied teaching
#   spaces, and no more than 1500 ppm for more than 20 consecutive minutes.
# - SAMHE (Schools' Air quality Monitoring for Health and Education) shows the same
#   800 / 1500 ppm thresholds on its monitors' traffic lights.
# So: below 800 fresh; 800 up to 1000 fine; 1000 up to and including 1500 getting stuffy;
# above 1500 stuffy. The value is rounded to whole ppm (halves up) before comparing.
CO2_FINE_FROM = 800
CO2_STUFFY_FROM = 1000
CO2_POOR_ABOVE = 1500

VentilationLevel = Literal["fresh", "fine", "stuffy", "very_stuffy", "unknown"]


@dataclass(frozen=True, slots=True)
class Ventilation:
    """Ventilation advice for one CO2 reading.

    ``level`` is a stable key for styling (``fresh``, ``fine``, ``stuffy``,
    ``very_stuffy``, or ``unknown`` with no usable reading); ``words`` the advice in a few
    words; ``explanation`` one sentence saying why; ``ppm`` the rounded reading or None.
    """

    level: VentilationLevel
    words: str
    explanation: str
    ppm: int | None


def ventilation_advice(co2_ppm: float | None) -> Ventilation:
    """Advice from a CO2 concentration in ppm (see the bands above).

    None, NaN, an infinity or a value outside the sensor's physical range (the ``co2``
    metric's range in ``sensors.vocabulary``) gives level ``unknown``.
    """
    co2 = metric("co2")
    if co2_ppm is None:
        return Ventilation(
            "unknown", "No reading", "There is no carbon dioxide reading to go by.", None
        )
    if not math.isfinite(co2_ppm) or not co2.low <= co2_ppm <= co2.high:
        return Ventilation(
            "unknown",
            "No reliable reading",
            "The carbon dioxide sensor's reading is missing or outside what it can measure.",
            None,
        )
    ppm = round_half_up(co2_ppm)
    if ppm < CO2_FINE_FROM:
        return Ventilation(
            "fresh",
            "Fresh",
            "Carbon dioxide is below 800 parts per million (ppm): the room is well ventilated.",
            ppm,
        )
    if ppm < CO2_STUFFY_FROM:
        return Ventilation(
            "fine",
            "Fine",
            "Carbon dioxide is between 800 and 1,000 ppm: ventilation is keeping up, "
            "but keep an eye on it if more people arrive.",
            ppm,
        )
    if ppm <= CO2_POOR_ABOVE:
        return Ventilation(
            "stuffy",
            "Getting stuffy: open a window",
            "Carbon dioxide is between 1,000 and 1,500 ppm: the air is getting stale, "
            "and opening a window will freshen it.",
            ppm,
        )
    return Ventilation(
        "very_stuffy",
        "Stuffy: open windows and doors",
        "Carbon dioxide is above 1,500 ppm: the room is poorly ventilated; "
        "open windows and doors, or take a break outside.",
        ppm,
    )


# --- 2. UK Daily Air Quality Index for PM2.5 ---------------------------------------------

# DEFRA, "Daily Air Quality Index" (https://uk-air.defra.gov.uk/air-pollution/daqi,
# "more info" view), from COMEAP's 2011 review of the UK air quality index: PM2.5 is
# banded on its 24-hour running mean, in µg/m³:
#   1: 0-11, 2: 12-23, 3: 24-35 (Low); 4: 36-41, 5: 42-47, 6: 48-53 (Moderate);
#   7: 54-58, 8: 59-64, 9: 65-70 (High); 10: 71 or more (Very High).
# The published bounds are whole numbers, so the mean is rounded to a whole µg/m³ (halves
# up) first: 11.49 → 11 → index 1, 11.5 → 12 → index 2.
DAQI_PM25_UPPER = (11, 23, 35, 41, 47, 53, 58, 64, 70)
"""The highest rounded 24-hour mean (µg/m³) of indices 1 to 9; 71 or more is index 10."""

DAQI_BANDS = ("Low", "Low", "Low", "Moderate", "Moderate", "Moderate", "High", "High", "High")
DAQI_TOP_BAND = "Very High"

DAQI_HOURS = 24
DAQI_HOURS_NEEDED = 18
"""Hours of the 24 that must hold PM2.5 readings for a mean: 75 %, the usual data-capture
rule for a daily mean (the one air-quality networks apply to 24-hour means)."""

DAQI_LABEL = (
    "Indoor and indicative: the Daily Air Quality Index is defined for outdoor air "
    "measured by official monitoring stations. This is the hall's own sensor, indoors, "
    "so treat it as a guide only."
)
"""The label the page shows beside every DAQI figure."""


@dataclass(frozen=True, slots=True)
class AirQualityIndex:
    """The DAQI for PM2.5 on the last 24 hours, or why there is none.

    ``index`` (1 to 10) and ``band`` ("Low", "Moderate", "High", "Very High") are None
    when fewer than ``hours_needed`` of the 24 hours have data; ``mean`` is the 24-hour
    running mean in µg/m³ (None with no data at all); ``words`` reads either way;
    ``label`` is ``DAQI_LABEL``.
    """

    index: int | None
    band: str | None
    mean: float | None
    hours_covered: int
    hours_needed: int
    words: str
    label: str = DAQI_LABEL


def daqi_index(mean: float) -> int:
    """The DAQI index (1-10) of a PM2.5 24-hour mean in µg/m³, rounded halves up first."""
    rounded = round_half_up(mean)
    for index, upper in enumerate(DAQI_PM25_UPPER, start=1):
        if rounded <= upper:
            return index
    return 10


def daqi_band(index: int) -> str:
    """The band name of a DAQI index: "Low" (1-3) to "Very High" (10)."""
    if not 1 <= index <= 10:
        raise ValueError(f"a DAQI index runs from 1 to 10, got {index}")
    return DAQI_BANDS[index - 1] if index < 10 else DAQI_TOP_BAND


def daqi_window(now: datetime) -> tuple[datetime, datetime]:
    """The span [start, end) of rollups ``pm25_daqi`` reads: the 24 whole hours before now."""
    _require_aware(now)
    end_s = math.floor(now.timestamp()) // 3600 * 3600
    end = datetime.fromtimestamp(end_s, UTC)
    return end - DAQI_HOURS * HOUR, end


def pm25_daqi(rollups: Iterable[Rollup], now: datetime) -> AirQualityIndex:
    """The DAQI for PM2.5 on its 24-hour running mean, from minute or hourly rollups.

    Rules:
    - The 24 hours are the 24 whole clock hours before the hour ``now`` is in (at 10:05
      that is 10:00 yesterday to 10:00 today), as a running mean of hourly means is made.
    - Only ``pm2_5`` rollups count; others are ignored. Within an hour, the rollups (any
      resolution, any number of PM2.5 sensors) are combined weighted by their counts.
    - The running mean is the mean of the hourly means.
    - It needs readings in at least 18 of the 24 hours; otherwise ``index`` is None and
      ``words`` say "Not enough data …".
    - The band follows ``daqi_index``: the mean rounded to a whole µg/m³, halves up.
    """
    start, end = daqi_window(now)
    start_s, end_s = start.timestamp(), end.timestamp()
    hours: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for rollup in rollups:
        if rollup.metric != "pm2_5" or not _usable(rollup):
            continue
        at = rollup.start.timestamp()
        if start_s <= at < end_s:
            acc = hours[math.floor(at) // 3600]
            acc[0] += _total(rollup)
            acc[1] += rollup.count
    covered = len(hours)
    mean = statistics.fmean(total / count for total, count in hours.values()) if hours else None
    if mean is None or covered < DAQI_HOURS_NEEDED:
        return AirQualityIndex(
            None,
            None,
            mean,
            covered,
            DAQI_HOURS_NEEDED,
            f"Not enough data: PM2.5 readings for {covered} of the last {DAQI_HOURS} hours "
            f"({DAQI_HOURS_NEEDED} needed)",
        )
    index = daqi_index(mean)
    band = daqi_band(index)
    return AirQualityIndex(
        index, band, mean, covered, DAQI_HOURS_NEEDED, f"{band} (index {index} out of 10)"
    )


# --- 3. People today against a usual day --------------------------------------------------

PeopleLevel = Literal["busier", "usual", "quieter", "no_usual", "no_data"]

USUAL_MARGIN_PEOPLE = 5
USUAL_MARGIN_SHARE = 0.25
"""Today is "About usual" while it is within the larger of 5 people and 25 % of usual."""


@dataclass(frozen=True, slots=True)
class PeopleToday:
    """People so far today and how that compares with a usual day.

    ``today`` is the count so far (rounded); ``usual`` the median count by this time of
    day on the same weekday of the previous weeks (None without any); ``weeks_compared``
    how many such days there were; ``metric`` which count was used (``entries`` where a
    door sensor tells entries from exits, else ``footfall``; None with no counts);
    ``level`` a stable key; ``words`` the comparison ("Busier than usual"); ``detail``
    one sentence with the numbers.
    """

    today: int
    usual: float | None
    weeks_compared: int
    metric: str | None
    level: PeopleLevel
    words: str
    detail: str


def _people_rollups(rollups: Iterable[Rollup]) -> list[Rollup]:
    """Each sensor's ``entries`` if it reports them, else its ``footfall``.

    A two-beam door sensor reports both (its footfall is its entries), so counting both
    would count every visitor twice; a one-beam sensor reports footfall only.
    """
    rows = [r for r in rollups if r.metric in PEOPLE_METRICS and _usable(r)]
    with_entries = {r.sensor_id for r in rows if r.metric == "entries"}
    return [r for r in rows if (r.metric == "entries") == (r.sensor_id in with_entries)]


def _people(count: int) -> str:
    return "1 person" if count == 1 else f"{count:,} people"


def people_window(now: datetime, zone: ZoneInfo, *, weeks: int = 4) -> tuple[datetime, datetime]:
    """The span [start, end) of rollups ``people_today`` reads: ``weeks`` weeks and today."""
    _require_aware(now)
    today = now.astimezone(zone).date()
    return _midnight(today - timedelta(weeks=weeks), zone), _midnight(
        today + timedelta(days=1), zone
    )


def people_today(
    rollups: Iterable[Rollup],
    now: datetime,
    zone: ZoneInfo,
    *,
    weeks: int = 4,
    bucket: timedelta = HOUR,
) -> PeopleToday:
    """People so far today against the usual count by this time on this weekday.

    Rules:
    - People are each door sensor's ``entries``, or its ``footfall`` if it has no entries
      (``_people_rollups``), summed over sensors; a rollup holds ``mean * count`` people.
    - Today is the hall's local day: rollups starting from local midnight up to ``now``
      (the current, unfinished rollup included).
    - "By this time" is the same local clock time on each earlier day, so a day when the
      clocks change compares 10:30 with 10:30 although it is an hour shorter or longer. On
      the earlier days the rollup holding that time counts in proportion to how much of it
      (``bucket`` long, an hour by default) had passed: by 10:30, half of 10:00-11:00.
    - Usual is the median over the same weekday in each of the previous ``weeks`` weeks,
      counting only those days that have people counts before that time.
    - "Busier than usual" / "Quieter than usual" when today differs from usual by more
      than the larger of 5 people and 25 % of usual; otherwise "About usual".
    - No such earlier day: "No usual day yet (less than a week of data)" when the oldest
      count is less than a week old, else "No usual day yet (no counts from the last 4
      Mondays)".
    """
    _require_aware(now)
    _require_positive(bucket, weeks)
    people = _people_rollups(rollups)
    if not people:
        return PeopleToday(
            0, None, 0, None, "no_data", "No door counts", "There are no door counts to go by."
        )
    chosen = "entries" if any(r.metric == "entries" for r in people) else "footfall"
    starts = [r.start.timestamp() for r in people]
    local_now = now.astimezone(zone)
    day = local_now.date()
    weekday = WEEKDAYS[day.weekday()]
    now_s = now.timestamp()
    midnight_s = _midnight(day, zone).timestamp()
    so_far = sum(
        _total(r) for r, at in zip(people, starts, strict=True) if midnight_s <= at < now_s
    )
    today = round_half_up(so_far)

    bucket_s = bucket.total_seconds()
    days: list[float] = []
    for k in range(1, weeks + 1):
        earlier = day - timedelta(weeks=k)
        begin_s = _midnight(earlier, zone).timestamp()
        cutoff_s = datetime.combine(earlier, local_now.time(), tzinfo=zone).timestamp()
        found = False
        total = 0.0
        for rollup, at in zip(people, starts, strict=True):
            if begin_s <= at < cutoff_s:
                found = True
                total += _total(rollup) * min(1.0, (cutoff_s - at) / bucket_s)
        if found:
            days.append(total)

    if not days:
        week_ago_s = _midnight(day - timedelta(weeks=1), zone).timestamp()
        reason = (
            "less than a week of data"
            if min(starts) >= week_ago_s
            else f"no counts from the last {weeks} {weekday}s"
        )
        return PeopleToday(
            today,
            None,
            0,
            chosen,
            "no_usual",
            f"No usual day yet ({reason})",
            f"{_people(today)} so far today.",
        )

    usual = statistics.median(days)
    margin = max(USUAL_MARGIN_PEOPLE, USUAL_MARGIN_SHARE * usual)
    level: PeopleLevel
    if today - usual > margin:
        level, words = "busier", "Busier than usual"
    elif usual - today > margin:
        level, words = "quieter", "Quieter than usual"
    else:
        level, words = "usual", "About usual"
    detail = (
        f"{_people(today)} so far today; a usual {weekday} has "
        f"{round_half_up(usual):,} by this time."
    )
    return PeopleToday(today, usual, len(days), chosen, level, words, detail)


# --- 4. The week in sentences -------------------------------------------------------------

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
    _require_aware(now)
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
        _midnight(first - timedelta(weeks=previous_weeks), zone),
        _midnight(last + timedelta(days=1), zone),
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
                phrases.append(f"on {weekday} {_list_words(parts)}")
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
    _require_aware(now)
    _require_positive(bucket, previous_weeks)
    rows = [r for r in rollups if _usable(r)]
    first_day, last_day = summary_week(now, zone)
    week = [first_day + timedelta(days=i) for i in range(7)]
    earlier_start = first_day - timedelta(weeks=previous_weeks)
    earlier = [earlier_start + timedelta(days=i) for i in range(7 * previous_weeks)]
    week_start_s = _midnight(first_day, zone).timestamp()
    week_end_s = _midnight(last_day + timedelta(days=1), zone).timestamp()
    earlier_start_s = _midnight(earlier_start, zone).timestamp()

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
    people_ids = {id(r) for r in _people_rollups(r for r, _d, _h in in_week)}
    people: dict[tuple[date, int], float] = defaultdict(float)
    counted_days: dict[date, float] = defaultdict(float)
    for rollup, day, hour in in_week:
        if id(rollup) in people_ids:
            people[(day, hour)] += _total(rollup)
            counted_days[day] += _total(rollup)
    if counted_days:
        busiest = _busiest(people, week)
        empty = [d for d in week if d in counted_days and round_half_up(counted_days[d]) == 0]
        if busiest is None:
            notable.append("No one came in all week.")
        else:
            notable.append(busiest)
            if empty:
                names = [WEEKDAYS[d.weekday()] for d in empty]
                notable.append(f"No one came in on {_list_words(names, 'or')}.")

    sums: dict[tuple[date, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    hours: dict[tuple[date, str], set[int]] = defaultdict(set)
    for rollup, day, hour, _this in located:
        part = _part_of(hour)
        if rollup.metric == "temperature" and part is not None:
            sums[(day, part)][0] += _total(rollup)
            sums[(day, part)][1] += rollup.count
            hours[(day, part)].add(hour)
    means = {
        key: total / count
        for key, (total, count) in sums.items()
        if len(hours[key]) >= PART_HOURS_NEEDED
    }
    colder, warmer = _temperature_phrases(means, week, earlier)
    if colder:
        notable.append(f"It was colder than usual {_list_words(colder)}.")
    if warmer:
        notable.append(f"It was warmer than usual {_list_words(warmer)}.")

    stuffy_buckets: dict[date, set[float]] = defaultdict(set)
    for rollup, day, _hour in in_week:
        if rollup.metric == "co2" and rollup.mean > CO2_POOR_ABOVE:
            stuffy_buckets[day].add(rollup.start.timestamp())
    stuffy = [d for d in week if len(stuffy_buckets[d]) * bucket > STUFFY_LONGER_THAN]
    if stuffy:
        names = [WEEKDAYS[d.weekday()] for d in stuffy]
        notable.append(
            "The air was stuffy (carbon dioxide above 1,500 ppm) for more than an hour "
            f"on {_list_words(names)}."
        )

    sentences.extend(notable or ["Nothing stood out in the week's readings."])

    with_data = {d for _r, d, _h in in_week}
    missing = [d for d in week if d >= began and d not in with_data]
    if missing:
        names = [WEEKDAYS[d.weekday()] for d in missing]
        sentences.append(
            f"There are no readings for {_list_words(names)}; the sensors may have been off."
        )
    return sentences


# --- 5. Freshness -------------------------------------------------------------------------

FreshnessLevel = Literal["fresh", "late", "stale", "none", "future"]

FUTURE_TOLERANCE = timedelta(minutes=1)
"""A newest reading this far ahead of ``now`` is clock jitter between processes, not a
wrong clock."""


@dataclass(frozen=True, slots=True)
class Freshness:
    """How fresh the data is: a stable ``level`` key and ``words`` for the page."""

    level: FreshnessLevel
    words: str


def freshness(
    latest: datetime | None,
    now: datetime,
    *,
    late_after: timedelta = timedelta(minutes=15),
    stale_after: timedelta = HOUR,
) -> Freshness:
    """How long ago the newest reading (``latest``, None if there is none) was taken.

    Under 5 seconds: "Updated just now"; under ``late_after``: "Updated 2 minutes ago";
    under ``stale_after``: "Updated 20 minutes ago; new readings are overdue"; from then
    on: "No new readings for 3 hours — the sensors may be off". More than a minute in the
    future: the node's clock is not right yet. Durations are ``edge.status.ago``'s words.
    """
    _require_aware(now)
    if latest is None:
        return Freshness("none", "No readings yet")
    _require_aware(latest, "latest")
    age = timedelta(seconds=now.timestamp() - latest.timestamp())
    if age < -FUTURE_TOLERANCE:
        return Freshness(
            "future", "The newest reading is dated in the future — the clock may not be set yet"
        )
    if age < timedelta(seconds=5):
        return Freshness("fresh", "Updated just now")
    when = ago(latest.astimezone(UTC), now.astimezone(UTC))
    if age < late_after:
        return Freshness("fresh", f"Updated {when}")
    if age < stale_after:
        return Freshness("late", f"Updated {when}; new readings are overdue")
    return Freshness(
        "stale", f"No new readings for {when.removesuffix(' ago')} — the sensors may be off"
    )
