"""The MQTT wrapper's own types: broker settings, exceptions, deliveries, messages.

How to reach the broker and who to be there, the wrapper's exceptions, a publish's
delivery and a received message.

Kept apart from ``hub_sync/mqtt.py`` (which re-exports them) so that module stays within
500 lines; nothing here imports paho.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hub_sync.transports import Route


class MqttError(Exception):
    """Base of every MQTT failure: the link, the broker's refusal, a timeout."""


class NotConnected(MqttError, ConnectionError):
    """The client has no connection to the broker (now)."""


class ConnectRefused(MqttError, ConnectionError):
    """The broker refused the connection; ``reason`` is its MQTT 5 reason code."""

    def __init__(self, message: str, reason: int) -> None:
        super().__init__(message)
        self.reason = reason


class PublishRefused(MqttError):
    """The broker refused a publish (reason code 0x80 or above), e.g. not authorised."""

    def __init__(self, message: str, reason: int) -> None:
        super().__init__(message)
        self.reason = reason


class MqttTimeout(MqttError, TimeoutError):
    """No answer from the broker in time."""


@dataclass(frozen=True, slots=True)
class Message:
    """A message the broker delivered, as handlers get it: paho's own type stays in here.

    ``packet_id`` is what :meth:`MqttClient.ack` sends back to the broker under
    ``manual_ack``; it means something only on the connection the message came on.
    """

    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    packet_id: int = 0


MessageHandler = Callable[[Message], None]


class Delivery:
    """The broker's answer to one QoS 1 publish: its PUBACK reason code, once it comes.

    A PUBACK only says the broker has the message, never that the hub stored it.
    """

    def __init__(self, mid: int, topic: str) -> None:
        self.mid = mid
        self.topic = topic
        self._done = threading.Event()
        self.reason: int | None = None
        self.words = ""

    def _settle(self, reason: int, words: str = "") -> None:
        self.reason = reason
        self.words = words
        self._done.set()

    @property
    def done(self) -> bool:
        """Whether the broker has answered."""
        return self._done.is_set()

    def wait(self, timeout: float) -> int:
        """The PUBACK's reason code.

        Raises:
            MqttTimeout: no PUBACK within ``timeout`` seconds.
            PublishRefused: the broker refused the message (0x80 or above).
        """
        if not self._done.wait(timeout):
            raise MqttTimeout(f"no PUBACK for a message to {self.topic} within {timeout:g} s")
        if self.reason is not None and self.reason >= 0x80:
            raise PublishRefused(
                f"the broker refused a message to {self.topic}: {self.words} (0x{self.reason:02x})",
                self.reason,
            )
        return self.reason or 0


@dataclass(frozen=True)
class BrokerSettings:
    """How to reach the broker and who to be there. ``password`` never appears in a repr."""

    host: str
    port: int
    username: str
    password: str = ""
    ca_file: Path | None = None
    keepalive_s: int = 30
    route: Route = field(default_factory=Route)
    others: tuple[tuple[str, int], ...] = ()
    """Further brokers (host, port), tried in turn (:mod:`hub_sync.brokers`)."""

    def __repr__(self) -> str:
        return (
            f"BrokerSettings(host={self.host!r}, port={self.port}, username={self.username!r}, "
            f"tls={self.ca_file is not None}, transport={self.route.transport!r}, "
            f"proxy={self.route.proxy!r}, others={self.others!r})"
        )
