"""Sending a node its settings: the config downlink's hub end, for the CLI and the web.

A node's config is one retained message on its ``config`` topic (see docs/protocol.md):
sample intervals and the community page's settings. The hub keeps the last one it sent
in the hub store (``node_configs``), so that the fleet pages show what a hall is meant to
show and when the node said it took effect, and so that a parish clerk changing the
opening hours keeps the labels and intervals sent before.

:func:`send_config` checks the payload with the node's own decoder before anything
leaves, publishes it retained (QoS 1, waiting for the broker's PUBACK), and only then
records it; a broker that cannot be reached leaves the record as it was.
:func:`publish_config` does the same over a connection the caller holds (a hub worker's,
for a staged rollout's configs); :func:`with_release` is the config last sent with only
the release it allows changed (:mod:`hub.rollout_keeper`), so a rollout keeps a hall's
page settings and intervals.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

from hub_sync.mqtt import BrokerSettings, MqttClient, MqttError
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
    revision: int, intervals: Mapping[str, float], page: Mapping[str, Any], release: str = ""
) -> tuple[NodeConfig, bytes]:
    """The config and its payload, checked as the node will check it.

    ``release`` is the version a staged rollout allows the node ("" holds it).

    Raises:
        ProtocolError: naming the setting that is wrong.
    """
    config = NodeConfig(revision, tuple(sorted(intervals.items())), page_items(page), release)
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
    decode_config(payload)
    client = MqttClient(broker, client_id=f"{broker.username}-config-{os.getpid()}")
    try:
        client.connect(timeout=PUBLISH_TIMEOUT_S)
        publish_config(client, device_id, payload, record=record, actor=actor)
    finally:
        client.close()


def send_config_everywhere(
    brokers: Sequence[BrokerSettings],
    device_id: str,
    payload: bytes,
    *,
    record: ConfigRecord | None = None,
    actor: str = "hallsense",
) -> list[str]:
    """Send a node's config to every broker (the node may be on any); record it once.

    It is recorded once one broker has it; returns the brokers it did not reach, in
    words, for the log.

    Raises:
        DeviceIdError, ProtocolError: as :func:`send_config`.
        MqttError: no broker took it (the first one's error).
    """
    missed: list[str] = []
    errors: list[MqttError] = []
    for broker in brokers:
        try:
            send_config(broker, device_id, payload, actor=actor)
        except MqttError as error:
            errors.append(error)
            missed.append(f"{broker.host}:{broker.port} ({error})")
    if len(errors) == len(brokers):
        raise errors[0]
    if record is not None:
        revision = decode_config(payload).revision
        record.save_config(device_id, revision, payload.decode("utf-8"), actor=actor)
    return missed


class Settles(Protocol):
    """A message sent: its broker's answer, waited for."""

    def wait(self, timeout: float) -> int: ...  # noqa: D102


class ConfigPublisher(Protocol):
    """What sends a config: an MQTT client, or every broker's (:mod:`hub.every_broker`)."""

    def publish(  # noqa: D102
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> Settles: ...


def publish_config(
    client: ConfigPublisher,
    device_id: str,
    payload: bytes,
    *,
    record: ConfigRecord | None = None,
    actor: str = "hallsense",
) -> None:
    """Publish a node's config, retained, on a connected client; record it once the broker has it.

    Raises:
        DeviceIdError: ``device_id`` is not valid.
        ProtocolError: the payload is not a valid config.
        MqttError: not connected, or the broker refused the message or did not answer.
    """
    config = decode_config(payload)
    client.publish(topic(device_id, "config"), payload, retain=True).wait(PUBLISH_TIMEOUT_S)
    if record is not None:
        record.save_config(device_id, config.revision, payload.decode("utf-8"), actor=actor)


def with_release(
    last_sent: tuple[int, str] | None, release: str, now_s: float | None = None
) -> tuple[NodeConfig, bytes]:
    """The config last sent (revision, JSON), allowing ``release`` instead, at a new revision.

    A node never sent a config gets one with only the release.

    Raises:
        ProtocolError: the config last sent or the release is not valid.
    """
    if last_sent is None:
        config = NodeConfig(next_revision(None, now_s))
    else:
        revision, config_json = last_sent
        config = replace(
            decode_config(config_json.encode("utf-8")), revision=next_revision(revision, now_s)
        )
    config = replace(config, release=release)
    payload = encode_config(config)
    decode_config(payload)
    return config, payload
