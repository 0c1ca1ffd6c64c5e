"""The page's words: ventilation, DAQI, people today, the week's summary, freshness."""

import dataclasses
import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.clock import ClockSample
from edge.store import EdgeStore
from presentation.air_quality import DAQI_LABEL, daqi_band, daqi_index, daqi_window, pm25_daqi
from presentation.freshness import freshness
from presentation.insight_basics import NOT_ENOUGH_FOR_SUMMARY, round_half_up
from presentation.people_today import people_today, people_window
from presentation.rollup import Rollup
from presentation.ventilation import ventilation_advice
from presentation.weekly_summary import summary_week, summary_window, weekly_summary
from sensors.reading import Reading

LONDON = ZoneInfo("Europe/London")
UNITS = {
    "temperature": "°C",
    "co2": "ppm",
    "pm2_5": "µg/m³",
    "pm10": "µg/m³",
    "footfall": "count",
    "entries": "count",
    "noise": "dBA",
}


def roll(metric, at, mean, *, count=60, sensor=None):
    """One rollup starting at ``at`` (stored in UTC, as the store gives it)."""
    return Rollup(
        sensor or f"sim-{metric}",
        metric,
        UNITS[metric],
        at.astimezone(UTC),
        count,
        mean,
        mean,
        mean,
    )


def local(y, m, d, hh=0, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=LONDON)


def hours_of(day):
    """Every UTC hour that starts within local ``day`` (23, 24 or 25 of them)."""
    start = local(day.year, day.month, day.day).astimezone(UTC)
    end = (local(day.year, day.month, day.day) + timedelta(days=1)).astimezone(UTC)
    hours = []
    while start < end:
        hours.append(start)
        start += timedelta(hours=1)
    return hours


def days_between(first, last):
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


# --- ventilation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ppm", "level", "words"),
    [
        (420, "fresh", "Fresh"),
        (799.49, "fresh", "Fresh"),
        (799.5, "fine", "Fine"),
        (800, "fine", "Fine"),
        (999.49, "fine", "Fine"),
        (999.5, "stuffy", "Getting stuffy: open a window"),
        (1000, "stuffy", "Getting stuffy: open a window"),
        (1500, "stuffy", "Getting stuffy: open a window"),
        (1500.49, "stuffy", "Getting stuffy: open a window"),
        (1500.5, "very_stuffy", "Stuffy: open windows and doors"),
        (5000, "very_stuffy", "Stuffy: open windows and doors"),
        (0, "fresh", "Fresh"),
        (40_000, "very_stuffy", "Stuffy: open windows and doors"),
    ],
)
def test_ventilation_bands_in_words(ppm, level, words):
    advice = ventilation_advice(ppm)
    assert (advice.level, advice.words) == (level, words)
    assert advice.ppm == round_half_up(ppm)


def test_ventilation_explains_itself():
    assert ventilation_advice(650).explanation == (
        "Carbon dioxide is below 800 parts per million (ppm): the room is well ventilated."
    )
    assert ventilation_advice(1600).explanation == (
        "Carbon dioxide is above 1,500 ppm: the room is poorly ventilated; "
        "open windows and doors, or take a break outside."
    )


@pytest.mark.parametrize(
    ("ppm", "words"),
    [
        (None, "No reading"),
        (float("nan"), "No reliable reading"),
        (float("inf"), "No reliable reading"),
        (-1.0, "No reliable reading"),
        (40_001.0, "No reliable reading"),
    ],
)
def test_ventilation_without_a_usable_reading(ppm, words):
    advice = ventilation_advice(ppm)
    assert (advice.level, advice.words, advice.ppm) == ("unknown", words, None)


def test_ventilation_advice_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        ventilation_advice(500).words = "Lovely"  # type: ignore[misc]


ORDER = ["fresh", "fine", "stuffy", "very_stuffy"]


