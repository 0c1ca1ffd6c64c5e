"""The corpus's expected figures, worked out again from the simulated readings themselves.

The corpus test checks the answerer against the figures in question_corpus.json; this
checks a sample of those figures against a plain sum, mean or maximum of the readings
(no store, no rollups, no answerer), so the corpus cannot just repeat the answerer.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.question_corpus import load
from tests.support.question_hall import ZONE, hall_readings


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=ZONE).astimezone(UTC)


def figures_of(question: str) -> list[str]:
    (entry,) = [e for e in load().questions if e["question"] == question]
    return entry["figures"]


def values(metric: str, start: datetime, end: datetime) -> list[tuple[datetime, float]]:
    return [
        (r.timestamp, r.value)
        for r in hall_readings(start - timedelta(hours=1), end)
        if r.metric == metric and start <= r.timestamp < end
    ]


def test_people_on_a_market_saturday_are_the_sum_of_the_door_counts():
    counted = values("footfall", local(2026, 11, 7), local(2026, 11, 8))
    assert figures_of("How many people came on 7th November?") == [
        f"{sum(v for _, v in counted):,.0f}"
    ]


def test_the_busiest_day_of_october_is_the_day_with_the_most_door_counts():
    days: dict[str, float] = {}
    for moment, value in values("footfall", local(2026, 10, 1), local(2026, 11, 1)):
        day = moment.astimezone(ZONE)
        key = f"{day:%A} {day.day} {day:%B}"
        days[key] = days.get(key, 0.0) + value
    busiest = max(days, key=days.__getitem__)
    assert figures_of("When was the hall busiest last month?") == [busiest, f"{days[busiest]:,.0f}"]


def test_the_hours_over_1500_ppm_this_week_are_the_hours_with_a_reading_over_it():
    co2 = values("co2", local(2026, 11, 23), datetime(2026, 11, 27, 15, tzinfo=UTC))
    hours = {m.replace(minute=0) for m, v in co2 if v > 1500}
    peak = max(v for _, v in co2)
    assert figures_of("When did the CO2 go over 1500 this week?") == [
        "yes",
        str(len(hours)),
        f"{peak:,.0f} ppm",
    ]


@pytest.mark.parametrize("question", ["What was the temperature on 3rd March?"])
def test_the_average_temperature_of_a_day_is_the_mean_of_its_readings(question):
    temps = [v for _, v in values("temperature", local(2026, 3, 3), local(2026, 3, 4))]
    mean = sum(temps) / len(temps)
    assert figures_of(question) == [
        f"{mean:.1f} °C",
        f"{min(temps):.1f} °C",
        f"{max(temps):.1f} °C",
    ]
