"""The monthly hall report from the hub store: the same report as the node's, for any hall.

A hall here is one registered node (as on the fleet pages and in the hall's settings).
Its name and opening hours are the hub's view of the hall: what its clerk last set at
the hub (:func:`hub.hall_settings.hall_settings`), else the site it was registered with;
its days are the hub's time zone. The figures come from the hub's hourly rollups
(:meth:`hub.store.ReadingQueries.hourly`), which leave out the same readings as the
node's own (bad values, limits, unsettled clocks), turned into the presentation's
:class:`~presentation.rollup.Rollup` so that :func:`presentation.monthly_report.
build_monthly_report` makes the very report the hall's page does.

What the hub cannot know is said in the report: once the hub has deleted a month's raw
readings (``HALLSENSE_RAW_RETENTION_DAYS``), limits and corrected clocks cannot be
counted; readings the node has not delivered yet are not in it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from hub.hall_settings import ConfigSource, hall_settings
from hub.presenter import as_rollups
from hub.store import DeviceRecords, DeviceState, ReadingQueries, RegisteredDevice
from presentation.monthly_report import build_monthly_report, report_spans
from presentation.reading_flags import Quality
from presentation.report_model import MonthlyReport, ReadingNotes
from presentation.report_month import NoReport as NoReport
from presentation.report_month import ReportMonth, no_readings, not_ended
from presentation.rollup import Rollup

_PEOPLE = ("entries", "footfall")
_UNCERTAIN = Quality.CLOCK_UNSYNCED | Quality.CLOCK_UNCORRECTABLE
_NODE_FOOTNOTE = "the hourly summaries the hall's page uses"
_HUB_FOOTNOTE = "the hub's hourly summaries of the hall's readings (as the hall's page makes them)"


class ReportStore(ConfigSource, DeviceRecords, ReadingQueries, Protocol):
    """What the report reads of the hub store (its public query methods only)."""


@dataclass(frozen=True, slots=True)
class HallView:
    """A hall as the hub sees it: its node, its name and its opening hours."""

    device_id: str
    hall_name: str
    opening_hours: str
    revoked: bool = False


def report_file_name(device_id: str, month: ReportMonth, fmt: str) -> str:
    """``hall-report-2026-11-askrigg.pdf``: the month first, as the node names its own."""
    return f"hall-report-{month.key}-{device_id}.{fmt}"


def _us(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def halls(store: ReportStore) -> list[HallView]:
    """Every registered hall, by device id, with its name as its clerk last set it."""
    return [hall_view(store, device) for device in store.registered()]


def hall_view(store: ConfigSource, device: RegisteredDevice) -> HallView:
    """A registered device as a hall: the page settings the hub last sent, else its site."""
    page = hall_settings(store, device.device_id).page
    name = page.get("hall_name")
    hours = page.get("opening_hours")
    return HallView(
        device.device_id,
        name if isinstance(name, str) and name.strip() else device.site,
        hours if isinstance(hours, str) else "",
        device.revoked,
    )


def rollups(store: ReportStore, device_id: str, start: datetime, end: datetime) -> list[Rollup]:
    """The hall's hourly rollups of hours starting in [start, end), as the presentation's."""
    return as_rollups(store.hourly([device_id], _us(start), _us(end)))


def first_month(store: ReportStore, device_id: str, zone: ZoneInfo, now: datetime) -> str | None:
    """The first month (YYYY-MM) with any reading of the hall at the hub, or None."""
    days = store.daily([device_id], 0, _us(now) + 86_400_000_000, zone)
    if not days:
        return None
    first = min(d.day for d in days)
    return f"{first.year:04d}-{first.month:02d}"


def check_month(
    store: ReportStore, device_id: str, month: ReportMonth, zone: ZoneInfo, now: datetime
) -> list[Rollup]:
    """The month's rollups, after refusing a month not over yet or without readings.

    Raises:
        NoReport: "2026-12 is not over yet: the last complete month is 2026-11", or
            "there are no readings for 2026-08: the first month with readings is 2026-10".
    """
    unfinished = not_ended(month, now, zone)
    if unfinished is not None:
        raise NoReport(unfinished)
    found = rollups(store, device_id, *month.bounds(zone))
    if not found:
        first = first_month(store, device_id, zone, now)
        raise no_readings(month, first, "the hub has no readings from this hall yet")
    return found


def reading_notes(
    store: ReportStore, device_id: str, start: datetime, end: datetime, rolled_up: int
) -> ReadingNotes:
    """Counts of the month's raw readings at the hub that are limits or had corrected times.

    Read a day at a time (a month of a busy hall is hundreds of thousands of readings).
    ``rolled_up`` is how many readings the month's rollups hold: fewer raw readings than
    that means retention has deleted some of them, so no count can be trusted
    (``kept=False``, and the report says so).
    """
    readings = censored_people = censored_other = corrected = uncertain = 0
    day = start
    while day < end:
        following = min(day + timedelta(days=1), end)
        for reading in store.readings_between([device_id], _us(day), _us(following)):
            readings += 1
            if reading.quality & Quality.CENSORED or reading.censor is not None:
                if reading.metric in _PEOPLE:
                    censored_people += 1
                else:
                    censored_other += 1
            if reading.quality & Quality.CLOCK_CORRECTED:
                corrected += 1
            if reading.quality & _UNCERTAIN:
                uncertain += 1
        day = following
    return ReadingNotes(
        kept=readings > 0 and readings >= rolled_up,
        readings=readings,
        censored_people=censored_people,
        censored_other=censored_other,
        clock_corrected=corrected,
        clock_uncertain=uncertain,
    )


def delivery_caveats(state: DeviceState | None, month: ReportMonth, zone: ZoneInfo) -> list[str]:
    """What the hub cannot know that the node could: readings it has not received yet."""
    caveats = []
    _, end = month.bounds(zone)
    if state is not None and (state.last_seen_us is None or state.last_seen_us < _us(end)):
        caveats.append(
            "The hub has not heard from the hall's node since the month ended, so readings "
            "it took late in the month may not have reached the hub yet."
        )
    missing = sum(last - first + 1 for _, first, last in state.missing) if state else 0
    if missing:
        caveats.append(
            f"The hub is still waiting for {missing:,} reading{'s' if missing != 1 else ''} "
            "that the node took but has not delivered; some may be from this month."
        )
    return caveats


def with_hub_words(report: MonthlyReport, caveats: Sequence[str]) -> MonthlyReport:
    """The report with the hub's caveats added to what it could not know, and its source."""
    sections = tuple(
        dataclasses.replace(s, sentences=(*s.sentences, *caveats)) if s.key == "unknown" else s
        for s in report.sections
    )
    footnote = report.footnote.replace(_NODE_FOOTNOTE, _HUB_FOOTNOTE)
    return dataclasses.replace(report, sections=sections, footnote=footnote)


def monthly_report(
    store: ReportStore, hall: HallView, month: ReportMonth, *, zone: ZoneInfo, now: datetime
) -> MonthlyReport:
    """The report for ``hall`` and ``month`` from the hub store, after :func:`check_month`.

    Raises:
        NoReport: as :func:`check_month`.
    """
    found = check_month(store, hall.device_id, month, zone, now)
    spans = report_spans(month, zone)
    notes = reading_notes(
        store, hall.device_id, *spans["month"], rolled_up=sum(r.count for r in found)
    )
    made = build_monthly_report(
        month,
        found,
        zone,
        hall_name=hall.hall_name,
        previous=rollups(store, hall.device_id, *spans["previous"]),
        last_year=rollups(store, hall.device_id, *spans["last_year"]),
        notes=notes,
        opening_hours=hall.opening_hours,
        made=now,
    )
    state = next((s for s in store.fleet() if s.device_id == hall.device_id), None)
    return with_hub_words(made, delivery_caveats(state, month, zone))
