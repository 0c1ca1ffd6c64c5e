"""`hallsense edge calibrate-footfall`: the hall's devices per person from its door counter."""

from datetime import UTC, datetime, timedelta

from click.testing import CliRunner

from edge.clock import ClockSample
from edge.footfall_calibration import calibrate
from edge.store import EdgeStore
from hallsense.cli import cli
from presentation.reading_flags import Censor
from sensors.reading import Reading
from tests.support.edge_process import write_env

OPEN = datetime(2026, 11, 23, 9, 55, tzinfo=UTC)  # a Monday coffee morning (GMT)
DEVICES_PER_PERSON = 1.4


def coffee_morning(day: int, people: int = 30, estimates_made_with: float = 2.0):
    """A morning's door counts (one in every 30 s, then out) and the BLE estimates made
    with ``estimates_made_with`` devices per person of a crowd carrying 1.4 each."""
    start = OPEN + timedelta(days=day)
    readings = []
    inside = 0
    timeline = []
    for minute in range(0, 140):
        at = start + timedelta(minutes=minute)
        entries = 2 if minute < people // 2 else 0
        exits = 2 if 115 <= minute < 115 + people // 2 else 0
        inside += entries - exits
        readings += [
            Reading("gpio-door-pair", "entries", float(entries), "count", at),
            Reading("gpio-door-pair", "exits", float(exits), "count", at),
        ]
        timeline.append((at, inside))
    for at, present in timeline[4::5]:
        value = round(present * DEVICES_PER_PERSON / estimates_made_with)
        if value < 3:
            readings.append(
                Reading("ble-people", "people_estimate", 3.0, "count", at, censor=Censor.LESS_THAN)
            )
        else:
            readings.append(Reading("ble-people", "people_estimate", float(value), "count", at))
    return readings


def node(tmp_path, readings, **settings):
    data = tmp_path / "node"
    store = EdgeStore(data / "hallsense.db")
    store.append(readings, ClockSample(datetime.now(UTC), 10**12, True, "boot"))
    store.close()
    return write_env(tmp_path / "edge.env", data_dir=data, clock_check="trust", **settings)


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_the_suggested_figure_is_the_crowds_devices_per_person(tmp_path):
    readings = coffee_morning(0) + coffee_morning(7)
    env = node(tmp_path, readings, ble_footfall_devices_per_person=2.0)
    result = invoke(
        "edge", "calibrate-footfall", "--env", env, "--from", "2026-11-23", "--to", "2026-11-30"
    )
    assert result.exit_code == 0, result.output
    assert "Set HALLSENSE_BLE_FOOTFALL_DEVICES_PER_PERSON=1.4\n" in result.output
    # 10 or more in from the 5th minute until the crowd thins out, on both Mondays.
    assert result.output.startswith("50 intervals with 10 or more people in")


def test_the_count_of_people_starts_again_each_local_day_and_never_goes_below_zero():
    # A day whose exits were missed (a beam blocked at closing) must not carry its
    # crowd into the next morning.
    first = [r for r in coffee_morning(0) if r.metric != "exits"]
    result = calibrate(
        first + coffee_morning(1), current_devices_per_person=2.0, timezone="Europe/London"
    )
    day_two = calibrate(coffee_morning(1), current_devices_per_person=2.0, timezone="Europe/London")
    assert day_two.devices_per_person == 1.4
    assert result.devices_per_person is not None
    assert result.intervals > day_two.intervals  # the first day's blocked exits kept 30 in


def test_censored_and_quiet_intervals_are_left_out():
    readings = coffee_morning(0, people=8)  # never 10 people in
    result = calibrate(readings, current_devices_per_person=1.0, timezone="Europe/London")
    assert result.intervals == 0
    assert result.devices_per_person is None


def test_without_a_door_pair_or_estimates_it_says_what_is_missing(tmp_path):
    estimates = [r for r in coffee_morning(0) if r.metric == "people_estimate"]
    env = node(tmp_path, estimates)
    result = invoke(
        "edge", "calibrate-footfall", "--env", env, "--from", "2026-11-23", "--to", "2026-11-23"
    )
    assert result.exit_code == 1
    assert "needs a door beam pair" in result.output


def test_too_few_busy_intervals_is_an_error_naming_the_way_out(tmp_path):
    env = node(tmp_path, coffee_morning(0, people=9))
    result = invoke(
        "edge", "calibrate-footfall", "--env", env, "--from", "2026-11-23", "--to", "2026-11-23"
    )
    assert result.exit_code == 1
    assert "lower --min-people" in result.output
    loose = invoke(
        "edge",
        "calibrate-footfall",
        "--env",
        env,
        "--from",
        "2026-11-23",
        "--to",
        "2026-11-23",
        "--min-people",
        5,
    )
    assert loose.exit_code == 0, loose.output
