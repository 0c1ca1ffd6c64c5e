import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from presentation.reading_flags import Quality
from presentation.vocabulary import METRICS
from sensors.driver import DriverConfigError
from sensors.simulated import (
    METRIC_NAMES,
    SimulatedDriver,
    bookings_on,
    co2_excess_ppm,
    expected_footfall,
    people_present,
    sessions_around,
)
from sensors.validation import Validator

LONDON = ZoneInfo("Europe/London")
# Tuesday 24 November 2026 (GMT, so UTC is local time); badminton 19:00-21:00.
NIGHT = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
BADMINTON = datetime(2026, 11, 24, 20, 30, tzinfo=UTC)


class Clock:
    def __init__(self, start):
        self.now = start

    def __call__(self):
        return self.now


def values(moment, seed=1, interval_s=60):
    driver = SimulatedDriver(interval_s=interval_s, seed=seed, clock=lambda: moment)
    return {r.metric: r.value for r in driver.read()}


def footfall_between(start, end, step, seed=1):
    clock = Clock(start)
    driver = SimulatedDriver(interval_s=step.total_seconds(), seed=seed, clock=clock)
    total = 0.0
    while clock.now < end:
        clock.now += step
        total += next(r.value for r in driver.read() if r.metric == "footfall")
    return total


def test_same_seed_and_read_times_give_identical_readings():
    def run(seed):
        clock = Clock(datetime(2026, 11, 24, 18, tzinfo=UTC))
        driver = SimulatedDriver(interval_s=30, seed=seed, clock=clock)
        readings = []
        for _ in range(200):
            clock.now += timedelta(seconds=30)
            readings += driver.read()
        return readings

    assert run(seed=1) == run(seed=1)
    assert run(seed=1) != run(seed=2)


def test_readings_are_the_same_in_another_process():
    code = (
        "from datetime import UTC, datetime\n"
        "from sensors.simulated import SimulatedDriver\n"
        "moment = datetime(2026, 11, 24, 20, 30, tzinfo=UTC)\n"
        "print([r.value for r in SimulatedDriver(interval_s=60, clock=lambda: moment).read()])"
    )
    # A different PYTHONHASHSEED in each child: nothing may depend on hash().
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    }
    assert outputs == {f"{[values(BADMINTON)[m] for m in METRIC_NAMES]}\n"}


def test_every_metric_is_read_with_the_vocabularys_unit_and_the_clocks_time():
    driver = SimulatedDriver(sensor_prefix="askrigg", clock=lambda: BADMINTON)
    readings = driver.read()
    assert [r.metric for r in readings] == list(METRIC_NAMES)
    for reading in readings:
        assert reading.sensor_id == "askrigg-" + reading.metric.replace("_", "-")
        assert reading.unit == METRICS[reading.metric].unit
        assert reading.timestamp == BADMINTON


def test_three_in_the_morning_is_empty_and_quiet():
    night = values(NIGHT)
    assert night["footfall"] == 0
    assert night["occupancy"] == 0
    assert night["noise"] < 35
    assert night["co2"] < 480


def test_badminton_brings_co2_noise_and_warmth():
    night, busy = values(NIGHT), values(BADMINTON)
    assert busy["occupancy"] == 1
    assert busy["co2"] > night["co2"] + 700
    assert busy["noise"] > night["noise"] + 15
    assert busy["temperature"] > night["temperature"] + 6
    assert busy["relative_humidity"] < night["relative_humidity"]  # the heating dries the air


def test_co2_decays_after_people_leave():
    after = [values(BADMINTON + timedelta(hours=h))["co2"] for h in (0.75, 1.5, 3)]
    assert after[0] > after[1] > after[2]
    assert after[2] < 550


def test_footfall_comes_in_bursts_as_people_arrive_and_leave():
    tuesday = datetime(2026, 11, 24, tzinfo=UTC)
    minute = timedelta(minutes=1)
    arriving = footfall_between(
        tuesday + timedelta(hours=18, minutes=45), tuesday + timedelta(hours=19, minutes=20), minute
    )
    playing = footfall_between(
        tuesday + timedelta(hours=19, minutes=30), tuesday + timedelta(hours=20, minutes=55), minute
    )
    leaving = footfall_between(
        tuesday + timedelta(hours=21), tuesday + timedelta(hours=21, minutes=15), minute
    )
    assert 5 <= arriving <= 25
    assert playing == 0
    assert 5 <= leaving <= 25


