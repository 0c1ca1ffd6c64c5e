"""Group commit: several messages in one transaction, each undone alone, acked after the commit.

Ten thousand halls send a heartbeat and a small batch a minute each: one commit (one
flush to disk) per message was what the fleet bench found the hub spending its time on.
A writer now stores whatever waits in one transaction, each message in a savepoint of
its own, and publishes the acks only once that transaction has committed. On SQLite and
PostgreSQL alike.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

import psycopg
import pytest

from hub.ingest import IngestWorker
from hub.quotas import DeviceQuotas
from hub.store import HubStoreError, HubStoreRefused
from hub.store_factory import open_hub_store
from hub.store_sql import SqlHubStore
from hub_sync.acks import decode_ack
from hub_sync.batch_codec import Batch, WireReading, encode_batch
from hub_sync.node_status import encode_status
from hub_sync.topics import topic

T0 = 1_790_000_000_000_000


@dataclass
class Received:
    topic: str
    payload: bytes
    retain: bool = False


def batch(device: str, first: int, count: int = 5) -> Received:
    readings = tuple(
        WireReading(s, "bme-1", "temperature", "°C", T0 + s * 60_000_000, 20.0 + s)
        for s in range(first, first + count)
    )
    return Received(topic(device, "readings"), encode_batch(Batch(device, 7, readings)))


def status(device: str, state: str = "online", **fields: object) -> Received:
    return Received(topic(device, "status"), encode_status(state, **fields))


@pytest.fixture(params=["sqlite", "postgres"])
def location(request, tmp_path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "hub.db")
    return request.getfixturevalue("pg_cluster").new_database()


@pytest.fixture
def store(location):
    opened = open_hub_store(location)
    for device in ("askrigg", "dent", "reeth"):
        opened.add_device(device, device.title())
    yield opened
    opened.close()


def stored(location: str, device: str) -> list[int]:
    """The seqs another connection sees stored for ``device`` (a plain reader: opening a
    hub store would wait for the write lock a group holds)."""
    sql = "SELECT seq FROM readings WHERE device_id = {} ORDER BY seq"
    if location.startswith("postgresql://"):
        with psycopg.connect(location) as conn:
            return [row[0] for row in conn.execute(sql.format("%s"), (device,))]
    with sqlite3.connect(f"file:{location}?mode=ro", uri=True) as conn:
        return [row[0] for row in conn.execute(sql.format("?"), (device,))]


class CheckingPublisher:
    """Records each ack and what another connection sees stored when it goes out."""

    def __init__(self, location: str) -> None:
        self.location = location
        self.sent: list[tuple[str, tuple[tuple[int, int], ...], list[int]]] = []

    def publish(self, where, payload, *, qos=1, retain=False):
        device = where.split("/")[2]
        self.sent.append((device, decode_ack(payload).acked, stored(self.location, device)))


def test_acks_go_out_only_after_the_group_has_committed(location, store):
    publisher = CheckingPublisher(location)
    worker = IngestWorker(store, publisher)
    messages = [batch("askrigg", 1), status("dent"), batch("dent", 1), batch("askrigg", 6)]

    assert worker.handle_group(messages) == ["stored", "status", "stored", "stored"]

    assert sorted((d, acked) for d, acked, _ in publisher.sent) == [
        ("askrigg", ((1, 5),)),
        ("askrigg", ((6, 10),)),
        ("dent", ((1, 5),)),
    ]
    # Every ack went out when another connection could already read all of the group.
    for device, _, seen in publisher.sent:
        assert seen == list(range(1, 11 if device == "askrigg" else 6)), publisher.sent
    assert worker.counters.stored_batches == 3
    assert worker.counters.stored_readings == 15


def test_nothing_of_a_group_is_seen_before_it_commits(location, store):
    with store.grouped():
        store.store_batch(Batch("askrigg", 7, [WireReading(1, "t", "m", "u", T0, 1.0)]), T0)
        store.record_status("dent", True, '{"v":1,"state":"online"}', T0)
        assert stored(location, "askrigg") == []
    assert stored(location, "askrigg") == [1]


class Boom(Exception):
    pass


def spoil_then_fail(store: SqlHubStore) -> None:
    with store._lock, store._transaction():
        store.store_batch(Batch("dent", 7, [WireReading(1, "t", "m", "u", T0, 1.0)]), T0)
        store._run("UPDATE devices SET name = 'spoilt' WHERE device_id = 'reeth'")
        raise Boom


def test_a_write_that_fails_in_a_group_is_undone_alone(location, store):
    assert isinstance(store, SqlHubStore)
    with store.grouped():
        store.store_batch(Batch("askrigg", 7, [WireReading(1, "t", "m", "u", T0, 1.0)]), T0)
        with pytest.raises(Boom):
            spoil_then_fail(store)
        store.store_batch(Batch("askrigg", 7, [WireReading(2, "t", "m", "u", T0 + 1, 2.0)]), T0)
    assert stored(location, "askrigg") == [1, 2]
    assert stored(location, "dent") == []
    reeth = store.device("reeth")
    assert reeth is not None
    assert reeth.name == "Reeth"


def test_after_a_write_undone_in_a_group_the_next_batch_stores_only_its_own_readings(
    location, store
):
    """Seen in CI (hostile device, PostgreSQL): a batch undone inside a group made the next
    batch forget to clear what an earlier one had staged, so that earlier batch's readings
    were stored again under the next batch's device and epoch."""
    with store.grouped():
        store.store_batch(
            Batch("dent", 3, [WireReading(s, "t", "m", "u", T0 + s, 1.0) for s in (1, 2)]), T0
        )
        with pytest.raises(Boom):
            spoil_then_fail(store)
        store.store_batch(Batch("askrigg", 7, [WireReading(9, "t", "m", "u", T0 + 9, 9.0)]), T0)
    assert stored(location, "dent") == [1, 2]
    assert stored(location, "askrigg") == [9]