@given(
    st.floats(min_value=0, max_value=40_000),
    st.floats(min_value=0, max_value=40_000),
)
def test_more_co2_never_sounds_fresher(a, b):
    low, high = sorted((a, b))
    assert ORDER.index(ventilation_advice(low).level) <= ORDER.index(ventilation_advice(high).level)


# --- DAQI -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mean", "index", "band"),
    [
        (0, 1, "Low"),
        (11, 1, "Low"),
        (11.49, 1, "Low"),
        (11.5, 2, "Low"),
        (12, 2, "Low"),
        (23.49, 2, "Low"),
        (23.5, 3, "Low"),
        (35, 3, "Low"),
        (35.5, 4, "Moderate"),
        (41, 4, "Moderate"),
        (41.5, 5, "Moderate"),
        (47, 5, "Moderate"),
        (47.5, 6, "Moderate"),
        (53, 6, "Moderate"),
        (53.5, 7, "High"),
        (58, 7, "High"),
        (58.5, 8, "High"),
        (64, 8, "High"),
        (64.5, 9, "High"),
        (70, 9, "High"),
        (70.49, 9, "High"),
        (70.5, 10, "Very High"),
        (71, 10, "Very High"),
        (900, 10, "Very High"),
    ],
)
def test_daqi_band_edges(mean, index, band):
    assert daqi_index(mean) == index
    assert daqi_band(index) == band


def test_daqi_band_rejects_an_impossible_index():
    with pytest.raises(ValueError, match="1 to 10"):
        daqi_band(11)


NOW = datetime(2026, 11, 24, 10, 5, tzinfo=UTC)  # a Tuesday, GMT


def pm_hours(values, *, end=datetime(2026, 11, 24, 10, tzinfo=UTC), count=60):
    """Hourly PM2.5 rollups, the last one starting an hour before ``end``."""
    n = len(values)
    return [
        roll("pm2_5", end - timedelta(hours=n - i), v, count=count) for i, v in enumerate(values)
    ]


def test_daqi_on_a_full_day_reads_as_the_page_shows_it():
    result = pm25_daqi(pm_hours([11.5] * 24), NOW)
    assert (result.index, result.band, result.mean, result.hours_covered) == (2, "Low", 11.5, 24)
    assert result.words == "Low (index 2 out of 10)"
    assert result.label == DAQI_LABEL
    assert "Indoor and indicative" in result.label


def test_daqi_needs_18_of_the_24_hours():
    short = pm25_daqi(pm_hours([30.0] * 17), NOW)
    assert (short.index, short.band, short.mean, short.hours_covered) == (None, None, 30.0, 17)
    assert short.words == "Not enough data: PM2.5 readings for 17 of the last 24 hours (18 needed)"
    assert short.label == DAQI_LABEL
    enough = pm25_daqi(pm_hours([30.0] * 18), NOW)
    assert (enough.index, enough.words) == (3, "Low (index 3 out of 10)")


def test_daqi_with_no_data():
    result = pm25_daqi([], NOW)
    assert (result.index, result.mean, result.hours_covered) == (None, None, 0)
    assert result.words == "Not enough data: PM2.5 readings for 0 of the last 24 hours (18 needed)"


def test_daqi_uses_the_24_whole_hours_before_now():
    assert daqi_window(NOW) == (
        datetime(2026, 11, 23, 10, tzinfo=UTC),
        datetime(2026, 11, 24, 10, tzinfo=UTC),
    )
    data = pm_hours([10.0] * 24)
    data.append(roll("pm2_5", datetime(2026, 11, 24, 10, tzinfo=UTC), 500.0))  # this hour
    data.append(roll("pm2_5", datetime(2026, 11, 23, 9, tzinfo=UTC), 500.0))  # 25 hours ago
    data.append(roll("pm10", datetime(2026, 11, 24, 9, tzinfo=UTC), 500.0))  # not PM2.5
    result = pm25_daqi(data, NOW)
    assert (result.mean, result.hours_covered, result.index) == (10.0, 24, 1)


