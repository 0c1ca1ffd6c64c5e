"""The hub sends the compact binary ack only to a node whose status says it reads it."""

from dataclasses import dataclass

from hub.ingest import AckFormats, IngestWorker
from hub.store_sqlite import SqliteHubStore
from hub_sync.acks import ACK_MAGIC, decode_ack
from hub_sync.batch_codec import Batch, WireReading, encode_batch
from hub_sync.node_status import encode_status
from hub_sync.topics import topic


@dataclass
class Received:
    topic: str
    payload: bytes
    retain: bool = False


class Publisher:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    def publish(self, where, payload, *, qos=1, retain=False):
        self.sent.append((where, payload))


def batch(first: int) -> Received:
    readings = tuple(
        WireReading(s, "t", "temperature", "°C", 1_790_000_000_000_000 + s, 21.5)
        for s in range(first, first + 10)
    )
    return Received(topic("askrigg", "readings"), encode_batch(Batch("askrigg", 9, readings)))


def status(**fields) -> Received:
    return Received(topic("askrigg", "status"), encode_status("online", **fields))


def test_acks_are_json_until_the_node_says_it_reads_binary_and_again_when_it_stops(tmp_path):
    store = SqliteHubStore(tmp_path / "hub.db")
    store.add_device("askrigg", "Askrigg")
    publisher = Publisher()
    formats = AckFormats()
    # Two writers sharing what they heard: the status comes to one, the batch to the other.
    writer = IngestWorker(store, publisher, ack_formats=formats)
    status_writer = IngestWorker(store, Publisher(), ack_formats=formats)

    assert writer.handle(batch(1)) == "stored"
    assert publisher.sent[-1][1].startswith(b"{")  # an older node, or one not heard from

    assert status_writer.handle(status(acks="json,binary")) == "status"
    assert writer.handle(batch(11)) == "stored"
    payload = publisher.sent[-1][1]
    assert payload.startswith(ACK_MAGIC)
    assert decode_ack(payload).acked == ((11, 20),)
    assert len(payload) < 30

    bare_offline = Received(topic("askrigg", "status"), encode_status("offline"))
    status_writer.handle(bare_offline)
    writer.handle(batch(21))
    assert publisher.sent[-1][1].startswith(ACK_MAGIC)  # a last will changes nothing

    status_writer.handle(status())  # an older version of the node came back
    writer.handle(batch(31))
    assert publisher.sent[-1][1].startswith(b"{")
    store.close()
