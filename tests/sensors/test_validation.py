import math
import re
from datetime import UTC, datetime

import pytest

from presentation.reading_flags import Censor, Quality
from sensors.reading import Reading
from sensors.validation import StuckDetector, Validator, validate

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def reading(value, metric="temperature", unit="°C", sensor="hall-bme280"):
    return Reading(sensor, metric, value, unit, NOW)


@pytest.mark.parametrize(
    ("value", "flags"),
    [
        (21.5, Quality.GOOD),
        (-40.0, Quality.GOOD),
        (85.0, Quality.GOOD),
        (85.01, Quality.OUT_OF_RANGE),
        (-40.5, Quality.OUT_OF_RANGE),
        (math.nan, Quality.NOT_A_NUMBER),
        (math.inf, Quality.INFINITE),
        (-math.inf, Quality.INFINITE),
    ],
)
def test_bad_values_are_flagged_and_kept(value, flags):
    checked = validate(reading(value))
    assert checked.quality == flags
    assert checked.value == value or (math.isnan(value) and math.isnan(checked.value))


def test_a_good_reading_comes_back_as_the_same_object():
    good = reading(20.0)
    assert validate(good) is good


def test_an_unknown_metric_is_flagged_and_its_range_not_checked():
    assert validate(reading(1e9, "mood", "smiles")).quality == Quality.UNKNOWN_METRIC


def test_a_unit_other_than_the_vocabularys_is_an_unknown_metric():
    assert validate(reading(70.0, "temperature", "°F")).quality == Quality.UNKNOWN_METRIC


def test_nan_of_an_unknown_metric_earns_both_flags():
    assert validate(reading(math.nan, "mood", "smiles")).quality == (
        Quality.UNKNOWN_METRIC | Quality.NOT_A_NUMBER
    )


def test_flags_a_reading_already_carries_are_kept():
    censored = Reading("ble", "people_estimate", 3.0, "count", NOW, censor=Censor.LESS_THAN)
    assert censored.quality == Quality.CENSORED
    assert validate(censored).quality == Quality.CENSORED
    too_many = Reading("ble", "people_estimate", -1.0, "count", NOW, censor=Censor.LESS_THAN)
    assert validate(too_many).quality == Quality.CENSORED | Quality.OUT_OF_RANGE


def test_a_gauge_repeating_itself_is_stuck_from_the_nth_identical_value():
    detector = StuckDetector(repeats=3)
    flags = [detector.check(reading(20.0)).quality for _ in range(5)]
    assert flags == [Quality.GOOD, Quality.GOOD, Quality.STUCK, Quality.STUCK, Quality.STUCK]


def test_a_stuck_gauge_that_moves_again_is_good_again():
    detector = StuckDetector(repeats=2)
    assert [detector.check(reading(v)).quality for v in (20.0, 20.0, 20.1, 20.1, 20.0)] == [
        Quality.GOOD,
        Quality.STUCK,
        Quality.GOOD,
        Quality.STUCK,
        Quality.GOOD,
    ]


def test_counts_states_and_unknown_metrics_are_never_stuck():
    detector = StuckDetector(repeats=2)
    for _ in range(5):
        assert detector.check(reading(0.0, "footfall", "count")).quality == Quality.GOOD
        assert detector.check(reading(0.0, "occupancy", "bool")).quality == Quality.GOOD
        assert detector.check(reading(1.0, "mood", "smiles")).quality == Quality.GOOD


def test_each_series_is_followed_on_its_own():
    detector = StuckDetector(repeats=2)
    assert detector.check(reading(20.0, sensor="a")).quality == Quality.GOOD
    assert detector.check(reading(20.0, sensor="b")).quality == Quality.GOOD
    assert detector.check(reading(20.0, "cpu_temperature", sensor="a")).quality == Quality.GOOD
    assert detector.check(reading(20.0, sensor="a")).quality == Quality.STUCK


@pytest.mark.parametrize("repeats", [1, 0, -3, 2.5, True])
def test_stuck_needs_at_least_two_repeats(repeats):
    message = f"stuck repeats must be a whole number of 2 or more, got {repeats!r}"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}\\Z"):
        StuckDetector(repeats)


def test_the_validator_applies_both_checks_in_order():
    validator = Validator(stuck_repeats=2)
    batch = [reading(20.0), reading(math.nan, sensor="t2"), reading(900.0, sensor="t3")]
    assert [r.quality for r in validator(batch)] == [
        Quality.GOOD,
        Quality.NOT_A_NUMBER,
        Quality.OUT_OF_RANGE,
    ]
    assert [r.quality for r in validator(batch)] == [
        Quality.STUCK,
        Quality.NOT_A_NUMBER,  # NaN is never equal to itself, so never "the same value"
        Quality.OUT_OF_RANGE | Quality.STUCK,
    ]


def test_the_validator_defaults_to_a_hundred_repeats():
    validator = Validator()
    flags = [validator([reading(20.0)])[0].quality for _ in range(100)]
    assert flags[:99] == [Quality.GOOD] * 99
    assert flags[99] == Quality.STUCK
