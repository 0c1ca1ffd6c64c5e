"""PostgreSQL going away: nothing is committed, nothing acknowledged, nothing refused goes
uncounted, and the hub recovers."""

import re
import threading
import time
from urllib.parse import urlsplit, urlunsplit

import pytest

from hub.service import IngestService
from hub.settings import HubSettings
from hub.store import HubStoreError
from hub.store_postgres import PostgresHubStore
from hub_sync.acks import decode_ack
from hub_sync.batch_codec import Batch, WireReading, encode_batch
from hub_sync.mqtt import BrokerSettings, MqttClient
from hub_sync.topics import topic
from provisioning.broker_config import HUB_ACCOUNT
from tests.hub_sync.conftest import PASSWORDS
from tests.support.edge_process import wait_for

NOW_US = time.time_ns() // 1000


def batch(seqs):
    return encode_batch(
        Batch(
            "askrigg",
            42,
            tuple(WireReading(s, "t", "temperature", "°C", NOW_US + s, 20.0) for s in seqs),
        )
    )


@pytest.mark.slow
def test_a_stopped_database_gets_no_acks_loses_nothing_and_recovers(
    tmp_path, broker, own_pg_cluster
):
    pg_cluster = own_pg_cluster  # stopped and started below: never a shared server
    url = pg_cluster.new_database()
    store = PostgresHubStore(url)
    store.add_device("askrigg", "Askrigg")
    settings = HubSettings(
        hub_store=tmp_path / "unused.db",
        broker_port=broker.port,
        broker_password=PASSWORDS[HUB_ACCOUNT],
    )
    service = IngestService(settings, lambda: PostgresHubStore(url))
    worker = threading.Thread(target=service.run, daemon=True)
    worker.start()
    acks = []
    node = MqttClient(
        BrokerSettings("127.0.0.1", broker.port, "askrigg", PASSWORDS["askrigg"]),
        client_id="askrigg",
        on_message=lambda m: acks.append(decode_ack(m.payload)),
    )
    try:
        assert service.client.wait_connected(10)
        node.connect()
        node.subscribe(topic("askrigg", "ack"))
        node.publish(topic("askrigg", "readings"), batch(range(1, 6))).wait(5)
        wait_for(lambda: len(acks) == 1, 10, "no ack for the first batch")
        pg_cluster.stop()
        try:
            for _ in range(3):  # the node resends; the worker neither acks nor crashes
                node.publish(topic("askrigg", "readings"), batch(range(6, 11))).wait(5)
            wait_for(lambda: service.counters.store_failures >= 3, 20, "no failures seen")
            # A malformed message is refused while the store is away: counted later.
            node.publish(topic("askrigg", "readings"), b"HS\x01\x00not a batch").wait(5)
            wait_for(lambda: service.counters.rejected_batches == 1, 20, "not refused")
            assert len(acks) == 1
            assert worker.is_alive()
            with pytest.raises(HubStoreError, match=re.escape("hub store at 127.0.0.1")):
                store.fleet()
        finally:
            pg_cluster.start()
        node.publish(topic("askrigg", "readings"), batch(range(6, 11))).wait(5)
        wait_for(lambda: len(acks) == 2, 20, "no ack after the database came back")
        assert acks[1].acked == ((6, 10),)
        assert [r.seq for _, r in store.readings("askrigg")] == list(range(1, 11))
        wait_for(lambda: store.refusals("askrigg"), 20, "the refusal was never counted")
        service.stop_event.set()
        worker.join(10)
        counted = {r.reason: r.count for r in store.refusals("askrigg")["askrigg"]}
        assert counted == {"malformed payload": 1}, counted
    finally:
        node.close()
        service.stop_event.set()
        worker.join(10)
        store.close()


def test_the_password_is_not_in_messages(pg_cluster):
    parts = urlsplit(pg_cluster.url("nowhere_db"))
    user, host = parts.netloc.rsplit("@", 1)
    url = urlunsplit(parts._replace(netloc=f"{user.split(':')[0]}:s3cret-pw@{host}"))
    with pytest.raises(HubStoreError) as caught:
        PostgresHubStore(url)
    assert "s3cret-pw" not in str(caught.value)
