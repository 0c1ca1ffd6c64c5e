"""The IoT team's attention rules: a backlog is "behind" by the hub's clock, not a sensor fault."""

from __future__ import annotations

import json
import time

import pytest

from hub.attention import BEHIND_AFTER_S, concerns
from hub.backlog_age import WAITING_SINCE, stamp_waiting_since, waited_s
from hub_sync.node_status import decode_status, encode_status

NOW_US = time.time_ns() // 1000
HOUR_US = 3600 * 1_000_000


def heartbeat(**fields: object) -> str:
    """A status as a node sends it, checked by the wire's own encoder."""
    return encode_status("online", **fields).decode()


def kinds(store, device: str, now_us: int) -> list[str]:
    state = next(s for s in store.fleet() if s.device_id == device)
    return [c.kind for c in concerns(state, now_us)]


@pytest.fixture
def fleet(hub_store):
    hub_store.add_device("askrigg", "Askrigg Village Hall")
    return hub_store


def test_a_healthy_node_with_a_few_readings_waiting_needs_no_attention(fleet):
    """Three healthy halls once all read "Sensor failing: uplink: 13 readings … wait"."""
    for minute in range(10):
        status = heartbeat(
            backlog=13,
            oldest_unacknowledged=f"2026-12-06T10:{minute:02d}:00+00:00",
            clock_synchronised=True,
            last_error="",
        )
        fleet.record_status("askrigg", True, status, NOW_US + minute * 60_000_000)
    assert kinds(fleet, "askrigg", NOW_US + 10 * 60_000_000) == []


def test_a_backlog_whose_oldest_reading_waits_past_the_threshold_is_behind(fleet):
    status = heartbeat(backlog=567, oldest_unacknowledged="2026-12-06T04:00:00+00:00")
    fleet.record_status("askrigg", True, status, NOW_US)
    assert kinds(fleet, "askrigg", NOW_US + HOUR_US) == []
    # The same oldest reading still waiting at each heartbeat: the wait counts on.
    fleet.record_status("askrigg", True, status, NOW_US + 5 * HOUR_US)
    at_limit = NOW_US + BEHIND_AFTER_S * 1_000_000
    assert kinds(fleet, "askrigg", at_limit) == []
    assert kinds(fleet, "askrigg", at_limit + 1_000_000) == ["behind"]
    state = next(s for s in fleet.fleet() if s.device_id == "askrigg")
    (words,) = [c.words for c in concerns(state, at_limit + 1_000_000)]
    assert words.startswith("Behind: 567 readings waiting, the oldest for 6 hours")
    # The backlog moves on: a newer oldest reading starts its own wait.
    newer = heartbeat(backlog=20, oldest_unacknowledged="2026-12-06T10:00:00+00:00")
    fleet.record_status("askrigg", True, newer, at_limit + 2_000_000)
    assert kinds(fleet, "askrigg", at_limit + 3_000_000) == []


def test_a_node_whose_clock_was_a_year_slow_is_not_a_year_behind(fleet):
    """Readings minutes old, stamped a year ago by a wrong clock, are not 365 days behind."""
    status = heartbeat(backlog=567, oldest_unacknowledged="2025-12-06T10:00:00+00:00")
    fleet.record_status("askrigg", True, status, NOW_US)
    assert kinds(fleet, "askrigg", NOW_US + 10 * 60_000_000) == []


def test_a_failing_sensor_and_a_failing_node_part_are_told_apart(fleet):
    fleet.record_status("askrigg", True, heartbeat(last_error="scd-1: no reply"), NOW_US)
    state = next(s for s in fleet.fleet() if s.device_id == "askrigg")
    assert [(c.kind, c.words) for c in concerns(state, NOW_US)] == [
        ("sensor", "Sensor failing: scd-1: no reply")
    ]
    failing_rotation = heartbeat(last_error="credentials: password rotation: hub unreachable")
    fleet.record_status("askrigg", True, failing_rotation, NOW_US)
    state = next(s for s in fleet.fleet() if s.device_id == "askrigg")
    assert [(c.kind, c.words) for c in concerns(state, NOW_US)] == [
        ("node", "Node problem (its broker password): password rotation: hub unreachable")
    ]


def test_the_hub_notes_when_it_first_heard_of_the_oldest_reading():
    first = stamp_waiting_since(heartbeat(backlog=5, oldest_unacknowledged="A"), "", 100)
    assert json.loads(first)[WAITING_SINCE] == 100
    same = stamp_waiting_since(heartbeat(backlog=9, oldest_unacknowledged="A"), first, 900)
    assert json.loads(same)[WAITING_SINCE] == 100
    assert waited_s(json.loads(same), 2_000_100) == 2.0
    cleared = stamp_waiting_since(heartbeat(backlog=0, oldest_unacknowledged=None), same, 950)
    assert WAITING_SINCE not in json.loads(cleared)
    again = stamp_waiting_since(heartbeat(backlog=1, oldest_unacknowledged="A"), cleared, 990)
    assert json.loads(again)[WAITING_SINCE] == 990
    assert stamp_waiting_since("", first, 1000) == ""


def test_a_node_cannot_send_the_hubs_own_waiting_time():
    """The key is the hub's: the boundary drops it from what a node sends."""
    sent = json.dumps({"v": 1, "state": "online", "backlog": 3, WAITING_SINCE: 0}).encode()
    assert decode_status(sent) == {"state": "online", "backlog": 3}


def test_a_node_that_has_gone_is_offline_not_behind(fleet):
    """Its last heartbeat's backlog goes on "waiting" while it is away: that is no backlog."""
    status = heartbeat(backlog=567, oldest_unacknowledged="2026-12-06T04:00:00+00:00")
    fleet.record_status("askrigg", True, status, NOW_US)
    fleet.record_status("askrigg", False, "", NOW_US + 1)
    assert kinds(fleet, "askrigg", NOW_US + 7 * HOUR_US) == ["offline"]
