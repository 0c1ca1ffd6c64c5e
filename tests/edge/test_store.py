import math
from datetime import UTC, datetime, timedelta

import pytest

from edge.ranges import SeqRange
from edge.store import EdgeStore
from edge.store_errors import StoreError
from presentation.reading_flags import Censor, Quality
from sensors.reading import Reading, SensorInfo
from tests.edge.conftest import T0, readings, synced

ALL_TIME = (datetime(1971, 1, 1, tzinfo=UTC), datetime(3000, 1, 1, tzinfo=UTC))


def test_sequence_numbers_count_up_and_survive_reopening(tmp_path):
    with EdgeStore(tmp_path / "a.db") as store:
        assert store.append(readings(3), synced()) == SeqRange(1, 3)
        epoch = store.store_epoch
    with EdgeStore(tmp_path / "a.db") as store:
        assert store.append(readings(2), synced()) == SeqRange(4, 5)
        assert store.store_epoch == epoch


def test_a_new_store_gets_a_new_random_epoch(open_store):
    assert open_store("a.db").store_epoch != open_store("b.db").store_epoch
    assert 0 <= open_store("a.db").store_epoch < 2**64


def test_values_times_flags_and_censoring_round_trip(store):
    moment = datetime(2026, 7, 1, 12, 0, 0, 123456, tzinfo=UTC)
    given = [
        Reading("t", "temperature", 21.123456789, "°C", moment),
        Reading("t", "temperature", float("inf"), "°C", moment, Quality.INFINITE),
        Reading("t", "temperature", float("-inf"), "°C", moment, Quality.INFINITE),
        Reading("p", "people_estimate", 3.0, "count", moment, censor=Censor.LESS_THAN),
        Reading("t", "temperature", float("nan"), "°C", moment),
    ]
    store.append(given, synced())
    back = list(store.readings_between(*ALL_TIME))
    for original, stored in zip(given[:4], back[:4], strict=True):
        assert stored.reading() == original
    assert math.isnan(back[4].value)
    assert back[4].quality == Quality.NOT_A_NUMBER
    assert back[0].timestamp == moment


def test_outbox_rows_oldest_or_newest_first(store):
    store.append(readings(10), synced())
    assert [row[0] for row in store.outbox_rows(3, newest_first=False)] == [1, 2, 3]
    assert [row[0] for row in store.outbox_rows(3, newest_first=True)] == [10, 9, 8]


def test_acknowledgements_in_any_order_are_a_union(store):
    store.append(readings(10), synced())
    assert store.acknowledge([SeqRange(4, 6)]) == 3
    assert store.acknowledge([SeqRange(1, 2), SeqRange(5, 8)]) == 4
    assert store.acknowledge([SeqRange(1, 8)]) == 1
    assert store.acknowledged_ranges() == [SeqRange(1, 8)]
    assert [row[0] for row in store.outbox_rows(10, newest_first=False)] == [9, 10]
    stats = store.stats()
    assert (stats.acknowledged, stats.backlog) == (8, 2)
    assert stats.oldest_unacknowledged == T0 + timedelta(seconds=8)


def test_an_ack_beyond_what_is_stored_is_refused(store):
    store.append(readings(3), synced())
    with pytest.raises(
        ValueError, match=r"range 2\.\.9 goes beyond the last sequence number stored \(3\)"
    ):
        store.acknowledge([SeqRange(2, 9)])
    assert store.acknowledged_ranges() == []


def test_rejected_readings_are_kept_counted_and_never_offered_again(store):
    store.append(readings(5), synced())
    assert store.reject([SeqRange(2, 3)], "timestamp in the future") == 2
    assert [row[0] for row in store.outbox_rows(10, newest_first=False)] == [1, 4, 5]
    assert [(r.first, r.last, r.reason) for r in store.rejected_ranges()] == [
        (2, 3, "timestamp in the future")
    ]
    stats = store.stats()
    assert (stats.rejected, stats.backlog, stats.readings_stored) == (2, 3, 5)


def test_latest_gives_the_newest_per_series(store):
    store.append(readings(3) + readings(2, metric="co2", unit="ppm", sensor="c"), synced())
    store.append(readings(1, value=99.0), synced())
    assert {(r.sensor_id, r.metric): r.value for r in store.latest()} == {
        ("t1", "temperature"): 99.0,
        ("c", "co2"): 2.0,
    }


def test_readings_between_uses_the_time_range(store):
    store.append(readings(10, step_s=60), synced())
    got = list(store.readings_between(T0 + timedelta(minutes=2), T0 + timedelta(minutes=5)))
    assert [r.seq for r in got] == [3, 4, 5]


def test_health_since_moves_only_when_the_state_changes(store):
    t1, t2, t3 = T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)
    store.record_health("gpio", "failing", "no pins", 1, t1)
    store.record_health("gpio", "failing", "no pins", 2, t2)
    (record,) = store.health()
    assert (record.since, record.failures) == (t1, 2)
    store.record_health("gpio", "ok", "", 0, t3)
    assert store.health()[0].since == t3


def test_sensor_metadata_is_kept(store):
    store.register_sensors([SensorInfo("bme", "temperature", "°C", part="BME280", accuracy=1.0)])
    store.append(readings(1, sensor="bme"), synced())
    assert store.latest()[0].sensor_id == "bme"


def test_a_reader_sees_the_writers_commits_and_cannot_write(store, open_store):
    store.append(readings(3), synced())
    reader = open_store(readonly=True)
    assert reader.stats().readings_stored == 3
    store.append(readings(2), synced())
    assert reader.stats().readings_stored == 5
    with pytest.raises(StoreError, match="was opened read-only"):
        reader.append(readings(1), synced())


def test_a_reader_opens_a_cleanly_closed_database(tmp_path):
    with EdgeStore(tmp_path / "x.db") as store:
        store.append(readings(2), synced())
    assert not (tmp_path / "x.db-wal").exists()
    with EdgeStore(tmp_path / "x.db", readonly=True) as reader:
        assert reader.stats().readings_stored == 2


def test_backup_is_a_consistent_copy(store, tmp_path):
    store.append(readings(4), synced())
    store.backup(tmp_path / "copy.db")
    with EdgeStore(tmp_path / "copy.db", readonly=True) as copy:
        assert copy.stats().readings_stored == 4
        assert copy.store_epoch == store.store_epoch


def test_a_clock_going_backwards_causes_no_collision(store):
    store.append(readings(3, start=T0), synced())
    store.append(readings(3, start=T0 - timedelta(days=300)), synced())
    assert [row[0] for row in store.outbox_rows(10, newest_first=False)] == [1, 2, 3, 4, 5, 6]
