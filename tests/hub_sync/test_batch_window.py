"""The batch window: live readings wait at most the window; older ones and full batches go now."""

from typing import NamedTuple

from hub_sync.batch_codec import decode_batch
from hub_sync.uplink import Uplink, UplinkSettings

NOW_S = 1_795_000_000.0


class Row(NamedTuple):
    seq: int
    sensor_id: str
    metric: str
    unit: str
    ts_us: int
    value: float
    quality: int = 0
    censor: str | None = None


class ListOutbox:
    store_epoch = 7

    def __init__(self) -> None:
        self.rows: list[Row] = []

    def add(self, age_s: float) -> None:
        seq = len(self.rows) + 1
        ts_us = round((NOW_S - age_s) * 1e6)
        self.rows.append(Row(seq, "sim-temperature", "temperature", "°C", ts_us, 20.5))

    def outbox_rows(self, limit, *, newest_first=True, skip=()):
        waiting = [r for r in self.rows if not any(a <= r.seq <= b for a, b in skip)]
        return sorted(waiting, key=lambda r: r.seq, reverse=newest_first)[:limit]

    def acknowledge(self, ranges):
        return 0

    def reject(self, ranges, reason):
        return 0


class Pending:
    done = False
    reason = 0


class FakeClient:
    """Connected at once; keeps what is published."""

    connected = True

    def __init__(self, **_: object) -> None:
        self.published: list[tuple[str, bytes]] = []

    def publish(self, where, payload, *, qos=0, retain=False):
        self.published.append((where, payload))
        return Pending()

    def batches(self):
        return [decode_batch(p) for where, p in self.published if where.endswith("/readings")]


def uplink(outbox, clock, window_s=60.0, batch_readings=1000):
    return Uplink(
        outbox,
        FakeClient,
        UplinkSettings("askrigg", batch_readings=batch_readings, batch_window_s=window_s),
        wall=lambda: clock[0],
    )


def test_live_readings_wait_for_the_window_and_go_when_the_oldest_reaches_it():
    outbox, clock = ListOutbox(), [NOW_S]
    link = uplink(outbox, clock)
    outbox.add(age_s=0)
    assert link.sync_once() == 0
    clock[0] += 30
    outbox.add(age_s=0 - 30)
    assert link.sync_once() == 0
    clock[0] += 29.9
    assert link.sync_once() == 0  # the oldest is 59.9 s old
    clock[0] += 0.1
    assert link.sync_once() == 2  # 60 s: both go, together
    (batch,) = link.client.batches()
    assert [r.seq for r in batch.readings] == [1, 2]


def test_a_reading_older_than_the_window_goes_at_once():
    outbox, clock = ListOutbox(), [NOW_S]
    link = uplink(outbox, clock)
    outbox.add(age_s=61)
    outbox.add(age_s=1)
    assert link.sync_once() == 2


def test_a_full_batch_goes_at_once():
    outbox, clock = ListOutbox(), [NOW_S]
    link = uplink(outbox, clock, batch_readings=3)
    for _ in range(3):
        outbox.add(age_s=0)
    assert link.sync_once() == 3


def test_no_window_sends_at_once_and_a_future_timestamp_is_not_held():
    outbox, clock = ListOutbox(), [NOW_S]
    outbox.add(age_s=0)
    assert uplink(outbox, clock, window_s=0).sync_once() == 1
    future = ListOutbox()
    future.add(age_s=-3600)  # a clock far ahead: never held for a window it cannot reach
    assert uplink(future, clock).sync_once() == 1


def test_the_status_says_the_node_reads_binary_acks():
    outbox, clock = ListOutbox(), [NOW_S]
    link = uplink(outbox, clock)
    link.sync_once()
    statuses = [p for where, p in link.client.published if where.endswith("/status")]
    assert b'"acks":"json,binary"' in statuses[0]