def test_daqi_mean_is_the_mean_of_hourly_means():
    # 23 hours at 10 from 60 readings each and one at 34 from a single reading: each hour
    # weighs the same, so the mean is 11 (a mean of all readings would be 10.02).
    data = pm_hours([10.0] * 23, end=datetime(2026, 11, 24, 9, tzinfo=UTC))
    data.append(roll("pm2_5", datetime(2026, 11, 24, 9, tzinfo=UTC), 34.0, count=1))
    assert pm25_daqi(data, NOW).mean == 11.0


def test_daqi_combines_minute_rollups_within_an_hour_by_count():
    data = pm_hours([20.0] * 23, end=datetime(2026, 11, 24, 9, tzinfo=UTC))
    nine = datetime(2026, 11, 24, 9, tzinfo=UTC)
    data.append(roll("pm2_5", nine, 10.0, count=1))
    data.append(roll("pm2_5", nine + timedelta(minutes=1), 20.0, count=3))
    result = pm25_daqi(data, NOW)
    assert result.hours_covered == 24
    assert result.mean == pytest.approx((23 * 20.0 + 17.5) / 24)


def test_daqi_across_the_clocks_going_back_is_24_real_hours():
    now = local(2026, 10, 25, 12, 30)  # GMT again since 02:00 BST
    data = []
    at = datetime(2026, 10, 24, 0, tzinfo=UTC)
    while at < datetime(2026, 10, 25, 13, tzinfo=UTC):
        data.append(roll("pm2_5", at, 45.0))
        at += timedelta(hours=1)
    result = pm25_daqi(data, now)
    assert (result.hours_covered, result.index, result.band) == (24, 5, "Moderate")


@given(st.floats(min_value=0, max_value=1000))
def test_daqi_of_a_steady_day_is_the_band_of_its_value(value):
    result = pm25_daqi(pm_hours([value] * 24), NOW)
    assert result.index == daqi_index(value)
    assert result.mean == pytest.approx(value)


@given(st.floats(min_value=0, max_value=1000), st.floats(min_value=0, max_value=1000))
def test_daqi_index_never_falls_as_pm_rises(a, b):
    low, high = sorted((a, b))
    assert daqi_index(low) <= daqi_index(high)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="bucket"):
        people_today([], NOW, LONDON, bucket=timedelta(0))
    with pytest.raises(ValueError, match="earlier week"):
        weekly_summary([], NOW, LONDON, previous_weeks=0)


def test_a_naive_now_is_refused():
    with pytest.raises(ValueError, match="aware"):
        pm25_daqi([], datetime(2026, 11, 24, 10))  # noqa: DTZ001


# --- people today ---------------------------------------------------------------------------

MONDAY = date(2026, 11, 23)


def door_day(day, counts, *, metric="footfall", sensor="gpio-door"):
    """A door sensor's hourly rollups for local ``day``: ``counts`` by local hour, else 0."""
    rollups = []
    for at in hours_of(day):
        hour = at.astimezone(LONDON).hour
        value = counts.get(hour, 0)
        rollups.append(roll(metric, at, value / 60, sensor=sensor))
    return rollups


def usual_mondays(nine_o_clock=(10, 12, 8, 40)):
    data = []
    for k, nine in enumerate(nine_o_clock, start=1):
        data += door_day(MONDAY - timedelta(weeks=k), {9: nine, 10: 20, 14: 50})
    return data


