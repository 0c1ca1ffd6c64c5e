"""The monthly hall report: what a clerk prints for the parish meeting, in plain English.

:func:`build_monthly_report` turns a month's hourly rollups (the same ones the hall's
pages chart) into a :class:`presentation.report_model.MonthlyReport`: sentences first,
numbers second, and a last section on what the report could not know. Pure: the caller
queries the store (``report_spans`` says which spans) and counts the flagged readings
(``ReadingNotes``). docs/reports.md explains every section.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from presentation.air_quality import DAQI_LABEL
from presentation.insight_basics import MONTH_NAMES, WEEKDAYS, list_words, round_half_up
from presentation.report_figures import (
    BANDS,
    TOO_COLD_BELOW,
    TOO_WARM_ABOVE,
    Busy,
    air,
    busy,
    comfort,
    completeness,
    hourly,
    in_use_hours,
    noise,
    particulates,
)
from presentation.report_model import Bar, Bars, MonthlyReport, ReadingNotes, Section, Table
from presentation.report_month import ReportMonth, hour_start
from presentation.rollup import Rollup
from presentation.words import sound_level

SAME_WITHIN = 0.05
"""Two months' people counts within 5 % of each other are "about the same"."""

COMPARE_NEEDS = 0.9
"""A month is compared by its total only when it has readings in this share of its hours."""


def report_spans(month: ReportMonth, zone: ZoneInfo) -> dict[str, tuple[datetime, datetime]]:
    """The spans of hourly rollups the report reads: the month, the one before, a year ago."""
    return {
        "month": month.bounds(zone),
        "previous": month.previous().bounds(zone),
        "last_year": month.year_before().bounds(zone),
    }


def _n(value: float) -> str:
    return f"{round_half_up(value):,}"


def _hours(count: int) -> str:
    return "no hours" if count == 0 else "1 hour" if count == 1 else f"{count:,} hours"


def _of(count: int) -> str:
    return "none" if count == 0 else f"{count:,}"


def _people(count: int) -> str:
    return "1 person" if count == 1 else f"{count:,} people"


def _count(count: int, thing: str) -> str:
    return f"{count:,} {thing}{'' if count == 1 else 's'}"


def _day(day: date) -> str:
    return f"{WEEKDAYS[day.weekday()]} {day.day} {MONTH_NAMES[day.month - 1]}"


def _at(hour_s: int, zone: ZoneInfo) -> str:
    local = hour_start(hour_s, zone)
    return f"{_day(local.date())} at {local:%H:%M}"


def _share(part: int, whole: int) -> str:
    return f"{round_half_up(100 * part / whole)}%" if whole else "0%"


def _compare(this: Busy, other: Busy, label: str, coverage: tuple[int, int]) -> str:
    if not other.has_counts:
        return f"There are no door counts from {label} to compare with."
    recorded, hours = coverage
    if recorded < COMPARE_NEEDS * hours:
        per = other.people_per_session
        return (
            f"{label} has readings for only {recorded:,} of its {hours:,} hours, so its "
            "total is not compared"
            + (f"; it had about {_n(per)} people per session." if per is not None else ".")
        )
    if other.people == 0:
        return f"No one was counted in {label}."
    change = (this.people - other.people) / other.people
    if abs(change) < SAME_WITHIN:
        return f"That is about the same as {label} ({_people(other.people)})."
    direction = "more" if change > 0 else "fewer"
    return (
        f"That is {round_half_up(abs(change) * 100)}% {direction} people than in {label} "
        f"({_people(other.people)})."
    )