def test_a_refused_message_in_a_group_leaves_the_others_stored(location, store):
    publisher = CheckingPublisher(location)
    worker = IngestWorker(store, publisher)
    spoofed = Received(topic("dent", "readings"), batch("askrigg", 20).payload)
    messages = [batch("askrigg", 1), spoofed, Received(topic("reeth", "readings"), b"junk")]

    outcomes = worker.handle_group([*messages, batch("reeth", 1)])

    assert outcomes == ["stored", "rejected", "rejected", "stored"]
    assert stored(location, "askrigg") == [1, 2, 3, 4, 5]
    assert stored(location, "reeth") == [1, 2, 3, 4, 5]
    assert {device for device, _, _ in publisher.sent} == {"askrigg", "reeth"}


def test_each_devices_statuses_land_in_the_order_they_came(location, store):
    worker = IngestWorker(store, CheckingPublisher(location))
    messages = [
        status("reeth", backlog=3),
        status("askrigg", backlog=1),
        status("reeth", "offline"),
        status("askrigg", backlog=2),
        batch("dent", 1),
        status("reeth", backlog=0),
    ]
    assert worker.handle_group(messages) == ["status"] * 4 + ["stored", "status"]
    states = {state.device_id: state for state in store.fleet()}
    assert states["askrigg"].online
    assert '"backlog":2' in states["askrigg"].status
    assert states["reeth"].online  # the last of its three, not the will before it
    assert '"backlog":0' in states["reeth"].status


def test_a_group_the_database_drops_stores_nothing_and_acks_nothing(pg_cluster):
    location = pg_cluster.new_database()
    store = open_hub_store(location)
    store.add_device("askrigg", "Askrigg")
    publisher = CheckingPublisher(location)
    worker = IngestWorker(store, publisher)
    killer = open_hub_store(location)
    try:
        # The worker's connection is cut, as a database restart or failover cuts it.
        killer._query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        outcomes = worker.handle_group([batch("askrigg", 1), status("askrigg")])
        assert outcomes == ["store-unavailable", "store-unavailable"]
        assert publisher.sent == []
        assert worker.counters.store_failures == 2  # messages, not groups
        assert worker.counters.stored_batches == 0
        # The next group, on a new connection, stores both: the node's resend loses nothing.
        assert worker.handle_group([batch("askrigg", 1), batch("askrigg", 6)]) == [
            "stored",
            "stored",
        ]
        assert stored(location, "askrigg") == list(range(1, 11))
    finally:
        killer.close()
        store.close()


def test_a_month_a_group_needs_is_made_after_its_commit(pg_cluster):
    location = pg_cluster.new_database()
    store = open_hub_store(location)
    store.add_device("askrigg", "Askrigg")
    try:
        with store.grouped():  # September 2026: older than the months made ahead
            store.store_batch(Batch("askrigg", 7, [WireReading(1, "t", "m", "u", T0, 1.0)]), T0)
            store.record_status("askrigg", True, '{"v":1,"state":"online"}', T0)
        with psycopg.connect(location) as conn:
            where = conn.execute("SELECT tableoid::regclass::text FROM readings").fetchall()
        assert where == [("readings_2026_09",)]
        assert stored(location, "askrigg") == [1]
    finally:
        store.close()


