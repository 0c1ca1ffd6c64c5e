"""A decoded batch keeps its readings as columns; they read as the readings sent."""

import pytest

from hub_sync.batch_codec import decode_batch, encode_batch
from hub_sync.batch_types import Batch, ColumnReadings, WireReading, columns_of

READINGS = (
    WireReading(3, "door", "people", "", 1_790_000_000_000_000, 2.0, 0, "<"),
    WireReading(4, "room", "temperature", "°C", 1_790_000_000_000_001, 19.5),
    WireReading(7, "room", "humidity", "%", 1_790_000_000_000_002, 55.0, 4),
    WireReading(8, "room", "temperature", "°C", 1_790_000_060_000_001, 19.75),
    WireReading(9, "door", "people", "", 1_790_000_060_000_000, 5.0, 0, ">"),
)


def as_lists(columns):
    # A contiguous batch's sequence numbers decode as a range: the same numbers.
    return {
        name: list(value) if isinstance(value, range | list) else value
        for name, value in ((n, getattr(columns, n)) for n in columns.__slots__)
    }


@pytest.mark.parametrize("readings", [READINGS, READINGS[1:2], READINGS[1:4:2]])
def test_decoded_columns_are_the_columns_of_the_readings_sent(readings):
    batch = decode_batch(encode_batch(Batch("askrigg", 7, readings)))
    assert isinstance(batch.readings, ColumnReadings)
    assert as_lists(batch.columns()) == as_lists(columns_of(readings))
    assert batch.readings == readings
    assert tuple(batch.readings) == readings
    assert batch == Batch("askrigg", 7, readings)
    assert hash(batch) == hash(Batch("askrigg", 7, readings))


def test_columns_name_each_series_once_in_the_order_first_met():
    columns = columns_of(READINGS)
    assert columns.series == (
        ("door", "people", ""),
        ("room", "temperature", "°C"),
        ("room", "humidity", "%"),
    )
    assert list(columns.index) == [0, 1, 2, 1, 0]
    assert columns.keys()[3] == ("room", "temperature", "°C")
    assert columns.runs == ((3, 4), (7, 9))
    assert columns.censors == ["<", None, None, None, ">"]


def test_no_censored_reading_leaves_no_censor_column():
    batch = decode_batch(encode_batch(Batch("askrigg", 7, READINGS[1:4])))
    assert batch.columns().censors is None
    assert [r.censor for r in batch.readings] == [None, None, None]


def test_readings_are_made_once_and_index_like_a_tuple():
    batch = decode_batch(encode_batch(Batch("askrigg", 7, READINGS)))
    assert batch.readings[0] is batch.readings[0]
    assert batch.readings[-1] == READINGS[-1]
    assert batch.readings[1:3] == READINGS[1:3]
    assert len(batch.readings) == 5
