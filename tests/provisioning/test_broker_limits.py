"""The broker that `provision init` configures enforces the protocol's size limits itself,
and lets the hub clear a retained status that only a device could have put there."""

import queue
import time

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from hub_sync.limits import MAX_PAYLOAD_BYTES
from hub_sync.mqtt import PublishRefused
from provisioning.broker_config import (
    HUB_ACCOUNT,
    MAX_PACKET_SIZE,
    MESSAGE_SIZE_LIMIT,
    READER_ACCOUNT,
    BrokerConfig,
    mosquitto_conf_text,
)
from tests.provisioning.test_state import (
    NOT_AUTHORISED,
    ProvisionedBroker,
    T,
    nothing_received,
    publish,
    received,
)

READINGS = f"{T}/askrigg/readings"
OVERSIZE_LOG = "disconnected due to oversize packet"
"""What Mosquitto logs (at notice level) when it cuts a packet at its header."""


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    running = ProvisionedBroker(tmp_path_factory.mktemp("limits") / "state")
    yield running
    running.stop()


@pytest.fixture
def b(broker):
    yield broker
    broker.close_clients()


class RawDevice:
    """askrigg on a bare paho client, to see what the broker does to it: PUBACKs and cuts."""

    def __init__(self, b: ProvisionedBroker) -> None:
        self.events: queue.Queue = queue.Queue()
        self.client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id="askrigg",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        self.client.username_pw_set("askrigg", b.passwords["askrigg"])
        self.client.tls_set(ca_certs=str(b.state.layout.ca_cert))
        self.client.on_connect = lambda c, u, f, reason, p: self.events.put(("connect", reason))
        self.client.on_disconnect = lambda c, u, f, reason, p: self.events.put(
            ("disconnect", reason)
        )
        self.client.on_publish = lambda c, u, mid, reason, p: self.events.put(("puback", reason))
        self.client.connect("127.0.0.1", b.state.settings.port_tls)
        self.client.loop_start()
        kind, reason = self.events.get(timeout=5)
        assert (kind, reason.is_failure) == ("connect", False)

    def publish(self, payload: bytes) -> tuple[str, object]:
        """Publish at QoS 1; the first thing that happens next: a PUBACK or a disconnect."""
        self.client.publish(READINGS, payload, qos=1)
        return self.events.get(timeout=20)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def packet_size(topic: str, payload_bytes: int) -> int:
    """A QoS 1 MQTT 5 PUBLISH without properties as Mosquitto 2.0 measures it.

    Mosquitto compares the remaining length plus one (the fixed header's first byte)
    with ``max_packet_size``; the bytes that encode the remaining length are not counted.
    """
    remaining = 2 + len(topic.encode()) + 2 + 1 + payload_bytes  # topic, packet id, no props
    return 1 + remaining


def payload_for_packet(topic: str, size: int) -> int:
    return size - packet_size(topic, 0)


def broker_log(b: ProvisionedBroker) -> str:
    return b.out.read_text(errors="replace")


def cuts(b: ProvisionedBroker) -> int:
    """How many packets the broker has cut at their header so far."""
    return broker_log(b).count(OVERSIZE_LOG)


def test_the_limits_come_from_the_protocol(tmp_path):
    conf = mosquitto_conf_text(BrokerConfig(directory=tmp_path, port=18830))
    assert MESSAGE_SIZE_LIMIT == MAX_PAYLOAD_BYTES
    assert f"\nmessage_size_limit {MAX_PAYLOAD_BYTES}\n" in conf
    assert f"\nmax_packet_size {16 * MAX_PAYLOAD_BYTES}\n" in conf
    assert "\nmax_inflight_messages 20\n" in conf
    assert "\nmax_queued_messages 50000\n" in conf  # a country's births after a restart
    assert f"\nmax_queued_bytes {256 * MAX_PAYLOAD_BYTES}\n" in conf
    # The largest readings publish (the longest device id) fits the packet limit easily.
    longest = f"{T}/{'a' * 32}/readings"
    assert packet_size(longest, MAX_PAYLOAD_BYTES) < MAX_PACKET_SIZE
    custom = mosquitto_conf_text(
        BrokerConfig(directory=tmp_path, port=18830, max_queued_bytes=1 << 20)
    )
    assert f"\nmax_queued_bytes {1 << 20}\n" in custom


