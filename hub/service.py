"""The ingestion worker process: a shared MQTT subscription feeding an IngestWorker."""

from __future__ import annotations

import logging
import threading
import time

import paho.mqtt.client as paho

from hub.ingest import IngestWorker
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


class IngestService:
    """One ingestion worker: subscribes to every node's readings and status and stores them.

    Several run side by side on the same shared subscription. Each message is
    acknowledged to the broker only once handled (after the commit); when the store is
    unavailable it is acknowledged without an ack to the node, so the broker's window
    stays open and the node resends later.
    """

    def __init__(self, settings: HubSettings, store: HubStore) -> None:
        self.settings = settings
        self.store = store
        self.stop_event = threading.Event()
        self.client = MqttClient(
            broker_settings(settings),
            client_id=f"hallsense-hub-{settings.worker_id}",
            on_message=self._on_message,
            on_connect=self._subscribe,
            session_expiry_s=settings.session_expiry_s,
            manual_ack=True,
        )
        self.worker = IngestWorker(store, self.client, fault_point=settings.fault_point)

    def _subscribe(self, client: MqttClient) -> None:
        group = self.settings.share_group
        client.subscribe_nowait(f"$share/{group}/{TOPIC_PREFIX}/+/readings")
        client.subscribe_nowait(f"$share/{group}/{TOPIC_PREFIX}/+/status")

    def _on_message(self, message: paho.MQTTMessage) -> None:
        outcome = self.worker.handle(message)
        self.client.ack(message)
        if outcome == "store-unavailable":
            time.sleep(STORE_RETRY_PAUSE_S)

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
        self.client.start_background()
        log.info("ingestion worker %s started", self.settings.worker_id)
        try:
            while not self.stop_event.wait(RETENTION_EVERY_S):
                self.apply_retention()
        finally:
            self.client.close()
            log.info(
                "ingestion worker %s stopped: %d batches stored, %d rejected",
                self.settings.worker_id,
                self.worker.counters.stored_batches,
                self.worker.counters.rejected_batches,
            )