@pytest.mark.parametrize(
    ("today_nine", "level", "words"),
    [
        (30, "busier", "Busier than usual"),
        (21, "usual", "About usual"),
        (10, "quieter", "Quieter than usual"),
        (11, "usual", "About usual"),
    ],
)
def test_people_today_against_the_usual_monday(today_nine, level, words):
    now = local(2026, 11, 23, 10, 30)
    today = door_day(MONDAY, {9: today_nine, 10: 5, 14: 999})[:11]  # nothing after 10:00 yet
    result = people_today(usual_mondays() + today, now, LONDON)
    # Usual by 10:30: the 09:00 hour and half the 10:00 hour on each of the last 4 Mondays:
    # 20, 22, 18 and 50, whose median is 21. The margin is max(5, 25 % of 21) = 5.25.
    assert result.usual == 21.0
    assert result.weeks_compared == 4
    assert result.today == today_nine + 5
    assert (result.level, result.words) == (level, words)
    assert (
        result.detail
        == f"{today_nine + 5} people so far today; a usual Monday has 21 by this time."
    )
    assert result.metric == "footfall"


def test_people_today_counts_entries_where_the_door_tells_them_apart():
    now = local(2026, 11, 23, 12)
    pair = door_day(MONDAY, {9: 10}, metric="entries", sensor="gpio-door-pair")
    pair += door_day(MONDAY, {9: 10}, metric="footfall", sensor="gpio-door-pair")
    single = door_day(MONDAY, {10: 7}, metric="footfall", sensor="back-door")
    result = people_today(pair + single, now, LONDON)
    assert (result.today, result.metric) == (17, "entries")


def test_no_usual_day_with_less_than_a_week_of_data():
    now = local(2026, 11, 23, 10, 30)
    data = door_day(MONDAY - timedelta(days=3), {9: 40}) + door_day(MONDAY, {9: 1})[:11]
    result = people_today(data, now, LONDON)
    assert (result.level, result.words) == (
        "no_usual",
        "No usual day yet (less than a week of data)",
    )
    assert result.detail == "1 person so far today."
    assert (result.usual, result.weeks_compared) == (None, 0)


def test_no_usual_day_when_the_earlier_mondays_have_no_counts():
    now = local(2026, 11, 23, 10, 30)
    data = door_day(MONDAY - timedelta(weeks=5), {9: 40}) + door_day(MONDAY, {9: 3})[:11]
    result = people_today(data, now, LONDON)
    assert result.words == "No usual day yet (no counts from the last 4 Mondays)"
    assert result.today == 3


def test_an_earlier_monday_with_no_counts_before_this_time_is_not_a_usual_day():
    now = local(2026, 11, 23, 10, 30)
    late_start = [r for r in door_day(MONDAY - timedelta(weeks=1), {15: 60}) if r.start.hour >= 12]
    data = late_start + door_day(MONDAY - timedelta(weeks=2), {9: 8}) + door_day(MONDAY, {9: 8})
    result = people_today(data, now, LONDON)
    assert (result.usual, result.weeks_compared, result.words) == (8.0, 1, "About usual")


def test_people_today_without_door_counts():
    result = people_today([roll("temperature", NOW, 19.0)], NOW, LONDON)
    assert (result.level, result.words, result.today, result.metric) == (
        "no_data",
        "No door counts",
        0,
        None,
    )


def test_people_today_on_the_day_the_clocks_go_forward():
    # Sunday 29 March 2026: midnight is 00:00 GMT and 10:30 is BST. Earlier Sundays are
    # GMT: "by this time" is 10:30 on their clocks too, half of their 10:00 hour.
    now = local(2026, 3, 29, 10, 30)
    sunday = date(2026, 3, 29)
    data = []
    for k in range(1, 5):
        data += door_day(sunday - timedelta(weeks=k), {10: 10, 11: 10})
    data += door_day(sunday, {10: 6})
    data.append(roll("footfall", datetime(2026, 3, 28, 23, tzinfo=UTC), 1.0))  # Saturday
    result = people_today(data, now, LONDON)
    assert result.usual == 5.0
    assert result.today == 6
    assert result.detail == "6 people so far today; a usual Sunday has 5 by this time."