@pytest.mark.slow
def test_a_payload_at_the_limit_is_delivered_and_one_byte_more_is_not(b):
    inbox: queue.Queue = queue.Queue()
    hub = b.connected(HUB_ACCOUNT, client_id="_hub-1", inbox=inbox)
    hub.subscribe(f"$share/hub/{T}/+/readings")
    askrigg = b.connected("askrigg")
    at_limit = b"a" * MESSAGE_SIZE_LIMIT
    assert publish(askrigg, READINGS, at_limit) == 0
    assert received(inbox).payload == at_limit
    askrigg.close()

    cut_before = cuts(b)
    device = RawDevice(b)
    try:
        # Mosquitto 2.0 drops it and answers with reason code 0x95 ("packet too large"),
        # which is no PUBACK code in MQTT 5: paho takes it for a protocol error and
        # closes the connection. No PUBACK ever says the broker has it.
        kind, reason = device.publish(b"b" * (MESSAGE_SIZE_LIMIT + 1))
        assert kind == "disconnect"
        assert str(reason) == "Protocol error"
    finally:
        device.close()
    assert nothing_received(inbox, wait=1.0)
    assert cuts(b) == cut_before  # read whole, then dropped: no cut

    # The broker carries on, and so does the device.
    again = b.connected("askrigg")
    assert publish(again, READINGS, at_limit) == 0
    assert received(inbox).payload == at_limit


@pytest.mark.slow
def test_a_packet_past_the_packet_limit_is_cut_at_its_header(b):
    inbox: queue.Queue = queue.Queue()
    reader = b.connected(READER_ACCOUNT, inbox=inbox)
    reader.subscribe(f"{T}/+/readings")

    # At the limit the broker reads the packet; its payload is over the message limit,
    # so it is dropped as above, without a cut.
    cut_before = cuts(b)
    device = RawDevice(b)
    try:
        payload = payload_for_packet(READINGS, MAX_PACKET_SIZE)
        assert packet_size(READINGS, payload) == MAX_PACKET_SIZE
        kind, reason = device.publish(b"c" * payload)
        assert (kind, str(reason)) == ("disconnect", "Protocol error")
    finally:
        device.close()
    assert cuts(b) == cut_before

    # One byte more and Mosquitto closes the connection on the header. It sends an MQTT 5
    # DISCONNECT, "packet too large", first; whether paho reads it before it finds the
    # socket gone while still writing the body depends on timing. The broker's log says.
    device = RawDevice(b)
    try:
        kind, reason = device.publish(b"d" * (payload + 1))
        assert kind == "disconnect"
        assert str(reason) in ("Packet too large", "Unspecified error")
    finally:
        device.close()
    deadline = time.monotonic() + 5
    while cuts(b) == cut_before:
        assert time.monotonic() < deadline, broker_log(b)[-2000:]
        time.sleep(0.05)
    assert cuts(b) == cut_before + 1
    assert f"Client askrigg {OVERSIZE_LOG}" in broker_log(b)
    assert nothing_received(inbox, wait=1.0)


# --- retained status: the hub may clear it, a device still only its own ---


@pytest.mark.slow
def test_the_hub_clears_a_retained_status(b):
    status = f"{T}/askrigg/status"
    askrigg = b.connected("askrigg")
    assert publish(askrigg, status, b'{"v": 99999999999999999999}', retain=True) in (0, 0x10)
    seen: queue.Queue = queue.Queue()
    b.connected(READER_ACCOUNT, client_id="_reader-before", inbox=seen).subscribe(status)
    assert received(seen).retain

    hub = b.connected(HUB_ACCOUNT, client_id="_hub-1")
    assert publish(hub, status, b"", retain=True) in (0, 0x10)

    fresh: queue.Queue = queue.Queue()
    b.connected(READER_ACCOUNT, client_id="_reader-after", inbox=fresh).subscribe(status)
    assert nothing_received(fresh, wait=1.0)


@pytest.mark.slow
def test_a_device_still_cannot_set_another_device_s_status(b):
    status = f"{T}/askrigg/status"
    askrigg = b.connected("askrigg")
    assert publish(askrigg, status, b"online", retain=True) in (0, 0x10)
    live: queue.Queue = queue.Queue()
    b.connected(READER_ACCOUNT, client_id="_reader-live", inbox=live).subscribe(status)
    assert received(live).payload == b"online"  # the retained one
    bainbridge = b.connected("bainbridge")
    for payload in (b"offline", b""):  # neither overwrite nor clear it
        with pytest.raises(PublishRefused) as refused:
            publish(bainbridge, status, payload, retain=True)
        assert refused.value.reason == NOT_AUTHORISED
    assert nothing_received(live, wait=1.0)
    fresh: queue.Queue = queue.Queue()
    b.connected(READER_ACCOUNT, client_id="_reader-fresh", inbox=fresh).subscribe(status)
    message = received(fresh)
    assert (message.payload, message.retain) == (b"online", True)
    hub = b.connected(HUB_ACCOUNT, client_id="_hub-1")
    assert publish(hub, status, b"", retain=True) in (0, 0x10)
