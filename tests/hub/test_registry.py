"""The device registry in the hub store: register, revoke, delete, and the audit trail."""

import sqlite3
import time

import pytest

from hub.store import UnknownDevice
from hub.store_sqlite import SCHEMA, SqliteHubStore
from hub_sync.batch_codec import Batch, WireReading

NOW_US = time.time_ns() // 1000


def batch(device, seqs):
    return Batch(
        device,
        7,
        tuple(WireReading(s, "t", "temperature", "°C", NOW_US - 1000 + s, 20.0) for s in seqs),
    )


def test_register_revoke_and_delete_leave_an_audit_trail(hub_store):
    hub_store.add_device("askrigg", "Askrigg Village Hall", location="Main hall", actor="alice")
    hub_store.add_device("reeth", "Reeth Memorial Hall", actor="alice")
    hub_store.store_batch(batch("askrigg", range(1, 11)), NOW_US)
    hub_store.store_batch(batch("reeth", range(1, 6)), NOW_US)

    assert hub_store.revoke_device("reeth", actor="bob")
    assert not hub_store.revoke_device("nowhere", actor="bob")
    with pytest.raises(UnknownDevice):
        hub_store.store_batch(batch("reeth", range(6, 8)), NOW_US)

    assert hub_store.delete_device("askrigg", with_data=True, actor="carol") == 10
    assert hub_store.readings("askrigg") == []
    assert hub_store.delete_device("reeth", with_data=False, actor="carol") == 0
    assert len(hub_store.readings("reeth")) == 5  # kept, still attributable
    with pytest.raises(UnknownDevice):
        hub_store.delete_device("askrigg", with_data=True)

    devices = {d.device_id: d for d in hub_store.registered()}
    assert set(devices) == {"reeth"}
    assert devices["reeth"].revoked
    assert devices["reeth"].revoked_at_us is not None
    trail = [(e.actor, e.action, e.device_id) for e in hub_store.audit_log()]
    assert trail == [
        ("alice", "registered", "askrigg"),
        ("alice", "registered", "reeth"),
        ("bob", "revoked", "reeth"),
        ("carol", "deleted with its data", "askrigg"),
        ("carol", "deleted, data kept", "reeth"),
    ]
    assert hub_store.audit_log("askrigg")[-1].detail == "10 readings"


def test_a_version_1_hub_store_is_migrated_and_keeps_its_devices(tmp_path):
    path = tmp_path / "hub.db"
    conn = sqlite3.connect(path)
    for statement in SCHEMA:
        conn.execute(statement)
    conn.execute(
        "INSERT INTO devices (device_id, name, added_at_us) VALUES ('askrigg', 'Askrigg', 1)"
    )
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    store = SqliteHubStore(path)
    try:
        (device,) = store.registered()
        assert (device.device_id, device.site, device.location) == ("askrigg", "Askrigg", "")
        store.revoke_device("askrigg", actor="test")
        assert [e.action for e in store.audit_log()] == ["revoked"]
    finally:
        store.close()


def test_a_rotation_request_rides_on_the_acks_until_the_device_confirms(hub_store):
    hub_store.add_device("askrigg", "Askrigg Village Hall")
    hub_store.add_device("reeth", "Reeth Memorial Hall")
    assert not hub_store.store_batch(batch("askrigg", [1]), NOW_US).rotate

    assert hub_store.request_rotation("askrigg", actor="alice")
    assert hub_store.request_rotation("askrigg", actor="alice")  # asking twice is harmless
    assert not hub_store.request_rotation("nowhere", actor="alice")
    assert hub_store.store_batch(batch("askrigg", [2]), NOW_US).rotate
    assert not hub_store.store_batch(batch("reeth", [1]), NOW_US).rotate
    listed = {d.device_id: d for d in hub_store.registered()}
    assert listed["askrigg"].rotation_requested_us is not None
    assert listed["reeth"].rotation_requested_us is None

    hub_store.finish_rotation("askrigg", actor="device askrigg")
    assert not hub_store.store_batch(batch("askrigg", [3]), NOW_US).rotate
    assert not hub_store.device("askrigg").rotation_requested
    assert [(e.actor, e.action) for e in hub_store.audit_log("askrigg")][-3:] == [
        ("alice", "rotation requested"),
        ("alice", "rotation requested"),
        ("device askrigg", "credentials rotated"),
    ]

    hub_store.revoke_device("reeth")
    assert not hub_store.request_rotation("reeth")  # a revoked device has nothing to rotate


