"""Every metric of the vocabulary has Home Assistant discovery data that Home Assistant accepts."""

import json
import math

import pytest

from presentation.home_assistant import (
    HA_ENTITIES,
    entity_name,
    ha_entity,
    ha_state,
    ha_unit,
    quality_names,
)
from presentation.reading_flags import Quality, flag_summary
from presentation.vocabulary import METRICS

# Home Assistant's own rules, transcribed from homeassistant/components/sensor/const.py
# (DEVICE_CLASS_UNITS, DEVICE_CLASS_STATE_CLASSES) and the sensor and binary sensor
# documentation, for the device classes a hall's metrics could plausibly take.
PRESSURE_UNITS = {"Pa", "hPa", "kPa", "bar", "cbar", "mbar", "mmHg", "inHg", "psi"}
SENSOR_DEVICE_CLASS_UNITS = {
    "temperature": {"°C", "°F", "K"},
    "humidity": {"%"},
    "moisture": {"%"},
    "carbon_dioxide": {"ppm"},
    "carbon_monoxide": {"ppm"},
    "pm1": {"µg/m³"},
    "pm25": {"µg/m³"},
    "pm10": {"µg/m³"},
    "volatile_organic_compounds": {"µg/m³"},
    "volatile_organic_compounds_parts": {"ppb", "ppm"},
    "aqi": {None},
    "atmospheric_pressure": PRESSURE_UNITS,
    "pressure": PRESSURE_UNITS,
    "sound_pressure": {"dB", "dBA"},
    "battery": {"%"},
    "voltage": {"µV", "mV", "V", "kV", "MV"},
    "data_size": {"B", "kB", "MB", "GB", "TB", "KiB", "MiB", "GiB", "TiB"},
    "illuminance": {"lx"},
    "signal_strength": {"dB", "dBm"},
}
STATE_CLASSES = {"measurement", "total", "total_increasing"}
# Device classes that take any state class (the rest of ours take only "measurement").
ANY_STATE_CLASS = {"data_size"}
BINARY_SENSOR_DEVICE_CLASSES = {
    "battery", "battery_charging", "carbon_monoxide", "cold", "connectivity", "door",
    "garage_door", "gas", "heat", "light", "lock", "moisture", "motion", "moving",
    "occupancy", "opening", "plug", "power", "presence", "problem", "running", "safety",
    "smoke", "sound", "tamper", "update", "vibration", "window",
}  # fmt: skip


def test_the_home_assistant_table_holds_exactly_the_vocabulary():
    assert set(HA_ENTITIES) - set(METRICS) == set(), "keys that are no metric"
    assert set(METRICS) - set(HA_ENTITIES) == set(), "metrics with no Home Assistant entity"


@pytest.mark.parametrize("name", sorted(METRICS))
def test_each_metric_is_an_entity_home_assistant_accepts(name):
    metric, entity = METRICS[name], HA_ENTITIES[name]
    assert entity.unit == ha_unit(metric.unit), "the unit is the vocabulary's"
    assert ha_entity(name, metric.unit) is entity
    if metric.kind == "state":
        assert entity.platform == "binary_sensor"
        assert entity.device_class in BINARY_SENSOR_DEVICE_CLASSES
        assert (entity.unit, entity.state_class, entity.in_words) == (None, None, False)
        return
    assert entity.platform == "sensor"
    assert entity.state_class in STATE_CLASSES
    if entity.device_class is not None:
        assert entity.unit in SENSOR_DEVICE_CLASS_UNITS[entity.device_class]
        if entity.device_class not in ANY_STATE_CLASS:
            assert entity.state_class == "measurement"
    if metric.kind == "count":
        assert entity.device_class is None, "Home Assistant has no device class for counts"


def test_the_metrics_people_asked_about_have_their_classes():
    def described(name):
        e = HA_ENTITIES[name]
        return (e.platform, e.device_class, e.unit)

    assert described("relative_humidity") == ("sensor", "humidity", "%")
    assert described("noise") == ("sensor", "sound_pressure", "dBA")
    assert described("pm2_5") == ("sensor", "pm25", "µg/m³")
    assert described("co2") == ("sensor", "carbon_dioxide", "ppm")
    assert described("battery") == ("sensor", "voltage", "V")
    assert described("battery_level") == ("sensor", "battery", "%")
    assert described("occupancy") == ("binary_sensor", "occupancy", None)
    assert described("undervoltage") == ("binary_sensor", "problem", None)
    assert described("throttled") == ("binary_sensor", "problem", None)
    assert HA_ENTITIES["people_estimate"].in_words


