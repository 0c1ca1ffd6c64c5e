"""One bad device never stops ingestion: each message is stored, refused, turned away or kept aside.

Each test runs a real ingestion service against a real Mosquitto (the generated config and
ACL) and a real hub store, and publishes what a hostile device with enrolled credentials
sent when the hub used to stall: payloads that overflowed the database, JSON that blew
the parser's stack, a retained status that came back at every session.
"""

import threading
import time

import pytest

from hub.ingest import IngestWorker
from hub.service import IngestService
from hub.settings import HubSettings
from hub.store_factory import open_hub_store
from hub_sync.acks import decode_ack
from hub_sync.mqtt import BrokerSettings, MqttClient
from hub_sync.topics import topic
from provisioning.broker_config import HUB_ACCOUNT
from tests.hub_sync.conftest import PASSWORDS
from tests.support.hostile import deep_json, float_batch, raw_batch, status
from tests.support.waiting import wait_for

EPOCH = 987654321
POISON_READINGS = {
    "a timestamp of 2^63": raw_batch("askrigg", EPOCH, [1], stamps=[2**63]),
    "a quality of 2^64": raw_batch("askrigg", EPOCH, [2], qualities=[2**64]),
    "a NUL in a sensor id": raw_batch("askrigg", EPOCH, [3], series=[("t\x00", "co2", "ppm")]),
    "a NUL in a unit": raw_batch("askrigg", EPOCH, [4], series=[("t", "co2", "ppm\x00")]),
    "a quality of 2^31": raw_batch("askrigg", EPOCH, [5], qualities=[2**31]),
}
POISON_STATUSES = {
    "JSON 100,000 levels deep": deep_json(100_000),
    "a 5,000-digit number": b'{"v":1,"state":"online","backlog":' + b"9" * 5000 + b"}",
    "a config revision of 2^63": status(config_revision=2**63),
    "a NUL in its last error": status(last_error="sensor\x00failed"),
    "NaN for a number": b'{"v":1,"state":"online","backlog":NaN}',
    "a negative backlog": status(backlog=-1),
}


class Hub:
    """An ingestion service in a thread over a hub store that knows askrigg and bainbridge."""

    def __init__(self, location, broker):
        self.location = location
        self.broker = broker
        self.store = open_hub_store(location)
        for device in ("askrigg", "bainbridge"):
            self.store.add_device(device, device.title())
        self.service = None
        self.thread = None

    def start(self, **settings):
        self.service = IngestService(
            HubSettings(
                hub_store=self.location,
                broker_port=self.broker.port,
                broker_password=PASSWORDS[HUB_ACCOUNT],
                **settings,
            ),
            lambda: open_hub_store(self.location),
        )
        self.thread = threading.Thread(target=self.service.run, daemon=True)
        self.thread.start()
        assert self.service.client.wait_connected(10)
        # Subscribed once a message of its own comes back (an empty status is ignored).
        service = self.service

        def heard_itself():
            service.client.publish(topic("probe", "status"), b"").wait(5)
            return wait_for(lambda: service.counters.ignored > 0, timeout=0.5)

        assert wait_for(heard_itself)
        return service

    def stop(self):
        self.service.stop_event.set()
        self.thread.join(10)
        assert not self.thread.is_alive()

    def refusals(self, device):
        return {r.reason: r for r in self.store.refusals(device).get(device, ())}


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "hub.db")
    return request.getfixturevalue("pg_cluster").new_database()


@pytest.fixture
def hub(backend, broker):
    hub = Hub(backend, broker)
    yield hub
    if hub.thread is not None and hub.thread.is_alive():
        hub.stop()
    hub.store.close()


def connect(broker, device):
    acks = []

    def on_message(message):
        acks.append(decode_ack(message.payload))

    client = MqttClient(
        BrokerSettings("127.0.0.1", broker.port, device, PASSWORDS[device]),
        client_id=device,
        on_message=on_message,
    )
    client.connect()
    client.subscribe(topic(device, "ack"))
    client.acks = acks
    return client


@pytest.fixture
def node(broker):
    client = connect(broker, "askrigg")
    yield client
    client.close()


def valid(seqs, device="askrigg", **fields):
    return raw_batch(device, EPOCH, list(seqs), **fields)


def acked(client):
    return {pair for ack in client.acks for pair in ack.acked}


def refused(client):
    return {(r.first, r.last): r.reason for ack in client.acks for r in ack.rejected}


