"""The rollout keeper's rounds, one at a time, over a real hub store and a real Mosquitto:
widening and completing, a stop by hand, a rollout replaced, an alert the webhook refused
at first, and two workers that never both act."""

from __future__ import annotations

import time

import pytest

from hub.notifiers import WebhookNotifier
from hub.rollout_keeper import RolloutKeeper
from hub.store_sqlite import SqliteHubStore
from hub_sync.mqtt import BrokerSettings, MqttClient
from hub_sync.node_status import encode_status
from provisioning.broker_config import HUB_ACCOUNT
from tests.hub.test_alerting import webhook  # noqa: F401 - a fixture, found by name
from tests.support.broker import Broker

HALLS = ("askrigg", "reeth", "hawes", "muker")
PASSWORDS = {HUB_ACCOUNT: "hub-secret-for-tests"}


@pytest.fixture
def broker(tmp_path):
    broker = Broker(tmp_path / "broker", PASSWORDS).start()
    yield broker
    broker.stop()


@pytest.fixture
def client(broker):
    client = MqttClient(
        BrokerSettings("127.0.0.1", broker.port, HUB_ACCOUNT, PASSWORDS[HUB_ACCOUNT]),
        client_id="hub-keeper-test",
    )
    client.connect(timeout=5)
    yield client
    client.close()


@pytest.fixture
def store(tmp_path):
    store = SqliteHubStore(tmp_path / "hub.db")
    for hall in HALLS:
        store.add_device(hall, hall.title())
        reports(store, hall, version="1.4.0", update_state="idle")  # each runs an updater
    yield store
    store.close()


def reports(store, device_id, **status):
    store.record_status(
        device_id, True, encode_status("online", **status).decode(), time.time_ns() // 1000
    )


def test_a_rollout_widens_then_completes_when_every_hall_runs_the_release(store, client):
    keeper = RolloutKeeper(store, client)
    assert not keeper.round()  # nothing to do: nothing claimed, nothing sent
    rollout, _ = store.start_rollout("1.5.0", ["askrigg"], 0, 0.25, actor="jo")
    assert keeper.round()
    assert store.sent_releases() == {"askrigg": "1.5.0"}
    store.widen_rollout(rollout.rollout_id, [], 100, actor="jo")
    keeper.round()
    assert store.sent_releases() == dict.fromkeys(HALLS, "1.5.0")
    for hall in HALLS[:-1]:
        reports(store, hall, version="1.5.0", update_state="updated", update_version="1.5.0")
    keeper.round()
    assert store.rollout(rollout.rollout_id).state == "running"  # one still to go
    reports(store, HALLS[-1], version="1.5.0")
    keeper.round()
    assert store.rollout(rollout.rollout_id).state == "completed"
    assert store.audit_log("")[-1].action == "rollout completed"
    sent = store.node_config("muker")
    assert (sent.sent_by, store.audit_log("muker")[-1].action) == ("rollout 1", "config sent")
    assert not keeper.round()


def test_a_hall_without_an_updater_is_never_sent_a_release_it_would_refuse(store, client):
    keeper = RolloutKeeper(store, client)
    store.record_status("hawes", True, encode_status("online", version="1.0.0").decode(), 1)
    store.start_rollout("1.5.0", ["askrigg", "hawes"], 0, 0.25, actor="jo")
    keeper.round()
    assert store.sent_releases() == {"askrigg": "1.5.0"}
    reports(store, "hawes", version="1.4.0", update_state="idle")  # installed again
    keeper.round()
    assert store.sent_releases() == {"askrigg": "1.5.0", "hawes": "1.5.0"}


def test_a_stop_by_hand_holds_the_halls_that_have_not_started(store, client):
    keeper = RolloutKeeper(store, client)
    rollout, _ = store.start_rollout("1.5.0", HALLS, 0, 0.25, actor="jo")
    keeper.round()
    reports(store, "askrigg", version="1.4.0", update_state="installing", update_version="1.5.0")
    store.stop_rollout(rollout.rollout_id, "stopped by jo", actor="jo")
    keeper.round()
    assert store.sent_releases() == {"askrigg": "1.5.0", "reeth": "", "hawes": "", "muker": ""}
    assert store.unsettled_rollouts() == []
    assert store.rollout_alerts() == []  # a person stopped it: nobody is alerted


def test_a_replaced_rollout_holds_its_halls_and_the_new_one_takes_its_own(store, client):
    keeper = RolloutKeeper(store, client)
    store.start_rollout("1.5.0", ["askrigg", "reeth"], 0, 0.25, actor="jo")
    keeper.round()
    store.start_rollout("1.5.1", ["askrigg"], 0, 0.25, actor="jo")
    keeper.round()
    assert store.sent_releases() == {"askrigg": "1.5.1", "reeth": ""}
    # Askrigg was not told to hold on the way: one config for it, then the new release.
    actions = [e.detail for e in store.audit_log("askrigg") if e.action == "config sent"]
    assert len(actions) == 2


def test_an_alert_the_webhook_refused_is_delivered_later_exactly_once(
    store,
    client,
    webhook,  # noqa: F811 - the fixture imported above
):
    url, receiver = webhook
    receiver.fail_first = 1
    keeper = RolloutKeeper(store, client, [WebhookNotifier(url)])
    rollout, _ = store.start_rollout("1.5.0", ["askrigg", "reeth"], 0, 0.25, actor="jo")
    keeper.round()
    reports(store, "reeth", version="1.4.0", update_state="refused", update_version="1.5.0")
    keeper.round()
    assert store.rollout(rollout.rollout_id).state == "stopped"
    assert receiver.received == []
    assert [rollout_id for rollout_id, _ in store.rollout_alerts()] == [rollout.rollout_id]
    # It waits in the hub store: another worker leaves it while the first holds the lease,
    # and the first delivers it at its next round.
    RolloutKeeper(store, client, [WebhookNotifier(url)], holder="another").round()
    assert receiver.received == []
    keeper.round()
    assert len(receiver.received) == 1
    assert store.rollout_alerts() == []
    keeper.round()
    assert len(receiver.received) == 1


def test_two_workers_never_act_at_once(store, client, tmp_path):
    other_store = SqliteHubStore(tmp_path / "hub.db")
    try:
        first = RolloutKeeper(store, client, holder="worker-1", lease_s=60)
        second = RolloutKeeper(other_store, client, holder="worker-2", lease_s=60)
        store.start_rollout("1.5.0", ["askrigg"], 0, 0.25, actor="jo")
        assert first.round()
        assert not second.round()
        store.release_rollout_lease("worker-1")  # a worker that stops gives the lease up
        assert second.round()
        assert not first.round()
    finally:
        other_store.close()
