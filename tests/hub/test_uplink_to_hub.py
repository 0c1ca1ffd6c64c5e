"""The uplink against a real broker and a real ingestion worker: every reading once."""

import time
from datetime import UTC, datetime, timedelta

import pytest

from edge.clock import ClockSample
from edge.store import EdgeStore
from hub_sync.mqtt import BrokerSettings, MqttClient
from hub_sync.uplink import Uplink, UplinkSettings, client_factory
from provisioning.broker_config import HUB_ACCOUNT
from sensors.reading import Reading
from tests.hub.conftest import running_hub
from tests.hub_sync.conftest import PASSWORDS

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def synced():
    return ClockSample(datetime.now(UTC), time.monotonic_ns(), True, "boot")


@pytest.fixture
def edge(tmp_path):
    store = EdgeStore(tmp_path / "edge.db")
    yield store
    store.close()


def make_uplink(edge, broker, **settings):
    broker_settings = BrokerSettings("127.0.0.1", broker.port, "askrigg", PASSWORDS["askrigg"])
    uplink = Uplink(
        edge,
        client_factory(broker_settings),
        UplinkSettings(device_id="askrigg", **settings),
    )
    uplink.start()
    assert uplink.client.wait_connected(10)
    return uplink


def drain(uplink, edge, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        uplink.sync_once()
        if edge.stats().backlog == 0 and uplink.in_flight == 0:
            return
        time.sleep(0.02)
    raise AssertionError(f"not drained: {edge.stats()}")


def counter_readings(n, start=1):
    return [
        Reading("counter", "test_counter", float(i), "count", T0 + timedelta(seconds=i))
        for i in range(start, start + n)
    ]


def test_every_reading_reaches_the_hub_once_and_is_acknowledged(hub, broker, edge):
    edge.append(counter_readings(2500), synced())
    uplink = make_uplink(edge, broker, batch_readings=1000)
    try:
        drain(uplink, edge)
    finally:
        uplink.close()
    stored = hub.store.readings("askrigg")
    values = [r.value for _, r in stored]
    assert sorted(values) == [float(i) for i in range(1, 2501)]
    assert len(set(values)) == len(values)
    assert {epoch for epoch, _ in stored} == {edge.store_epoch}
    assert edge.stats().acknowledged == 2500
    assert [(r.first, r.last) for r in edge.acknowledged_ranges()] == [(1, 2500)]


def test_the_newest_readings_go_first(hub, broker, edge):
    edge.append(counter_readings(3000), synced())
    uplink = make_uplink(edge, broker, batch_readings=500, window=1)
    try:
        uplink.sync_once()
        deadline = time.monotonic() + 10
        while edge.stats().acknowledged == 0 and time.monotonic() < deadline:
            uplink.sync_once()
            time.sleep(0.02)
    finally:
        uplink.close()
    assert [(r.first, r.last) for r in edge.acknowledged_ranges()] == [(2501, 3000)]


def test_a_batch_the_hub_never_answers_is_sent_again(tmp_path, broker, edge):
    # No hub at all: the broker takes the batch (nobody subscribed), no ack ever comes.
    clock = [0.0]
    edge.append(counter_readings(10), synced())
    uplink = make_uplink(edge, broker, resend_after_s=30)
    uplink.monotonic = lambda: clock[0]
    try:
        assert uplink.sync_once() == 10
        assert uplink.sync_once() == 0
        clock[0] += 31
        assert uplink.sync_once() == 10
        assert uplink.resent_batches == 1
        assert edge.stats().acknowledged == 0
        time.sleep(0.3)
        uplink.sync_once()
        assert uplink.hub_subscribed is False
    finally:
        uplink.close()


def test_the_birth_message_tells_the_hub_the_backlog_and_clock(hub, broker, edge):
    edge.append(counter_readings(5), synced())
    broker_settings = BrokerSettings("127.0.0.1", broker.port, "askrigg", PASSWORDS["askrigg"])
    uplink = Uplink(
        edge,
        client_factory(broker_settings),
        UplinkSettings(device_id="askrigg"),
        status=lambda: {"backlog": edge.stats().backlog, "clock_synchronised": True},
    )
    uplink.start()
    try:
        assert uplink.client.wait_connected(10)
        uplink.sync_once()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and '"backlog"' not in hub.store.fleet()[0].status:
            time.sleep(0.05)
    finally:
        uplink.close()
    import json

    # The clean close says "offline"; the hub records it as soon as the broker hands it on.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and hub.store.fleet()[0].online:
        time.sleep(0.05)
    (state,) = hub.store.fleet()
    status = json.loads(state.status)
    assert status["backlog"] == 5
    assert status["clock_synchronised"] is True
    assert state.online is False  # said on the clean close


def metered_uplink(edge, broker, now, **metering):
    from hub_sync.metering import LinkMeter, MeteringSettings

    broker_settings = BrokerSettings("127.0.0.1", broker.port, "askrigg", PASSWORDS["askrigg"])
    reports = []
    uplink = Uplink(
        edge,
        client_factory(broker_settings),
        UplinkSettings(device_id="askrigg", batch_readings=100, window=1),
        status=lambda: {"backlog": edge.stats().backlog},
        meter=LinkMeter(MeteringSettings(**metering), wall=lambda: now),
        report=lambda state, words: reports.append((state, words)),
    )
    uplink.start()
    assert uplink.client.wait_connected(10)
    return uplink, reports


def test_backlog_waits_for_the_drain_window_while_live_readings_go(hub, broker, edge):
    from hub_sync.metering import parse_window

    noon = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    old = [
        Reading("c", "test_counter", float(i), "count", noon - timedelta(days=3)) for i in range(50)
    ]
    edge.append(old, synced())
    uplink, reports = metered_uplink(edge, broker, noon, drain_window=parse_window("23:00-06:00"))
    try:
        assert uplink.sync_once() == 0  # three-day-old backlog, outside the window
        assert reports[-1][0] == "waiting"
        assert "backlog drains in the set window" in reports[-1][1]
        edge.append([Reading("c", "test_counter", 99.0, "count", noon)], synced())
        # The live reading leads the next batch, which goes at once.
        assert uplink.sync_once() > 0
    finally:
        uplink.close()


def test_a_spent_daily_budget_stops_sending_and_says_so(hub, broker, edge):
    noon = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    edge.append(counter_readings(500), synced())
    uplink, reports = metered_uplink(edge, broker, noon, daily_budget_bytes=300)
    try:
        uplink.sync_once()
        sent_first = uplink.sent_batches
        for _ in range(5):
            uplink.sync_once()
        assert uplink.sent_batches == sent_first <= 1
        uplink._next_report = 0
        uplink.sync_once()
        assert reports[-1][0] == "waiting"
        assert "today's data budget is used up" in reports[-1][1]
    finally:
        uplink.close()


@pytest.mark.slow
def test_a_month_of_backlog_drains_behind_live_readings(hub, broker, edge):
    month_ago = datetime(2026, 10, 24, tzinfo=UTC)
    backlog = [
        Reading(
            f"s{i % 8}",
            "temperature",
            20.0 + (i % 7) / 10,
            "°C",
            month_ago + timedelta(seconds=(i // 8) * 600),
        )
        for i in range(8 * 6 * 24 * 30)  # a month of 8 sensors every 10 minutes
    ]
    for i in range(0, len(backlog), 5000):
        edge.append(backlog[i : i + 5000], synced())
    uplink = make_uplink(edge, broker, batch_readings=1000, window=2)
    waits = []
    try:
        for k in range(8):
            live = Reading("live", "temperature", float(k), "°C", datetime.now(UTC))
            seq = edge.append([live], synced()).first
            steps = 0
            while not any(r.first <= seq <= r.last for r in edge.acknowledged_ranges()):
                uplink.sync_once()
                time.sleep(0.01)
                steps += 1
                assert steps < 500, "a live reading waited behind the backlog"
            waits.append(steps)
            if k == 0:  # the backlog is still draining behind it (in 5,000s, issue #18)
                assert edge.stats().backlog > 0
        drain(uplink, edge, timeout=60)
    finally:
        uplink.close()
    stored = hub.store.readings("askrigg")
    assert len(stored) == len(backlog) + 8
    assert len({(r.sensor_id, r.metric, r.ts_us, r.value) for _, r in stored}) == len(stored)


def test_config_from_the_hub_is_applied_or_refused_and_answered(hub, broker, edge):
    import json

    from hub_sync.node_config import NodeConfig, encode_config
    from hub_sync.topics import topic

    applied = []

    def apply(config):
        if dict(config.intervals).get("teleporter"):
            return "no driver named teleporter on this node"
        applied.append(config)
        return ""

    broker_settings = BrokerSettings("127.0.0.1", broker.port, "askrigg", PASSWORDS["askrigg"])
    uplink = Uplink(
        edge,
        client_factory(broker_settings),
        UplinkSettings(device_id="askrigg"),
        status=lambda: {"backlog": 0},
        apply_config=apply,
    )
    hub_client = MqttClient(
        BrokerSettings("127.0.0.1", broker.port, HUB_ACCOUNT, PASSWORDS[HUB_ACCOUNT]),
        client_id="hub-config",
    )
    hub_client.connect()

    def status():
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            uplink.sync_once()
            text = hub.store.fleet()[0].status
            if text and ("config_revision" in text or "config_error" in text):
                return json.loads(text)
            time.sleep(0.05)
        raise AssertionError("no answer on status")

    try:
        # Retained: sent before the node connects, it still arrives.
        good = NodeConfig(5, (("simulated", 30.0),))
        hub_client.publish(topic("askrigg", "config"), encode_config(good), retain=True).wait(5)
        uplink.start()
        assert uplink.client.wait_connected(10)
        answer = status()
        assert answer["config_revision"] == 5
        assert "config_error" not in answer
        assert applied == [good]
        bad = NodeConfig(6, (("teleporter", 30.0),))
        hub_client.publish(topic("askrigg", "config"), encode_config(bad), retain=True).wait(5)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not uplink.config_error:
            uplink.sync_once()
            time.sleep(0.05)
        assert uplink.config_error == "no driver named teleporter on this node"
        assert uplink.config_revision == 5  # the old config is kept
        assert applied == [good]
    finally:
        uplink.close()
        hub_client.close()


def test_an_uplink_that_takes_no_config_leaves_it_for_the_agent(hub, broker, edge, caplog):
    """`edge drain` once told the hub the node refused its config, with a WARNING."""
    import json

    from hub_sync.node_config import NodeConfig, encode_config
    from hub_sync.topics import topic

    hub_client = MqttClient(
        BrokerSettings("127.0.0.1", broker.port, HUB_ACCOUNT, PASSWORDS[HUB_ACCOUNT]),
        client_id="hub-config",
    )
    hub_client.connect()
    config = encode_config(NodeConfig(7, (("simulated", 30.0),)))
    hub_client.publish(topic("askrigg", "config"), config, retain=True).wait(5)
    uplink = make_uplink(edge, broker)  # no apply_config, as `edge drain` builds it
    try:
        edge.append(counter_readings(5), synced())
        drain(uplink, edge)
        for _ in range(20):
            uplink.sync_once()
            time.sleep(0.05)
        status = json.loads(hub.store.fleet()[0].status)
        assert "config_error" not in status
        assert not uplink.config_error
        assert "rejected config" not in caplog.text
    finally:
        uplink.close()
        hub_client.close()


@pytest.fixture
def strict_hub(tmp_path, broker):
    """A hub that stores at most 6,000 readings a minute of one device."""
    with running_hub(tmp_path, broker, quota_readings_per_minute=6000) as service:
        yield service


@pytest.mark.slow
def test_a_node_over_its_readings_quota_waits_as_told_then_sends_the_rest(strict_hub, broker, edge):
    # A minute's worth (6,000) goes in at once; the hub asks the node to wait for the rest
    # (1 s for a batch of 100 at 100 a second), far sooner than its 30 s resend timeout.
    edge.append(counter_readings(6200), synced())
    uplink = make_uplink(edge, broker, batch_readings=100, window=4, resend_after_s=30)
    try:
        drain(uplink, edge, timeout=25)
    finally:
        uplink.close()
    values = sorted(r.value for _, r in strict_hub.store.readings("askrigg"))
    assert values == [float(i) for i in range(1, 6201)]
    assert uplink.throttled_batches >= 1
    assert uplink.resent_batches == 0
    assert strict_hub.counters.throttled >= 1
    strict_hub.record_refusals()
    (refusal,) = strict_hub.store.refusals("askrigg")["askrigg"]
    assert (refusal.reason, refusal.detail) == (
        "over its quota of readings a minute",
        "more than 6,000 readings a minute",
    )
