"""A hall's first and last published hour, found by probing the real hub store (both backends)."""

from __future__ import annotations

from hub.open_data_coverage import published_span
from tests.hub.open_data_halls import HOUR_US, NOW_US, THIS_HOUR_US, add_hall, add_hours


def span(store, devices=("askrigg",), metrics=("temperature",)):
    registered = min(store.device(d).added_at_us for d in devices)
    return published_span(store, devices, metrics, registered_us=registered, now_us=NOW_US)


def test_the_span_runs_from_the_first_published_hour_to_the_end_of_the_last(hub_store):
    add_hall(hub_store, "askrigg", "Askrigg Village Hall", ("temperature",))
    first = THIS_HOUR_US - 90 * 24 * HOUR_US  # recorded before the node was enrolled
    next_seq = add_hours(hub_store, "askrigg", "temperature", "°C", first, 3)
    add_hours(
        hub_store, "askrigg", "temperature", "°C", THIS_HOUR_US - 5 * HOUR_US, 2, seq=next_seq
    )
    assert span(hub_store) == (first, THIS_HOUR_US - 3 * HOUR_US)


def test_only_the_metrics_asked_for_count(hub_store):
    add_hall(hub_store, "askrigg", "Askrigg Village Hall", ("co2",))
    add_hours(hub_store, "askrigg", "temperature", "°C", THIS_HOUR_US - 10 * HOUR_US, 10)
    add_hours(hub_store, "askrigg", "co2", "ppm", THIS_HOUR_US - 4 * HOUR_US, 2, seq=50)
    assert span(hub_store, metrics=("co2",)) == (
        THIS_HOUR_US - 4 * HOUR_US,
        THIS_HOUR_US - 2 * HOUR_US,
    )
    assert span(hub_store, metrics=("pm10",)) is None
    assert span(hub_store, metrics=()) is None


def test_a_hall_without_readings_has_no_span(hub_store):
    add_hall(hub_store, "reeth", "Reeth Memorial Hall", ("footfall",))
    assert span(hub_store, devices=("reeth",)) is None
    assert published_span(hub_store, (), ("footfall",), registered_us=0, now_us=NOW_US) is None


def test_a_hall_of_several_devices_spans_them_all(hub_store):
    add_hall(hub_store, "askrigg", "Askrigg Village Hall", ("temperature",))
    add_hall(hub_store, "askrigg-2", "Askrigg Village Hall", ("temperature",))
    add_hours(hub_store, "askrigg", "temperature", "°C", THIS_HOUR_US - 3 * HOUR_US, 1)
    add_hours(hub_store, "askrigg-2", "temperature", "°C", THIS_HOUR_US - 400 * HOUR_US, 1)
    add_hours(hub_store, "askrigg-2", "temperature", "°C", THIS_HOUR_US, 1, seq=9)
    assert span(hub_store, devices=("askrigg", "askrigg-2")) == (
        THIS_HOUR_US - 400 * HOUR_US,
        THIS_HOUR_US + HOUR_US,
    )
