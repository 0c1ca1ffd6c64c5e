"""A batch the hub missed while another subscriber (the HA bridge) took it is resent promptly.

Issue #18: with the Home Assistant bridge subscribed to readings, the broker answers every
publish "delivered" even while the hub is away, so the uplink's quick resend (on PUBACK
"no matching subscribers") never fired and such batches waited the full resend timeout.
"""

import time
from datetime import UTC, datetime, timedelta

import pytest

from edge.clock import ClockSample
from edge.store import EdgeStore
from hub_sync.mqtt import BrokerSettings, MqttClient
from hub_sync.topics import TOPIC_PREFIX
from hub_sync.uplink import Uplink, UplinkSettings, client_factory
from provisioning.broker_config import HUB_ACCOUNT
from sensors.reading import Reading
from tests.hub.conftest import running_hub
from tests.hub_sync.conftest import PASSWORDS

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def readings(first: int, n: int) -> list[Reading]:
    return [
        Reading("counter", "test_counter", float(i), "count", T0 + timedelta(seconds=i))
        for i in range(first, first + n)
    ]


def synced() -> ClockSample:
    return ClockSample(datetime.now(UTC), time.monotonic_ns(), True, "boot")


@pytest.mark.slow
def test_a_batch_only_the_bridge_took_is_resent_once_the_hub_acks_a_later_one(tmp_path, broker):
    bridged: list[str] = []
    bridge = MqttClient(
        BrokerSettings("127.0.0.1", broker.port, HUB_ACCOUNT, PASSWORDS[HUB_ACCOUNT]),
        client_id="ha-bridge",
        on_message=lambda message: bridged.append(message.topic),
    )
    bridge.connect(10)
    bridge.subscribe(f"{TOPIC_PREFIX}/+/readings")
    edge = EdgeStore(tmp_path / "edge.db")
    uplink = Uplink(
        edge,
        client_factory(BrokerSettings("127.0.0.1", broker.port, "askrigg", PASSWORDS["askrigg"])),
        UplinkSettings(device_id="askrigg", batch_readings=100, resend_after_s=30),
    )
    uplink.start()
    try:
        assert uplink.client.wait_connected(10)
        # The hub is away (its broker session gone): only the bridge has this batch.
        edge.append(readings(1, 100), synced())
        assert uplink.sync_once() == 100
        deadline = time.monotonic() + 5
        while not bridged and time.monotonic() < deadline:
            time.sleep(0.02)
        assert bridged, "the bridge never got the batch"
        uplink.sync_once()
        assert uplink.hub_subscribed is True  # the broker said "delivered": no quick resend
        time.sleep(2.1)
        with running_hub(tmp_path, broker):
            # The hub is back and subscribed; the node's next readings reach it and are
            # acknowledged, and the batch sent before it came back goes again at once.
            time.sleep(0.3)
            edge.append(readings(101, 100), synced())
            began = time.monotonic()
            while edge.stats().backlog and time.monotonic() - began < 10:
                uplink.sync_once()
                time.sleep(0.02)
            caught_up_s = time.monotonic() - began
        assert edge.stats().backlog == 0, edge.stats()
        assert caught_up_s < 10  # not the 30 s resend timeout
        assert uplink.resent_batches == 1
        assert [(r.first, r.last) for r in edge.acknowledged_ranges()] == [(1, 200)]
    finally:
        uplink.close()
        bridge.close()
        edge.close()


def test_nothing_is_resent_early_while_the_hub_keeps_up(tmp_path, broker):
    # With the hub there throughout, every batch is acknowledged and none goes twice,
    # however many batches are in flight together.
    edge = EdgeStore(tmp_path / "edge.db")
    edge.append(readings(1, 2000), synced())
    with running_hub(tmp_path, broker):
        uplink = Uplink(
            edge,
            client_factory(
                BrokerSettings("127.0.0.1", broker.port, "askrigg", PASSWORDS["askrigg"])
            ),
            UplinkSettings(device_id="askrigg", batch_readings=100, window=8),
        )
        uplink.start()
        try:
            assert uplink.client.wait_connected(10)
            deadline = time.monotonic() + 20
            while (edge.stats().backlog or uplink.in_flight) and time.monotonic() < deadline:
                uplink.sync_once()
                time.sleep(0.01)
        finally:
            uplink.close()
    assert edge.stats().backlog == 0
    assert uplink.resent_batches == 0
    edge.close()
