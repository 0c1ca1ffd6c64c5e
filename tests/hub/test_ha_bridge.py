"""The Home Assistant bridge against a real Mosquitto with the configuration `provision init`
writes: what a Home Assistant logged in as `_reader` sees, and what devices may not do."""

from __future__ import annotations

import json
import queue
import threading
import time

import pytest

from hub.ha_bridge import HomeAssistantBridge, discovery, run_bridge, state_topic
from hub_sync.batch_codec import Batch, WireReading, encode_batch
from hub_sync.mqtt import MqttClient, PublishRefused
from hub_sync.node_status import encode_status
from hub_sync.topics import topic
from provisioning.broker_config import HUB_ACCOUNT, READER_ACCOUNT
from tests.provisioning.test_state import ProvisionedBroker

NOW_US = time.time_ns() // 1000


def test_discovery_says_what_home_assistant_needs():
    where, payload = discovery("askrigg", "Askrigg Village Hall", "scd-1", "co2", "ppm")
    config = json.loads(payload)
    assert where == "homeassistant/sensor/hallsense_askrigg/scd-1_co2/config"
    assert config["device_class"] == "carbon_dioxide"
    assert config["state_class"] == "measurement"
    assert config["unit_of_measurement"] == "ppm"
    assert config["unique_id"] == "hallsense_askrigg_scd-1_co2"
    assert config["device"]["name"] == "Askrigg Village Hall"
    assert config["state_topic"] == "hallsense/ha/v1/askrigg/scd-1/co2"
    assert config["availability_topic"] == "hallsense/ha/v1/askrigg/availability"
    noise = json.loads(discovery("a", "A", "mic", "noise", "dB(A)")[1])
    assert (noise["device_class"], noise["unit_of_measurement"]) == ("sound_pressure", "dBA")
    people = json.loads(discovery("a", "A", "door", "footfall", "people")[1])
    assert "device_class" not in people
    assert "unit_of_measurement" not in people


def test_a_backlog_never_moves_a_state_back_and_bad_values_are_skipped():
    sent = []
    bridge = HomeAssistantBridge(lambda where, payload: sent.append((where, payload)))
    live = Batch(
        "askrigg",
        1,
        (
            WireReading(10, "bme", "temperature", "°C", NOW_US, 21.5),
            WireReading(11, "bme", "temperature", "°C", NOW_US + 1, 85.0, 4),  # out of range
        ),
    )
    old = Batch("askrigg", 1, (WireReading(1, "bme", "temperature", "°C", NOW_US - 10**9, 5.0),))
    assert bridge.handle(topic("askrigg", "readings"), encode_batch(live)) == 1
    assert bridge.handle(topic("askrigg", "readings"), encode_batch(old)) == 0
    states = [p for w, p in sent if w == state_topic("askrigg", "bme", "temperature")]
    assert states == [b"21.5"]
    assert bridge.handle("hallsense/v1/askrigg/readings", b"not a batch") == 0  # never raises


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    running = ProvisionedBroker(tmp_path_factory.mktemp("ha") / "state")
    yield running
    running.stop()


def test_home_assistant_sees_each_hall_and_its_states_through_the_reader_account(broker):
    stop = threading.Event()

    def client(**kwargs):
        return MqttClient(broker.settings(HUB_ACCOUNT), client_id="_hub-ha-test", **kwargs)

    bridge = threading.Thread(
        target=run_bridge, args=(client, lambda d: "Askrigg Village Hall", stop), daemon=True
    )
    bridge.start()
    inbox: queue.Queue = queue.Queue()
    home_assistant = broker.connected(READER_ACCOUNT, inbox=inbox)
    home_assistant.subscribe("homeassistant/#")
    home_assistant.subscribe("hallsense/ha/v1/#")
    device = broker.connected("askrigg")
    try:
        time.sleep(0.5)  # the bridge's subscription is in place
        batch = Batch("askrigg", 1, (WireReading(1, "scd-1", "co2", "ppm", NOW_US, 612.0),))
        device.publish(topic("askrigg", "readings"), encode_batch(batch)).wait(5)
        device.publish(topic("askrigg", "status"), encode_status("online")).wait(5)
        got = {}
        deadline = time.monotonic() + 10
        while len(got) < 3 and time.monotonic() < deadline:
            try:
                message = inbox.get(timeout=1)
            except queue.Empty:
                continue
            got[message.topic] = bytes(message.payload)
        config = json.loads(got["homeassistant/sensor/hallsense_askrigg/scd-1_co2/config"])
        assert config["device"]["name"] == "Askrigg Village Hall"
        assert got["hallsense/ha/v1/askrigg/scd-1/co2"] == b"612.0"
        assert got["hallsense/ha/v1/askrigg/availability"] == b"online"
        # A device may not pose as the bridge, nor may Home Assistant's read-only account.
        for client_ in (device, home_assistant):
            with pytest.raises(PublishRefused):
                client_.publish("homeassistant/sensor/x/y/config", b"{}").wait(5)
            with pytest.raises(PublishRefused):
                client_.publish("hallsense/ha/v1/askrigg/scd-1/co2", b"0").wait(5)
    finally:
        stop.set()
        bridge.join(10)
        broker.close_clients()
