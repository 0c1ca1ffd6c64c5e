"""The monthly report from the node's store: the queries behind it, and the checks on a month.

Shared by the page's report routes (web_local.report_routes) and ``hallsense edge
report``: both call :func:`monthly_report`, so the command and the page print the same.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from edge.store import EdgeStore
from presentation.monthly_report import build_monthly_report, report_spans
from presentation.reading_flags import Quality
from presentation.report_model import MonthlyReport, ReadingNotes
from presentation.report_month import NoReport as NoReport
from presentation.report_month import ReportMonth, month_of, no_readings, not_ended

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PEOPLE = ("entries", "footfall")
_UNCERTAIN = Quality.CLOCK_UNSYNCED | Quality.CLOCK_UNCORRECTABLE


def first_month(store: EdgeStore, zone: ZoneInfo) -> ReportMonth | None:
    """The first month with any hourly summary in the store (None when it has none)."""
    days = store.rollups("day", _EPOCH, datetime.now(UTC).replace(year=9999))
    if not days:
        return None
    return month_of(min(r.start for r in days), zone)


def check_month(store: EdgeStore, month: ReportMonth, zone: ZoneInfo, now: datetime) -> None:
    """Refuse a month that has not ended yet, or one without readings.

    Raises:
        NoReport: "2026-12 is not over yet: the last complete month is 2026-11", or
            "there are no readings for 2026-08: the first month with readings is 2026-10".
    """
    unfinished = not_ended(month, now, zone)
    if unfinished is not None:
        raise NoReport(unfinished)
    if not store.rollups("day", *month.bounds(zone)):
        first = first_month(store, zone)
        raise no_readings(
            month, None if first is None else first.key, "the node has no readings yet"
        )


def reading_notes(store: EdgeStore, start: datetime, end: datetime) -> ReadingNotes:
    """Counts of the month's readings that are limits or had their time corrected."""
    readings = censored_people = censored_other = corrected = uncertain = 0
    for reading in store.readings_between(start, end):
        readings += 1
        quality = int(reading.quality)
        if quality & Quality.CENSORED or reading.censor is not None:
            if reading.metric in _PEOPLE:
                censored_people += 1
            else:
                censored_other += 1
        if quality & Quality.CLOCK_CORRECTED:
            corrected += 1
        if quality & _UNCERTAIN:
            uncertain += 1
    return ReadingNotes(
        kept=readings > 0,
        readings=readings,
        censored_people=censored_people,
        censored_other=censored_other,
        clock_corrected=corrected,
        clock_uncertain=uncertain,
    )


def monthly_report(
    store: EdgeStore,
    month: ReportMonth,
    *,
    zone: ZoneInfo,
    hall_name: str,
    now: datetime,
    opening_hours: str = "",
) -> MonthlyReport:
    """The report for ``month`` from the store, after :func:`check_month`.

    Raises:
        NoReport: as :func:`check_month`.
    """
    check_month(store, month, zone, now)
    spans = report_spans(month, zone)
    return build_monthly_report(
        month,
        store.rollups("hour", *spans["month"]),
        zone,
        hall_name=hall_name,
        previous=store.rollups("hour", *spans["previous"]),
        last_year=store.rollups("hour", *spans["last_year"]),
        notes=reading_notes(store, *spans["month"]),
        opening_hours=opening_hours,
        made=now,
    )