def test_the_hub_records_the_config_it_sent_and_when_the_node_applied_it(hub_store):
    hub_store.add_device("askrigg", "Askrigg Village Hall")
    assert hub_store.node_config("askrigg") is None
    hub_store.save_config("askrigg", 100, '{"v":1,"revision":100}', actor="clerk")
    sent = hub_store.node_config("askrigg")
    assert (sent.revision, sent.sent_by, sent.applied_at_us, sent.error) == (100, "clerk", None, "")

    # A heartbeat from before it arrived, then a refusal, then the node running it.
    hub_store.record_status("askrigg", True, '{"v":1,"state":"online","config_revision":99}', 1)
    assert hub_store.node_config("askrigg").applied_at_us is None
    refusal = '{"v":1,"state":"online","config_revision":99,"config_error":"unknown driver"}'
    hub_store.record_status("askrigg", True, refusal, 2)
    assert hub_store.node_config("askrigg").error == "unknown driver"
    hub_store.record_status("askrigg", True, '{"v":1,"state":"online","config_revision":100}', 3)
    applied = hub_store.node_config("askrigg")
    assert (applied.applied_at_us, applied.error) == (3, "")
    hub_store.record_status("askrigg", True, '{"v":1,"state":"online","config_revision":100}', 9)
    assert hub_store.node_config("askrigg").applied_at_us == 3  # when it first took effect

    hub_store.save_config("askrigg", 101, '{"v":1,"revision":101}', actor="team")
    assert hub_store.node_config("askrigg").applied_at_us is None
    assert hub_store.audit_log("askrigg")[-1].action == "config sent"


def test_the_fleet_lists_each_devices_own_gaps(hub_store):
    hub_store.add_device("askrigg", "Askrigg Village Hall")
    hub_store.add_device("reeth", "Reeth Memorial Hall")
    hub_store.add_device("quiet", "A hall that never sent")
    for device, seqs in (("askrigg", [1, 2, 5, 9]), ("reeth", [3, 4, 7])):
        hub_store.store_batch(batch(device, seqs), NOW_US)
    fleet = {d.device_id: d.missing for d in hub_store.fleet()}
    assert fleet == {"askrigg": ((7, 3, 4), (7, 6, 8)), "reeth": ((7, 5, 6),), "quiet": ()}
    assert hub_store.missing("reeth") == ((7, 5, 6),)


HOUR = 3_600_000_000


def hour_batch(device, seqs, values, start_us, quality=0):
    return Batch(
        device,
        7,
        tuple(
            WireReading(s, "t", "temperature", "°C", start_us + s * 60_000_000, v, quality)
            for s, v in zip(seqs, values, strict=True)
        ),
    )