def test_poison_that_stalled_the_hub_is_refused_counted_and_named_back_to_the_node(hub, node):
    service = hub.start()
    for payload in POISON_READINGS.values():
        node.publish(topic("askrigg", "readings"), payload).wait(5)
    for payload in POISON_STATUSES.values():
        node.publish(topic("askrigg", "status"), payload).wait(5)
    node.publish(topic("askrigg", "readings"), valid(range(10, 20))).wait(5)

    assert wait_for(lambda: (10, 19) in acked(node)), node.acks
    assert wait_for(lambda: len(refused(node)) == len(POISON_READINGS)), str(refused(node))
    reasons = refused(node)
    assert sorted(reasons) == [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5)]
    assert reasons[(1, 1)] == "malformed payload: a timestamp is beyond signed 64 bits"
    assert reasons[(3, 3)] == (
        "malformed payload: a text field holds the control character U+0000; text may not"
    )
    assert [r.seq for _, r in hub.store.readings("askrigg")] == list(range(10, 20))
    assert wait_for(lambda: "malformed status" in hub.refusals("askrigg"))
    assert wait_for(
        lambda: hub.refusals("askrigg")["malformed status"].count == len(POISON_STATUSES)
    )
    refusals = hub.refusals("askrigg")
    assert refusals["malformed payload"].count == len(POISON_READINGS)
    (askrigg,) = [d for d in hub.store.fleet() if d.device_id == "askrigg"]
    assert askrigg.rejected_batches == len(POISON_READINGS) + len(POISON_STATUSES)
    assert askrigg.quarantined == 0
    # Refused data is not an outage: no writer paused, nothing waits to be resent.
    assert service.counters.store_failures == 0
    assert service.counters.rejected_batches == len(POISON_READINGS) + len(POISON_STATUSES)


@pytest.mark.slow
def test_a_retained_poison_status_is_cleared_and_never_comes_back(hub, node, broker):
    hub.start()
    node.publish(topic("askrigg", "status"), deep_json(100_000), retain=True).wait(5)
    assert wait_for(lambda: "malformed retained status" in hub.refusals("askrigg"))

    # The hub cleared it with its own rights: a new session finds nothing retained.
    seen = []
    watcher = MqttClient(
        BrokerSettings("127.0.0.1", broker.port, HUB_ACCOUNT, PASSWORDS[HUB_ACCOUNT]),
        client_id="_watcher",
        on_message=lambda message: seen.append(bytes(message.payload)),
    )
    watcher.connect()
    watcher.subscribe(topic("askrigg", "status"))
    time.sleep(0.5)
    watcher.close()
    assert seen == []

    hub.stop()
    hub.start()
    node.publish(topic("askrigg", "readings"), valid(range(1, 4))).wait(5)
    assert wait_for(lambda: (1, 3) in acked(node))
    assert hub.refusals("askrigg")["malformed retained status"].count == 1


@pytest.fixture
def refusing_database(hub):
    """The hub store's database refuses values over 1,000: a value it cannot hold."""
    if hub.location.startswith("postgresql"):
        hub.store._run(
            "ALTER TABLE readings ADD CONSTRAINT refuse_big CHECK (value IS NULL OR value <= 1000)"
        )
    else:
        hub.store._run(
            "CREATE TRIGGER refuse_big BEFORE INSERT ON readings WHEN NEW.value > 1000 "
            "BEGIN SELECT RAISE(ABORT, 'value refused'); END"
        )
    return hub


def test_a_message_the_database_refuses_is_kept_aside_acknowledged_and_not_replayed(
    refusing_database, node
):
    hub = refusing_database
    service = hub.start()
    poison = valid(range(1, 4), values=[5000, 5000, 5000])
    node.publish(topic("askrigg", "readings"), poison).wait(5)
    node.publish(topic("askrigg", "readings"), poison).wait(5)
    node.publish(topic("askrigg", "readings"), valid(range(4, 7))).wait(5)
    assert wait_for(lambda: (4, 6) in acked(node))
    assert wait_for(lambda: service.counters.quarantined == 2)

    (kept,) = hub.store.dead_letters("askrigg")
    assert (kept.topic, kept.times, kept.size, kept.payload) == (
        topic("askrigg", "readings"),
        2,
        len(poison),
        poison,
    )
    assert "value refused" in kept.reason or "refuse_big" in kept.reason
    # The node heard nothing of them, so it keeps them and sends them again later.
    assert acked(node) == {(4, 6)}
    assert refused(node) == {}
    assert service.counters.store_failures == 0

    # The broker was told they were handled: a restart does not bring them back.
    hub.stop()
    hub.start()
    node.publish(topic("askrigg", "readings"), valid(range(7, 9))).wait(5)
    assert wait_for(lambda: (7, 8) in acked(node))
    (askrigg,) = [d for d in hub.store.fleet() if d.device_id == "askrigg"]
    assert askrigg.quarantined == 2
    assert askrigg.rejected_batches == 0
    assert hub.refusals("askrigg")["quarantined"].count == 2


