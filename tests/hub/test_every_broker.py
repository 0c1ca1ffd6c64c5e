"""What the hub sends the nodes goes on every broker it has: a config is retained on each
(and recorded once one has it), an ack is published on each connected one; one broker
away is said, not an error; none at all is the error. Real Mosquitto brokers."""

from __future__ import annotations

import threading

import pytest

from hub.config_downlink import build_config, send_config_everywhere
from hub.every_broker import EveryBroker
from hub.store_sqlite import SqliteHubStore
from hub_sync.mqtt import BrokerSettings, MqttClient, MqttError
from hub_sync.topics import topic
from provisioning.broker_config import HUB_ACCOUNT
from tests.hub_sync.conftest import PASSWORDS
from tests.support.broker import Broker


@pytest.fixture
def brokers(tmp_path):
    started = [Broker(tmp_path / f"broker-{n}", PASSWORDS).start() for n in (1, 2)]
    yield started
    for broker in started:
        broker.stop()


def hub_at(broker: Broker) -> BrokerSettings:
    return BrokerSettings("127.0.0.1", broker.port, HUB_ACCOUNT, PASSWORDS[HUB_ACCOUNT])


def config_on(broker: Broker) -> bytes | None:
    """The config retained for askrigg on ``broker``, as the node would get it."""
    got: list[bytes] = []
    arrived = threading.Event()

    def on_message(message):
        got.append(message.payload)
        arrived.set()

    node = MqttClient(
        BrokerSettings("127.0.0.1", broker.port, "askrigg", PASSWORDS["askrigg"]),
        client_id="askrigg",
        on_message=on_message,
    )
    try:
        node.connect()
        node.subscribe(topic("askrigg", "config"))
        arrived.wait(2)
    finally:
        node.close()
    return got[0] if got else None


def test_a_config_is_kept_on_every_broker_and_recorded_once(brokers, tmp_path):
    store = SqliteHubStore(tmp_path / "hub.db")
    store.add_device("askrigg", "Askrigg")
    _, payload = build_config(1, {"scd41": 60}, {})
    try:
        everywhere = [hub_at(broker) for broker in brokers]
        assert send_config_everywhere(everywhere, "askrigg", payload, record=store) == []
        assert [config_on(broker) for broker in brokers] == [payload, payload]
        assert store.node_config("askrigg").revision == 1

        brokers[0].stop()  # one broker away: the other has it, and the hub is told
        _, second = build_config(2, {"scd41": 30}, {})
        missed = send_config_everywhere(everywhere, "askrigg", second, record=store)
        assert len(missed) == 1
        assert missed[0].startswith(f"127.0.0.1:{brokers[0].port} (")
        assert config_on(brokers[1]) == second
        assert store.node_config("askrigg").revision == 2

        brokers[1].stop()  # none at all: an error, and nothing recorded
        _, third = build_config(3, {"scd41": 15}, {})
        with pytest.raises(MqttError):
            send_config_everywhere(everywhere, "askrigg", third, record=store)
        assert store.node_config("askrigg").revision == 2
    finally:
        store.close()


def test_an_ack_goes_on_each_connected_broker_and_fails_only_when_none_is(brokers):
    clients = [
        MqttClient(hub_at(broker), client_id=f"_hub-{n}") for n, broker in enumerate(brokers)
    ]
    try:
        for client in clients:
            client.connect()
        every = EveryBroker(clients)
        assert every.publish(topic("askrigg", "ack"), b"{}").wait(5) in (0, 0x10)
        brokers[0].stop()
        assert every.publish(topic("askrigg", "ack"), b"{}").wait(5) in (0, 0x10)
        brokers[1].stop()
        with pytest.raises(MqttError):
            every.publish(topic("askrigg", "ack"), b"{}").wait(5)
    finally:
        for client in clients:
            client.close()
