"""A calendar month of the hall's: parsed from "2026-11", its span in UTC, its local hours."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from presentation.chart_time import local_midnight
from presentation.insight_basics import MONTH_NAMES

_MONTH = re.compile(r"(\d{4})-(\d{2})")


class BadMonth(ValueError):
    """Text that is not a month in the form YYYY-MM; the message says what was wrong."""


@dataclass(frozen=True, slots=True, order=True)
class ReportMonth:
    """One calendar month of the hall's local calendar."""

    year: int
    month: int

    @property
    def key(self) -> str:
        """The month as ``YYYY-MM`` ("2026-11"), as the command and the page's links write it."""
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def label(self) -> str:
        """The month in words: "November 2026"."""
        return f"{MONTH_NAMES[self.month - 1]} {self.year}"

    @property
    def first_day(self) -> date:
        """Its first local day."""
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        """Its last local day."""
        return self.next().first_day - timedelta(days=1)

    def next(self) -> ReportMonth:
        """The month after."""
        return ReportMonth(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> ReportMonth:
        """The month before."""
        return ReportMonth(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def year_before(self) -> ReportMonth:
        """The same month a year earlier."""
        return ReportMonth(self.year - 1, self.month)

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """Its span [start, end): local midnight of its first day to that of the next month's."""
        return local_midnight(self.first_day, zone), local_midnight(self.next().first_day, zone)

    def hours(self, zone: ZoneInfo) -> list[int]:
        """The POSIX second of each hour's start in the month (743 or 745 when clocks change)."""
        start, end = self.bounds(zone)
        first = int(start.timestamp())
        return list(range(first, int(end.timestamp()), 3600))

    def days(self) -> list[date]:
        """Every local day of the month."""
        return [self.first_day + timedelta(days=i) for i in range(self.last_day.day)]


def parse_month(text: str) -> ReportMonth:
    """``YYYY-MM`` as a :class:`ReportMonth`.

    Raises:
        BadMonth: not in that form ("'Nov' is not a month: write it as YYYY-MM, e.g.
            2026-11"), or a month number outside 01 to 12.
    """
    found = _MONTH.fullmatch(text.strip())
    if found is None:
        raise BadMonth(f"{text!r} is not a month: write it as YYYY-MM, e.g. 2026-11")
    year, month = int(found[1]), int(found[2])
    if not 1 <= month <= 12:
        raise BadMonth(f"{text!r} is not a month: the month must be 01 to 12")
    if year < 1970:
        raise BadMonth(f"{text!r} is before any reading could have been taken (1970)")
    return ReportMonth(year, month)


def month_of(moment: datetime, zone: ZoneInfo) -> ReportMonth:
    """The hall's month that ``moment`` (aware) falls in."""
    local = moment.astimezone(zone)
    return ReportMonth(local.year, local.month)


def last_complete_month(now: datetime, zone: ZoneInfo) -> ReportMonth:
    """The latest month that has ended in the hall's time zone at ``now``."""
    return month_of(now, zone).previous()


class NoReport(ValueError):
    """No report can be made for the month asked for; the message says why, in one line."""


def no_readings(month: ReportMonth, first: str | None, none_yet: str) -> NoReport:
    """The refusal of a month without readings, naming the first month with some.

    ``none_yet`` says there are none at all ("the node has no readings yet"):
    "there are no readings for 2026-08: the first month with readings is 2026-10".
    """
    where = f"the first month with readings is {first}" if first is not None else none_yet
    return NoReport(f"there are no readings for {month.key}: {where}")


def not_ended(month: ReportMonth, now: datetime, zone: ZoneInfo) -> str | None:
    """Why ``month`` cannot be reported yet (it has not ended in ``zone``), or None."""
    current = month_of(now, zone)
    if month > current:
        return f"{month.key} is in the future: the last complete month is {current.previous().key}"
    if month == current:
        return f"{month.key} is not over yet: the last complete month is {current.previous().key}"
    return None


def hour_start(hour_s: int, zone: ZoneInfo) -> datetime:
    """The local start of the hour beginning at POSIX second ``hour_s``."""
    return datetime.fromtimestamp(hour_s, UTC).astimezone(zone)
