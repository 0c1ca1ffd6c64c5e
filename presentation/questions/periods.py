"""Times as people say them, turned into spans of the hall's local clock.

"yesterday evening", "last Tuesday", "this week", "last month", "over the summer",
"3rd March", "03/03/2026" (always day/month/year, the British way): each becomes a
:class:`Period` (local midnight to local midnight, or up to now) and perhaps a
:class:`DayPart`. Times are resolved against ``now`` in the hall's time zone; a time that
is still to come, or a date that does not exist, is a problem the parser declines on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from presentation.chart_time import local_midnight
from presentation.insight_basics import MONTH_NAMES
from presentation.insight_basics import WEEKDAYS as WEEKDAY_NAMES
from presentation.questions.lexicon import MONTHS, WEEKDAY_PLURALS, WEEKDAYS

SEASONS = {"spring": 3, "summer": 6, "autumn": 9, "fall": 9, "winter": 12}
"""Meteorological seasons by their first month: three months each, winter across new year."""


@dataclass(frozen=True, slots=True)
class DayPart:
    """A part of each day, in local hours; ``end_h`` past 24 runs into the next morning."""

    name: str
    start_h: int
    end_h: int

    @property
    def words(self) -> str:
        """The part in words: "in the evening (17:00 to 22:00)"."""
        return f"in the {self.name} ({self.start_h:02d}:00 to {self.end_h % 24:02d}:00)"


DAY_PARTS = {
    "morning": DayPart("morning", 6, 12),
    "lunchtime": DayPart("lunchtime", 12, 14),
    "afternoon": DayPart("afternoon", 12, 17),
    "evening": DayPart("evening", 17, 22),
    "night": DayPart("night", 22, 30),
}
_PART_WORDS = {
    "morning": "morning",
    "mornings": "morning",
    "lunchtime": "lunchtime",
    "lunch": "lunchtime",
    "afternoon": "afternoon",
    "afternoons": "afternoon",
    "evening": "evening",
    "evenings": "evening",
    "night": "night",
    "nights": "night",
    "overnight": "night",
}


@dataclass(frozen=True, slots=True)
class Period:
    """A span of local days: ``start`` (a local midnight) up to ``end`` (exclusive, or now)."""

    start: datetime
    end: datetime
    words: str

    @property
    def one_day(self) -> bool:
        """Whether the period is a single local day (or the part of today so far)."""
        return (self.end - self.start) <= timedelta(hours=25)


@dataclass
class TimeFound:
    """What a question said about time: its periods in order, a day part, what it used."""

    periods: list[Period] = field(default_factory=list)
    part: DayPart | None = None
    used: set[int] = field(default_factory=set)
    problem: str | None = None
    weekday: int | None = None


def day_words(day: date, today: date) -> str:
    """The day in words, "Tuesday 24 November", with its year when not this year's."""
    text = f"{WEEKDAY_NAMES[day.weekday()]} {day.day} {MONTH_NAMES[day.month - 1]}"
    return text if day.year == today.year else f"{text} {day.year}"


def _days(first: date, last: date, zone: ZoneInfo, now: datetime, words: str) -> Period:
    """The local days ``first`` to ``last`` inclusive, cut at now."""
    end = min(local_midnight(last + timedelta(days=1), zone), now.astimezone(zone))
    return Period(local_midnight(first, zone), end, words)


