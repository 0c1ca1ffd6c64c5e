"""Ingestion: decode, validate and store each batch, commit, then acknowledge it to the node."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from hub.store import HubStore, HubStoreError, UnknownDevice
from hub_sync.protocol import (
    Ack,
    ProtocolError,
    decode_batch,
    decode_status,
    encode_ack,
    parse_topic,
    topic,
)

log = logging.getLogger(__name__)

FaultPoint = Literal["", "after-commit"]
FAULT_EXIT_CODE = 77
"""Exit status of a worker that died at its configured fault point (tests count these)."""


class Message(Protocol):
    """What ingestion needs of a received MQTT message (paho's MQTTMessage has it)."""

    @property
    def topic(self) -> str: ...  # noqa: D102

    @property
    def payload(self) -> bytes | bytearray: ...  # noqa: D102


class Publisher(Protocol):
    """Where acks go: the worker's MQTT client."""

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> object:
        """Send a message."""
        ...


Outcome = Literal["stored", "duplicate", "rejected", "status", "ignored", "store-unavailable"]


@dataclass
class IngestCounters:
    """What one worker has done, for logs and metrics."""

    stored_batches: int = 0
    stored_readings: int = 0
    duplicate_readings: int = 0
    rejected_batches: int = 0
    store_failures: int = 0


class IngestWorker:
    """Handles one message at a time: the single step the hub's ingestion loop repeats.

    Order matters and is the guarantee: the batch is committed to the hub store *before*
    the ack is published, and the broker is told the message is handled only after
    that. A worker that dies in between leaves the batch stored but unacknowledged; the
    node resends and the idempotent store answers with the same ack.

    ``fault_point`` is for fault tests only: "after-commit" makes the process exit right
    after the commit, before the ack (exit status 77).
    """

    def __init__(
        self,
        store: HubStore,
        publisher: Publisher,
        *,
        now_us: Callable[[], int] = lambda: time.time_ns() // 1000,
        fault_point: FaultPoint = "",
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.now_us = now_us
        self.fault_point = fault_point
        self.counters = IngestCounters()

    def handle(self, message: Message) -> Outcome:
        """Handle one message; never raises for bad input.

        Returns "store-unavailable" when the hub store could not commit: the caller must
        then not acknowledge the message to the broker (the node will resend).
        """
        try:
            device_id, kind = parse_topic(message.topic)
        except ProtocolError as error:
            log.warning("ignored a message on %r: %s", message.topic, error)
            return "ignored"
        if kind == "status":
            return self._status(device_id, bytes(message.payload))
        if kind != "readings":
            return "ignored"
        try:
            batch = decode_batch(bytes(message.payload))
            if batch.device_id != device_id:
                raise ProtocolError(
                    f"payload says device {batch.device_id!r} but came on {device_id!r}'s topic"
                )
        except ProtocolError as error:
            return self._reject(device_id, str(error))
        try:
            outcome = self.store.store_batch(batch, self.now_us())
        except UnknownDevice as error:
            return self._reject(device_id, str(error))
        except HubStoreError as error:
            self.counters.store_failures += 1
            log.error("hub store unavailable, batch from %s not acknowledged: %s", device_id, error)
            return "store-unavailable"
        if self.fault_point == "after-commit":
            log.warning("fault point after-commit: exiting before the ack")
            os._exit(FAULT_EXIT_CODE)
        self.publisher.publish(
            topic(device_id, "ack"),
            encode_ack(Ack(batch.store_epoch, outcome.acked, outcome.rejected, outcome.rotate)),
            qos=1,
        )
        self.counters.stored_batches += 1
        self.counters.stored_readings += outcome.inserted
        self.counters.duplicate_readings += outcome.duplicates
        if outcome.rejected:
            log.warning(
                "device %s sent readings that differ from what is stored: %s",
                device_id,
                ", ".join(f"{r.first}..{r.last}" for r in outcome.rejected),
            )
        return "stored" if outcome.inserted else "duplicate"

    def _reject(self, device_id: str, reason: str) -> Outcome:
        self.counters.rejected_batches += 1
        log.warning("rejected a batch from %s: %s", device_id, reason)
        try:
            self.store.count_rejected_batch(device_id, reason, self.now_us())
        except HubStoreError as error:
            log.error("could not count a rejected batch: %s", error)
        return "rejected"

    def _status(self, device_id: str, payload: bytes) -> Outcome:
        try:
            status = decode_status(payload)
        except ProtocolError as error:
            return self._reject(device_id, f"bad status: {error}")
        try:
            # A bare "offline" (the last will) keeps the node's last reported figures.
            figures = "" if set(status) == {"state"} else json.dumps(status, separators=(",", ":"))
            self.store.record_status(device_id, status["state"] == "online", figures, self.now_us())
        except HubStoreError as error:
            log.error("could not record the status of %s: %s", device_id, error)
            return "store-unavailable"
        return "status"
