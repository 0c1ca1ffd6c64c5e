"""PostgreSQL's readings by month: each reading in its month's partition, never twice, old
months dropped whole, and a version 8 store's readings kept exactly when it is partitioned."""

import math
import threading
from datetime import UTC, datetime

import pytest

from hub.store_postgres import SCHEMA, PostgresHubStore
from hub.store_postgres_partitions import (
    month_bounds,
    month_of,
    month_start,
    months_between,
    parse_bound,
    partition_name,
)
from hub.store_sql import SCHEMA_VERSION
from hub.store_sqlite import SqliteHubStore
from hub_sync.batch_codec import Batch, WireReading

DAY = 86_400_000_000


def us(*when: int) -> int:
    return int(datetime(*when, tzinfo=UTC).timestamp()) * 1_000_000


DEC = us(2026, 12, 1)
REGISTERED = us(2026, 1, 1)


@pytest.fixture
def pg_store(pg_cluster):
    store = PostgresHubStore(pg_cluster.new_database())
    store.add_device("askrigg", "Askrigg")
    store._run("UPDATE devices SET added_at_us = ?", (REGISTERED,))
    yield store
    store.close()


def batch(seqs, stamps, *, value=20.5, epoch=7, device="askrigg"):
    return Batch(
        device,
        epoch,
        tuple(
            WireReading(s, "t", "temperature", "°C", ts, value)
            for s, ts in zip(seqs, stamps, strict=True)
        ),
    )


def where(store, device="askrigg"):
    """seq → the partition its reading is in."""
    return dict(
        store._query(
            "SELECT seq, tableoid::regclass::text FROM readings WHERE device_id = ?", (device,)
        )
    )


def partitions(store):
    return [name for name, _, _ in store._partitions()]


def test_months_are_utc_calendar_months_to_the_microsecond():
    assert month_of(DEC) == (2026, 12)
    assert month_of(DEC - 1) == (2026, 11)
    assert month_bounds(2026, 12) == (DEC, us(2027, 1, 1))
    assert month_start(2026, 14) == us(2027, 2, 1)  # months past 12 carry
    assert month_of(us(2028, 2, 29, 23, 59, 59) + 999_999) == (2028, 2)
    assert month_of(-1) == (1969, 12)
    assert months_between(DEC - 1, us(2027, 1, 1)) == [(2026, 11), (2026, 12), (2027, 1)]
    assert months_between(-(2**63), 2**63 - 1)[0] == (1000, 1)  # four-digit years only
    assert partition_name(2026, 3) == "readings_2026_03"
    assert parse_bound("FOR VALUES FROM ('-5') TO ('7')") == (-5, 7)
    assert parse_bound("FOR VALUES FROM (1) TO (2)") == (1, 2)
    assert parse_bound("DEFAULT") is None


def test_a_reading_at_a_month_boundary_is_in_the_new_month_and_one_microsecond_before_not(
    pg_store,
):
    pg_store.store_batch(batch([1, 2, 3], [DEC - 1, DEC, us(2027, 1, 1) - 1]), DEC + DAY)
    assert where(pg_store) == {
        1: "readings_2026_11",
        2: "readings_2026_12",
        3: "readings_2026_12",
    }
    assert [r.ts_us for _, r in pg_store.readings("askrigg")] == [DEC - 1, DEC, us(2027, 1, 1) - 1]


def count_by_seq(store):
    """How many rows each seq has, whatever their times (not by the key, which holds ts_us)."""
    return dict(
        store._query(
            "SELECT seq, COUNT(*) FROM readings WHERE device_id = ? GROUP BY seq ORDER BY seq",
            ("askrigg",),
        )
    )


@pytest.mark.parametrize("value", [20.5, math.nan], ids=["plain", "not-plain"])
def test_a_replay_that_lies_about_the_time_is_not_stored_twice(pg_store, value):
    first = [us(2026, 11, 20) + n * 60_000_000 for n in range(5)]
    pg_store.store_batch(batch(range(1, 6), first, value=value), DEC)
    # The same seqs, other times: one a minute later, one in another month's partition.
    lying = [t + 60_000_000 for t in first[:3]] + [DEC + 5, DEC + 6]
    outcome = pg_store.store_batch(batch(range(1, 6), lying, value=value), DEC + DAY)
    assert count_by_seq(pg_store) == dict.fromkeys(range(1, 6), 1)
    assert [r.ts_us for _, r in pg_store.readings("askrigg")] == first
    assert (outcome.inserted, outcome.duplicates) == (0, 5)
    assert [(r.first, r.last) for r in outcome.rejected] == [(1, 5)]
    assert outcome.acked == ()
    (rolled,) = pg_store._query("SELECT SUM(n) FROM hourly")
    assert rolled[0] == (5 if value == value else None)  # NaN is not rolled up
    # New seqs among old ones: only the new go in, in their months.
    outcome = pg_store.store_batch(batch(range(4, 9), [DEC + n for n in range(5)]), DEC + DAY)
    assert count_by_seq(pg_store) == dict.fromkeys(range(1, 9), 1)
    assert outcome.inserted == 3
    assert where(pg_store)[8] == "readings_2026_12"


