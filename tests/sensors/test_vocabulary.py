import pytest

from presentation.vocabulary import METRICS, Metric
from sensors.driver import SensorError
from sensors.vocabulary import UnknownMetric, metric


def test_metric_returns_the_vocabulary_entry():
    assert metric("co2") is METRICS["co2"]
    assert isinstance(metric("co2"), Metric)


def test_an_unknown_metric_is_a_key_error_listing_the_known_ones():
    with pytest.raises(KeyError) as caught:
        metric("mood")
    assert isinstance(caught.value, UnknownMetric)
    assert isinstance(caught.value, SensorError)
    assert str(caught.value) == (
        "unknown metric 'mood'; known metrics: battery, battery_level, co2, cpu_temperature, "
        "disk_free, "
        "entries, exits, footfall, gas_resistance, load_1m, motion_events, noise, occupancy, "
        "people_estimate, pm10, pm2_5, pressure, relative_humidity, temperature, "
        "test_counter, throttled, undervoltage"
    )
