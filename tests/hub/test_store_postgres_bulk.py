"""The PostgreSQL hub store's own fast paths give what the shared SQL gives."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from hub.store_postgres import PostgresHubStore
from hub.store_sql_base import HOUR_US
from hub.store_sql_rollups import RollupTables
from hub_sync.batch_codec import Batch, WireReading

LONDON = ZoneInfo("Europe/London")
START = int(datetime(2026, 10, 20, 5, tzinfo=UTC).timestamp() * 1e6)
END = int(datetime(2026, 10, 29, 0, tzinfo=UTC).timestamp() * 1e6)
SERIES = [("t", "temperature", "°C"), ("t", "humidity", "%"), ("c", "co2", "ppm")]


@pytest.fixture
def pg_store(pg_cluster):
    store = PostgresHubStore(pg_cluster.new_database())
    yield store
    store.close()


def fill_two_halls(store):
    """Readings every 20 minutes of three series in two halls, across the clock change."""
    for device in ("askrigg", "bainbridge"):
        store.add_device(device, device.title())
        store._run("UPDATE devices SET added_at_us = ?", (START,))
        readings = []
        for n, ts in enumerate(range(START, END, HOUR_US // 3)):
            for k, (sensor, metric, unit) in enumerate(SERIES):
                value = float((n * 7 + k * 3) % 41) / 2  # halves: every sum is exact
                readings.append(WireReading(len(readings) + 1, sensor, metric, unit, ts, value))
        store.store_batch(Batch(device, 3, tuple(readings)), END)


@pytest.mark.parametrize(
    ("devices", "metrics"),
    [
        (["askrigg"], []),
        (["askrigg", "bainbridge"], []),
        (["bainbridge", "askrigg"], ["co2", "temperature"]),
        (["askrigg"], ["pressure"]),
    ],
)
def test_daily_rollups_in_one_query_match_the_shared_sql(pg_store, devices, metrics):
    fill_two_halls(pg_store)
    # A range that starts and ends inside local days, the October clock change within it.
    start, end = START + 5 * HOUR_US, END - 7 * HOUR_US
    shared = RollupTables.daily(pg_store, devices, start, end, LONDON, metrics)
    assert pg_store.daily(devices, start, end, LONDON, metrics) == shared
    if metrics != ["pressure"]:
        assert len({(d.device_id, d.metric) for d in shared}) == 3 * len(devices) - (
            len(devices) if metrics else 0
        )
        assert any(d.readings == 75 for d in shared)  # the 25-hour day, three an hour


def stored_state(store, device_id):
    """Every table a batch writes, as comparable rows (series by name, not by id)."""
    names = {
        i: (s, m, u)
        for i, s, m, u in store._query("SELECT id, sensor_id, metric, unit FROM series")
    }
    tables = {
        "readings": "SELECT store_epoch, seq, series_id, ts_us, value, value_bits, quality, "
        "censor, received_us FROM readings WHERE device_id = ?",
        "hourly": "SELECT series_id, hour_us, n, total, low, high FROM hourly WHERE device_id = ?",
        "latest": "SELECT series_id, ts_us, value FROM latest WHERE device_id = ?",
    }
    state = {
        name: sorted(
            tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
            for row in (
                (*row[:2], names[row[2]], *row[3:])
                if name == "readings"
                else (names[row[0]], *row[1:])
                for row in store._query(sql, (device_id,))
            )
        )
        for name, sql in tables.items()
    }
    state["seq_hours"] = sorted(
        store._query(
            "SELECT hour_us, store_epoch, first_seq, last_seq FROM seq_hours WHERE device_id = ?",
            (device_id,),
        )
    )
    state["received"] = store.missing(device_id)
    return state


def test_plain_batches_in_bulk_store_what_the_shared_sql_stores(pg_store, tmp_path):
    from hub.store_postgres_bulk import PlainRows
    from hub.store_sql import SqlHubStore
    from hub.store_sqlite import SqliteHubStore

    sqlite = SqliteHubStore(tmp_path / "hub.db")
    minute = 60_000_000
    t0 = START + 17 * minute
    values = [20.1 + (n % 37) * 0.7 - (n % 5) * 1e-3 for n in range(400)]  # inexact sums

    def readings(first, count, *, step=minute, quality=0, special=None, at=None):
        out = []
        for n in range(first, first + count):
            sensor, metric, unit = SERIES[n % 3]
            value = values[n % len(values)] if special is None else special
            q = quality if n % 4 == 0 else 0
            ts = t0 + n * step if at is None else at
            out.append(WireReading(n, sensor, metric, unit, ts, value, q))
        return tuple(out)

    batches = [
        Batch("askrigg", 5, readings(1, 300)),  # hours on hours, three series
        Batch("askrigg", 5, readings(301, 200, quality=1 << 3)),  # some not rolled up
        Batch("askrigg", 5, readings(150, 200)),  # half resent: not counted twice
        Batch("askrigg", 5, readings(600, 30, step=-minute)),  # older readings: backfill
        Batch("askrigg", 5, readings(700, 9, special=float("inf"))),  # not rolled up
        Batch("askrigg", 5, readings(710, 9, special=float("nan"))),  # not plain
        Batch("askrigg", 5, readings(720, 9, special=-0.0)),  # not plain
        Batch("askrigg", 6, readings(1, 50)),  # a new store epoch
        # Every series twice at one newer time: the first of each pair is the latest.
        Batch("askrigg", 6, readings(51, 6, at=t0 + 900 * minute)),
    ]
    for store in (pg_store, sqlite):
        store.add_device("askrigg", "Askrigg")
        store._run("UPDATE devices SET added_at_us = ?", (START,))
    try:
        for b in batches:
            outcomes = [store.store_batch(b, END) for store in (pg_store, sqlite)]
            assert outcomes[0] == outcomes[1]
            assert stored_state(pg_store, "askrigg") == stored_state(sqlite, "askrigg")
            assert pg_store.latest("askrigg") == sqlite.latest("askrigg")
    finally:
        sqlite.close()
    built = [pg_store._rows(b, START, END, set()) for b in batches]
    assert [isinstance(rows, PlainRows) for rows in built] == [True] * 5 + [False] * 2 + [True] * 2
    for b, rows in zip(batches, built, strict=True):
        shared = SqlHubStore._rows(pg_store, b, START, END, set())
        assert list(rows) == list(shared)
        assert (len(rows), rows[0], rows[-1], rows[2:5]) == (
            len(shared),
            shared[0],
            shared[-1],
            shared[2:5],
        )


def test_a_batch_the_database_refuses_leaves_the_next_one_stored(pg_store):
    from hub.store import HubStoreRefused

    pg_store.add_device("askrigg", "Askrigg")
    pg_store._run("UPDATE devices SET added_at_us = ?", (START,))
    pg_store._run("ALTER TABLE readings ADD CONSTRAINT refuse_big CHECK (value <= 1000)")

    def batch(first, value):
        return Batch(
            "askrigg",
            5,
            tuple(
                WireReading(s, "t", "temperature", "°C", START + s, value)
                for s in range(first, first + 3)
            ),
        )

    # The first plain batch on a connection makes its temporary table, in the transaction
    # that the refusal rolls back.
    with pytest.raises(HubStoreRefused, match="refuse_big"):
        pg_store.store_batch(batch(1, 5000.0), END)
    assert pg_store.store_batch(batch(4, 20.0), END).inserted == 3
    assert [r.seq for _, r in pg_store.readings("askrigg")] == [4, 5, 6]


def test_a_plain_number_out_of_its_columns_range_is_refused_not_an_outage(pg_store):
    from hub.store import HubStoreRefused

    pg_store.add_device("askrigg", "Askrigg")
    pg_store._run("UPDATE devices SET added_at_us = ?", (START,))
    too_far = 2**63  # no decoded batch has it; one built in the process might
    batch = Batch("askrigg", 5, (WireReading(too_far, "t", "temperature", "°C", START, 1.0),))
    pg_store.store_batch(
        Batch("askrigg", 5, (WireReading(1, "t", "temperature", "°C", START, 1.0),)), END
    )
    with pytest.raises(HubStoreRefused):
        pg_store.store_batch(batch, END)


def test_a_fresh_batch_another_writer_stores_meanwhile_goes_the_safe_way(pg_store):
    """A batch no earlier one brought is inserted without ON CONFLICT; when a copy of its
    rows, written without their received ranges (no batch does that: the device's lock and
    its received ranges keep another batch's copy out), commits first, the insert meets
    them, and the batch is stored again the safe way: stored once, counted once,
    acknowledged."""
    import threading

    import psycopg

    pg_store.add_device("askrigg", "Askrigg")
    pg_store._run("UPDATE devices SET added_at_us = ?", (START,))
    minute = 60_000_000
    batch = Batch(
        "askrigg",
        5,
        tuple(
            WireReading(n, *SERIES[n % 3], START + n * minute, 20.0 + n % 7) for n in range(1, 61)
        ),
    )
    other = psycopg.connect(pg_store.url)  # the other writer, its transaction still open
    other.cursor().executemany(
        "INSERT INTO readings (device_id, store_epoch, seq, series_id, ts_us, value, quality, "
        "received_us) VALUES ('askrigg', 5, %s, %s, %s, %s, 0, 0)",
        [
            (r.seq, pg_store._series_id(r.sensor_id, r.metric, r.unit), r.ts_us, r.value)
            for r in batch.readings
        ],
    )
    outcome = []
    writer = threading.Thread(target=lambda: outcome.append(pg_store.store_batch(batch, END)))
    writer.start()
    writer.join(1.0)
    assert writer.is_alive()  # its insert waits on the other writer's rows
    other.commit()
    other.close()
    writer.join(30)
    (stored,) = outcome
    assert (stored.inserted, stored.duplicates, stored.acked) == (0, 60, ((1, 60),))
    (count,) = pg_store._query("SELECT COUNT(*) FROM readings")
    assert count[0] == 60
    # The other writer's rows were not rolled up by it (this test wrote them by hand): the
    # safe way rolls up what no batch had recorded as received, once.
    (rolled,) = pg_store._query("SELECT SUM(n) FROM hourly")
    assert rolled[0] == 60
    again = pg_store.store_batch(batch, END)  # a resend now: received before, the safe way
    assert (again.inserted, again.duplicates) == (0, 60)
    (rolled,) = pg_store._query("SELECT SUM(n) FROM hourly")
    assert rolled[0] == 60