def test_a_partition_that_moved_under_an_insert_is_an_outage_not_a_refusal(pg_cluster):
    """An insert routed to readings_default before another worker attached the month it
    belongs to fails the default's new constraint: not the data's fault, so not refused
    (quarantined) but retried."""
    store = open_hub_store(pg_cluster.new_database())
    store.add_device("askrigg", "Askrigg")
    now = int(time.time() * 1_000_000)  # this month: made ahead, so not the default's
    try:
        with pytest.raises(HubStoreError, match="partition constraint") as caught:
            store._run(
                "INSERT INTO readings_default (device_id, store_epoch, seq, series_id, ts_us, "
                "quality, received_us) VALUES ('askrigg', 7, 1, 1, ?, 0, ?)",
                (now, now),
            )
        assert not isinstance(caught.value, HubStoreRefused)
    finally:
        store.close()


def test_a_message_the_group_could_not_store_is_stored_alone_after_the_commit(location, store):
    real_store_batch = store.store_batch
    failed = []

    def once_unavailable(batch: Batch, at_us: int):
        if batch.device_id == "dent" and not failed:
            failed.append(batch.device_id)  # as a statement the database dropped
            raise HubStoreError("hub store: the partitions moved under this insert")
        return real_store_batch(batch, at_us)

    store.store_batch = once_unavailable  # type: ignore[method-assign]
    publisher = CheckingPublisher(location)
    worker = IngestWorker(store, publisher)
    outcomes = worker.handle_group([batch("dent", 1), batch("askrigg", 1), status("reeth")])
    assert outcomes == ["stored", "stored", "status"]
    assert failed == ["dent"]
    assert stored(location, "dent") == [1, 2, 3, 4, 5]
    assert sorted(device for device, _, _ in publisher.sent) == ["askrigg", "dent"]
    assert worker.counters.stored_batches == 2


def test_a_message_stored_alone_after_its_group_is_not_charged_to_its_quota_again(location, store):
    real_store_batch = store.store_batch
    failed = []

    def once_unavailable(batch: Batch, at_us: int):
        if batch.device_id == "dent" and not failed:
            failed.append(batch.device_id)
            raise HubStoreError("hub store: the partitions moved under this insert")
        return real_store_batch(batch, at_us)

    store.store_batch = once_unavailable  # type: ignore[method-assign]
    # Each device may send one message of five readings a minute: exactly these.
    quotas = DeviceQuotas(1, 10_000, 5, clock=lambda: 0.0)
    worker = IngestWorker(store, CheckingPublisher(location), quotas=quotas)

    assert worker.handle_group([batch("dent", 1), batch("askrigg", 1)]) == ["stored", "stored"]
    assert failed == ["dent"]
    assert stored(location, "dent") == [1, 2, 3, 4, 5]
    # The quota still holds: one message more in the same minute is turned away.
    assert worker.handle(batch("dent", 6)) == "throttled"


def test_a_month_made_by_another_worker_during_a_group_takes_the_groups_readings(pg_cluster):
    location = pg_cluster.new_database()
    store, other = open_hub_store(location), open_hub_store(location)
    for device in ("askrigg", "dent", "reeth"):
        store.add_device(device, device.title())
    now = int(time.time() * 1_000_000)
    september = [WireReading(1, "t", "m", "u", T0, 1.0)]  # older than the months made ahead
    real_store_batch = store.store_batch

    def then_another_worker_makes_september(batch: Batch, at_us: int):
        outcome = real_store_batch(batch, at_us)
        if batch.device_id == "askrigg":
            # Its own series: a new series the group made is not committed yet.
            other.store_batch(Batch("reeth", 7, [WireReading(1, "x", "y", "z", T0, 1.0)]), at_us)
        return outcome

    store.store_batch = then_another_worker_makes_september  # type: ignore[method-assign]
    live = Received(
        topic("askrigg", "readings"),
        encode_batch(Batch("askrigg", 7, [WireReading(1, "t", "m", "u", now, 1.0)])),
    )
    late = Received(topic("dent", "readings"), encode_batch(Batch("dent", 7, september)))
    publisher = CheckingPublisher(location)
    try:
        outcomes = IngestWorker(store, publisher).handle_group([late, live])
        assert outcomes == ["stored", "stored"]
        assert stored(location, "dent") == [1]
        assert {device for device, _, _ in publisher.sent} == {"askrigg", "dent"}
        with psycopg.connect(location) as conn:
            places = conn.execute(
                "SELECT DISTINCT tableoid::regclass::text FROM readings WHERE ts_us = %s", (T0,)
            ).fetchall()
        assert places == [("readings_2026_09",)]
    finally:
        other.close()
        store.close()