def test_people_today_on_the_day_the_clocks_go_back():
    # Sunday 25 October 2026 began at 23:00 UTC on the 24th (midnight BST).
    now = local(2026, 10, 25, 10, 30)
    sunday = date(2026, 10, 25)
    data = [
        roll("footfall", datetime(2026, 10, 24, 22, tzinfo=UTC), 100 / 60),  # 23:00 Saturday
        roll("footfall", datetime(2026, 10, 24, 23, tzinfo=UTC), 4 / 60),  # 00:00 Sunday
        roll("footfall", datetime(2026, 10, 25, 0, tzinfo=UTC), 3 / 60),  # 01:00 BST
        roll("footfall", datetime(2026, 10, 25, 1, tzinfo=UTC), 2 / 60),  # 01:00 GMT
    ]
    data += door_day(sunday - timedelta(weeks=1), {1: 9, 10: 4})
    result = people_today(data, now, LONDON)
    assert result.today == 9
    assert result.usual == 11.0  # 9 at 01:00 and half of 4 at 10:00, on BST clocks


@given(
    st.lists(
        st.tuples(st.integers(0, 24 * 35), st.integers(0, 50), st.sampled_from(["a", "b"])),
        max_size=60,
    ),
    st.randoms(use_true_random=False),
)
def test_people_today_adds_up_and_ignores_order(rows, rnd):
    now = local(2026, 11, 23, 10, 30)
    base = datetime(2026, 10, 19, tzinfo=UTC)
    data = [roll("footfall", base + timedelta(hours=h), n, count=1, sensor=s) for h, n, s in rows]
    result = people_today(data, now, LONDON)
    midnight = local(2026, 11, 23)
    assert result.today == round_half_up(sum(r.mean for r in data if midnight <= r.start < now))
    shuffled = list(data)
    rnd.shuffle(shuffled)
    assert people_today(shuffled, now, LONDON) == result


def test_people_window_covers_the_earlier_weeks_and_today():
    assert people_window(local(2026, 11, 23, 10, 30), LONDON) == (
        local(2026, 10, 26),
        local(2026, 11, 24),
    )


# --- the week's summary ---------------------------------------------------------------------

SUMMARY_NOW = local(2026, 11, 23, 9)  # Monday: the week is Monday 16 to Sunday 22 November
WEEK = days_between(date(2026, 11, 16), date(2026, 11, 22))
EARLIER = days_between(date(2026, 10, 19), date(2026, 11, 15))


def temperatures(days, by_day_hour=None, usual=18.0):
    by_day_hour = by_day_hour or {}
    rollups = []
    for day in days:
        for at in hours_of(day):
            hour = at.astimezone(LONDON).hour
            rollups.append(roll("temperature", at, by_day_hour.get((day, hour), usual)))
    return rollups


def co2(days, by_day_hour=None):
    by_day_hour = by_day_hour or {}
    rollups = []
    for day in days:
        for at in hours_of(day):
            hour = at.astimezone(LONDON).hour
            rollups.append(roll("co2", at, by_day_hour.get((day, hour), 450.0)))
    return rollups


def doors(days, by_day_hour):
    rollups = []
    for day in days:
        counts = {h: n for (d, h), n in by_day_hour.items() if d == day}
        rollups += door_day(day, counts)
    return rollups


def morning(day, value):
    return {(day, h): value for h in range(6, 12)}


def afternoon(day, value):
    return {(day, h): value for h in range(12, 18)}


def evening(day, value):
    return {(day, h): value for h in range(18, 24)}


def test_the_week_in_sentences():
    tue, wed, thu, fri = WEEK[1], WEEK[2], WEEK[3], WEEK[4]
    data = temperatures(EARLIER + WEEK, {**morning(fri, 15.0), **evening(tue, 21.0)})
    busy = {(tue, 10): 12, (tue, 11): 8, (WEEK[0], 14): 5, (wed, 19): 3, (thu, 15): 2}
    data += doors(WEEK[:5], {**busy, (fri, 18): 4})
    data += doors(WEEK[5:], {})
    data += co2(WEEK, {(wed, 19): 1600.0, (wed, 20): 1650.0, (thu, 19): 1700.0})
    assert weekly_summary(data, SUMMARY_NOW, LONDON) == [
        "The hall was busiest on Tuesday between 10:00 and 12:00.",
        "No one came in on Saturday or Sunday.",
        "It was colder than usual on Friday morning.",
        "It was warmer than usual on Tuesday evening.",
        "The air was stuffy (carbon dioxide above 1,500 ppm) for more than an hour on Wednesday.",
    ]


