from datetime import UTC, datetime, timedelta
from datetime import time as clock_time

import pytest

from hub_sync.metering import MQTT_OVERHEAD_BYTES, LinkMeter, MeteringSettings, parse_window


class Clocks:
    def __init__(self, wall):
        self.now_wall = wall
        self.now_mono = 0.0

    def wall(self):
        return self.now_wall

    def mono(self):
        return self.now_mono

    def advance(self, seconds):
        self.now_wall += timedelta(seconds=seconds)
        self.now_mono += seconds


def meter(clocks, **settings):
    return LinkMeter(MeteringSettings(**settings), wall=clocks.wall, monotonic=clocks.mono)


NOON = datetime(2026, 11, 24, 12, tzinfo=UTC)


def test_the_bandwidth_cap_spreads_batches_out():
    clocks = Clocks(NOON)
    m = meter(clocks, max_bytes_per_s=1000)
    payload = 1000 - MQTT_OVERHEAD_BYTES
    assert m.may_send(payload, live=True)
    m.record(payload)
    assert not m.may_send(payload, live=True)
    clocks.advance(0.5)
    assert not m.may_send(payload, live=True)
    clocks.advance(0.5)
    assert m.may_send(payload, live=True)


def test_the_daily_budget_stops_sending_until_the_next_local_day():
    clocks = Clocks(NOON)
    m = meter(clocks, daily_budget_bytes=1000)
    m.record(900)
    assert m.budget_left() == 1000 - 900 - MQTT_OVERHEAD_BYTES
    assert not m.may_send(100, live=True)
    clocks.advance(12 * 3600)  # past midnight in London
    assert m.budget_left() == 1000
    assert m.may_send(100, live=True)


def test_backlog_waits_for_the_drain_window_but_live_readings_do_not():
    clocks = Clocks(NOON)
    m = meter(clocks, drain_window=parse_window("23:00-06:00"))
    assert m.may_send(100, live=True)
    assert not m.may_send(100, live=False)
    clocks.advance(11.5 * 3600)  # 23:30 in London
    assert m.may_send(100, live=False)


def test_windows_are_checked():
    assert parse_window("") is None
    assert parse_window("01:00-06:30") == (clock_time(1), clock_time(6, 30))
    with pytest.raises(ValueError, match="expected a window like 01:00-06:00"):
        parse_window("overnight")
