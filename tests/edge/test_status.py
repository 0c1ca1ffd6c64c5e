from datetime import UTC, datetime, timedelta

from edge.ranges import SeqRange
from edge.status import format_status, node_status, value_words
from sensors.reading import Reading
from tests.edge.conftest import readings, synced

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def test_values_read_as_words():
    assert value_words(1.0, "bool") == "yes"
    assert value_words(0.0, "bool") == "no"
    assert value_words(1234.0, "count") == "1,234"
    assert value_words(0.25, "1") == "0.25"
    assert value_words(21.5, "°C") == "21.5 °C"
    assert value_words(float("nan"), "°C") == "not a number"


def test_status_text_says_what_a_clerk_needs(store):
    store.append(
        [
            *readings(5, start=NOW - timedelta(minutes=10)),
            Reading("door", "occupancy", 1.0, "bool", NOW - timedelta(minutes=1)),
        ],
        synced(),
    )
    store.acknowledge([SeqRange(1, 2)])
    store.record_health("gpio", "failing", "no GPIO pins on this machine", 3, NOW)
    text = format_status(
        node_status(store, hall_name="Askrigg", clock_synchronised=True, clock_description="ok"),
        NOW,
    )
    assert "waiting for the hub:    4" in text
    assert "oldest waiting:         9 minutes ago" in text
    assert "acknowledged by hub:    2" in text
    assert "gpio         failing since just now — no GPIO pins on this machine" in text
    assert "door                   occupancy          yes            (1 minute ago)" in text


def test_flagged_readings_say_what_is_wrong_in_words(store):
    """The flags read as on the hall's page: no raw names such as ``clock_unsynced``."""
    from presentation.reading_flags import Quality

    store.append(
        [Reading("t1", "temperature", 99.0, "°C", NOW - timedelta(minutes=1), Quality.STUCK)],
        synced(),
    )
    text = format_status(
        node_status(store, hall_name="Askrigg", clock_synchronised=True, clock_description="ok"),
        NOW,
    )
    assert "[the same value many times in a row: the sensor may be stuck]" in text
    assert "clock_" not in text
