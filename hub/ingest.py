"""Ingestion: decode, validate and store each batch, commit, then acknowledge it to the node."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal, Protocol

from hub.quotas import QUOTA_READINGS, DeviceQuotas, RefusalTally
from hub.store import HubStore, HubStoreError, HubStoreRefused, UnknownDevice
from hub_sync.acks import Ack, Rejection, encode_ack, reads_binary, split_ack
from hub_sync.batch_codec import decode_batch, peek_batch
from hub_sync.mqtt import MqttError
from hub_sync.node_status import decode_status
from hub_sync.topics import parse_topic, topic
from hub_sync.wire_errors import (
    BatchIdentity,
    BatchTooLarge,
    PayloadTooLarge,
    ProtocolError,
    UnsupportedVersion,
)
from provisioning.log_limit import LogLimiter

log = logging.getLogger(__name__)

FaultPoint = Literal["", "after-commit"]
FAULT_EXIT_CODE = 77
"""Exit status of a worker that died at its configured fault point (tests count these)."""


class Message(Protocol):
    """What ingestion needs of a received MQTT message (hub_sync.mqtt.Message has it)."""

    @property
    def topic(self) -> str: ...  # noqa: D102

    @property
    def payload(self) -> bytes | bytearray: ...  # noqa: D102


class Publisher(Protocol):
    """Where acks go: the worker's MQTT client."""

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> object:
        """Send a message."""
        ...


Outcome = Literal[
    "stored",
    "duplicate",
    "rejected",
    "status",
    "ignored",
    "throttled",
    "quarantined",
    "store-unavailable",
]

REASONS: dict[type[ProtocolError], str] = {
    PayloadTooLarge: "payload too large",
    BatchTooLarge: "batch too large",
    UnsupportedVersion: "unsupported format version",
}
"""Refusal reasons by error class; every other ProtocolError is a malformed payload."""
SPOOFED = "readings of another device"
UNKNOWN = "not registered or revoked"
BAD_STATUS = "malformed status"
BAD_RETAINED_STATUS = "malformed retained status"


def refusal_reason(error: ProtocolError) -> str:
    """The fixed phrase a refusal is counted under (the detail goes with it)."""
    for kind, reason in REASONS.items():
        if isinstance(error, kind):
            return reason
    return "malformed payload"


@dataclass
class IngestCounters:
    """What one worker has done, for logs and metrics."""

    stored_batches: int = 0
    stored_readings: int = 0
    duplicate_readings: int = 0
    rejected_batches: int = 0
    store_failures: int = 0
    throttled: int = 0
    quarantined: int = 0
    ignored: int = 0


class AckFormats:
    """Which devices read the compact binary ack, from their latest status.

    Shared by a process's writers (statuses come to one of them); a device not heard from
    since the process started gets JSON, which every node reads.
    """

    def __init__(self) -> None:
        self._binary: set[str] = set()

    def heard(self, device_id: str, status: dict[str, object]) -> None:
        """Note what an ``online`` status says; a bare ``offline`` changes nothing."""
        if status.get("state") != "online":
            return
        if reads_binary(status.get("acks")):
            self._binary.add(device_id)
        else:
            self._binary.discard(device_id)

    def binary(self, device_id: str) -> bool:
        """Whether ``device_id``'s acks may go binary."""
        return device_id in self._binary


