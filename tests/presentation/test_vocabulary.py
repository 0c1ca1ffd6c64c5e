import math

import pytest

from presentation.vocabulary import METRICS

GAUGES = {
    "temperature",
    "relative_humidity",
    "co2",
    "pm2_5",
    "pm10",
    "pressure",
    "noise",
    "gas_resistance",
    "battery",
    "battery_level",
    "cpu_temperature",
    "disk_free",
    "load_1m",
}


def test_the_vocabulary_names_each_metric_its_unit_and_range():
    assert {name: (m.unit, m.low, m.high) for name, m in METRICS.items()} == {
        "temperature": ("°C", -40, 85),
        "relative_humidity": ("%", 0, 100),
        "co2": ("ppm", 0, 40000),
        "pm2_5": ("µg/m³", 0, 1000),
        "pm10": ("µg/m³", 0, 1000),
        "pressure": ("hPa", 300, 1100),
        "noise": ("dBA", 0, 140),
        "footfall": ("count", 0, 100000),
        "entries": ("count", 0, 100000),
        "exits": ("count", 0, 100000),
        "occupancy": ("bool", 0, 1),
        "motion_events": ("count", 0, 100000),
        "gas_resistance": ("Ω", 0, 1e9),
        "battery": ("V", 0, 5),
        "battery_level": ("%", 0, 100),
        "cpu_temperature": ("°C", -40, 125),
        "disk_free": ("MB", 0, 1e9),
        "load_1m": ("1", 0, 1000),
        "undervoltage": ("bool", 0, 1),
        "throttled": ("bool", 0, 1),
        "people_estimate": ("count", 0, 100000),
        "test_counter": ("count", 0, 1e15),
    }


def test_only_levels_that_wander_are_gauges():
    assert {name for name, m in METRICS.items() if m.kind == "gauge"} == GAUGES
    assert {name for name, m in METRICS.items() if m.kind == "state"} == {
        "occupancy",
        "undervoltage",
        "throttled",
    }


def test_senml_units_are_registered_names_or_none():
    assert {name: m.senml_unit for name, m in METRICS.items()} == {
        "temperature": "Cel",
        "relative_humidity": "%RH",
        "co2": "ppm",
        "pm2_5": "ug/m3",
        "pm10": "ug/m3",
        "pressure": "hPa",
        "noise": None,
        "footfall": "count",
        "entries": "count",
        "exits": "count",
        "occupancy": None,
        "motion_events": "count",
        "gas_resistance": "Ohm",
        "battery": "V",
        "battery_level": "%EL",
        "cpu_temperature": "Cel",
        "disk_free": None,
        "load_1m": None,
        "undervoltage": None,
        "throttled": None,
        "people_estimate": "count",
        "test_counter": "count",
    }


def test_every_metric_is_described_and_keyed_by_its_own_name():
    for name, m in METRICS.items():
        assert m.name == name
        assert m.description
        assert m.low < m.high
        assert math.isfinite(m.low)
        assert math.isfinite(m.high)


def test_the_vocabulary_cannot_be_changed_at_run_time():
    with pytest.raises(TypeError):
        METRICS["mood"] = METRICS["co2"]  # type: ignore[index]
    with pytest.raises(AttributeError):
        METRICS["co2"].high = 1  # type: ignore[misc]