def test_an_unknown_metric_or_unit_is_a_plain_sensor():
    assert ha_entity("teleportation", "m") == ha_entity("teleportation", "m")
    plain = ha_entity("teleportation", "m")
    assert (plain.platform, plain.device_class, plain.unit) == ("sensor", None, "m")
    other_unit = ha_entity("temperature", "°F")  # not the vocabulary's unit: no class
    assert (other_unit.device_class, other_unit.unit) == (None, "°F")
    assert ha_entity("noise", "dB(A)").device_class == "sound_pressure"  # the same unit
    assert ha_entity("footfall", "people").unit is None


def test_names_come_from_the_sensor_label_and_the_vocabulary():
    assert entity_name("relative_humidity", "scd-1") == "scd-1: Relative humidity"
    assert entity_name("co2", "Main hall CO2") == "Main hall CO2: Carbon dioxide concentration"
    assert entity_name("occupancy", "pir") == "pir: Occupancy"
    assert entity_name("teleportation_rate", "x") == "x: Teleportation rate"


def test_a_good_reading_is_its_number_with_no_flags():
    state = ha_state("temperature", "°C", 21.5, 0, None, 1_700_000_000_000_000)
    assert state == {
        "state": 21.5,
        "shown": "21.5 °C",
        "attributes": {
            "quality": [],
            "quality_words": "no problems",
            "measured_at": "2023-11-14T22:13:20+00:00",
        },
    }


def test_a_reading_on_an_unsynchronised_clock_still_counts_and_says_so():
    state = ha_state("co2", "ppm", 612.0, Quality.CLOCK_UNSYNCED, None, 0)
    assert state["state"] == 612.0
    assert state["attributes"]["quality"] == ["clock_unsynced"]
    assert state["attributes"]["quality_words"] == flag_summary(Quality.CLOCK_UNSYNCED)
    assert "_" not in state["attributes"]["quality_words"]  # words, not flag names


def test_a_censored_count_reads_fewer_than_3_and_is_no_number():
    state = ha_state("people_estimate", "count", 3.0, Quality.CENSORED, "<", 0)
    assert state["state"] is None  # Home Assistant's "unknown", never 3 as if counted
    assert state["shown"] == "fewer than 3"
    assert state["attributes"]["censor"] == "<"
    assert state["attributes"]["bound"] == 3.0
    assert ha_state("people_estimate", "count", 12.0, 0, None, 0)["shown"] == "12"


def test_unfit_values_are_unknown_and_the_reported_value_an_attribute():
    out_of_range = ha_state("temperature", "°C", 185.0, Quality.OUT_OF_RANGE, None, 0)
    assert (out_of_range["state"], out_of_range["shown"]) == (None, None)
    assert out_of_range["attributes"]["reported"] == 185.0
    assert out_of_range["attributes"]["quality"] == ["out_of_range"]
    nan = ha_state("temperature", "°C", math.nan, Quality.NOT_A_NUMBER, None, 0)
    assert nan["attributes"]["reported"] is None
    json.dumps(nan, allow_nan=False)  # JSON as it must be: no NaN


def test_on_off_metrics_are_on_or_off():
    assert ha_state("occupancy", "bool", 1.0, 0, None, 0)["state"] == "ON"
    assert ha_state("throttled", "bool", 0.0, 0, None, 0)["state"] == "OFF"


def test_quality_flags_by_name_and_unknown_bits_kept():
    assert quality_names(Quality.STUCK | Quality.CLOCK_CORRECTED) == ["stuck", "clock_corrected"]
    assert quality_names(1 << 20) == ["unknown_0x100000"]


def test_a_time_no_calendar_holds_is_no_time():
    assert ha_state("co2", "ppm", 1.0, 0, None, 2**62)["attributes"]["measured_at"] is None
