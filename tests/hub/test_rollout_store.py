"""Staged rollouts in the hub store, on SQLite and PostgreSQL: history, one running at a
time, the audit trail, the alerts waiting, the workers' lease, and the upgrade."""

from __future__ import annotations

import json

import pytest

from hub.config_downlink import build_config
from hub.store import HubStoreError, RolloutNotRunning
from hub.store_postgres import PostgresHubStore
from hub.store_sqlite import SqliteHubStore


@pytest.fixture
def hub(hub_store):
    for device in ("askrigg", "reeth"):
        hub_store.add_device(device, device.title())
    return hub_store


def reopen(store):
    if isinstance(store, PostgresHubStore):
        return PostgresHubStore(store.url)
    return SqliteHubStore(store.path)


def test_a_new_rollout_replaces_the_running_one_and_the_history_is_kept(hub):
    assert hub.running_rollout() is None
    assert hub.latest_rollout() is None
    first, replaced = hub.start_rollout("1.5.0", ["askrigg", "askrigg"], 10, 0.25, actor="jo")
    assert replaced is None
    assert (first.rollout_id, first.version, first.halls, first.percent) == (
        1,
        "1.5.0",
        ("askrigg",),
        10,
    )
    assert (first.stop_share, first.state, first.started_by) == (0.25, "running", "jo")
    second, replaced = hub.start_rollout("1.5.1", [], 100, 0.5, actor="sam")
    assert replaced.rollout_id == 1
    assert (replaced.state, replaced.reason) == ("stopped", "replaced by rollout 2 (1.5.1)")
    assert (replaced.ended_by, replaced.ended_at_us is not None) == ("sam", True)
    assert hub.running_rollout() == second == hub.latest_rollout()
    assert [r.rollout_id for r in hub.rollouts()] == [2, 1]
    assert [r.rollout_id for r in hub.unsettled_rollouts()] == [1]
    hub.settle_rollout(1)
    assert hub.unsettled_rollouts() == []
    actions = [(e.actor, e.action, e.device_id) for e in hub.audit_log("")]
    assert actions == [
        ("jo", "rollout started", ""),
        ("sam", "rollout stopped", ""),
        ("sam", "rollout started", ""),
    ]
    assert "1.5.0 to askrigg and 10 % of the others" in hub.audit_log("")[0].detail


def test_widening_adds_halls_and_never_lowers_the_percentage(hub):
    rollout, _ = hub.start_rollout("1.5.0", ["askrigg"], 20, 0.25, actor="jo")
    widened = hub.widen_rollout(rollout.rollout_id, ["reeth", "askrigg"], 10, actor="jo")
    assert (widened.halls, widened.percent) == (("askrigg", "reeth"), 20)
    assert hub.widen_rollout(rollout.rollout_id, [], 50, actor="jo").percent == 50
    assert hub.audit_log("")[-1].action == "rollout widened"
    assert hub.stop_rollout(rollout.rollout_id, "the hall's wifi is down", actor="jo")
    assert not hub.stop_rollout(rollout.rollout_id, "again", actor="jo")
    with pytest.raises(RolloutNotRunning):
        hub.widen_rollout(rollout.rollout_id, [], 60, actor="jo")
    assert hub.rollout(rollout.rollout_id).reason == "the hall's wifi is down"
    assert hub.latest_rollout().state == "stopped"
    assert hub.running_rollout() is None


def test_a_completed_rollout_needs_no_settling_and_ends_once(hub):
    rollout, _ = hub.start_rollout("1.5.0", [], 100, 0.25, actor="jo")
    assert hub.complete_rollout(rollout.rollout_id, actor="hallsense")
    assert not hub.complete_rollout(rollout.rollout_id, actor="hallsense")
    assert not hub.stop_rollout(rollout.rollout_id, "too late", actor="jo")
    assert (hub.rollout(rollout.rollout_id).state, hub.unsettled_rollouts()) == ("completed", [])


def test_an_alert_waits_in_the_store_until_delivered(hub):
    rollout, _ = hub.start_rollout("1.5.0", [], 100, 0.25, actor="jo")
    alert = json.dumps({"notice": {"words": "stopped"}, "to": ["email", "webhook"]})
    assert hub.stop_rollout(
        rollout.rollout_id, "1 of 1 failed", actor="hallsense", alert_json=alert
    )
    assert hub.rollout_alerts() == [(rollout.rollout_id, alert)]
    hub.keep_rollout_alert(rollout.rollout_id, "")
    assert hub.rollout_alerts() == []


def test_the_release_each_node_was_sent(hub):
    for device, release, revision in (("askrigg", "1.5.0", 10), ("reeth", "", 11)):
        _, payload = build_config(revision, {"simulated": 30.0}, {}, release)
        hub.save_config(device, revision, payload.decode(), actor="rollout 1")
    assert hub.sent_releases() == {"askrigg": "1.5.0", "reeth": ""}


def test_one_worker_at_a_time_holds_the_lease(hub):
    other = reopen(hub)
    try:
        assert hub.claim_rollout_lease("worker-1", 1_000, 0)
        assert not other.claim_rollout_lease("worker-2", 1_500, 500)
        assert hub.claim_rollout_lease("worker-1", 2_000, 900)  # renewed by its holder
        assert other.claim_rollout_lease("worker-2", 3_000, 2_001)  # expired: taken over
        other.release_rollout_lease("worker-2")
        assert hub.claim_rollout_lease("worker-1", 4_000, 2_002)
    finally:
        other.close()


def test_two_rollouts_cannot_run_at_once_even_written_by_hand(hub):
    hub.start_rollout("1.5.0", [], 10, 0.25, actor="jo")
    with pytest.raises(HubStoreError):
        hub._run(
            "INSERT INTO rollouts (rollout_id, version, halls, percent, stop_share, state, "
            "started_by, started_at_us) VALUES (99, '1.6.0', '[]', 0, 0.25, 'running', 'x', 1)"
        )


def test_a_version_5_store_gets_the_rollout_tables_when_opened(hub):
    hub._run("DROP TABLE rollouts")
    hub._run("DROP TABLE rollout_lease")
    if isinstance(hub, PostgresHubStore):
        hub._run("UPDATE hallsense_schema SET version = 5")
    else:
        hub._run("PRAGMA user_version = 5")
    upgraded = reopen(hub)
    try:
        rollout, _ = upgraded.start_rollout("1.5.0", ["reeth"], 0, 0.25, actor="jo")
        assert upgraded.running_rollout() == rollout
        assert upgraded.claim_rollout_lease("worker-1", 10, 0)
    finally:
        upgraded.close()
