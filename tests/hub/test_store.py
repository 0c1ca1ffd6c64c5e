import math
import struct
import threading
import time

import pytest

from hub.store import IMPLAUSIBLE_TIME, UnknownDevice
from hub.store_postgres import PostgresHubStore
from hub.store_sqlite import SqliteHubStore
from hub_sync.batch_codec import Batch, WireReading

EPOCH = 2**64 - 5  # beyond int64: stored as two's complement, read back unsigned
NOW_US = time.time_ns() // 1000


@pytest.fixture
def hub(hub_store):
    hub_store.add_device("askrigg", "Askrigg Village Hall")
    return hub_store


def batch(seqs, *, value=20.0, ts=None, sensor="t", epoch=EPOCH, device="askrigg"):
    return Batch(
        device,
        epoch,
        tuple(
            WireReading(
                s, sensor, "temperature", "°C", NOW_US - 1000 + s if ts is None else ts, value
            )
            for s in seqs
        ),
    )


def test_a_batch_stored_twice_is_stored_once(hub):
    first = hub.store_batch(batch(range(1, 11)), NOW_US)
    again = hub.store_batch(batch(range(1, 11)), NOW_US)
    assert (first.inserted, first.duplicates, first.acked) == (10, 0, ((1, 10),))
    assert (again.inserted, again.duplicates, again.acked) == (0, 10, ((1, 10),))
    stored = hub.readings("askrigg")
    assert [r.seq for _, r in stored] == list(range(1, 11))
    assert {epoch for epoch, _ in stored} == {EPOCH}


def test_values_are_kept_bit_for_bit(hub):
    values = [float("nan"), -0.0, float("inf"), 5e-324, 21.123456789012345]
    b = Batch(
        "askrigg",
        EPOCH,
        tuple(
            WireReading(i + 1, "t", "temperature", "°C", NOW_US, v) for i, v in enumerate(values)
        ),
    )
    hub.store_batch(b, NOW_US)
    back = [r.value for _, r in hub.readings("askrigg")]
    assert [struct.pack(">d", v) for v in back] == [struct.pack(">d", v) for v in values]


def test_a_replay_with_different_content_is_rejected_not_stored(hub):
    hub.store_batch(batch([1, 2, 3], value=20.0), NOW_US)
    outcome = hub.store_batch(batch([2, 3, 4], value=99.0), NOW_US)
    assert outcome.acked == ((4, 4),)
    assert [(r.first, r.last) for r in outcome.rejected] == [(2, 3)]
    assert [r.value for _, r in hub.readings("askrigg")] == [20.0, 20.0, 20.0, 99.0]


def test_unknown_and_revoked_devices_are_refused(hub):
    with pytest.raises(UnknownDevice, match="'nowhere' is not registered"):
        hub.store_batch(batch([1], device="nowhere"), NOW_US)


def test_out_of_order_batches_leave_exact_gaps(hub):
    hub.store_batch(batch(range(100, 110)), NOW_US)
    hub.store_batch(batch(range(1, 11)), NOW_US)
    hub.store_batch(batch(range(50, 60)), NOW_US)
    assert hub.missing("askrigg") == ((EPOCH, 11, 49), (EPOCH, 60, 99))
    hub.store_batch(batch(range(11, 50)), NOW_US)
    assert hub.missing("askrigg") == ((EPOCH, 60, 99),)


def test_a_backfilled_reading_never_replaces_a_newer_latest(hub):
    hub.store_batch(batch([500], value=21.0, ts=NOW_US), NOW_US)
    hub.store_batch(batch([1], value=5.0, ts=NOW_US - 86_400_000_000), NOW_US)
    assert hub.latest("askrigg") == {("t", "temperature"): (NOW_US, 21.0)}


def test_implausible_times_are_stored_flagged_and_kept_out_of_latest(hub):
    future = NOW_US + 3 * 86_400_000_000
    hub.store_batch(batch([1], ts=future), NOW_US)
    ((_, reading),) = hub.readings("askrigg")
    assert reading.quality & IMPLAUSIBLE_TIME
    assert hub.latest("askrigg") == {}