def _busy_section(
    figures: Busy,
    previous: tuple[Busy, tuple[int, int]],
    last_year: tuple[Busy, tuple[int, int]],
    month: ReportMonth,
) -> Section:
    """Busy-ness: ``previous`` and ``last_year`` are each (figures, (recorded, hours))."""
    sentences: list[str] = []
    if not figures.has_counts:
        sentences.append(
            f"There are no door counts for {month.label}, so this report cannot say "
            "how many people came."
        )
    else:
        per = figures.people_per_session
        sentences.append(
            f"The hall was in use for {figures.sessions:,} "
            f"session{'s' if figures.sessions != 1 else ''} in {month.label}"
            + (f", with about {_n(per)} people per session" if per is not None else "")
            + f" ({_people(figures.people)} counted in all)."
        )
        if figures.busiest_weekday is not None:
            text = (
                f"The busiest day of the week was {WEEKDAYS[figures.busiest_weekday]} "
                f"(on average {_n(figures.busiest_weekday_average)} people)"
            )
            if figures.busiest_hour is not None:
                day, hour = figures.busiest_hour
                text += (
                    f", and the busiest hour {WEEKDAYS[day]} {hour:02d}:00 to "
                    f"{(hour + 1) % 24:02d}:00 (on average {_n(figures.busiest_hour_average)})"
                )
            sentences.append(text + ".")
        sentences.append(_compare(figures, previous[0], month.previous().label, previous[1]))
        if last_year[0].has_counts:
            sentences.append(
                _compare(figures, last_year[0], month.year_before().label, last_year[1])
            )
    days = tuple(
        Bar(str(d.day), v, "no data" if v is None else _n(v)) for d, v in figures.by_day.items()
    )
    counted = [(d, v) for d, v in figures.by_day.items() if v is not None]
    missing = len(figures.by_day) - len(counted)
    if counted:
        top_day, top = max(counted, key=lambda item: (item[1], -item[0].toordinal()))
        described = (
            f"People counted each day of {month.label}. The busiest day was "
            f"{_day(top_day)} with {_people(round_half_up(top))}."
        )
    else:
        described = f"People counted each day of {month.label}: no door counts."
    if missing:
        described += f" {missing} day{'s' if missing != 1 else ''} have no door counts."
    chart = Bars(f"People each day, {month.label}", described, "columns", days, "people")

    def column(b: Busy) -> tuple[str, str, str]:
        if not b.has_counts:
            return ("no data", "no data", "no data")
        per = "no data" if b.people_per_session is None else _n(b.people_per_session)
        return (f"{b.people:,}", f"{b.sessions:,}", per)

    this, before, year = column(figures), column(previous[0]), column(last_year[0])
    table = Table(
        f"People in the hall: {month.label} compared",
        ("Figure", month.label, month.previous().label, month.year_before().label),
        tuple(
            (name, this[i], before[i], year[i])
            for i, name in enumerate(("People counted", "Sessions", "People per session"))
        ),
    )
    return Section("busy", "How busy the hall was", tuple(sentences), (chart,), (table,))


def _other_month(
    rollups: Iterable[Rollup], month: ReportMonth, zone: ZoneInfo
) -> tuple[Busy, tuple[int, int]]:
    data = hourly(rollups)
    whole = completeness(data, month.hours(zone))
    return busy(data, month, zone), (whole.recorded, whole.hours)


def _rows_chart(title: str, description: str, unit: str, items: list[tuple[str, int]]) -> Bars:
    bars = tuple(Bar(label, float(value), f"{value:,}") for label, value in items)
    return Bars(title, description, "rows", bars, unit)


