import threading

import pytest

from hub_sync.acks import decode_ack
from hub_sync.batch_codec import Batch, WireReading, encode_batch
from hub_sync.mqtt import BrokerSettings, MqttClient
from hub_sync.topics import topic
from tests.hub_sync.conftest import PASSWORDS
from tests.support.waiting import wait_for

EPOCH = 123456789


@pytest.fixture
def node(broker):
    acks = []
    got = threading.Event()

    def on_message(message):
        acks.append(decode_ack(message.payload))
        got.set()

    client = MqttClient(
        BrokerSettings("127.0.0.1", broker.port, "askrigg", PASSWORDS["askrigg"]),
        client_id="askrigg",
        on_message=on_message,
    )
    client.connect()
    client.subscribe(topic("askrigg", "ack"))
    client.acks = acks
    yield client
    client.close()


def readings(seqs, device="askrigg", value=21.5):
    return encode_batch(
        Batch(
            device,
            EPOCH,
            tuple(
                WireReading(s, "t", "temperature", "°C", 1_790_000_000_000_000 + s, value)
                for s in seqs
            ),
        )
    )


def test_a_batch_is_stored_then_acknowledged(hub, node):
    node.publish(topic("askrigg", "readings"), readings(range(1, 101))).wait(5)
    assert wait_for(lambda: node.acks)
    (ack,) = node.acks
    assert (ack.store_epoch, ack.acked, ack.rejected) == (EPOCH, ((1, 100),), ())
    assert len(hub.store.readings("askrigg")) == 100


def test_a_resent_batch_gets_the_same_ack_and_is_stored_once(hub, node):
    for _ in range(3):
        node.publish(topic("askrigg", "readings"), readings(range(1, 11))).wait(5)
    assert wait_for(lambda: len(node.acks) == 3)
    assert {ack.acked for ack in node.acks} == {((1, 10),)}
    assert len(hub.store.readings("askrigg")) == 10


def test_bad_payloads_are_rejected_counted_and_the_hub_carries_on(hub, node, broker):
    bad = [
        b"",
        b"garbage",
        b"HS\x09\x00",
        readings([1])[:-3],
        readings([1], device="bainbridge"),  # spoofed: another device's id in askrigg's topic
    ]
    for payload in bad:
        node.publish(topic("askrigg", "readings"), payload).wait(5)
    # An account the broker knows but the hub has never registered.
    stranger = MqttClient(
        BrokerSettings("127.0.0.1", broker.port, "bainbridge", PASSWORDS["bainbridge"]),
        client_id="bainbridge",
    )
    stranger.connect()
    stranger.publish(topic("bainbridge", "readings"), readings([1], device="bainbridge")).wait(5)
    stranger.close()
    assert wait_for(lambda: hub.counters.rejected_batches == 6), hub.counters
    node.publish(topic("askrigg", "readings"), readings([7])).wait(5)
    assert wait_for(lambda: node.acks)
    assert [r.seq for _, r in hub.store.readings("askrigg")] == [7]
    (askrigg,) = [d for d in hub.store.fleet() if d.device_id == "askrigg"]
    assert askrigg.rejected_batches == 5


def test_status_messages_mark_a_node_online_and_offline(hub, node):
    node.publish(topic("askrigg", "status"), b'{"v":1,"state":"online"}', retain=True).wait(5)
    assert wait_for(lambda: hub.store.fleet()[0].online)
    node.publish(topic("askrigg", "status"), b'{"v":1,"state":"offline"}', retain=True).wait(5)
    assert wait_for(lambda: not hub.store.fleet()[0].online)


def test_the_ack_asks_the_node_for_a_new_password_while_a_rotation_is_requested(hub, node):
    hub.store.request_rotation("askrigg", actor="test")
    node.publish(topic("askrigg", "readings"), readings(range(1, 11))).wait(5)
    assert wait_for(lambda: node.acks)
    assert node.acks[-1].rotate

    hub.store.finish_rotation("askrigg")
    node.publish(topic("askrigg", "readings"), readings(range(11, 21))).wait(5)
    assert wait_for(lambda: len(node.acks) == 2)
    assert not node.acks[-1].rotate
