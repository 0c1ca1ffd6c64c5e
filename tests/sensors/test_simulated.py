from datetime import UTC, datetime, timedelta

from sensors.reading import Quality
from sensors.simulated import SimulatedDriver
from sensors.validation import Validator


def at(moment):
    return lambda: moment


def values(moment, seed=1, interval_s=60):
    driver = SimulatedDriver(interval_s=interval_s, seed=seed, clock=at(moment))
    return {r.metric: r.value for r in driver.read()}


# Tuesday 24 November 2026 (GMT); badminton 19:00-21:00
NIGHT = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
BADMINTON = datetime(2026, 11, 24, 20, 30, tzinfo=UTC)
ARRIVING = datetime(2026, 11, 24, 19, 10, tzinfo=UTC)


def test_same_seed_and_times_give_the_same_readings():
    assert values(BADMINTON) == values(BADMINTON)
    assert values(BADMINTON, seed=2) != values(BADMINTON, seed=1)


def test_a_night_is_empty_and_quiet():
    night = values(NIGHT)
    assert night["footfall"] == 0
    assert night["occupancy"] == 0
    assert night["noise"] < 40
    assert night["co2"] < 500


def test_co2_noise_and_warmth_rise_with_people():
    night, busy = values(NIGHT), values(BADMINTON)
    assert busy["occupancy"] == 1
    assert busy["co2"] > night["co2"] + 200
    assert busy["noise"] > night["noise"] + 10
    assert busy["temperature"] > night["temperature"] + 4


def test_footfall_comes_in_bursts_as_people_arrive():
    arriving = sum(values(ARRIVING + timedelta(minutes=m))["footfall"] for m in range(0, 10))
    mid_session = sum(values(BADMINTON + timedelta(minutes=m))["footfall"] for m in range(0, 10))
    assert arriving >= 2
    assert mid_session == 0


def test_local_days_follow_summer_time():
    # Monday 6 July 2026, coffee morning 10:00-12:00 BST = 09:00-11:00 UTC
    summer = values(datetime(2026, 7, 6, 10, 30, tzinfo=UTC))
    assert summer["occupancy"] == 1
    assert values(datetime(2026, 7, 6, 11, 30, tzinfo=UTC))["occupancy"] == 0


def test_a_week_of_readings_is_all_in_range():
    driver_time = [datetime(2026, 11, 23, tzinfo=UTC)]
    driver = SimulatedDriver(interval_s=600, clock=lambda: driver_time[0])
    validator = Validator(stuck_repeats=50)
    for _ in range(7 * 144):
        for reading in validator(driver.read()):
            assert reading.quality == Quality.GOOD, reading
        driver_time[0] += timedelta(minutes=10)