def test_footfall_counts_passages_since_the_previous_read():
    tuesday = datetime(2026, 11, 24, tzinfo=UTC)
    often = footfall_between(tuesday, tuesday + timedelta(days=1), timedelta(minutes=1))
    seldom = footfall_between(tuesday, tuesday + timedelta(days=1), timedelta(minutes=15))
    # 12 players in and out: about 24 passages however often the hall is read.
    assert 12 <= often <= 36
    assert 12 <= seldom <= 36


def test_sunday_is_closed():
    sunday = datetime(2026, 11, 29, tzinfo=UTC)
    assert footfall_between(sunday, sunday + timedelta(days=1), timedelta(minutes=10)) == 0
    assert bookings_on(date(2026, 11, 29)) == []


def test_the_market_is_on_the_first_saturday_of_the_month_only():
    assert [b.name for b in bookings_on(date(2026, 11, 7))] == ["market"]
    assert bookings_on(date(2026, 11, 14)) == []
    first, second = datetime(2026, 11, 7, 13, tzinfo=UTC), datetime(2026, 11, 14, 13, tzinfo=UTC)
    assert values(first)["occupancy"] == 1
    assert values(second)["occupancy"] == 0


def test_the_timetable_follows_local_time_through_summer_time():
    # Monday coffee morning, 10:00-12:00 in the hall: 09:00-11:00 UTC in July (BST).
    assert values(datetime(2026, 7, 6, 9, 30, tzinfo=UTC))["occupancy"] == 1
    assert values(datetime(2026, 7, 6, 11, 30, tzinfo=UTC))["occupancy"] == 0
    assert values(datetime(2026, 11, 23, 11, 30, tzinfo=UTC))["occupancy"] == 1  # GMT


def test_sessions_are_placed_in_utc_from_local_wall_clock_times():
    [coffee] = [
        s
        for s in sessions_around(datetime(2026, 7, 6, 12, tzinfo=UTC), LONDON)
        if s.booking.name == "coffee morning"
    ]
    assert (coffee.start, coffee.end) == (
        datetime(2026, 7, 6, 9, tzinfo=UTC),
        datetime(2026, 7, 6, 11, tzinfo=UTC),
    )


def test_the_pure_models_agree_with_each_other():
    moment = datetime(2026, 11, 24, 20, tzinfo=UTC)
    sessions = sessions_around(moment, LONDON)
    assert people_present(moment, sessions) == 12
    assert people_present(NIGHT, sessions_around(NIGHT, LONDON)) == 0
    assert co2_excess_ppm(NIGHT - timedelta(days=1), sessions) == 0
    assert co2_excess_ppm(moment, sessions) > 500
    whole_evening = expected_footfall(
        moment - timedelta(hours=2), moment + timedelta(hours=2), sessions
    )
    assert whole_evening == pytest.approx(24)


def test_a_week_of_readings_is_in_range_and_never_stuck():
    clock = Clock(datetime(2026, 11, 2, tzinfo=UTC))  # a week with the market in it
    driver = SimulatedDriver(interval_s=600, clock=clock)
    validator = Validator(stuck_repeats=20)
    for _ in range(7 * 144):
        for reading in validator(driver.read()):
            assert reading.quality == Quality.GOOD, reading
        clock.now += timedelta(minutes=10)


def test_sensors_are_described_as_a_simulation():
    infos = SimulatedDriver().sensors()
    assert [(i.sensor_id, i.metric, i.unit, i.part) for i in infos] == [
        ("sim-" + m.replace("_", "-"), m, METRICS[m].unit, "simulation") for m in METRIC_NAMES
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"timezone": "Europe/Askrigg"},
            "simulated driver: timezone 'Europe/Askrigg' is not an IANA time zone name "
            "such as 'Europe/London'",
        ),
        ({"seed": "one"}, "simulated driver: seed must be a whole number, got 'one'"),
        ({"sensor_prefix": ""}, "simulated driver: sensor_prefix must not be empty, got ''"),
        (
            {"interval_s": 0},
            "simulated driver: interval_s must be a positive number of seconds, got 0",
        ),
    ],
)
def test_bad_settings_are_named(kwargs, message):
    with pytest.raises(DriverConfigError) as caught:
        SimulatedDriver(**kwargs)
    assert str(caught.value) == message