def test_fleet_state_counts(hub):
    hub.store_batch(batch([1, 2]), NOW_US)
    hub.count_refused("askrigg", "malformed payload", "no HS header", NOW_US)
    hub.record_status("askrigg", True, '{"v":1}', NOW_US)
    (state,) = hub.fleet()
    assert (state.device_id, state.online, state.readings, state.rejected_batches) == (
        "askrigg",
        True,
        2,
        1,
    )
    assert not math.isnan(state.last_seen_us)


def test_retention_deletes_old_raw_readings_and_keeps_the_gaps_true(hub):
    hub.store_batch(batch([1, 2], ts=NOW_US - 10 * 86_400_000_000), NOW_US)
    hub.store_batch(batch([5], ts=NOW_US), NOW_US)
    assert hub.prune(NOW_US - 86_400_000_000) == 2
    assert [r.seq for _, r in hub.readings("askrigg")] == [5]
    assert hub.missing("askrigg") == ((EPOCH, 3, 4),)


def reopen(store):
    """A second connection to the same hub store, as a second writer has."""
    if isinstance(store, PostgresHubStore):
        return PostgresHubStore(store.url)
    return SqliteHubStore(store.path)


def test_writers_on_their_own_connections_store_one_device_exactly(hub):
    # Two writers take interleaved batches of one device at once: every reading is stored
    # once, no batch fails, and the received ranges close up with no gap.
    import threading

    other = reopen(hub)
    failures = []

    def write(store, starts):
        try:
            for first in starts:
                store.store_batch(batch(range(first, first + 50)), NOW_US)
        except Exception as error:  # pragma: no cover - the assert below shows it
            failures.append(error)

    threads = [
        threading.Thread(target=write, args=(hub, range(1, 5001, 100))),
        threading.Thread(target=write, args=(other, range(51, 5001, 100))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    other.close()
    assert failures == []
    assert [r.seq for _, r in hub.readings("askrigg")] == list(range(1, 5001))
    assert hub.missing("askrigg") == ()
    assert {d.device_id: d.readings for d in hub.fleet()} == {"askrigg": 5000}


def test_a_version_4_store_counts_its_old_rejections_and_series_towards_the_quotas(hub):
    hub.store_batch(batch(range(1, 4), sensor="a"), NOW_US)
    hub.store_batch(batch(range(4, 7), sensor="b"), NOW_US)
    # Back to version 4: rejections were one row per batch, series were not per device.
    for table in ("refusals", "dead_letters", "device_series"):
        hub._run(f"DROP TABLE {table}")
    hub._run("ALTER TABLE devices DROP COLUMN quarantined")
    hub._run("ALTER TABLE api_tokens DROP COLUMN scope")
    for at in (NOW_US - 10, NOW_US):
        hub._run(
            "INSERT INTO rejections (device_id, reason, at_us) VALUES (?, ?, ?)",
            ("askrigg", "not a hallsense readings payload", at),
        )
    if isinstance(hub, PostgresHubStore):
        hub._run("UPDATE hallsense_schema SET version = 4")
    else:
        hub._run("PRAGMA user_version = 4")
    upgraded = reopen(hub)
    try:
        (refusal,) = upgraded.refusals("askrigg")["askrigg"]
        assert (refusal.reason, refusal.count, refusal.first_at_us, refusal.last_at_us) == (
            "rejected",
            2,
            NOW_US - 10,
            NOW_US,
        )
        upgraded.series_quota = 3
        outcome = upgraded.store_batch(
            Batch(
                "askrigg",
                EPOCH,
                tuple(
                    WireReading(7 + n, sensor, "temperature", "°C", NOW_US - 1000 + n, 1.0)
                    for n, sensor in enumerate(["a", "c", "d"])
                ),
            ),
            NOW_US,
        )
        # a and b came before the upgrade: room for one more, c; d is over.
        assert (outcome.acked, [(r.first, r.last) for r in outcome.rejected]) == (
            ((7, 8),),
            [(9, 9)],
        )
    finally:
        upgraded.close()


def test_two_writers_at_once_never_grant_a_device_more_than_its_series_quota(hub):
    second = reopen(hub)
    hub.series_quota = second.series_quota = 50

    def new_series(first_seq, prefix):
        return Batch(
            "askrigg",
            EPOCH,
            tuple(
                WireReading(first_seq + n, f"{prefix}{n}", "co2", "ppm", NOW_US - 1000 + n, 1.0)
                for n in range(50)
            ),
        )

    outcomes = {}
    start = threading.Barrier(2)

    def store(store, name, batch):
        start.wait()
        outcomes[name] = store.store_batch(batch, NOW_US)

    writers = [
        threading.Thread(target=store, args=(hub, "a", new_series(1, "a"))),
        threading.Thread(target=store, args=(second, "b", new_series(51, "b"))),
    ]
    try:
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join(30)
    finally:
        second.close()
    stored = {r.sensor_id for _, r in hub.readings("askrigg")}
    assert len(stored) == 50
    assert sum(o.inserted for o in outcomes.values()) == 50
    refused = sum(r.last - r.first + 1 for o in outcomes.values() for r in o.rejected)
    assert refused == 50
    (count,) = hub._query("SELECT COUNT(*) FROM device_series WHERE device_id = ?", ("askrigg",))
    assert count[0] == 50


def test_a_reading_at_the_very_start_of_64_bit_time_is_stored_flagged(hub):
    outcome = hub.store_batch(batch([1, 2], ts=-(2**63)), NOW_US)
    assert outcome.acked == ((1, 2),)
    assert [r.ts_us for _, r in hub.readings("askrigg")] == [-(2**63)] * 2
    assert all(r.quality & IMPLAUSIBLE_TIME for _, r in hub.readings("askrigg"))


def test_a_series_another_device_uses_is_still_refused_past_this_device_s_quota(hub):
    # The series' id is known to the store (Cowling uses it); Askrigg may use one series.
    hub.add_device("cowling", "Cowling Village Hall")
    hub.store_batch(batch([1], sensor="shared", device="cowling"), NOW_US)
    hub.series_quota = 1
    mixed = Batch(
        "askrigg",
        EPOCH,
        (
            WireReading(1, "own", "temperature", "°C", NOW_US - 10, 20.0),
            WireReading(2, "shared", "temperature", "°C", NOW_US - 9, 21.0),
            WireReading(3, "own", "temperature", "°C", NOW_US - 8, 22.0),
        ),
    )
    outcome = hub.store_batch(mixed, NOW_US)
    assert outcome.acked == ((1, 1), (3, 3))
    assert [(r.first, r.last) for r in outcome.rejected] == [(2, 2)]
    assert [(r.seq, r.sensor_id) for _, r in hub.readings("askrigg")] == [(1, "own"), (3, "own")]


def test_a_decoded_batch_is_stored_as_the_batch_it_was_made_from(hub, tmp_path):
    # The hub stores decoded batches from their columns; a batch made of readings (as
    # tests and the Home Assistant bridge make them) must come out the same.
    from hub_sync.batch_codec import decode_batch, encode_batch

    readings = (
        *(
            WireReading(s, f"s{s % 3}", "co2", "ppm", NOW_US - 1000 + s, 400.0 + s, s % 2, None)
            for s in (1, 2, 3, 5, 8, 9, 10)
        ),
        WireReading(11, "s0", "people", "", NOW_US - 900, 2.0, 0, "<"),
    )
    decoded = decode_batch(encode_batch(Batch("askrigg", EPOCH, readings)))
    hub.store_batch(decoded, NOW_US)
    hub.add_device("cowling", "Cowling Village Hall")
    hub.store_batch(Batch("cowling", EPOCH, readings), NOW_US)
    assert [r for _, r in hub.readings("askrigg")] == [r for _, r in hub.readings("cowling")]
    assert [r.censor for _, r in hub.readings("askrigg")][-1] == "<"
