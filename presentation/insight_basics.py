"""What the insights share: the hall's default zone, weekdays, rounding and checks.

The insights (ventilation, air_quality, people_today, weekly_summary, freshness) are
pure functions over rollups (``presentation.rollup.Rollup``) and aware datetimes, with no
Flask, no store and no clock of their own: the page queries the store (the ``*_window`` helpers
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
from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from presentation.rollup import Rollup

LONDON = ZoneInfo("Europe/London")
"""The default hall time zone (the settings' ``timezone`` default)."""

HOUR = timedelta(hours=1)
"""The length of an hourly rollup, the default ``bucket`` of the functions below."""

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
"""English weekday names by ``date.weekday()``, independent of the machine's locale."""

MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
"""English month names, January first, independent of the machine's locale."""

PEOPLE_METRICS = ("entries", "footfall")
"""The metrics counting people at the door; a rollup's total is ``mean * count``."""

NOT_ENOUGH_FOR_SUMMARY = "Not enough data yet for a summary of the week."


def round_half_up(value: float) -> int:
    """``value`` to the nearest whole number, halves rounded up (11.5 → 12, 799.5 → 800).

    Python's ``round`` rounds halves to even (``round(12.5) == 12``), which is not what a
    reader expects of a number printed on a page.
    """
    return math.floor(value + 0.5)


def require_aware(moment: datetime, name: str = "now") -> None:
    """ValueError unless ``moment`` is aware."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (with a time zone), got {moment!r}")


def require_positive(bucket: timedelta, weeks: int) -> None:
    """ValueError unless the bucket is positive and at least one week is compared."""
    if bucket <= timedelta(0):
        raise ValueError(f"bucket must be a positive length of time, got {bucket}")
    if weeks < 1:
        raise ValueError(f"compare with at least one earlier week, got {weeks}")


def list_words(items: Sequence[str], last: str = "and") -> str:
    """``a``, ``a and b``, ``a, b and c``; ``a, b, and c`` when an item holds an "and"."""
    if len(items) <= 1:
        return "".join(items)
    if any(" and " in item for item in items):
        return ", ".join(items[:-1]) + f", {last} " + items[-1]
    return ", ".join(items[:-1]) + f" {last} " + items[-1]


def usable(rollup: Rollup) -> bool:
    """Whether a rollup holds a finite mean of at least one reading."""
    return rollup.count > 0 and math.isfinite(rollup.mean)


def total_of(rollup: Rollup) -> float:
    """What a count rollup adds up to: people (or events) in its interval."""
    return rollup.mean * rollup.count
