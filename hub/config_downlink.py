"""Sending a node its settings: the config downlink's hub end, for the CLI and the web.

A node's config is one retained message on its ``config`` topic (see docs/protocol.md):
sample intervals and the community page's settings. The hub keeps the last one it sent
in the hub store (``node_configs``), so that the fleet pages show what a hall is meant to
show and when the node said it took effect, and so that a parish clerk changing the
opening hours keeps the labels and intervals sent before.

:func:`send_config` checks the payload with the node's own decoder before anything
leaves, publishes it retained (QoS 1, waiting for the broker's PUBACK), and only then
records it; a broker that cannot be reached leaves the record as it was.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any, Protocol

from hub_sync.mqtt import BrokerSettings, MqttClient
from hub_sync.node_config import NodeConfig, decode_config, encode_config
from hub_sync.topics import check_device_id, topic

PUBLISH_TIMEOUT_S = 10.0


class ConfigRecord(Protocol):
    """Where the hub keeps the configs it sent (the hub store)."""

    def save_config(self, device_id: str, revision: int, config_json: str, *, actor: str) -> None:
        """Record the config just sent."""
        ...


def page_items(page: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    """Page settings as :class:`NodeConfig` holds them (lists as tuples, labels as pairs)."""
    items: list[tuple[str, Any]] = []
    for key, value in sorted(page.items()):
        if isinstance(value, Mapping):
            items.append((key, tuple(sorted(value.items()))))
        elif isinstance(value, list | tuple):
            items.append((key, tuple(value)))
        else:
            items.append((key, value))
    return tuple(items)


def next_revision(previous: int | None, now_s: float | None = None) -> int:
    """A revision above ``previous``: the time in seconds, or one more when that is not."""
    now = int(time.time() if now_s is None else now_s)
    return now if previous is None or now > previous else previous + 1


def build_config(
    revision: int, intervals: Mapping[str, float], page: Mapping[str, Any]
) -> tuple[NodeConfig, bytes]:
    """The config and its payload, checked as the node will check it.

    Raises:
        ProtocolError: naming the setting that is wrong.
    """
    config = NodeConfig(revision, tuple(sorted(intervals.items())), page_items(page))
    payload = encode_config(config)
    decode_config(payload)
    return config, payload


def send_config(
    broker: BrokerSettings,
    device_id: str,
    payload: bytes,
    *,
    record: ConfigRecord | None = None,
    actor: str = "hallsense",
) -> None:
    """Publish a node's config, retained, and record it once the broker has it.

    Raises:
        DeviceIdError: ``device_id`` is not valid.
        ProtocolError: the payload is not a valid config.
        MqttError: the broker could not be reached or refused the message.
    """
    check_device_id(device_id)
    config = decode_config(payload)
    client = MqttClient(broker, client_id=f"{broker.username}-config-{os.getpid()}")
    try:
        client.connect(timeout=PUBLISH_TIMEOUT_S)
        client.publish(topic(device_id, "config"), payload, retain=True).wait(PUBLISH_TIMEOUT_S)
    finally:
        client.close()
    if record is not None:
        record.save_config(device_id, config.revision, payload.decode("utf-8"), actor=actor)
