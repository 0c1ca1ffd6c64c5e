from datetime import UTC, datetime

import pytest

from sensors.reading import Censor, Quality, Reading
from sensors.validation import StuckDetector, Validator, validate
from sensors.vocabulary import METRICS, metric

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def reading(value, metric_name="temperature", unit="°C", sensor="t1"):
    return Reading(sensor, metric_name, value, unit, NOW)


@pytest.mark.parametrize(
    ("value", "flags"),
    [
        (21.5, Quality.GOOD),
        (float("nan"), Quality.NOT_A_NUMBER),
        (float("inf"), Quality.INFINITE),
        (float("-inf"), Quality.INFINITE),
        (85.0, Quality.GOOD),
        (85.01, Quality.OUT_OF_RANGE),
        (-40.5, Quality.OUT_OF_RANGE),
    ],
)
def test_bad_values_are_flagged_and_kept(value, flags):
    checked = validate(reading(value))
    assert checked.quality == flags
    assert checked.value == value or value != value


def test_unknown_metrics_and_wrong_units_are_flagged():
    assert validate(reading(1.0, "mood", "smiles")).quality == Quality.UNKNOWN_METRIC
    assert validate(reading(70.0, "temperature", "°F")).quality == Quality.UNKNOWN_METRIC


def test_a_gauge_repeating_itself_is_flagged_stuck_from_the_nth_repeat():
    detector = StuckDetector(repeats=3)
    flags = [detector.check(reading(20.0)).quality for _ in range(4)]
    assert flags == [Quality.GOOD, Quality.GOOD, Quality.STUCK, Quality.STUCK]
    assert detector.check(reading(20.1)).quality == Quality.GOOD


def test_counts_and_states_are_never_stuck():
    detector = StuckDetector(repeats=2)
    for _ in range(5):
        assert detector.check(reading(0.0, "footfall", "count")).quality == Quality.GOOD
        assert detector.check(reading(0.0, "occupancy", "bool")).quality == Quality.GOOD


def test_stuck_is_tracked_per_sensor():
    validator = Validator(stuck_repeats=2)
    out = validator([reading(20.0, sensor="a"), reading(20.0, sensor="b")])
    assert [r.quality for r in out] == [Quality.GOOD, Quality.GOOD]
    out = validator([reading(20.0, sensor="a")])
    assert out[0].quality == Quality.STUCK


def test_censored_readings_carry_their_flag():
    censored = Reading("ble", "people_estimate", 3.0, "count", NOW, censor=Censor.LESS_THAN)
    assert censored.quality == Quality.CENSORED


def test_a_naive_timestamp_is_refused():
    with pytest.raises(ValueError, match="timestamp must be timezone-aware"):
        Reading("t", "temperature", 1.0, "°C", datetime(2026, 1, 1))  # noqa: DTZ001


def test_the_vocabulary_names_units_and_ranges():
    assert metric("co2").unit == "ppm"
    assert METRICS["pm2_5"].unit == "µg/m³"
    assert METRICS["noise"].unit == "dBA"
    with pytest.raises(KeyError, match="unknown metric 'mood'; known metrics: battery, co2"):
        metric("mood")