class IngestWorker:
    """Handles one message at a time: the single step the hub's ingestion loop repeats.

    Order matters and is the guarantee: the batch is committed to the hub store *before*
    the ack is published, and the broker is told the message is handled only after
    that. A worker that dies in between leaves the batch stored but unacknowledged; the
    node resends and the idempotent store answers with the same ack.

    Every message ends in exactly one outcome, and :meth:`handle` never raises: a
    message over its device's quota is turned away before it is decoded; a bad one is
    rejected, counted by device and reason, and its readings refused back to the node
    when the payload named them; one that makes a handler fail (a bug, or a value the
    database cannot hold) is quarantined: kept aside, bounded, and shown on the fleet
    page. Log lines about one device and reason come at most once a minute. A refusal
    the store could not count goes to ``refusals``, which the service writes later.

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
        quotas: DeviceQuotas | None = None,
        log_limit: LogLimiter | None = None,
        refusals: RefusalTally | None = None,
        ack_formats: AckFormats | None = None,
    ) -> None:
        self.store = store
        self.ack_formats = ack_formats or AckFormats()
        self.publisher = publisher
        self.now_us = now_us
        self.fault_point = fault_point
        self.quotas = quotas
        self.log_limit = log_limit or LogLimiter(log)
        self.refusals = refusals
        self.counters = IngestCounters()
        self._held: list[tuple[str, bytes, bool]] | None = None
        """What a group under way will publish once it has committed."""

    def handle(self, message: Message, *, charged: bool = False) -> Outcome:
        """Handle one message; never raises.

        Returns "store-unavailable" when the hub store could not commit: the node gets no
        ack and will resend. ``charged``: the message's device has already paid its quotas
        for it (a message of a group stored again alone), so it is not charged again.
        """
        try:
            outcome = self._handle(message, charged=charged)
        except Exception as error:
            # The message boundary: whatever went wrong, this message must not stop the
            # worker, nor come back after a restart to stop it again.
            return self._quarantine(message, error)
        if outcome == "ignored":
            self.counters.ignored += 1
        return outcome

    def handle_group(self, messages: Sequence[Message]) -> list[Outcome]:
        """Handle several messages with one commit (group commit); never raises.

        Each message is stored as :meth:`handle` stores it, in a savepoint of its own, and
        the acks to the nodes go out only after the group has committed. If the commit
        fails, none of the group is stored: every message is "store-unavailable" and no
        node hears of any, so each resends. One commit for many messages is what lets a
        hub keep up with ten thousand halls' heartbeats and small batches (issue #20).
        """
        if len(messages) == 1 or self.fault_point:
            return [self.handle(message) for message in messages]
        self._held = []
        counted = replace(self.counters)
        # In device order (each device's own messages still in the order they came), so
        # that groups on other connections take the devices' row locks in the same order
        # and never wait on each other in a circle.
        order = sorted(range(len(messages)), key=lambda i: messages[i].topic)
        outcomes: list[Outcome] = ["ignored"] * len(messages)
        try:
            with self.store.grouped():
                for i in order:
                    outcomes[i] = self.handle(messages[i])
        except HubStoreError as error:
            self.counters = counted  # nothing of the group was stored
            self.counters.store_failures += len(messages)
            self.log_limit.log(
                "store",
                logging.ERROR,
                "hub store unavailable, %d messages not acknowledged: %s",
                len(messages),
                error,
            )
            return ["store-unavailable"] * len(messages)
        finally:
            held, self._held = self._held, None
        for where, payload, retain in held:
            self._publish(where, payload, retain=retain)
        # One the group could not store (the database dropped a statement, or changed its
        # partitions under it) gets a transaction of its own, now, before the node waits
        # out its resend.
        for i, outcome in enumerate(outcomes):
            if outcome == "store-unavailable":
                outcomes[i] = self.handle(messages[i], charged=True)
        return outcomes

    def _handle(self, message: Message, *, charged: bool = False) -> Outcome:
        try:
            device_id, kind = parse_topic(message.topic)
        except ProtocolError as error:
            self.log_limit.log(
                "topic", logging.WARNING, "ignored a message on %r: %s", message.topic[:120], error
            )
            return "ignored"
        payload = bytes(message.payload)
        quotas = None if charged else self.quotas
        if quotas is not None:
            quota = quotas.admit(device_id, len(payload))
            if quota is not None:
                self.counters.throttled += 1
                self.log_limit.log(
                    (device_id, quota),
                    logging.WARNING,
                    "device %s is %s: its messages are turned away unread",
                    device_id,
                    quota,
                )
                return "throttled"
        if kind == "status":
            return self._status(device_id, payload, bool(getattr(message, "retain", False)))
        if kind != "readings":
            return "ignored"
        head = self._peek(device_id, payload) if quotas is not None else None
        if head is not None and (waiting := self._wait_for_readings(device_id, head)):
            return waiting  # told to wait before it cost a decode
        try:
            batch = decode_batch(payload)
        except ProtocolError as error:
            return self._reject(device_id, refusal_reason(error), str(error), error.identity)
        identity = BatchIdentity(batch.device_id, batch.store_epoch, batch.columns().runs)
        if batch.device_id != device_id:
            detail = f"payload says device {batch.device_id!r} but came on {device_id!r}'s topic"
            return self._reject(device_id, SPOOFED, detail, identity)
        if (
            head is None
            and quotas is not None
            and (waiting := self._wait_for_readings(device_id, identity))
        ):
            return waiting
        try:
            outcome = self.store.store_batch(batch, self.now_us())
        except UnknownDevice as error:
            return self._reject(device_id, UNKNOWN, str(error), identity)
        except HubStoreRefused as error:
            return self._quarantine(message, error)
        except HubStoreError as error:
            self.counters.store_failures += 1
            self.log_limit.log(
                "store",
                logging.ERROR,
                "hub store unavailable, batch from %s not acknowledged: %s",
                device_id,
                error,
            )
            return "store-unavailable"
        if self.fault_point == "after-commit":
            log.warning("fault point after-commit: exiting before the ack")
            os._exit(FAULT_EXIT_CODE)
        self._send_ack(
            device_id, Ack(batch.store_epoch, outcome.acked, outcome.rejected, outcome.rotate)
        )
        self.counters.stored_batches += 1
        self.counters.stored_readings += outcome.inserted
        self.counters.duplicate_readings += outcome.duplicates
        if outcome.rejected:
            self.log_limit.log(
                (device_id, "refused readings"),
                logging.WARNING,
                "device %s sent readings the hub refused: %s",
                device_id,
                ", ".join(f"{r.first}..{r.last} ({r.reason})" for r in outcome.rejected[:5]),
            )
        return "stored" if outcome.inserted else "duplicate"

    def _peek(self, device_id: str, payload: bytes) -> BatchIdentity | None:
        """The batch's identity from its first bytes, when contiguous and the device's own."""
        try:
            head = peek_batch(payload)
        except ProtocolError:
            return None  # the full decode says what is wrong
        return head if head is not None and head.device_id == device_id else None

    def _wait_for_readings(self, device_id: str, identity: BatchIdentity) -> Outcome | None:
        """Charge the batch's readings to the device's quota; "throttled" if over it."""
        if self.quotas is None:
            return None
        count = sum(last - first + 1 for first, last in identity.runs)
        wait_s = self.quotas.take_readings(device_id, count)
        if wait_s is None:
            return None
        self.counters.throttled += 1
        self.log_limit.log(
            (device_id, QUOTA_READINGS),
            logging.WARNING,
            "device %s is %s: its batches are answered with a wait",
            device_id,
            QUOTA_READINGS,
        )
        later = Ack(identity.store_epoch, throttled=identity.runs, retry_after_s=wait_s)
        self._send_ack(device_id, later)
        return "throttled"

    def _reject(
        self, device_id: str, reason: str, detail: str, identity: BatchIdentity | None = None
    ) -> Outcome:
        self.counters.rejected_batches += 1
        self.log_limit.log(
            (device_id, reason), logging.WARNING, "refused a message from %s: %s", device_id, detail
        )
        try:
            self.store.count_refused(device_id, reason, detail, self.now_us())
        except HubStoreError as error:
            if self.refusals is None:
                log.error("could not count a refused message: %s", error)
            else:  # counted with the next refusals the service writes
                self.refusals.count(device_id, reason, detail)
                self.log_limit.log(
                    "refusal kept", logging.ERROR, "refused message counted later: %s", error
                )
        if identity is not None and identity.device_id == device_id:
            # The node learns which readings will never be stored, and stops resending
            # them; a payload that named another device's readings gets no answer.
            words = f"{reason}: {detail}"
            refusal = tuple(Rejection(a, b, words) for a, b in identity.runs)
            self._send_ack(device_id, Ack(identity.store_epoch, (), refusal))
        return "rejected"

    def _send_ack(self, device_id: str, ack: Ack) -> None:
        binary = self.ack_formats.binary(device_id)
        for part in split_ack(ack):
            self._publish(topic(device_id, "ack"), encode_ack(part, binary=binary))

    def _publish(self, where: str, payload: bytes, *, retain: bool = False) -> None:
        if self._held is not None:  # a group under way: not before its commit
            self._held.append((where, payload, retain))
            return
        # The broker is gone: the node resends what it does not hear about, and the
        # message being handled comes again on the next connection.
        try:
            self.publisher.publish(where, payload, qos=1, retain=retain)
        except MqttError as error:
            self.log_limit.log(
                "publish", logging.WARNING, "could not publish to %s: %s", where, error
            )

    def _quarantine(self, message: Message, error: BaseException) -> Outcome:
        self.counters.quarantined += 1
        where = str(getattr(message, "topic", ""))[:200]
        levels = where.split("/")
        device_id = levels[2] if len(levels) == 4 else ""
        reason = f"{type(error).__name__}: {error}"[:300]
        self.log_limit.log(
            (device_id, "quarantine", type(error).__name__),
            logging.ERROR,
            "quarantined a message on %s: %s",
            where,
            reason,
            exc_info=error,
        )
        try:
            payload = bytes(message.payload)
        except Exception:
            payload = b""  # the message itself is broken: keep its topic and why
        try:
            self.store.quarantine(device_id, where, payload, reason, self.now_us())
        except HubStoreRefused as failure:
            log.error("could not keep a quarantined message: %s", failure)
        except HubStoreError as failure:
            self.counters.store_failures += 1
            log.error("hub store unavailable, quarantined message not kept: %s", failure)
            return "store-unavailable"
        return "quarantined"

    def _status(self, device_id: str, payload: bytes, retained: bool) -> Outcome:
        if not payload:
            return "ignored"  # a retained status being cleared
        try:
            status = decode_status(payload)
        except ProtocolError as error:
            if not retained:
                return self._reject(device_id, BAD_STATUS, str(error))
            outcome = self._reject(device_id, BAD_RETAINED_STATUS, str(error))
            # Kept by the broker, it would come back at every new session: clear it with
            # the hub's own rights (an empty retained message deletes it).
            self._publish(topic(device_id, "status"), b"", retain=True)
            return outcome
        try:
            # A bare "offline" (the last will) keeps the node's last reported figures.
            self.ack_formats.heard(device_id, status)
            figures = "" if set(status) == {"state"} else json.dumps(status, separators=(",", ":"))
            self.store.record_status(device_id, status["state"] == "online", figures, self.now_us())
        except HubStoreRefused as error:
            return self._quarantine(_Received(topic(device_id, "status"), payload), error)
        except HubStoreError as error:
            log.error("could not record the status of %s: %s", device_id, error)
            return "store-unavailable"
        return "status"


@dataclass(frozen=True)
class _Received:
    topic: str
    payload: bytes