def test_hourly_rollups_count_each_reading_once_however_often_it_is_sent(hub_store):
    hub_store.add_device("askrigg", "Askrigg Village Hall")
    start = (NOW_US // HOUR - 3) * HOUR
    hub_store.store_batch(hour_batch("askrigg", [1, 2, 3], [18.0, 20.0, 22.0], start), NOW_US)
    hub_store.store_batch(hour_batch("askrigg", [2, 3, 4], [20.0, 22.0, 19.0], start), NOW_US)
    hub_store.store_batch(
        hour_batch("askrigg", [1, 2, 3, 4], [18.0, 20.0, 22.0, 19.0], start), NOW_US
    )
    # A bad value is stored but kept out of the trend; so is a bound ("fewer than 3").
    hub_store.store_batch(hour_batch("askrigg", [5], [85.0], start, quality=1), NOW_US)
    hub_store.store_batch(hour_batch("askrigg", [6], [3.0], start, quality=1 << 4), NOW_US)
    # Pruned at the hub, then sent again by a node whose ack was lost long ago.
    hub_store.prune(start + 2 * 60_000_000)
    hub_store.store_batch(hour_batch("askrigg", [1], [18.0], start), NOW_US)
    hub_store.store_batch(hour_batch("askrigg", [61], [30.0], start), NOW_US)  # the next hour

    (first, second) = hub_store.hourly(["askrigg"], start, start + 2 * HOUR)
    assert (first.hour_us, first.readings, first.low, first.high) == (start, 4, 18.0, 22.0)
    assert first.mean == pytest.approx(19.75)
    assert (second.hour_us, second.readings, second.mean) == (start + HOUR, 1, 30.0)
    assert (first.sensor_id, first.metric, first.unit) == ("t", "temperature", "°C")
    assert hub_store.hourly(["askrigg"], start, start + 2 * HOUR, ["co2"]) == []
    assert hub_store.hourly([], start, start + HOUR) == []


def test_a_version_2_store_gets_rollups_of_what_it_held(tmp_path):
    path = tmp_path / "hub.db"
    store = SqliteHubStore(path)
    store.add_device("askrigg", "Askrigg Village Hall")
    start = (NOW_US // HOUR - 3) * HOUR
    store.store_batch(hour_batch("askrigg", [1, 2], [10.0, 14.0], start), NOW_US)
    store._run("DROP TABLE hourly")
    store._run("DROP TABLE seq_hours")
    for table in ("accounts", "account_halls", "sessions", "api_tokens", "setup_codes"):
        store._run(f"DROP TABLE {table}")
    store._run("DROP TABLE node_configs")
    store._run("ALTER TABLE devices DROP COLUMN rotation_requested_us")
    for table in ("refusals", "dead_letters", "device_series"):  # version 5's
        store._run(f"DROP TABLE {table}")
    store._run("ALTER TABLE devices DROP COLUMN quarantined")
    store._run("PRAGMA user_version = 2")
    store.close()
    store = SqliteHubStore(path)
    try:
        (rollup,) = store.hourly(["askrigg"], start, start + HOUR)
        assert (rollup.readings, rollup.mean, rollup.low, rollup.high) == (2, 12.0, 10.0, 14.0)
        found = store.readings_between(["askrigg"], start, start + HOUR)
        assert [(r.seq, r.value) for r in found] == [(1, 10.0), (2, 14.0)]
    finally:
        store.close()


def test_raw_readings_by_time_are_found_however_the_sequence_runs(hub_store):
    hub_store.add_device("askrigg", "Askrigg Village Hall")
    start = (NOW_US // HOUR - 6) * HOUR
    minute = 60_000_000
    # Seq 1-3 in the first hour; seq 4 was held for the clock and belongs to that hour too;
    # seq 5-6 two hours later; then a new SD card (epoch 8) starts again at seq 1.
    times = {1: 0, 2: minute, 3: 2 * minute, 5: 2 * HOUR, 6: 2 * HOUR + minute, 4: 30 * minute}
    hub_store.store_batch(
        Batch(
            "askrigg",
            7,
            tuple(
                WireReading(s, "t", "temperature", "°C", start + t, float(s))
                for s, t in sorted(times.items())
            ),
        ),
        NOW_US,
    )
    hub_store.store_batch(
        Batch("askrigg", 8, (WireReading(1, "t", "temperature", "°C", start + 10 * minute, 99.0),)),
        NOW_US,
    )
    first_hour = hub_store.readings_between(["askrigg"], start, start + HOUR)
    assert [r.value for r in first_hour] == [1.0, 2.0, 3.0, 99.0, 4.0]  # in time order
    assert [r.value for r in hub_store.readings_between(["askrigg"], start + HOUR, NOW_US)] == [
        5.0,
        6.0,
    ]
    assert len(hub_store.readings_between(["askrigg"], start, NOW_US, limit=3)) == 3
    assert hub_store.readings_between(["askrigg"], start, NOW_US, ["co2"]) == []


def test_daily_rollups_follow_the_halls_days_across_the_clock_change(hub_store):
    from datetime import UTC, date, datetime
    from zoneinfo import ZoneInfo

    from hub.store_sql_rollups import offset_stretches

    london = ZoneInfo("Europe/London")
    hub_store.add_device("askrigg", "Askrigg Village Hall")
    # One reading an hour from midnight BST on 24 October to midnight GMT on 27 October.
    start = int(datetime(2026, 10, 23, 23, tzinfo=UTC).timestamp() * 1e6)
    end = int(datetime(2026, 10, 27, 0, tzinfo=UTC).timestamp() * 1e6)
    readings = tuple(
        WireReading(n + 1, "t", "temperature", "°C", ts, float(n))
        for n, ts in enumerate(range(start, end, HOUR))
    )
    hub_store.add_device("askrigg", "Askrigg Village Hall")
    hub_store._run("UPDATE devices SET added_at_us = ?", (start,))
    hub_store.store_batch(Batch("askrigg", 7, readings), end)

    days = hub_store.daily(["askrigg"], start, end, london)
    assert [(d.day, d.readings) for d in days] == [
        (date(2026, 10, 24), 24),
        (date(2026, 10, 25), 25),  # the clocks go back: a day of 25 hours
        (date(2026, 10, 26), 24),
    ]
    assert days[0].mean == sum(range(24)) / 24
    assert (days[1].low, days[1].high) == (24.0, 48.0)
    assert offset_stretches(start, end, london) == [
        (start, int(datetime(2026, 10, 25, 1, tzinfo=UTC).timestamp() * 1e6), 3_600_000_000),
        (int(datetime(2026, 10, 25, 1, tzinfo=UTC).timestamp() * 1e6), end, 0),
    ]
