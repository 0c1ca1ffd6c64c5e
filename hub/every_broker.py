"""The hub's messages to the nodes, sent on every broker it has (``HALLSENSE_OTHER_BROKERS``).

A node talks to one broker at a time and moves to another when its broker goes
(:mod:`hub_sync.brokers`); the hub cannot know which one a node is on now, so what it
sends a node goes on every broker: an ack reaches the node wherever it is (on a broker it
has left, the ack waits in the node's old session or is dropped; a late ack of what is
already acknowledged changes nothing), and a retained config waits on each broker for
the node to come. A broker that is away when a config is sent keeps the one before until
the next; a node never goes back to an older revision than it has applied.
"""

from __future__ import annotations

from collections.abc import Sequence

from hub_sync.mqtt import MqttClient, MqttError, NotConnected
from hub_sync.mqtt_types import Delivery


class EveryDelivery:
    """The brokers' answers to one message sent on each: it counts once one has it."""

    def __init__(self, deliveries: Sequence[Delivery], errors: Sequence[MqttError]) -> None:
        self.deliveries = list(deliveries)
        self.errors = list(errors)

    def wait(self, timeout: float) -> int:
        """The first broker's PUBACK reason code that took it.

        Raises:
            MqttError: no broker took it (the first error met).
        """
        taken: int | None = None
        for delivery in self.deliveries:
            try:
                reason = delivery.wait(timeout)
            except MqttError as error:
                self.errors.append(error)
            else:
                taken = reason if taken is None else taken
        if taken is None:
            raise self.errors[0] if self.errors else NotConnected("no broker to send to")
        return taken


class EveryBroker:
    """Publishes on each of the hub's broker connections (an ingestion worker's clients)."""

    def __init__(self, clients: Sequence[MqttClient]) -> None:
        self.clients = list(clients)

    def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> EveryDelivery:
        """Send on every broker; raises MqttError only when none would take it now."""
        deliveries, errors = [], []
        for client in self.clients:
            try:
                deliveries.append(client.publish(topic, payload, qos=qos, retain=retain))
            except MqttError as error:
                errors.append(error)
        if not deliveries:
            raise errors[0]
        return EveryDelivery(deliveries, errors)

    def wait_connected(self, timeout: float) -> bool:
        """Whether some broker is connected within ``timeout`` (the first one's wait)."""
        return any(client.connected for client in self.clients) or self.clients[0].wait_connected(
            timeout
        )