def test_implausible_times_go_to_the_default_partition_and_make_no_month(pg_store):
    received = us(2026, 3, 29)
    ahead = us(2026, 3, 31, 12)  # two days ahead of the hub: implausible
    ancient = us(1980, 6, 1)  # decades before the device was registered
    pg_store.store_batch(batch([1, 2], [ancient, ahead]), received)
    assert where(pg_store) == {1: "readings_default", 2: "readings_default"}
    assert not any(name.startswith("readings_1980") for name in partitions(pg_store))
    # March comes: its partition is made, and takes the reading waiting in the default.
    other = PostgresHubStore(pg_store.url)  # another worker, its own connection
    try:
        other.store_batch(batch([3], [us(2026, 3, 31, 13)]), us(2026, 3, 31))
    finally:
        other.close()
    assert where(pg_store) == {
        1: "readings_default",
        2: "readings_2026_03",
        3: "readings_2026_03",
    }
    assert [r.seq for _, r in pg_store.readings("askrigg")] == [1, 2, 3]


def test_two_workers_making_the_same_month_at_once_make_it_once(pg_store):
    pg_store.add_device("reeth", "Reeth")
    pg_store._run("UPDATE devices SET added_at_us = ?", (REGISTERED,))
    stores = [PostgresHubStore(pg_store.url) for _ in range(2)]
    start = threading.Barrier(2)
    errors = []

    def store(worker, device):
        try:
            start.wait(5)
            worker.store_batch(batch([1, 2], [us(2026, 4, 2), us(2026, 5, 3)], device=device), DEC)
        except Exception as error:
            errors.append(error)

    threads = [
        threading.Thread(target=store, args=(w, d))
        for w, d in zip(stores, ("askrigg", "reeth"), strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for worker in stores:
        worker.close()
    assert errors == []
    names = partitions(pg_store)
    assert names.count("readings_2026_04") == names.count("readings_2026_05") == 1
    assert where(pg_store, "reeth") == {1: "readings_2026_04", 2: "readings_2026_05"}


def test_a_worker_waits_for_a_month_another_is_making_and_does_not_make_it_again(pg_store):
    import psycopg

    from hub.store_postgres_partitions import LOCK_KEY

    first, end = month_bounds(2026, 4)
    other = psycopg.connect(pg_store.url)  # another worker, making April under the lock
    other.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
    outcome = []
    worker = threading.Thread(
        target=lambda: outcome.append(pg_store.store_batch(batch([1], [first + 5]), DEC))
    )
    worker.start()
    worker.join(1.0)
    assert worker.is_alive()  # waiting for the lock, not making April beside the other
    other.execute(
        f"CREATE TABLE readings_2026_04 PARTITION OF readings FOR VALUES FROM ({first}) TO ({end})"
    )
    other.commit()
    other.close()
    worker.join(30)
    assert [o.inserted for o in outcome] == [1]
    assert where(pg_store) == {1: "readings_2026_04"}


def test_retention_drops_whole_months_deletes_the_boundary_month_and_keeps_rollups(pg_store):
    hour = 3_600_000_000
    stamps = [us(2026, 9, 10), us(2026, 9, 30, 23), us(2026, 10, 5), us(2026, 10, 20)]
    stamps += [us(2026, 11, 2), us(2026, 11, 2) + hour]
    pg_store.store_batch(batch(range(1, 7), stamps), DEC)
    pg_store.store_batch(batch([7], [us(1980, 1, 1)]), DEC)  # implausible: the default
    (hourly_before,) = pg_store._query("SELECT COUNT(*), SUM(n) FROM hourly")
    assert pg_store.prune(us(2026, 10, 15)) == 4  # September's two, October's first, 1980
    names = partitions(pg_store)
    assert "readings_2026_09" not in names
    assert {"readings_2026_10", "readings_2026_11"} <= set(names)
    assert [r.seq for _, r in pg_store.readings("askrigg")] == [4, 5, 6]
    assert pg_store._query("SELECT COUNT(*), SUM(n) FROM hourly")[0] == hourly_before
    assert pg_store.missing("askrigg") == ()  # the received ranges stay
    # A resend of a pruned reading is not stored again: its seq was received.
    assert pg_store.store_batch(batch([2], [stamps[1]]), DEC).inserted == 0
    assert pg_store.prune(DEC) == 3
    assert pg_store.readings("askrigg") == []
    assert pg_store.prune(DEC) == 0


def set_back_to_version_8(store):
    """Make the store a version 8 one: its readings, kept, in one unpartitioned table."""
    store._run("CREATE TABLE saved AS SELECT * FROM readings")
    store._run("DROP TABLE readings")
    (ddl,) = [s for s in SCHEMA if "CREATE TABLE readings" in s]
    store._run(ddl)
    store._run("INSERT INTO readings SELECT * FROM saved")
    store._run("DROP TABLE saved")
    store._run("UPDATE hallsense_schema SET version = 8")
    store.close()


def test_a_version_8_store_keeps_every_reading_exactly_when_partitioned(pg_store):
    stamps = [us(2026, 8, 31, 23) + n * 29 * 3_600_000_000 for n in range(50)]  # Aug to Oct
    pg_store.store_batch(batch(range(1, 51), stamps, value=-0.0), DEC)  # its exact bits kept
    pg_store.store_batch(batch(range(51, 101), stamps, value=21.25), DEC)
    pg_store.store_batch(batch([101, 102], [us(1975, 1, 1), us(2099, 1, 1)]), DEC)
    rows = pg_store._query("SELECT * FROM readings ORDER BY seq")
    before = pg_store.readings("askrigg")
    hourly = pg_store._query("SELECT * FROM hourly ORDER BY 1, 2, 3")
    set_back_to_version_8(pg_store)
    ((kind,),) = pg_store._query("SELECT relkind FROM pg_class WHERE oid = 'readings'::regclass")
    assert kind == "r"
    store = PostgresHubStore(pg_store.url)
    try:
        ((version,),) = store._query("SELECT version FROM hallsense_schema")
        assert version == SCHEMA_VERSION
        assert store._query("SELECT * FROM readings ORDER BY seq") == rows
        assert store.readings("askrigg") == before
        assert store._query("SELECT * FROM hourly ORDER BY 1, 2, 3") == hourly
        legacy = [(a, b) for name, a, b in store._partitions() if name == "readings_legacy"]
        assert legacy == [(us(2026, 8, 1), us(2026, 11, 1))]
        placed = where(store)
        assert {placed[s] for s in range(1, 101)} == {"readings_legacy"}
        assert (placed[101], placed[102]) == ("readings_default", "readings_default")
        # Live readings go on: into the legacy partition's months, and months after it.
        outcome = store.store_batch(batch([103, 104], [us(2026, 10, 9), DEC + 1]), DEC + DAY)
        assert outcome.inserted == 2
        assert (where(store)[103], where(store)[104]) == ("readings_legacy", "readings_2026_12")
        # A lying replay of a migrated reading is refused, not stored beside it.
        assert store.store_batch(batch([5], [DEC + 2]), DEC + DAY).inserted == 0
        assert count_by_seq(store)[5] == 1
        # Retention deletes from the legacy partition, then drops it once it is all old.
        assert store.prune(us(2026, 9, 1)) == 3  # 1975, and each batch's first reading
        assert store.prune(us(2026, 11, 1)) == 99
        assert "readings_legacy" not in partitions(store)
        assert [r.seq for _, r in store.readings("askrigg")] == [102, 104]
    finally:
        store.close()


def test_an_empty_version_8_store_is_partitioned_with_the_months_ahead(pg_store):
    set_back_to_version_8(pg_store)
    store = PostgresHubStore(pg_store.url)
    try:
        names = partitions(store)
        assert "readings_legacy" not in names
        assert len(names) == 4  # this month and the next three
        ((kind,),) = store._query("SELECT relkind FROM pg_class WHERE oid = 'readings'::regclass")
        assert kind == "p"
    finally:
        store.close()


def test_sqlite_keeps_one_unpartitioned_readings_table_at_the_new_version(tmp_path):
    store = SqliteHubStore(tmp_path / "hub.db")
    store._run("PRAGMA user_version = 8")
    store.close()
    store = SqliteHubStore(tmp_path / "hub.db")
    try:
        assert store._query("PRAGMA user_version") == [(SCHEMA_VERSION,)]
        (sql,) = store._query("SELECT sql FROM sqlite_master WHERE name = 'readings'")
        assert "PRIMARY KEY (device_id, store_epoch, seq)" in sql[0]
    finally:
        store.close()
