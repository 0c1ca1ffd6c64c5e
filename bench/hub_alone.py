"""The hub's own drain rate: `hallsense hub run` fed pre-encoded batches, no node beside it.

The backlog drain of ``bench.wire`` runs the node's uplink, the hub, Mosquitto and the
database on one machine; on 2 cores the node's reading and encoding (about a third of
the CPU per reading) stands between the hub and the database's ceiling. Deployed, the
node is a Pi in a village hall. Here the node is played by a publisher of batches encoded
before the clock starts, as the ceilings are fed, keeping 8 batches in flight and
counting the readings the hub acknowledges: the hub (its worker and its two writers) and
the database are what is measured, like with like against the ceiling's server and the
one Python process that feeds it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from hub.store_factory import open_hub_store
from hub_sync.acks import decode_ack
from hub_sync.batch_codec import Batch, WireReading, encode_batch
from hub_sync.mqtt import NO_MATCHING_SUBSCRIBERS, BrokerSettings, MqttClient
from hub_sync.mqtt_types import Message
from hub_sync.topics import topic

BATCH = 5000
WINDOW = 8


@contextmanager
def hub_run(
    directory: Path, broker_port: int, location: str, writers: int = 2
) -> Iterator[subprocess.Popen[bytes]]:
    """`hallsense hub run` as its own process on ``location``, knowing device askrigg.

    The quotas are off: what is measured is the hub's own rate for one node.
    """
    hub_store = open_hub_store(location)
    hub_store.add_device("askrigg", "Askrigg")
    hub_store.close()
    env_file = directory / "hub.env"
    env_file.write_text(
        f"HALLSENSE_HUB_STORE={location}\nHALLSENSE_BROKER_HOST=127.0.0.1\n"
        f"HALLSENSE_BROKER_PORT={broker_port}\nHALLSENSE_BROKER_PASSWORD=hub\n"
        f"HALLSENSE_LOG_LEVEL=WARNING\nHALLSENSE_WRITERS={writers}\n"
        "HALLSENSE_QUOTA_MESSAGES_PER_MINUTE=0\nHALLSENSE_QUOTA_BYTES_PER_MINUTE=0\n"
        "HALLSENSE_QUOTA_READINGS_PER_MINUTE=0\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HALLSENSE_")}
    hub = subprocess.Popen(
        [sys.executable, "-m", "hallsense", "hub", "run", "--env", str(env_file)], env=env
    )
    try:
        yield hub
    finally:
        hub.terminate()
        hub.wait(10)


def encoded_batches(day: list[WireReading], total: int) -> list[bytes]:
    """``total`` readings of the hall's day as batches of BATCH, seq 1 up."""
    return [
        encode_batch(
            Batch(
                "askrigg",
                7,
                tuple(replace(day[(i + k) % len(day)], seq=i + k + 1) for k in range(BATCH)),
            )
        )
        for i in range(0, total, BATCH)
    ]


def drain_hub_alone(
    directory: Path, broker_port: int, day: list[WireReading], total: int, location: str = ""
) -> float:
    """Readings a second the hub stores and acknowledges, fed pre-encoded batches."""
    payloads = encoded_batches(day, total)
    acked = [0]
    changed = threading.Condition()

    def on_ack(message: Message) -> None:
        ack = decode_ack(message.payload)
        with changed:
            acked[0] += sum(last - first + 1 for first, last in ack.acked)
            changed.notify_all()

    where = topic("askrigg", "readings")
    with hub_run(directory, broker_port, location or str(directory / "hub.db")):
        node = MqttClient(
            BrokerSettings("127.0.0.1", broker_port, "askrigg", "node"),
            client_id="askrigg",
            on_message=on_ack,
        )
        try:
            node.connect()
            node.subscribe(topic("askrigg", "ack"))
            # The first batch goes once the hub's worker listens (a batch nobody listens to
            # is dropped by the broker): a fixed pause was too short on a loaded machine.
            deadline = time.monotonic() + 60
            while True:
                began = time.perf_counter()  # from the first batch the hub takes
                if node.publish(where, payloads[0]).wait(10) != NO_MATCHING_SUBSCRIBERS:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError("the hub never subscribed to readings")
                time.sleep(0.05)
            for n, payload in enumerate(payloads[1:], 1):
                with changed:
                    if not changed.wait_for(lambda n=n: n - acked[0] // BATCH < WINDOW, 60):
                        raise RuntimeError("the hub stopped acknowledging")
                node.publish(where, payload)
            with changed:
                if not changed.wait_for(lambda: acked[0] >= total, 120):
                    raise RuntimeError(f"the hub acknowledged {acked[0]} of {total}")
            return total / (time.perf_counter() - began)
        finally:
            node.close()
