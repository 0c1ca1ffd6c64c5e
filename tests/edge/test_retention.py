from datetime import UTC, datetime, timedelta

from edge.ranges import SeqRange
from tests.edge.conftest import readings, synced

BIG = 10**12


def retain(store, now, max_bytes=BIG, raw_days=30.0, minute_days=31.0, rollup_days=3660.0):
    return store.enforce_retention(
        now,
        raw_retention_days=raw_days,
        minute_rollup_days=minute_days,
        rollup_days=rollup_days,
        max_bytes=max_bytes,
    )


def test_acknowledged_readings_go_after_the_retention_window(store):
    store.append(readings(10), synced())
    store.acknowledge([SeqRange(1, 6)])
    now = datetime.now(UTC)
    assert retain(store, now).raw_deleted == 0
    report = retain(store, now + timedelta(days=31))
    assert report.raw_deleted == 6
    assert [row[0] for row in store.outbox_rows(10, newest_first=False)] == [7, 8, 9, 10]
    stats = store.stats()
    assert (stats.readings_stored, stats.backlog, stats.dropped) == (4, 4, 0)
    assert store.acknowledged_ranges() == [SeqRange(1, 6)]


def test_unacknowledged_readings_are_kept_however_old(store):
    store.append(readings(10, start=datetime(2020, 1, 1, tzinfo=UTC)), synced())
    retain(store, datetime.now(UTC) + timedelta(days=3650))
    assert len(store.outbox_rows(100)) == 10


def test_old_minute_rollups_go_hour_and_day_rollups_stay(store):
    old = datetime(2026, 1, 1, 12, tzinfo=UTC)
    store.append(readings(5, start=old), synced())
    report = retain(store, old + timedelta(days=40))
    assert report.minute_rollups_deleted == 1
    assert report.rollups_deleted == 0
    window = (old - timedelta(days=1), old + timedelta(days=1))
    assert store.rollups("minute", *window) == []
    assert len(store.rollups("hour", *window)) == 1


def test_the_size_cap_takes_acknowledged_first_then_the_oldest_unacknowledged(store):
    for _ in range(20):
        store.append(readings(500), synced())
    store.acknowledge([SeqRange(1, 2000)])
    used = store.used_bytes()
    report = retain(store, datetime.now(UTC), max_bytes=used // 2)
    assert report.raw_deleted > 0
    assert store.used_bytes() <= used // 2
    dropped = store.dropped_ranges()
    if report.dropped_unacknowledged:
        assert dropped[0].first == 2001
        assert sum(d.count for d in dropped) == report.dropped_unacknowledged
    remaining = [row[0] for row in store.outbox_rows(20000, newest_first=False)]
    lost = set(range(2001, 10001)) - set(remaining)
    assert len(lost) == report.dropped_unacknowledged
    assert store.stats().dropped == report.dropped_unacknowledged


def test_a_tiny_cap_drops_unacknowledged_oldest_first_and_reports_it(store):
    for _ in range(60):
        store.append(readings(500), synced())
    report = retain(store, datetime.now(UTC), max_bytes=store.used_bytes() // 2)
    assert report.dropped_unacknowledged > 0
    (dropped,) = store.dropped_ranges()
    assert (dropped.first, dropped.reason) == (1, "size cap")
    assert dropped.last == dropped.count == report.dropped_unacknowledged
    assert store.outbox_rows(1, newest_first=False)[0][0] == dropped.last + 1
    assert store.stats().backlog == 30000 - report.dropped_unacknowledged > 0
