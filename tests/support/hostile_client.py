"""An enrolled device's account in an attacker's hands: a real MQTT client sending anything.

:class:`HostileClient` publishes :class:`~tests.support.hostile.HostileMessage` s at QoS 1
with a window of messages in flight, as fast as the broker takes them, and notes the
broker's verdict on each (its PUBACK, or the connection it dropped). It listens on the
device's own ack topic and keeps every ack the hub sent, so a test can check which
readings the hub acknowledged and which it refused.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

from hub_sync.acks import decode_ack
from hub_sync.mqtt import (
    BrokerSettings,
    ConnectRefused,
    Delivery,
    Message,
    MqttClient,
    MqttError,
    MqttTimeout,
    NotConnected,
    PublishRefused,
)
from hub_sync.topics import topic
from hub_sync.wire_errors import ProtocolError
from tests.support.hostile import HostileMessage

SESSION_EXPIRY_S = 300
"""Long enough that acks sent while the client reconnects wait for it at the broker."""


@dataclass
class Verdict:
    """What the broker did with one message: took it, or refused it (and how)."""

    message: HostileMessage
    accepted: bool
    how: str


@dataclass
class AckLog:
    """Every ack the hub sent the device: (store epoch, seq) acknowledged or refused."""

    acked: set[tuple[int, int]] = field(default_factory=set)
    refused: dict[tuple[int, int], str] = field(default_factory=dict)
    undecodable: int = 0

    def add(self, payload: bytes) -> None:
        try:
            ack = decode_ack(payload)
        except ProtocolError:
            self.undecodable += 1
            return
        for first, last in ack.acked:
            self.acked.update((ack.store_epoch, seq) for seq in range(first, last + 1))
        for rejection in ack.rejected:
            for seq in range(rejection.first, rejection.last + 1):
                self.refused[(ack.store_epoch, seq)] = rejection.reason


class HostileClient:
    """A device's credentials used to publish whatever a test gives it.

    Messages past the broker's size limit make Mosquitto drop the connection, and paho
    would send the message again on every reconnection: each goes out on a client of
    its own, after the window has drained, and the main client connects again after it.
    """

    def __init__(self, broker: BrokerSettings, *, window: int = 20) -> None:
        self.broker = broker
        self.device_id = broker.username
        self.window = window
        self.verdicts: list[Verdict] = []
        self.acks = AckLog()
        self._lock = threading.Lock()
        self._in_flight: deque[tuple[HostileMessage, Delivery]] = deque()
        self._client = self._connect()

    def _on_message(self, message: Message) -> None:
        if message.topic == topic(self.device_id, "ack"):
            with self._lock:
                self.acks.add(message.payload)

    def _connect(self, timeout: float = 30.0) -> MqttClient:
        # Just enrolled: the broker may not have reloaded its password file yet.
        deadline = time.monotonic() + timeout
        while True:
            client = MqttClient(
                self.broker,
                client_id=self.device_id,
                on_message=self._on_message,
                session_expiry_s=SESSION_EXPIRY_S,
            )
            try:
                client.connect()
                client.subscribe(topic(self.device_id, "ack"))
                return client
            except (ConnectRefused, NotConnected, MqttTimeout):
                client.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def send(self, message: HostileMessage) -> None:
        """Publish ``message``; its verdict comes once the window moves past it."""
        if message.over_broker_limit:
            self.drain()
            self._send_alone(message)
            return
        while len(self._in_flight) >= self.window:
            self._settle_oldest()
        try:
            delivery = self._client.publish(message.topic, message.payload, retain=message.retain)
        except NotConnected:
            # Dropped for something sent before: paho resends the window on its own.
            self._client.wait_connected(10)
            delivery = self._client.publish(message.topic, message.payload, retain=message.retain)
        self._in_flight.append((message, delivery))

    def _settle_oldest(self) -> None:
        message, delivery = self._in_flight.popleft()
        try:
            reason = delivery.wait(15)
            self.verdicts.append(Verdict(message, True, f"PUBACK 0x{reason:02x}"))
        except PublishRefused as error:
            self.verdicts.append(Verdict(message, False, f"PUBACK 0x{error.reason:02x}"))
        except MqttTimeout:
            self.verdicts.append(Verdict(message, False, "no PUBACK"))

    def _send_alone(self, message: HostileMessage) -> None:
        self._client.close()
        alone = self._connect()
        try:
            delivery = alone.publish(message.topic, message.payload, retain=message.retain)
            deadline = time.monotonic() + 10
            while alone.connected and not delivery.done and time.monotonic() < deadline:
                time.sleep(0.01)
            if delivery.done and (delivery.reason or 0) < 0x80:
                self.verdicts.append(Verdict(message, True, f"PUBACK 0x{delivery.reason:02x}"))
            elif delivery.done:
                self.verdicts.append(Verdict(message, False, f"PUBACK 0x{delivery.reason:02x}"))
            else:
                self.verdicts.append(Verdict(message, False, "connection dropped"))
        except MqttError as error:
            self.verdicts.append(Verdict(message, False, f"connection dropped: {error}"))
        finally:
            alone.close()
        self._client = self._connect()

    def drain(self) -> None:
        """Wait for the broker's verdict on every message in flight."""
        while self._in_flight:
            self._settle_oldest()

    def close(self) -> None:
        """Drain, then disconnect."""
        try:
            self.drain()
        finally:
            self._client.close()

    def ack_log(self) -> AckLog:
        """A copy of the acks so far."""
        with self._lock:
            return AckLog(set(self.acks.acked), dict(self.acks.refused), self.acks.undecodable)
