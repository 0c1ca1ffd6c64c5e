import contextlib
import threading

import pytest

from hub_sync.mqtt import (
    NO_MATCHING_SUBSCRIBERS,
    BrokerSettings,
    ConnectRefused,
    Message,
    MqttClient,
    NotConnected,
    PublishRefused,
)
from hub_sync.topics import topic
from provisioning.broker_config import HUB_ACCOUNT
from tests.hub_sync.conftest import PASSWORDS


def settings_for(broker, user, password=None):
    return BrokerSettings(
        "127.0.0.1", broker.port, user, PASSWORDS[user] if password is None else password
    )


def test_a_device_publishes_its_readings_and_the_hub_receives_them(broker):
    got = []
    arrived = threading.Event()

    def on_message(message):
        got.append((message.topic, message.payload))
        arrived.set()

    with MqttClient(
        settings_for(broker, HUB_ACCOUNT), client_id="hub-1", on_message=on_message
    ) as hub:
        hub.connect()
        hub.subscribe("$share/hub/hallsense/v1/+/readings")
        with MqttClient(settings_for(broker, "askrigg"), client_id="askrigg") as node:
            node.connect()
            assert node.publish(topic("askrigg", "readings"), b"batch").wait(5) == 0
        assert arrived.wait(5)
    assert got == [("hallsense/v1/askrigg/readings", b"batch")]


def test_handlers_get_the_wrappers_own_message_and_acks_take_it_back(broker):
    got: list[Message] = []
    arrived = threading.Event()

    def on_message(message):
        got.append(message)
        arrived.set()

    with MqttClient(
        settings_for(broker, HUB_ACCOUNT),
        client_id="hub-1",
        on_message=on_message,
        manual_ack=True,
    ) as hub:
        hub.connect()
        hub.subscribe("$share/hub/hallsense/v1/+/readings")
        with MqttClient(settings_for(broker, "askrigg"), client_id="askrigg") as node:
            node.connect()
            node.publish(topic("askrigg", "readings"), b"batch").wait(5)
        assert arrived.wait(5)
        (message,) = got
        assert type(message) is Message
        assert (message.topic, message.payload, message.qos, message.retain) == (
            "hallsense/v1/askrigg/readings",
            b"batch",
            1,
            False,
        )
        assert message.packet_id > 0
        hub.ack(message)


def test_no_subscriber_is_a_success_with_its_own_code(broker):
    with MqttClient(settings_for(broker, "askrigg"), client_id="askrigg") as node:
        node.connect()
        assert node.publish(topic("askrigg", "readings"), b"x").wait(5) == NO_MATCHING_SUBSCRIBERS


def test_a_device_cannot_publish_as_another(broker):
    with MqttClient(settings_for(broker, "askrigg"), client_id="askrigg") as node:
        node.connect()
        with pytest.raises(PublishRefused) as caught:
            node.publish(topic("bainbridge", "readings"), b"spoof").wait(5)
    assert caught.value.reason == 0x87
    assert "not authorized" in str(caught.value).lower()


def test_a_device_never_receives_another_devices_messages(broker):
    got = []
    own = threading.Event()

    def on_message(message):
        got.append(message.topic)
        if message.topic.endswith("/askrigg/ack"):
            own.set()

    with (
        MqttClient(
            settings_for(broker, "askrigg"), client_id="askrigg", on_message=on_message
        ) as node,
        MqttClient(settings_for(broker, HUB_ACCOUNT), client_id="hub") as hub,
    ):
        node.connect()
        hub.connect()
        # Mosquitto may grant the subscription; the ACL still withholds every message.
        with contextlib.suppress(PublishRefused):
            node.subscribe("hallsense/v1/bainbridge/ack")
        node.subscribe("hallsense/v1/+/ack")
        hub.publish(topic("bainbridge", "ack"), b"theirs").wait(5)
        hub.publish(topic("askrigg", "ack"), b"mine").wait(5)
        assert own.wait(5)
    assert got == ["hallsense/v1/askrigg/ack"]


def test_a_wrong_password_is_refused_by_name(broker):
    client = MqttClient(settings_for(broker, "askrigg", "guess"), client_id="askrigg")
    with pytest.raises(ConnectRefused) as caught:
        client.connect()
    assert caught.value.reason in (0x86, 0x87)
    assert "askrigg" in str(caught.value)
    client.close()


def test_an_absent_broker_is_not_connected(broker):
    broker.stop()
    client = MqttClient(settings_for(broker, "askrigg"), client_id="askrigg")
    with pytest.raises(NotConnected, match="cannot reach the broker"):
        client.connect(timeout=2)
    client.close()


def test_the_password_never_appears_in_a_repr(broker):
    assert PASSWORDS["askrigg"] not in repr(settings_for(broker, "askrigg"))


def test_subscriptions_asked_in_a_row_are_each_granted(broker):
    """The hub asks for readings and statuses back to back; each SUBACK answers its own
    SUBSCRIBE (one callback for the client used to answer only the last one asked)."""
    granted: list[str] = []
    client = MqttClient(settings_for(broker, "askrigg"), client_id="askrigg")
    try:
        client.connect()
        for kind in ("ack", "config"):
            client.subscribe_nowait(
                topic("askrigg", kind), on_granted=lambda kind=kind: granted.append(kind)
            )
        client.subscribe(topic("askrigg", "status"))  # waits: the SUBACKs before it are in
        assert sorted(granted) == ["ack", "config"]
    finally:
        client.close()