def test_temperature_phrases_group_by_day():
    fri, sat = WEEK[4], WEEK[5]
    cold = {**morning(fri, 15.0), **evening(fri, 15.0), **afternoon(sat, 14.0)}
    cold |= {**morning(WEEK[6], 10.0), **afternoon(WEEK[6], 10.0), **evening(WEEK[6], 10.0)}
    assert weekly_summary(temperatures(EARLIER + WEEK, cold), SUMMARY_NOW, LONDON) == [
        "It was colder than usual on Friday morning and evening, on Saturday afternoon, "
        "and all day on Sunday.",
    ]


def test_two_degrees_is_the_threshold():
    warm = {**morning(WEEK[0], 20.0), **morning(WEEK[1], 19.9)}
    assert weekly_summary(temperatures(EARLIER + WEEK, warm), SUMMARY_NOW, LONDON) == [
        "It was warmer than usual on Monday morning.",
    ]


def test_without_earlier_weeks_the_usual_is_this_weeks():
    # Readings from Monday: the usual morning is the mean of this week's seven mornings,
    # (6 x 18 + 11) / 7 = 17.0, and Thursday's 11 °C is 6 °C below it.
    data = temperatures(WEEK, morning(WEEK[3], 11.0))
    assert weekly_summary(data, SUMMARY_NOW, LONDON) == [
        "It was colder than usual on Thursday morning.",
    ]


def test_a_day_part_needs_three_hours_of_readings():
    data = [
        r
        for r in temperatures(EARLIER + WEEK, morning(WEEK[4], 5.0))
        if not (
            r.start.astimezone(LONDON).date() == WEEK[4]
            and r.start.astimezone(LONDON).hour >= 8
            and r.start.astimezone(LONDON).hour < 12
        )
    ]
    assert weekly_summary(data, SUMMARY_NOW, LONDON) == [
        "Nothing stood out in the week's readings."
    ]


def test_busiest_names_only_the_busy_hour_when_the_other_was_empty():
    data = doors(WEEK, {(WEEK[2], 10): 30})
    assert weekly_summary(data, SUMMARY_NOW, LONDON)[0] == (
        "The hall was busiest on Wednesday between 10:00 and 11:00."
    )


def test_busiest_window_can_end_at_midnight_and_ties_go_to_the_earliest():
    data = doors(WEEK, {(WEEK[1], 22): 5, (WEEK[1], 23): 5, (WEEK[3], 22): 4, (WEEK[3], 23): 6})
    assert weekly_summary(data, SUMMARY_NOW, LONDON)[0] == (
        "The hall was busiest on Tuesday between 22:00 and midnight."
    )


def test_no_one_all_week():
    assert weekly_summary(doors(WEEK, {}), SUMMARY_NOW, LONDON) == ["No one came in all week."]


def test_one_hour_of_stuffy_air_is_not_more_than_an_hour():
    data = co2(WEEK, {(WEEK[1], 19): 1800.0})
    assert weekly_summary(data, SUMMARY_NOW, LONDON) == [
        "Nothing stood out in the week's readings."
    ]
    minutes = [
        roll("co2", local(2026, 11, 17, 19) + timedelta(minutes=m), 1600.0) for m in range(61)
    ]
    assert weekly_summary(
        co2(WEEK) + minutes, SUMMARY_NOW, LONDON, bucket=timedelta(minutes=1)
    ) == ["The air was stuffy (carbon dioxide above 1,500 ppm) for more than an hour on Tuesday."]