def _month_span(year: int, month: int, months: int = 1) -> tuple[date, date]:
    index = year * 12 + month - 1 + months
    return date(year, month, 1), date(index // 12, index % 12 + 1, 1) - timedelta(days=1)


def _season(name: str, which: str, today: date) -> tuple[date, date, str]:
    """The season ``which`` ("this", "last" or bare) holding or before ``today``."""
    first_month = SEASONS[name]
    year = today.year if today.month >= first_month else today.year - 1
    if name == "winter" and today.month < 3:
        year = today.year - 1
    start, end = _month_span(year, first_month, 3)
    if which == "last" and today <= end:
        start, end = _month_span(year - 1, first_month, 3)
    span = f"{MONTH_NAMES[start.month - 1]} to {MONTH_NAMES[end.month - 1]} {end.year}"
    if start.year != end.year:
        first = f"{MONTH_NAMES[start.month - 1]} {start.year}"
        span = f"{first} to {MONTH_NAMES[end.month - 1]} {end.year}"
    label = {"this": "this", "last": "last"}.get(which, "over the")
    return start, end, f"{label} {'autumn' if name == 'fall' else name} ({span})"


def _weekday(number: int, which: str, today: date, part: DayPart | None, now: datetime) -> date:
    """The most recent such weekday that has begun (with its part); "last" skips today."""
    back = (today.weekday() - number) % 7
    day = today - timedelta(days=back)
    if which == "this":
        return day
    started_h = part.start_h if part else 0
    local_now = now.hour + now.minute / 60
    if back == 0 and (which == "last" or local_now < started_h):
        day -= timedelta(days=7)
    return day


_ORDINAL = re.compile(r"^(\d{1,2})(st|nd|rd|th)?$")
_YEAR = re.compile(r"^(19|20)\d\d$")
_SLASHED = re.compile(r"^(\d{1,2})/(\d{1,2})(?:/(\d{2,4}))?$")


def _make_date(year: int | None, month: int, day: int, today: date) -> date | None:
    """The date, or its most recent occurrence up to today when no year is given."""
    try:
        if year is not None:
            return date(year, month, day)
        found = date(today.year, month, day)
    except ValueError:
        return None
    return found if found <= today else _make_date(today.year - 1, month, day, today)


def _day_number(token: str) -> int | None:
    match = _ORDINAL.match(token)
    return int(match.group(1)) if match else None


def find_time(words: list[str], now: datetime, zone: ZoneInfo) -> TimeFound:
    """The periods and day part in ``words`` (already corrected), resolved against ``now``."""
    found = TimeFound()
    local_now = now.astimezone(zone)
    today = local_now.date()
    for i, word in enumerate(words):
        if word in _PART_WORDS and i not in found.used:
            part = DAY_PARTS[_PART_WORDS[word]]
            if found.part is not None and found.part != part:
                found.problem = "two parts of the day"
            found.part = part
            found.used.add(i)
        elif word in WEEKDAY_PLURALS:
            found.problem = "every week"
    i = 0
    while i < len(words):
        word = words[i]
        before = words[i - 1] if i else ""
        which = before if before in ("this", "last", "previous", "past") else ""
        which = "last" if which == "previous" else which
        period: Period | None = None
        span = 1
        if word == "today":
            period = _days(today, today, zone, now, "today")
        elif word == "yesterday":
            period = _days(
                today - timedelta(days=1), today - timedelta(days=1), zone, now, "yesterday"
            )
        elif word == "tonight":
            period = _days(today, today, zone, now, "today")
            found.part = DAY_PARTS["evening"]
        elif word in ("morning", "afternoon", "evening", "night") and which:
            day = today if which == "this" or (which == "last" and word == "night") else None
            if word == "night" and which == "last":
                day = today - timedelta(days=1)
            if day is not None:
                period = _days(
                    day, day, zone, now, "last night" if day != today else f"this {word}"
                )
        elif word in ("week", "fortnight") and which:
            monday = today - timedelta(days=today.weekday())
            if which == "this" and word == "week":
                period = _days(monday, today, zone, now, "this week")
            elif which == "last" and word == "week":
                period = _days(monday - timedelta(7), monday - timedelta(1), zone, now, "last week")
            else:
                length = 7 if word == "week" else 14
                since = local_midnight(today, zone) - timedelta(days=length)
                period = Period(since, local_now, f"over the last {length} days")
        elif word == "weekend" and which in ("this", "last", ""):
            saturday = today - timedelta(days=(today.weekday() - 5) % 7)
            if which == "last" and today.weekday() >= 5:
                saturday -= timedelta(days=7)
            period = _days(saturday, saturday + timedelta(1), zone, now, "over the weekend")
        elif word in ("month", "year") and which:
            first = date(today.year, today.month if word == "month" else 1, 1)
            if which == "this":
                period = _days(first, today, zone, now, f"this {word}")
            elif which == "last":
                if word == "month":
                    start, last = _month_span(
                        *(
                            (first.year, first.month - 1)
                            if first.month > 1
                            else (first.year - 1, 12)
                        )
                    )
                    period = _days(
                        start,
                        last,
                        zone,
                        now,
                        f"last month ({MONTH_NAMES[start.month - 1]} {start.year})",
                    )
                else:
                    period = _days(
                        date(today.year - 1, 1, 1),
                        date(today.year - 1, 12, 31),
                        zone,
                        now,
                        f"last year ({today.year - 1})",
                    )
            else:
                length = 30 if word == "month" else 365
                since = local_midnight(today, zone) - timedelta(days=length)
                period = Period(since, local_now, f"over the last {length} days")
        elif (
            word in ("days", "weeks", "months")
            and i >= 2
            and words[i - 1].isdigit()
            and words[i - 2] in ("last", "past", "previous")
        ):
            count = int(words[i - 1])
            length = count * {"days": 1, "weeks": 7, "months": 30}[word]
            if not 1 <= length <= 366:
                found.problem = "too long a span"
            else:
                since = local_midnight(today, zone) - timedelta(days=length)
                period = Period(since, local_now, f"over the last {count} {word}")
                found.used.add(i - 1)
        elif word in SEASONS:
            start, last, text = _season(word, which, today)
            period = _days(start, last, zone, now, text)
        elif word in WEEKDAYS:
            day = _weekday(WEEKDAYS[word], which, today, found.part, local_now)
            if day > today:
                found.problem = "a day still to come"
            period = _days(day, day, zone, now, f"on {day_words(day, today)}")
            # A date may follow: "Tuesday 3rd March" names the date, the weekday only repeats it.
            if i + 1 < len(words) and (_day_number(words[i + 1]) or _SLASHED.match(words[i + 1])):
                period = None
                found.used.add(i)
                found.weekday = WEEKDAYS[word]
        elif word in MONTHS and (
            word != "may" or before in ("in", "of", "last", "this") or _day_number(before)
        ):
            month = MONTHS[word]
            day_no = _day_number(before) if before else None
            after = words[i + 1] if i + 1 < len(words) else ""
            year = int(after) if _YEAR.match(after) else None
            if day_no is None and before == "of" and i >= 2:
                day_no = _day_number(words[i - 2])
                if day_no is not None:
                    found.used.update({i - 1, i - 2})
            elif day_no is not None:
                found.used.add(i - 1)
            if day_no is None and after and not year and _day_number(after):
                day_no = _day_number(after)
                span = 2
                year_after = words[i + 2] if i + 2 < len(words) else ""
                if _YEAR.match(year_after):
                    year, span = int(year_after), 3
            elif year is not None:
                span = 2
            if day_no is not None:
                day = _make_date(year, month, day_no, today)
                if day is None:
                    found.problem = "no such date"
                else:
                    period = _days(day, day, zone, now, f"on {day_words(day, today)}")
            else:
                if year is None:
                    year = today.year if month <= today.month else today.year - 1
                    if which == "last" and month == today.month:
                        year -= 1
                start, last = _month_span(year, month)
                period = _days(start, last, zone, now, f"in {MONTH_NAMES[month - 1]} {year}")
        elif _SLASHED.match(word):
            match = _SLASHED.match(word)
            assert match is not None  # noqa: S101 - matched just above
            year_text = match.group(3)
            year = (
                None if year_text is None else int(year_text) + (2000 if len(year_text) == 2 else 0)
            )
            day = _make_date(year, int(match.group(2)), int(match.group(1)), today)
            if day is None or (year_text is not None and len(year_text) == 3):
                found.problem = "no such date"
            else:
                period = _days(day, day, zone, now, f"on {day_words(day, today)}")
        if period is not None:
            if (
                found.weekday is not None
                and found.weekday != period.start.weekday()
                and period.one_day
            ):
                found.problem = "that date is not that day of the week"
            if period.start > local_now:
                found.problem = "a time still to come"
            found.periods.append(period)
            found.used.update(range(i, i + span))
            if which:
                found.used.add(i - 1)
        i += span
    return found


def windows(period: Period, part: DayPart | None, now: datetime) -> list[tuple[datetime, datetime]]:
    """The spans of time to look at: the period, or its days' part, each cut at now."""
    zone = period.start.tzinfo
    assert isinstance(zone, ZoneInfo)  # noqa: S101 - periods are made with a ZoneInfo
    if part is None:
        return [(period.start, min(period.end, now))]
    out = []
    day = period.start.date()
    last = (period.end - timedelta(microseconds=1)).astimezone(zone).date()
    while day <= last:
        midnight = local_midnight(day, zone)
        start = midnight + timedelta(hours=part.start_h)
        end = local_midnight(day + timedelta(days=part.end_h // 24), zone) + timedelta(
            hours=part.end_h % 24
        )
        if start < now:
            out.append((start, min(end, now)))
        day += timedelta(days=1)
    return out