def test_a_device_past_its_series_quota_has_those_readings_refused(hub, node):
    hub.start(quota_series=3)
    series = [("s1", "temperature", "°C"), ("s2", "co2", "ppm"), ("s3", "humidity", "%RH")]
    series += [("bomb1", "co2", "ppm"), ("bomb2", "co2", "ppm")]
    node.publish(
        topic("askrigg", "readings"), valid(range(1, 6), series=series, index=[0, 1, 2, 3, 4])
    ).wait(5)
    assert wait_for(lambda: node.acks)
    assert acked(node) == {(1, 3)}
    assert refused(node) == {(4, 5): "over its quota of series (3)"}
    assert [r.sensor_id for _, r in hub.store.readings("askrigg")] == ["s1", "s2", "s3"]
    bombs = hub.store._query("SELECT COUNT(*) FROM series WHERE sensor_id LIKE ?", ("bomb%",))
    assert bombs[0][0] == 0
    assert hub.refusals("askrigg")["over its quota of series"].count == 2

    # Exactly at the quota, the device's own series still go in; another device is untouched.
    node.publish(
        topic("askrigg", "readings"), valid(range(6, 9), series=series[:3], index=[0, 1, 2])
    ).wait(5)
    assert wait_for(lambda: (6, 8) in acked(node))
    neighbour = connect(hub.broker, "bainbridge")
    neighbour.publish(
        topic("bainbridge", "readings"),
        valid(range(1, 5), device="bainbridge", series=series[1:], index=[0, 1, 2, 3]),
    ).wait(5)
    assert wait_for(lambda: neighbour.acks)
    assert acked(neighbour) == {(1, 3)}
    neighbour.close()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_flooding_device_is_turned_away_unread_and_its_neighbour_is_not(hub, node):
    service = hub.start(quota_messages_per_minute=5)
    for seq in range(1, 13):
        node.publish(topic("askrigg", "readings"), valid([seq])).wait(5)
    neighbour = connect(hub.broker, "bainbridge")
    for seq in range(1, 4):
        neighbour.publish(topic("bainbridge", "readings"), valid([seq], device="bainbridge")).wait(
            5
        )
    assert wait_for(lambda: len(neighbour.acks) == 3)
    assert wait_for(lambda: service.counters.throttled + len(node.acks) == 12)
    # A minute's worth (5) went in; the bucket refills one message every 12 s.
    admitted = len(node.acks)
    assert admitted in (5, 6)
    assert service.counters.throttled == 12 - admitted
    assert service.record_refusals() == 12 - admitted
    quota = hub.refusals("askrigg")["over its quota of messages a minute"]
    assert (quota.count, quota.detail) == (12 - admitted, "more than 5 messages a minute")
    assert hub.refusals("bainbridge") == {}
    (askrigg,) = [d for d in hub.store.fleet() if d.device_id == "askrigg"]
    assert askrigg.rejected_batches == 0  # turned away is not rejected: the node resends
    neighbour.close()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_device_over_its_bytes_quota_is_turned_away(hub, node):
    first = float_batch("askrigg", EPOCH, 1, 1.5)
    service = hub.start(quota_bytes_per_minute=len(first) + 10)
    node.publish(topic("askrigg", "readings"), first).wait(5)
    node.publish(topic("askrigg", "readings"), float_batch("askrigg", EPOCH, 2, 2.5)).wait(5)
    assert wait_for(lambda: service.counters.throttled == 1)
    assert wait_for(lambda: node.acks)
    assert acked(node) == {(1, 1)}
    service.record_refusals()
    assert hub.refusals("askrigg")["over its quota of bytes a minute"].count == 1


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_ten_thousand_scattered_readings_are_acked_in_parts_the_broker_lets_through(hub, node):
    service = hub.start()
    scattered = list(range(1, 20_001, 2))
    node.publish(topic("askrigg", "readings"), valid(scattered)).wait(5)
    assert wait_for(lambda: len(acked(node)) == 10_000, timeout=30)
    assert acked(node) == {(seq, seq) for seq in scattered}
    # Refused just as scattered: every one named back, in parts.
    poison = valid([seq + 1 for seq in scattered], qualities=[2**31] * 10_000)
    node.publish(topic("askrigg", "readings"), poison).wait(5)
    assert wait_for(lambda: len(refused(node)) == 10_000, timeout=30)
    assert service._connection == [1]  # never cut off by the broker for an oversize ack


class BrokenMessage:
    """A received message whose payload cannot be read: what a bug anywhere looks like."""

    topic = "hallsense/v1/askrigg/readings"
    retain = False

    @property
    def payload(self):
        raise RuntimeError("the payload went missing")


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_bug_in_a_handler_is_kept_aside_and_the_worker_goes_on(hub, node, broker):
    publisher = MqttClient(
        BrokerSettings("127.0.0.1", broker.port, HUB_ACCOUNT, PASSWORDS[HUB_ACCOUNT]),
        client_id="_hub-test",
    )
    publisher.connect()
    worker = IngestWorker(hub.store, publisher)  # acks go out through the real broker
    assert worker.handle(BrokenMessage()) == "quarantined"
    assert worker.handle(BrokenMessage()) == "quarantined"
    (kept,) = hub.store.dead_letters("askrigg")
    assert (kept.reason, kept.times, kept.payload) == (
        "RuntimeError: the payload went missing",
        2,
        b"",
    )
    assert worker.counters.quarantined == 2

    class Received:
        topic = "hallsense/v1/askrigg/readings"
        payload = valid(range(1, 4))

    assert worker.handle(Received()) == "stored"
    assert wait_for(lambda: (1, 3) in acked(node))
    publisher.close()