@pytest.mark.parametrize(
    "data",
    [
        [],
        [roll("temperature", SUMMARY_NOW, 18.0)],  # today only
        temperatures(EARLIER),  # only the weeks before
    ],
)
def test_not_enough_data_for_a_summary(data):
    assert weekly_summary(data, SUMMARY_NOW, LONDON) == [NOT_ENOUGH_FOR_SUMMARY]
    assert NOT_ENOUGH_FOR_SUMMARY == "Not enough data yet for a summary of the week."


def test_readings_that_begin_during_the_week():
    assert weekly_summary(temperatures(WEEK[3:]), SUMMARY_NOW, LONDON) == [
        "The readings begin on Thursday, so this covers only part of the week.",
        "Nothing stood out in the week's readings.",
    ]


def test_days_without_readings_are_named():
    data = temperatures([d for d in WEEK if d not in (WEEK[2], WEEK[3])])
    assert weekly_summary(data, SUMMARY_NOW, LONDON) == [
        "Nothing stood out in the week's readings.",
        "There are no readings for Wednesday and Thursday; the sensors may have been off.",
    ]


def test_the_week_the_clocks_go_back():
    # Monday 19 to Sunday 25 October 2026; the clocks went back at 02:00 BST on Sunday, so
    # the hour from 01:00 came twice. Tuesday is BST: 10:00 there is 09:00 UTC.
    now = local(2026, 10, 26, 9)
    week = days_between(date(2026, 10, 19), date(2026, 10, 25))
    assert summary_week(now, LONDON) == (week[0], week[-1])
    data = doors(week, {(week[1], 10): 10})
    twice = [r for r in data if r.start.astimezone(LONDON).date() == week[6]]
    assert len(twice) == 25
    data = [r for r in data if r not in twice] + [
        roll("footfall", at, (7 if at.astimezone(LONDON).hour == 1 else 0) / 60)
        for at in hours_of(week[6])
    ]
    # 7 people in each of the two 01:00 hours: 14 beats Tuesday's 10.
    assert weekly_summary(data, now, LONDON)[0] == (
        "The hall was busiest on Sunday between 01:00 and 02:00."
    )
    data = [r for r in data if r.start.astimezone(LONDON).date() != week[6]]
    assert weekly_summary(data, now, LONDON)[0] == (
        "The hall was busiest on Tuesday between 10:00 and 11:00."
    )


def test_the_week_the_clocks_go_forward():
    now = local(2026, 3, 30, 9)
    week = days_between(date(2026, 3, 23), date(2026, 3, 29))
    data = doors(week, {(week[6], 10): 30, (week[6], 11): 2, (week[1], 10): 20})
    assert len([r for r in data if r.start.astimezone(LONDON).date() == week[6]]) == 23
    assert weekly_summary(data, now, LONDON)[0] == (
        "The hall was busiest on Sunday between 10:00 and 12:00."
    )


def test_summary_window_reaches_back_four_weeks_before_the_week():
    assert summary_window(SUMMARY_NOW, LONDON) == (local(2026, 10, 19), local(2026, 11, 23))


METRICS = ["temperature", "co2", "footfall", "entries", "pm2_5", "noise"]


@settings(max_examples=75, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(METRICS),
            st.integers(-24, 24 * 36),
            st.floats(min_value=-50, max_value=5000, allow_nan=False),
            st.integers(0, 60),
            st.sampled_from(["s1", "s2"]),
        ),
        max_size=80,
    ),
    st.randoms(use_true_random=False),
)
def test_the_summary_never_fails_and_does_not_depend_on_order(rows, rnd):
    start = datetime(2026, 10, 19, tzinfo=UTC)
    data = [
        Rollup(s, m, UNITS[m], start + timedelta(hours=h), n, v, v, v) for m, h, v, n, s in rows
    ]
    sentences = weekly_summary(data, SUMMARY_NOW, LONDON)
    assert sentences
    assert all(isinstance(s, str) and s.endswith(".") for s in sentences)
    rnd.shuffle(data)
    assert weekly_summary(data, SUMMARY_NOW, LONDON) == sentences