def build_monthly_report(
    month: ReportMonth,
    rollups: Iterable[Rollup],
    zone: ZoneInfo,
    *,
    hall_name: str,
    previous: Iterable[Rollup] = (),
    last_year: Iterable[Rollup] = (),
    notes: ReadingNotes | None = None,
    opening_hours: str = "",
    made: datetime | None = None,
) -> MonthlyReport:
    """The report for ``month`` from its hourly rollups (and those of the comparison months).

    Args:
        month: the month reported on.
        rollups: the month's hourly rollups (``EdgeStore.rollups("hour", *month.bounds(zone))``).
        zone: the hall's time zone: days, hours and sessions are local.
        hall_name: the hall's name, for the title.
        previous: the previous month's hourly rollups, for the comparison (may be empty).
        last_year: the same month's a year before (may be empty).
        notes: counts of flagged readings in the month (see :class:`ReadingNotes`).
        opening_hours: the hall's opening hours as the settings word them, printed as given.
        made: when the report was made, for the footnote.
    """
    notes = notes or ReadingNotes(kept=False)
    data = hourly(rollups)
    use = in_use_hours(data)
    figures = busy(data, month, zone)
    before = _other_month(previous, month.previous(), zone)
    year = _other_month(last_year, month.year_before(), zone)
    warmth = comfort(data, use)
    co2 = air(data, use)
    dust = particulates(data, month, zone)
    sound = noise(data, use)
    whole = completeness(data, month.hours(zone))

    busy_section = _busy_section(figures, before, year, month)

    cold_words = f"below {TOO_COLD_BELOW:.0f} °C"
    warm_words = f"above {TOO_WARM_ABOVE:.0f} °C"
    if warmth.hours:
        comfort_sentences = [
            f"While the hall was in use, it was too cold ({cold_words}) for "
            f"{_of(warmth.too_cold)} of the {_hours(warmth.hours)} with a temperature reading, "
            f"and too warm ({warm_words}) for {_of(warmth.too_warm)}.",
            f"It ranged from {warmth.coldest:.1f} °C to {warmth.warmest:.1f} °C.",
        ]
        if warmth.too_cold:
            comfort_sentences.append(
                "To fix the cold hours, put the heating on earlier before bookings."
            )
        if warmth.too_warm:
            comfort_sentences.append(
                "To fix the warm hours, turn the heating down or open windows sooner."
            )
    else:
        comfort_sentences = ["There is no temperature from the hours the hall was in use."]
    ok = warmth.hours - warmth.too_cold - warmth.too_warm
    comfort_chart = _rows_chart(
        "Hours in use, by temperature",
        f"Of {_hours(warmth.hours)} in use with a temperature: {warmth.too_cold:,} too cold "
        f"({cold_words}), {ok:,} comfortable, {warmth.too_warm:,} too warm ({warm_words}).",
        "hours",
        [
            (f"Too cold ({cold_words})", warmth.too_cold),
            ("Comfortable", ok),
            (f"Too warm ({warm_words})", warmth.too_warm),
        ],
    )

    if co2.hours:
        air_sentences = [
            f"Carbon dioxide was 1,000 ppm or more for {_of(co2.stuffy)} of the "
            f"{_hours(co2.hours)} the hall was in use, and above 1,500 ppm for "
            f"{_of(co2.very_stuffy)}."
        ]
        if co2.very_stuffy:
            air_sentences.append(
                "Above 1,500 ppm a room is poorly ventilated: open windows and doors during "
                "busy sessions, or take a break outside."
            )
        elif co2.stuffy:
            air_sentences.append(
                "Between 1,000 and 1,500 ppm the air is getting stale: open a window during "
                "busy sessions."
            )
        else:
            air_sentences.append("The ventilation kept up with the people in the hall.")
        if co2.worst is not None and co2.worst_hour is not None:
            air_sentences.append(
                f"The highest hourly average was {co2.worst:,} ppm, on {_at(co2.worst_hour, zone)}."
            )
    else:
        air_sentences = ["There is no carbon dioxide reading from the hours the hall was in use."]
    fine = co2.hours - co2.stuffy
    air_chart = _rows_chart(
        "Hours in use, by carbon dioxide",
        f"Of {_hours(co2.hours)} in use with a carbon dioxide reading: {fine:,} below "
        f"1,000 ppm, {co2.stuffy - co2.very_stuffy:,} from 1,000 to 1,500 ppm, "
        f"{co2.very_stuffy:,} above 1,500 ppm.",
        "hours",
        [
            ("Below 1,000 ppm", fine),
            ("1,000 to 1,500 ppm", co2.stuffy - co2.very_stuffy),
            ("Above 1,500 ppm", co2.very_stuffy),
        ],
    )

    banded = sum(dust.days_by_band.values())
    if banded:
        parts = [
            f"{band} on {_count(dust.days_by_band[band], 'day')}"
            for band in BANDS
            if dust.days_by_band[band]
        ]
        dust_sentences = [
            f"Fine particles (PM2.5) were in the Daily Air Quality Index band {list_words(parts)}."
        ]
        if dust.worst_day is not None and dust.worst_index is not None and dust.worst_index > 3:
            dust_sentences.append(
                f"The worst day was {_day(dust.worst_day)} (index {dust.worst_index} out of 10)."
            )
        if dust.days_without:
            dust_sentences.append(
                f"{dust.days_without:,} day{'s' if dust.days_without != 1 else ''} had too few "
                "readings for a band."
            )
    else:
        dust_sentences = ["There were too few fine-particle (PM2.5) readings for any day's band."]
    dust_sentences.append(DAQI_LABEL)
    dust_chart = _rows_chart(
        "Days by air pollution band (PM2.5)",
        "Days of the month by Daily Air Quality Index band: "
        + ", ".join(f"{b} {dust.days_by_band[b]:,}" for b in BANDS)
        + f", not enough readings {dust.days_without:,}.",
        "days",
        [*((b, dust.days_by_band[b]) for b in BANDS), ("Not enough readings", dust.days_without)],
    )

    if sound.typical is not None and sound.loudest is not None and sound.loudest_hour is not None:
        typical, loudest = sound_level(sound.typical), sound_level(sound.loudest)
        explanation = typical.explanation.rstrip(".")
        noise_sentences = [
            f"While in use, the hall was typically {typical.text}: {typical.band.lower()}, "
            f"{explanation[0].lower()}{explanation[1:]}.",
            f"The loudest hour was {loudest.text}, on {_at(sound.loudest_hour, zone)}; "
            f"{_hours(sound.loud)} in use {'was' if sound.loud == 1 else 'were'} loud "
            "(65 decibels or more).",
        ]
    else:
        noise_sentences = ["There is no sound level from the hours the hall was in use."]

    data_sentences = [
        f"The sensors recorded readings in {whole.recorded:,} of the {whole.hours:,} hours of "
        f"{month.label} ({_share(whole.recorded, whole.hours)})."
    ]
    if whole.first_recorded is not None and whole.first_recorded > month.hours(zone)[0]:
        first_day = hour_start(whole.first_recorded, zone).date()
        if first_day > month.first_day:
            data_sentences.append(
                f"The readings begin on {_day(first_day)}, so this covers only part of the month."
            )
    if whole.gaps:
        first, last = whole.gaps[0]
        data_sentences.append(
            f"{_hours(whole.hours - whole.recorded).capitalize()} have no readings; the longest "
            f"gap was {_hours((last - first) // 3600 + 1)}, from {_at(first, zone)}."
        )
    for sensor, hours in whole.short_sensors:
        data_sentences.append(
            f"The sensor {sensor} had readings in only {hours:,} of those hours: it may "
            "have failed, lost power or been unplugged."
        )
    sensor_table = Table(
        f"Hours with readings by sensor, {month.label}",
        ("Sensor", "Hours with readings", "Share of the month"),
        tuple(
            (sensor, f"{len(hours):,}", _share(len(hours), whole.hours))
            for sensor, hours in sorted(data.sensors.items())
        ),
    )

    unknown = [
        "The report goes by the sensors, not the booking diary: an hour counts as in use "
        "when the motion sensor saw someone or the door counted a person."
    ]
    if whole.recorded < whole.hours:
        unknown.append(
            f"Nothing is known of the {_hours(whole.hours - whole.recorded)} without readings; "
            "people who came then are not counted."
        )
    if not notes.kept:
        unknown.append(
            "The individual readings of this month are no longer kept, so the report "
            "cannot say how many were limits or had corrected times."
        )
    else:
        if notes.censored_people:
            unknown.append(
                f"{_count(notes.censored_people, 'door count')} "
                f"{'were' if notes.censored_people != 1 else 'was'} "
                'recorded only as a limit ("fewer than 3") to protect privacy; they are '
                "left out of the totals, so the true number of people is a little higher."
            )
        if notes.censored_other:
            unknown.append(
                f"{notes.censored_other:,} other reading"
                f"{'s were' if notes.censored_other != 1 else ' was'} only a limit, not an "
                "exact value, and left out."
            )
        if notes.clock_corrected:
            unknown.append(
                f"{notes.clock_corrected:,} reading"
                f"{'s were' if notes.clock_corrected != 1 else ' was'} taken before the "
                "node's clock was set; their times were corrected afterwards and they are "
                "included."
            )
        if notes.clock_uncertain:
            unknown.append(
                f"{notes.clock_uncertain:,} reading"
                f"{'s were' if notes.clock_uncertain != 1 else ' was'} taken on a clock that "
                "was never set; their times may be wrong, so they are left out."
            )

    sections = (
        busy_section,
        Section("comfort", "Comfort", tuple(comfort_sentences), (comfort_chart,)),
        Section("air", "Fresh air", tuple(air_sentences), (air_chart,)),
        Section("particulates", "Air pollution", tuple(dust_sentences), (dust_chart,)),
        Section("noise", "Noise", tuple(noise_sentences)),
        Section("data", "How complete the data is", tuple(data_sentences), (), (sensor_table,)),
        Section("unknown", "What this report could not know", tuple(unknown)),
    )
    summary = (busy_section.sentences[0], comfort_sentences[0], air_sentences[0])
    made_words = ""
    if made is not None:
        local = made.astimezone(zone)
        made_words = f" on {_day(local.date())} {local.year} at {local:%H:%M}"
    footnote = (
        f"Made by hallsense{made_words} from the hourly summaries the hall's page uses. "
        "Times are the hall's local time."
    )
    return MonthlyReport(
        hall_name=hall_name,
        month_key=month.key,
        month_label=month.label,
        title=f"{hall_name}: {month.label}",
        summary=summary,
        sections=sections,
        footnote=footnote,
        opening_hours=opening_hours,
        facts={
            "people": figures.people if figures.has_counts else None,
            "sessions": figures.sessions,
            "people_per_session": figures.people_per_session,
            "hours": whole.hours,
            "recorded": whole.recorded,
            "too_cold": warmth.too_cold,
            "too_warm": warmth.too_warm,
            "co2_1000": co2.stuffy,
            "co2_1500": co2.very_stuffy,
            "in_use_hours": len(use),
        },
    )
