"""Query parameters of the page and the API, checked with messages a parish clerk understands.

Every error is a ``werkzeug.exceptions.BadRequest`` whose description names the
parameter and the value it was given (cut to 40 characters), says what was wrong and
what to write instead, e.g. ``from: '2026-13-01' is not a date (use YYYY-MM-DD)``. The
app turns it into a 400 page, or a JSON error body under ``/api/``.

Dates and times:

- ``YYYY-MM-DD`` is a day on the hall's own clock (its time zone, summer time included).
  ``from=2026-11-03`` starts at the hall's midnight that begins the day; ``to`` is
  inclusive: ``to=2026-11-03`` runs to the end of that local day.
- ``YYYY-MM-DDTHH:MM:SS[.ffffff]`` followed by ``Z`` or ``+HH:MM``/``-HH:MM`` (RFC 3339,
  the ``date-time`` of OpenAPI) is an instant; as ``to`` it is exclusive. A time without
  an offset is refused, because the same clock time happens twice on the night summer
  time ends and nobody could tell which was meant.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from werkzeug.exceptions import BadRequest

__all__ = [
    "parse_choice",
    "parse_instant",
    "parse_metric",
    "parse_range",
    "reject_unknown",
    "shown",
]

SHOWN_CHARS = 40
"""How much of a bad value an error message repeats."""

_DATE = re.compile(r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})")
_DATE_TIME = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})[Tt]"
    r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})(?P<fraction>\.[0-9]+)?"
    r"(?P<offset>[Zz]|[+-][0-9]{2}:[0-9]{2})?"
)

_EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
_LATEST = datetime(9999, 12, 30, tzinfo=UTC)
"""A range is checked as asked for, then held between these instants: no reading lies
beyond them, and a day's margin keeps every conversion to a local time zone within the
years a datetime can hold."""

_HOW_DATE = "use YYYY-MM-DD"
_HOW_TIME = "use YYYY-MM-DD, or a date and time with its offset such as 2026-11-03T14:00:00+00:00"


def shown(value: str) -> str:
    """``value`` quoted for an error message: at most 40 characters, control characters as '?'."""
    cut = value[:SHOWN_CHARS]
    clean = "".join(ch if ch.isprintable() else "?" for ch in cut)
    return f"'{clean}…'" if len(value) > SHOWN_CHARS else f"'{clean}'"


def _bad(message: str) -> BadRequest:
    return BadRequest(description=message)


def _clamp(moment: datetime) -> datetime:
    """``moment`` in UTC, held between the earliest and latest instants the page handles."""
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        # Only a moment at the very edge of datetime's years, shifted by its offset.
        return _EARLIEST if moment.year < 5000 else _LATEST
    return min(max(utc, _EARLIEST), _LATEST)


def _days_before(moment: datetime, days: int) -> datetime:
    try:
        return moment - timedelta(days=days)
    except OverflowError:
        return datetime.min.replace(tzinfo=UTC)


def parse_instant(name: str, raw: str, zone: ZoneInfo, *, end: bool) -> datetime:
    """One ``from`` or ``to`` value as an aware datetime (in its own offset, or the hall's).

    A date means the start of that local day, or for an ``end`` the start of the next
    (so the day is included). A date and time must carry its UTC offset.

    Raises:
        BadRequest: naming ``name`` and the value.
    """
    if not raw:
        raise _bad(f"{name}: is empty ({_HOW_TIME}, or leave {name} out)")
    if _DATE.fullmatch(raw):
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            raise _bad(f"{name}: {shown(raw)} is not a date ({_HOW_DATE})") from None
        if end:
            if day == date.max:
                return datetime.max.replace(tzinfo=zone)
            day += timedelta(days=1)
        return datetime.combine(day, time(0), tzinfo=zone)
    found = _DATE_TIME.fullmatch(raw)
    if found is None and _DATE_TIME.fullmatch(raw.replace(" ", "+")):
        raise _bad(
            f"{name}: {shown(raw)} has a space where its offset's + should be "
            "(in a web address a + must be written %2B, e.g. 2026-11-03T14:00:00%2B01:00)"
        )
    if found is None:
        if _DATE.match(raw):
            raise _bad(f"{name}: {shown(raw)} is not a date or a date and time ({_HOW_TIME})")
        raise _bad(f"{name}: {shown(raw)} is not a date ({_HOW_DATE})")
    parts = found.groupdict()
    if parts["offset"] is None:
        raise _bad(
            f"{name}: {shown(raw)} has no UTC offset, so the time is ambiguous "
            f"(add Z for UTC or an offset such as +01:00, or give just a date YYYY-MM-DD)"
        )
    try:
        offset = _offset(parts["offset"])
        fraction = parts["fraction"] or ""
        micro = int((fraction[1:] + "000000")[:6]) if fraction else 0
        return datetime(
            int(parts["year"]),
            int(parts["month"]),
            int(parts["day"]),
            int(parts["hour"]),
            int(parts["minute"]),
            int(parts["second"]),
            micro,
            tzinfo=offset,
        )
    except ValueError:
        raise _bad(f"{name}: {shown(raw)} is not a real date and time ({_HOW_TIME})") from None


def _offset(text: str) -> timezone:
    if text in ("Z", "z"):
        return UTC
    hours, minutes = int(text[1:3]), int(text[4:6])
    if hours > 23 or minutes > 59:
        raise ValueError(text)
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if text[0] == "-" else delta)


def _days(start: datetime, end: datetime, zone: ZoneInfo) -> float:
    """The length of [start, end) in days as the hall's calendar counts them.

    Measured on the local wall clock, so a range of whole local days is a whole number of
    days even when summer time begins or ends inside it.
    """
    try:
        wall = end.astimezone(zone).replace(tzinfo=None) - start.astimezone(zone).replace(
            tzinfo=None
        )
    except OverflowError:  # at the edge of datetime's years: count real time
        wall = end - start
    return wall / timedelta(days=1)


def _days_words(days: float) -> str:
    if days == int(days):
        count = int(days)
        return f"{count} day{'s' if count != 1 else ''}"
    return f"{math.ceil(days * 10) / 10:.1f} days"


def parse_range(
    args: Mapping[str, str],
    zone: ZoneInfo,
    now: datetime,
    *,
    max_days: int,
    default_days: int = 1,
    per: str = "download",
) -> tuple[datetime, datetime]:
    """The range [start, end) that ``from`` and ``to`` ask for, as aware UTC datetimes.

    Both are optional. Neither: the last ``default_days`` days up to ``now``. Only
    ``from``: from then up to ``now``. Only ``to``: the ``default_days`` days before it.
    ``per`` names what the limit is counted per in the message ("download", "request").

    Raises:
        BadRequest: a value that is not a date (or a date and time with an offset), ``to``
            before ``from``, or a range longer than ``max_days`` days.
    """
    if default_days > max_days:
        raise ValueError(f"default_days ({default_days}) is more than max_days ({max_days})")
    raw_from = args.get("from")
    raw_to = args.get("to")
    start = parse_instant("from", raw_from, zone, end=False) if raw_from is not None else None
    end = parse_instant("to", raw_to, zone, end=True) if raw_to is not None else None
    if start is None:
        end = now if end is None else end
        start = _days_before(end, default_days)
    elif end is None:
        if start >= now:
            raise _bad(
                f"from: {shown(raw_from or '')} is not in the past; "
                "give a to as well to ask for a range that has not ended yet"
            )
        end = now
    to_is_a_day = raw_to is not None and _DATE.fullmatch(raw_to) is not None
    if end < start or (end == start and to_is_a_day):
        # (A day that ends as ``from`` begins lies wholly before it; two equal instants
        # are an empty range, which is allowed.)
        raise _bad(f"from, to: to {shown(raw_to or '')} is before from {shown(raw_from or '')}")
    days = _days(start, end, zone)
    if days > max_days:
        raise _bad(
            f"from, to: the range is {_days_words(days)}; at most {max_days} days per {per} "
            "(ask for a shorter range, or several)"
        )
    return _clamp(start), _clamp(end)


def parse_choice(args: Mapping[str, str], name: str, choices: Sequence[str], default: str) -> str:
    """The value of ``name``, one of ``choices``; ``default`` when it is not given.

    Raises:
        BadRequest: naming the value and the choices.
    """
    if default not in choices:
        raise ValueError(f"the default {default!r} is not one of {choices}")
    value = args.get(name)
    if value is None:
        return default
    if value not in choices:
        raise _bad(f"{name}: {shown(value)} is not one of {', '.join(choices)}")
    return value


def parse_metric(args: Mapping[str, str], allowed: Iterable[str]) -> str | None:
    """The ``metric`` asked for, which must be one of ``allowed``; None when not given.

    Raises:
        BadRequest: naming the value and the metrics that may be asked for.
    """
    value = args.get("metric")
    if value is None:
        return None
    choices = list(allowed)
    if value not in choices:
        known = ", ".join(choices) if choices else "none are public"
        raise _bad(f"metric: {shown(value)} is not a measurement shown here (choose from {known})")
    return value


def reject_unknown(args: Mapping[str, str], allowed: set[str]) -> None:
    """Refuse parameters not in ``allowed``, and any given more than once.

    The API uses this (a typo in a script should fail loudly); the pages ignore unknown
    parameters. Repeats are refused when ``args`` is a multi-dict (Flask's request.args),
    since only one value of each would be used.

    Raises:
        BadRequest: naming the unknown (or repeated) parameters and the known ones.
    """
    unknown = sorted(name for name in args if name not in allowed)
    known = ", ".join(sorted(allowed)) or "none"
    if unknown:
        names = ", ".join(shown(name) for name in unknown[:5])
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        word = "parameter" if len(unknown) == 1 else "parameters"
        raise _bad(f"unknown {word} {names}{more} (known: {known})")
    getlist = getattr(args, "getlist", None)
    if getlist is not None:
        repeated = sorted(name for name in args if len(getlist(name)) > 1)
        if repeated:
            raise _bad(f"{', '.join(repeated)}: given more than once; give each parameter once")
