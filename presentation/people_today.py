"""People so far today against a usual day (same weekday, same time)."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from presentation.chart_time import local_midnight
from presentation.insight_basics import (
    HOUR,
    PEOPLE_METRICS,
    WEEKDAYS,
    require_aware,
    require_positive,
    round_half_up,
    total_of,
    usable,
)
from presentation.rollup import Rollup

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


def people_rollups(rollups: Iterable[Rollup]) -> list[Rollup]:
    """Each sensor's ``entries`` if it reports them, else its ``footfall``.

    A two-beam door sensor reports both (its footfall is its entries), so counting both
    would count every visitor twice; a one-beam sensor reports footfall only.
    """
    rows = [r for r in rollups if r.metric in PEOPLE_METRICS and usable(r)]
    with_entries = {r.sensor_id for r in rows if r.metric == "entries"}
    return [r for r in rows if (r.metric == "entries") == (r.sensor_id in with_entries)]


def _people(count: int) -> str:
    return "1 person" if count == 1 else f"{count:,} people"


def people_window(now: datetime, zone: ZoneInfo, *, weeks: int = 4) -> tuple[datetime, datetime]:
    """The span [start, end) of rollups ``people_today`` reads: ``weeks`` weeks and today."""
    require_aware(now)
    today = now.astimezone(zone).date()
    return local_midnight(today - timedelta(weeks=weeks), zone), local_midnight(
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
      (``people_rollups``), summed over sensors; a rollup holds ``mean * count`` people.
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
    require_aware(now)
    require_positive(bucket, weeks)
    people = people_rollups(rollups)
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
    midnight_s = local_midnight(day, zone).timestamp()
    so_far = sum(
        total_of(r) for r, at in zip(people, starts, strict=True) if midnight_s <= at < now_s
    )
    today = round_half_up(so_far)

    bucket_s = bucket.total_seconds()
    days: list[float] = []
    for k in range(1, weeks + 1):
        earlier = day - timedelta(weeks=k)
        begin_s = local_midnight(earlier, zone).timestamp()
        cutoff_s = datetime.combine(earlier, local_now.time(), tzinfo=zone).timestamp()
        found = False
        total = 0.0
        for rollup, at in zip(people, starts, strict=True):
            if begin_s <= at < cutoff_s:
                found = True
                total += total_of(rollup) * min(1.0, (cutoff_s - at) / bucket_s)
        if found:
            days.append(total)

    if not days:
        week_ago_s = local_midnight(day - timedelta(weeks=1), zone).timestamp()
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
