"""The ingestion worker process: a shared MQTT subscription feeding an IngestWorker."""

from __future__ import annotations

import logging
import threading
import time

import paho.mqtt.client as paho

from hub.ingest import IngestWorker
from hub.settings import HubSettings
from hub.store import HubStore
from hub_sync.mqtt import BrokerSettings, MqttClient
from hub_sync.protocol import TOPIC_PREFIX

log = logging.getLogger(__name__)

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

    def run(self) -> None:
        """Connect (retrying while the broker is away) and handle messages until stopped."""
        self.client.start_background()
        log.info("ingestion worker %s started", self.settings.worker_id)
        try:
            self.stop_event.wait()
        finally:
            self.client.close()
            log.info(
                "ingestion worker %s stopped: %d batches stored, %d rejected",
                self.settings.worker_id,
                self.worker.counters.stored_batches,
                self.worker.counters.rejected_batches,
            )
