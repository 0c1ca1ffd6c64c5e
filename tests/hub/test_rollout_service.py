"""A staged rollout run by the real hub service against a real Mosquitto: the halls it
targets get the release in their retained config and the others do not; when the halls'
statuses say it rolled back, it stops by itself, the IoT team's webhook is told once, and
the halls that had not started are told to hold."""

from __future__ import annotations

import json
import queue
import threading
import time

import pytest

from hub.config_downlink import build_config
from hub.rollouts import targets
from hub.service import IngestService
from hub.settings import HubSettings
from hub.store_sqlite import SqliteHubStore
from hub_sync.mqtt import BrokerSettings, MqttClient
from hub_sync.node_config import NodeConfig, decode_config
from hub_sync.node_status import encode_status
from hub_sync.topics import topic
from provisioning.broker_config import HUB_ACCOUNT
from tests.hub.test_alerting import webhook  # noqa: F401 - a fixture, found by name
from tests.support.broker import Broker
from tests.support.waiting import wait_for

HALLS = ["askrigg", "reeth", "hawes", "muker", "keld", "thwaite", "gunnerside", "low-row"]
ACCOUNTS = {HUB_ACCOUNT: "hub-secret-for-tests", **{hall: f"{hall}-pw" for hall in HALLS}}


@pytest.fixture
def broker(tmp_path):
    broker = Broker(tmp_path / "broker", ACCOUNTS).start()
    yield broker
    broker.stop()


def as_device(broker, device_id, name="probe"):
    settings = BrokerSettings("127.0.0.1", broker.port, device_id, ACCOUNTS[device_id])
    return MqttClient(settings, client_id=f"{device_id}-{name}")


def retained_config(broker, device_id) -> NodeConfig | None:
    """The config the broker holds for a device, as the device receives it on connecting."""
    inbox: queue.Queue = queue.Queue()
    settings = BrokerSettings("127.0.0.1", broker.port, device_id, ACCOUNTS[device_id])
    client = MqttClient(settings, client_id=f"{device_id}-reader", on_message=inbox.put)
    client.connect(timeout=5)
    try:
        client.subscribe(topic(device_id, "config"))
        message = inbox.get(timeout=1)
    except queue.Empty:
        return None
    finally:
        client.close()
    return decode_config(message.payload)


def report(broker, device_id, **status):
    """The device's retained status, as its uplink publishes it."""
    client = as_device(broker, device_id)
    client.connect(timeout=5)
    try:
        payload = encode_status("online", **status)
        client.publish(topic(device_id, "status"), payload, retain=True).wait(5)
    finally:
        client.close()


@pytest.mark.slow  # a broker, the hub's workers and a dozen MQTT sessions: about 3 s
def test_a_failing_release_stops_by_itself_alerts_once_and_holds_the_rest(
    tmp_path,
    broker,
    webhook,  # noqa: F811 - the fixture imported above
):
    url, receiver = webhook
    store = SqliteHubStore(tmp_path / "hub.db")
    for hall in HALLS:
        store.add_device(hall, f"{hall.title()} Village Hall")
        idle = encode_status("online", version="1.4.0", update_state="idle").decode()
        store.record_status(hall, True, idle, time.time_ns() // 1000)  # each runs an updater
    # Askrigg's clerk set its page before: the rollout's config keeps it.
    _, payload = build_config(100, {"simulated": 30.0}, {"hall_name": "Askrigg Village Hall"})
    store.save_config("askrigg", 100, payload.decode(), actor="clerk")
    rollout, _ = store.start_rollout("1.5.0", ["askrigg", "reeth"], 40, 0.5, actor="jo")
    chosen = targets(rollout, HALLS)
    others = [hall for hall in chosen if hall not in ("askrigg", "reeth")]
    left_out = [hall for hall in HALLS if hall not in chosen]
    # The draw of rollout 1 picks some of the others, not all.
    assert len(others) >= 2
    assert left_out

    service = IngestService(
        HubSettings(
            hub_store=tmp_path / "hub.db",
            broker_port=broker.port,
            broker_password=ACCOUNTS[HUB_ACCOUNT],
            alert_webhook_url=url,
        ),
        lambda: SqliteHubStore(tmp_path / "hub.db"),
        rollouts_every_s=0.1,
    )
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    try:
        assert service.client.wait_connected(10)
        assert wait_for(lambda: all(store.sent_releases().get(h) == "1.5.0" for h in chosen))
        for hall in chosen:
            assert retained_config(broker, hall).release == "1.5.0", hall
        askrigg = retained_config(broker, "askrigg")
        assert dict(askrigg.page)["hall_name"] == "Askrigg Village Hall"
        assert dict(askrigg.intervals) == {"simulated": 30.0}
        assert askrigg.revision > 100
        for hall in left_out:
            assert retained_config(broker, hall) is None, hall

        # Askrigg updates; Reeth's new version fails its health check and goes back; one of
        # the others is downloading, the rest have not started; a hall the rollout does not
        # target refused 1.5.0 (it counts for nothing). 1 of the 2 that finished failed.
        under_way, not_started = others[0], others[1:]
        report(
            broker, under_way, version="1.4.0", update_state="downloading", update_version="1.5.0"
        )
        report(broker, left_out[0], version="1.4.0", update_state="refused", update_version="1.5.0")
        report(broker, "askrigg", version="1.5.0", update_state="updated", update_version="1.5.0")
        report(
            broker,
            "reeth",
            version="1.4.0",
            update_state="rolled back",
            update_version="1.5.0",
            update_error="the health check failed: no readings for 5 minutes",
        )
        assert wait_for(lambda: store.rollout(rollout.rollout_id).state == "stopped")
        stopped = store.rollout(rollout.rollout_id)
        assert stopped.reason == (
            "1 of the 2 halls that finished failed (50 %), at or over the stop share of 50 %"
        )
        assert stopped.ended_by == "hallsense"
        assert wait_for(lambda: len(receiver.received) == 1)
        notice = json.loads(receiver.received[0][1])
        assert notice["subject"] == "[hallsense] release 1.5.0: rollout stopped"
        assert "The rollout of release 1.5.0 (rollout 1) stopped by itself" in notice["text"]
        assert "reeth: rolled back: the health check failed: no readings" in notice["text"]

        assert not_started
        assert wait_for(lambda: all(store.sent_releases()[h] == "" for h in not_started))
        assert wait_for(lambda: store.unsettled_rollouts() == [])
        for hall in not_started:
            assert retained_config(broker, hall).release == "", hall
        # Those that took it, failed or are under way keep what they were sent.
        for hall in ("askrigg", "reeth", under_way):
            assert retained_config(broker, hall).release == "1.5.0", hall
        assert not wait_for(lambda: len(receiver.received) > 1, timeout=0.5)  # told once
        assert ("hallsense", "rollout stopped") in [
            (e.actor, e.action) for e in store.audit_log("")
        ]
    finally:
        service.stop_event.set()
        thread.join(30)
        store.close()
