"""The uplink reads the outbox's rows by name, whatever their order, and sends them as they are."""

import threading
from typing import NamedTuple

from hub_sync.batch_codec import WireReading, decode_batch
from hub_sync.mqtt import BrokerSettings, MqttClient
from hub_sync.topics import topic
from hub_sync.uplink import Uplink, UplinkSettings, client_factory
from provisioning.broker_config import HUB_ACCOUNT
from tests.hub_sync.conftest import PASSWORDS


class ShuffledRow(NamedTuple):
    """An outbox row whose fields are deliberately not in the wire's order."""

    censor: str | None
    value: float
    unit: str
    ts_us: int
    quality: int
    metric: str
    seq: int
    sensor_id: str


class ListOutbox:
    """An outbox of rows held in a list: the smallest store the uplink can send from."""

    store_epoch = 7

    def __init__(self, rows: list[ShuffledRow]) -> None:
        self.rows = rows

    def outbox_rows(self, limit, *, newest_first=True, skip=()):
        waiting = [r for r in self.rows if not any(a <= r.seq <= b for a, b in skip)]
        return sorted(waiting, key=lambda r: r.seq, reverse=newest_first)[:limit]

    def acknowledge(self, ranges):
        return 0

    def reject(self, ranges, reason):
        return 0


def test_the_uplink_sends_each_row_by_its_field_names(broker):
    rows = [
        ShuffledRow(None, 12.5, "°C", 1_000_000, 0, "temperature", 1, "bme280"),
        ShuffledRow("<", 0.1, "ppm", 2_000_000, 4, "co2", 2, "scd41"),
    ]
    received = []
    arrived = threading.Event()

    def on_message(message):
        received.append(decode_batch(message.payload))
        arrived.set()

    hub = MqttClient(
        BrokerSettings("127.0.0.1", broker.port, HUB_ACCOUNT, PASSWORDS[HUB_ACCOUNT]),
        client_id="_hub-rows",
        on_message=on_message,
    )
    hub.connect()
    hub.subscribe(topic("askrigg", "readings"))
    uplink = Uplink(
        ListOutbox(rows),
        client_factory(BrokerSettings("127.0.0.1", broker.port, "askrigg", PASSWORDS["askrigg"])),
        UplinkSettings(device_id="askrigg"),
    )
    uplink.start()
    try:
        assert uplink.client.wait_connected(10)
        assert uplink.sync_once() == 2
        assert arrived.wait(5)
    finally:
        uplink.close()
        hub.close()
    (batch,) = received
    assert (batch.device_id, batch.store_epoch) == ("askrigg", 7)
    assert list(batch.readings) == [
        WireReading(1, "bme280", "temperature", "°C", 1_000_000, 12.5, 0, None),
        WireReading(2, "scd41", "co2", "ppm", 2_000_000, 0.1, 4, "<"),
    ]
