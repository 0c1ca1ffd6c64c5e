"""The ingestion worker process: a shared MQTT subscription feeding an IngestWorker."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

import paho.mqtt.client as paho

from hub.ingest import IngestCounters, IngestWorker
from hub.settings import HubSettings
from hub.store import HubStore, HubStoreError
from hub_sync.mqtt import BrokerSettings, MqttClient
from hub_sync.protocol import TOPIC_PREFIX

log = logging.getLogger(__name__)

RETENTION_EVERY_S = 3600.0
STORE_RETRY_PAUSE_S = 1.0
"""Pause after a failed commit, so a store that is down does not make a busy loop."""


def broker_settings(settings: HubSettings) -> BrokerSettings:
    """How the workers reach the broker."""
    return BrokerSettings(
        settings.broker_host,
        settings.broker_port,
        settings.broker_username,
        settings.broker_password,
        settings.broker_ca_file,
    )


class InOrderAcks:
    """Acknowledges received messages to the broker in the order they arrived.

    MQTT 5 (4.6) asks a receiver to send PUBACKs in the order the PUBLISHes came, while
    several writers finish messages out of order. A message from an earlier connection
    is not acknowledged at all: its packet id means nothing on the new one, and a broker
    that kept the session sends it again.
    """

    def __init__(self, send: Callable[[paho.MQTTMessage], None]) -> None:
        self._send = send
        self._lock = threading.Lock()
        self._issued = 0
        self._next = 0
        self._finished: dict[int, paho.MQTTMessage | None] = {}

    def ticket(self) -> int:
        """A number for the next message, in arrival order."""
        with self._lock:
            self._issued += 1
            return self._issued - 1

    def finish(self, ticket: int, message: paho.MQTTMessage | None) -> None:
        """Ticket ``ticket`` is handled; None means: do not acknowledge it."""
        with self._lock:
            self._finished[ticket] = message
            while self._next in self._finished:
                ready = self._finished.pop(self._next)
                self._next += 1
                if ready is not None:
                    self._send(ready)


class IngestService:
    """Ingestion workers: a shared subscription to every node's readings and status.

    Several processes run side by side on the same shared subscription, and each runs
    ``writers`` threads with a hub store connection of its own: while one waits on the
    database, another decodes and builds rows. Each message is acknowledged to the
    broker only once handled (after the commit), in arrival order; when the store is
    unavailable it is acknowledged without an ack to the node, so the broker's window
    stays open and the node resends later.
    """

    def __init__(self, settings: HubSettings, open_store: Callable[[], HubStore]) -> None:
        self.settings = settings
        self.stop_event = threading.Event()
        self.client = MqttClient(
            broker_settings(settings),
            # "_" cannot start a device id, so no device can take a worker's session.
            client_id=f"_hub-{settings.worker_id}",
            on_message=self._on_message,
            on_connect=self._connected,
            session_expiry_s=settings.session_expiry_s,
            manual_ack=True,
        )
        # One connection per writer, and one more for status messages.
        self.stores = [open_store() for _ in range(settings.writers + 1)]
        self.store = self.stores[0]
        self.workers = [
            IngestWorker(store, self.client, fault_point=settings.fault_point)
            for store in self.stores
        ]
        self.status_worker = self.workers[-1]
        self._acks = InOrderAcks(self.client.ack)
        self._connection = 0
        # Bounded: a full queue holds paho's thread, so the broker's window does the rest.
        self._queue: queue.Queue[tuple[int, int, paho.MQTTMessage] | None] = queue.Queue(
            maxsize=2 * settings.writers
        )
        self._threads = [
            threading.Thread(target=self._write, args=(worker,), name=f"hub-writer-{n}")
            for n, worker in enumerate(self.workers[:-1], 1)
        ]

    def _connected(self, client: MqttClient) -> None:
        self._connection += 1
        group = self.settings.share_group
        client.subscribe_nowait(f"$share/{group}/{TOPIC_PREFIX}/+/readings")
        client.subscribe_nowait(f"$share/{group}/{TOPIC_PREFIX}/+/status")

    def _on_message(self, message: paho.MQTTMessage) -> None:
        ticket = self._acks.ticket()
        if message.topic.endswith("/status"):
            # Birth, heartbeat and will must land in the order they came: an "offline"
            # overtaken by the "online" before it would show a gone node as up. They are
            # one small UPDATE each, so paho's thread handles them itself, in order.
            self._handle(self.status_worker, ticket, self._connection, message)
            return
        self._queue.put((ticket, self._connection, message))

    def _handle(
        self, worker: IngestWorker, ticket: int, connection: int, message: paho.MQTTMessage
    ) -> None:
        handled = False
        try:
            outcome = worker.handle(message)
            handled = True
        except Exception:
            # Not acknowledged: the broker or the node sends it again.
            log.exception("handling a message on %s failed", message.topic)
        current = handled and connection == self._connection
        self._acks.finish(ticket, message if current else None)
        if handled and outcome == "store-unavailable":
            time.sleep(STORE_RETRY_PAUSE_S)

    def _write(self, worker: IngestWorker) -> None:
        while (item := self._queue.get()) is not None:
            self._handle(worker, *item)

    @property
    def counters(self) -> IngestCounters:
        """What this process's writers have done, summed."""
        total = IngestCounters()
        for worker in self.workers:
            for name, value in vars(worker.counters).items():
                setattr(total, name, getattr(total, name) + value)
        return total

    def apply_retention(self) -> int:
        """Delete raw readings past the retention window; returns how many."""
        days = self.settings.raw_retention_days
        if not days:
            return 0
        try:
            deleted = self.store.prune(time.time_ns() // 1000 - int(days * 86_400_000_000))
        except HubStoreError as error:
            log.error("retention skipped: %s", error)
            return 0
        if deleted:
            log.info("retention: deleted %d raw readings older than %g days", deleted, days)
        return deleted

    def run(self) -> None:
        """Connect (retrying while the broker is away) and handle messages until stopped."""
        for thread in self._threads:
            thread.start()
        self.client.start_background()
        log.info(
            "ingestion worker %s started with %d writers",
            self.settings.worker_id,
            len(self._threads),
        )
        try:
            while not self.stop_event.wait(RETENTION_EVERY_S):
                self.apply_retention()
        finally:
            self.client.close()
            for _ in self._threads:
                self._queue.put(None)
            for thread in self._threads:
                thread.join()
            for store in self.stores:
                store.close()
            counters = self.counters
            log.info(
                "ingestion worker %s stopped: %d batches stored, %d rejected",
                self.settings.worker_id,
                counters.stored_batches,
                counters.rejected_batches,
            )