def test_the_summary_from_a_real_store(tmp_path):
    """Readings through the edge store's own rollups, queried on summary_window."""
    store = EdgeStore(tmp_path / "edge.db")
    try:
        readings = []
        for day in WEEK:
            for at in hours_of(day):
                hour = at.astimezone(LONDON).hour
                cold = day == WEEK[4] and 6 <= hour < 12
                for minute in (0, 30):
                    when = at + timedelta(minutes=minute)
                    readings.append(
                        Reading("t1", "temperature", 15.0 if cold else 19.0, "°C", when)
                    )
                    people = 3.0 if (day == WEEK[1] and hour in (19, 20)) else 0.0
                    readings.append(Reading("door", "footfall", people, "count", when))
        clock = ClockSample(datetime.now(UTC), 10**12, True, "boot-a")
        store.append(readings, clock)
        start, end = summary_window(SUMMARY_NOW, LONDON)
        rollups = store.rollups("hour", start, end)
        assert weekly_summary(rollups, SUMMARY_NOW, LONDON) == [
            "The hall was busiest on Tuesday between 19:00 and 21:00.",
            "No one came in on Monday, Wednesday, Thursday, Friday, Saturday or Sunday.",
            "It was colder than usual on Friday morning.",
        ]
    finally:
        store.close()


# --- freshness ------------------------------------------------------------------------------

F_NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("age", "level", "words"),
    [
        (timedelta(seconds=2), "fresh", "Updated just now"),
        (timedelta(seconds=40), "fresh", "Updated just now"),
        (timedelta(minutes=2, seconds=10), "fresh", "Updated 2 minutes ago"),
        (timedelta(minutes=1), "fresh", "Updated 1 minute ago"),
        (timedelta(minutes=20), "late", "Updated 20 minutes ago; new readings are overdue"),
        (timedelta(hours=1), "stale", "No new readings for 1 hour — the sensors may be off"),
        (
            timedelta(hours=3, minutes=5),
            "stale",
            "No new readings for 3 hours — the sensors may be off",
        ),
        (timedelta(days=2), "stale", "No new readings for 2 days — the sensors may be off"),
        (-timedelta(seconds=30), "fresh", "Updated just now"),
        (
            -timedelta(minutes=5),
            "future",
            "The newest reading is dated in the future — the clock may not be set yet",
        ),
    ],
)
def test_freshness_in_words(age, level, words):
    result = freshness(F_NOW - age, F_NOW)
    assert (result.level, result.words) == (level, words)


def test_freshness_with_no_readings_and_local_times():
    assert freshness(None, F_NOW).words == "No readings yet"
    # Same instant written in two zones, across the clocks going back.
    latest = datetime(2026, 10, 25, 1, 30, tzinfo=LONDON, fold=0)  # 00:30 UTC, BST
    now = datetime(2026, 10, 25, 1, 30, tzinfo=LONDON, fold=1)  # 01:30 UTC, GMT
    assert freshness(latest, now).words == "No new readings for 1 hour — the sensors may be off"


def test_freshness_thresholds_can_be_set():
    result = freshness(F_NOW - timedelta(minutes=3), F_NOW, late_after=timedelta(minutes=2))
    assert result.words == "Updated 3 minutes ago; new readings are overdue"


def test_the_windows_shapes_line_up_with_random_now():
    rnd = random.Random(4)
    for _ in range(50):
        now = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=rnd.randrange(365 * 86400))
        start, end = daqi_window(now)
        assert end - start == timedelta(hours=24)
        assert end <= now < end + timedelta(hours=1)
        first, last = summary_week(now, LONDON)
        assert (last - first).days == 6
        assert last < now.astimezone(LONDON).date()
