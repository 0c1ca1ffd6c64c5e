"""A bridge to Home Assistant: MQTT discovery and decoded per-sensor states on the hub's broker.

Home Assistant cannot read the nodes' compressed batches, so ``hallsense hub
home-assistant`` subscribes to every node's readings and status (a plain subscription,
beside the ingestion workers' shared one, so their load balancing is untouched), and
publishes, all retained:

- ``homeassistant/<platform>/hallsense_<device>/<sensor>_<metric>/config``: one discovery
  message per series, ``sensor`` or (for on/off metrics) ``binary_sensor``, with the
  device class, state class and unit of :mod:`presentation.home_assistant` (keyed by the
  vocabulary's metric names), a name from the sensor's label and the vocabulary, a
  device block per hall (so a hall's sensors group under one device) and the hall's
  availability topic; a metric that may be censored also gets a text sensor
  (``..._words``) showing "fewer than 3";
- ``hallsense/ha/v1/<device>/<sensor>/<metric>``: the series' newest reading as JSON,
  ``{"state": ..., "shown": ..., "attributes": {...}}``
  (:func:`presentation.home_assistant.ha_state`), which the discovery's
  ``value_template`` and ``json_attributes_template`` read;
- ``hallsense/ha/v1/<device>/availability``: ``online`` or ``offline``, from the node's
  own status (its birth, heartbeat and last will).

Every reading moves a state, flagged ones too (a node whose clock is not yet synchronised
still shows its values; the flags are an attribute), but never backwards in time: a
backlog draining after an outage sends old readings, which the bridge leaves to the hub
store. A Home Assistant connects with the read-only ``_reader`` account
(docs/home-assistant.md).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hub.store import SERIES_QUOTA
from hub_sync.batch_codec import decode_batch
from hub_sync.mqtt import Message, MqttClient, MqttError
from hub_sync.node_status import decode_status
from hub_sync.topics import TOPIC_PREFIX, parse_topic
from hub_sync.wire_errors import ProtocolError
from presentation.home_assistant import (
    PAYLOAD_OFF,
    PAYLOAD_ON,
    entity_name,
    ha_entity,
    ha_state,
)
from provisioning.broker_config import HA_DISCOVERY_PREFIX, HA_STATE_PREFIX
from provisioning.log_limit import LogLimiter

log = logging.getLogger(__name__)

UNSAFE = re.compile(r"[^a-zA-Z0-9_-]+")


def _safe(text: str) -> str:
    return UNSAFE.sub("_", text).strip("_") or "x"


def state_topic(device_id: str, sensor_id: str, metric: str) -> str:
    """Where a series' newest value is published."""
    return f"{HA_STATE_PREFIX}/{device_id}/{_safe(sensor_id)}/{_safe(metric)}"


def availability_topic(device_id: str) -> str:
    """Where a hall's online/offline is published."""
    return f"{HA_STATE_PREFIX}/{device_id}/availability"


VALUE_TEMPLATE = "{{ value_json.state }}"
WORDS_TEMPLATE = "{{ value_json.shown }}"
ATTRIBUTES_TEMPLATE = "{{ value_json.attributes | tojson }}"
"""How Home Assistant reads a state message; None renders "None", which it takes as unknown."""


def _config_topic(platform: str, node_id: str, object_id: str) -> str:
    return f"{HA_DISCOVERY_PREFIX}/{platform}/{node_id}/{object_id}/config"


def _encode(config: dict[str, Any]) -> bytes:
    return json.dumps(config, ensure_ascii=False, sort_keys=True).encode("utf-8")


def discovery(
    device_id: str,
    site: str,
    sensor_id: str,
    metric: str,
    unit: str,
    sensor_label: str | None = None,
) -> list[tuple[str, bytes]]:
    """The retained discovery messages of one series: [(topic, payload), ...].

    The entity itself; for a binary sensor, an empty payload on the ``sensor`` topic of
    the same series (which earlier versions announced there, and Home Assistant then
    removes); and for a metric that may be censored, its text sensor.
    """
    entity = ha_entity(metric, unit)
    object_id = f"{_safe(sensor_id)}_{_safe(metric)}"
    node_id = f"hallsense_{device_id}"
    where = state_topic(device_id, sensor_id, metric)
    name = entity_name(metric, sensor_label or sensor_id)
    common: dict[str, Any] = {
        "state_topic": where,
        "json_attributes_topic": where,
        "json_attributes_template": ATTRIBUTES_TEMPLATE,
        "availability_topic": availability_topic(device_id),
        "device": {
            "identifiers": [node_id],
            "name": site,
            "manufacturer": "hallsense",
            "model": "village hall node",
        },
    }
    if entity.diagnostic:
        common["entity_category"] = "diagnostic"
    config = {
        **common,
        "name": name,
        "unique_id": f"hallsense_{device_id}_{object_id}",
        "value_template": VALUE_TEMPLATE,
    }
    if entity.device_class is not None:
        config["device_class"] = entity.device_class
    messages: list[tuple[str, bytes]] = []
    if entity.platform == "binary_sensor":
        config["payload_on"] = PAYLOAD_ON
        config["payload_off"] = PAYLOAD_OFF
        messages.append((_config_topic("binary_sensor", node_id, object_id), _encode(config)))
        messages.append((_config_topic("sensor", node_id, object_id), b""))
        return messages
    if entity.state_class is not None:
        config["state_class"] = entity.state_class
    if entity.unit is not None:
        config["unit_of_measurement"] = entity.unit
    messages.append((_config_topic("sensor", node_id, object_id), _encode(config)))
    if entity.in_words:
        words = {
            **common,
            "name": f"{name} (in words)",
            "unique_id": f"hallsense_{device_id}_{object_id}_words",
            "value_template": WORDS_TEMPLATE,
        }
        messages.append((_config_topic("sensor", node_id, f"{object_id}_words"), _encode(words)))
    return messages


@dataclass
class HomeAssistantBridge:
    """Turns batches and statuses into discovery, states and availability (retained)."""

    publish: Callable[[str, bytes], None]
    site_of: Callable[[str], str] = lambda device_id: device_id
    label_of: Callable[[str, str], str | None] = lambda device_id, sensor_id: None
    """The sensor's label as the hall's clerk set it (device, sensor), or None."""
    newest: dict[tuple[str, str, str], int] = field(default_factory=dict)
    announced: set[tuple[str, str, str]] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    series_of: dict[str, int] = field(default_factory=dict)
    log_limit: LogLimiter = field(default_factory=lambda: LogLimiter(log))

    def handle(self, message_topic: str, payload: bytes) -> int:
        """Handle one message; returns how many states it published. Never raises."""
        try:
            return self._handle(message_topic, payload)
        except Exception as error:
            # Whatever a device sent, the bridge goes on with the next message.
            self.log_limit.log(
                (message_topic, type(error).__name__),
                logging.ERROR,
                "could not bridge %s: %s",
                message_topic[:120],
                error,
                exc_info=error,
            )
            return 0

    def _handle(self, message_topic: str, payload: bytes) -> int:
        try:
            device_id, kind = parse_topic(message_topic)
            if kind == "status":
                if not payload:
                    return 0  # a retained status being cleared
                state = decode_status(payload)["state"]
                self.publish(availability_topic(device_id), str(state).encode())
                return 0
            if kind != "readings":
                return 0
            batch = decode_batch(payload)
        except ProtocolError as error:
            self.log_limit.log(
                (message_topic, "ignored"), logging.WARNING, "ignored %s: %s", message_topic, error
            )
            return 0
        if batch.device_id != device_id:
            return 0
        latest: dict[tuple[str, str, str], Any] = {}
        for reading in batch.readings:
            key = (device_id, reading.sensor_id, reading.metric)
            if key not in latest or reading.ts_us > latest[key].ts_us:
                latest[key] = reading
        published = 0
        with self.lock:
            for key, reading in latest.items():
                if reading.ts_us <= self.newest.get(key, -1):
                    continue  # an older reading (a backlog draining) never moves a state back
                if key not in self.announced:
                    known = self.series_of.get(device_id, 0)
                    if known >= SERIES_QUOTA:
                        continue  # no device makes Home Assistant (or these maps) grow unbounded
                    self.series_of[device_id] = known + 1
                self.newest[key] = reading.ts_us
                if key not in self.announced:
                    for where, config in discovery(
                        device_id,
                        self.site_of(device_id),
                        reading.sensor_id,
                        reading.metric,
                        reading.unit,
                        self.label_of(device_id, reading.sensor_id),
                    ):
                        self.publish(where, config)
                    self.announced.add(key)
                state = ha_state(
                    reading.metric,
                    reading.unit,
                    reading.value,
                    reading.quality,
                    reading.censor,
                    reading.ts_us,
                )
                self.publish(state_topic(*key), json.dumps(state, allow_nan=False).encode("utf-8"))
                published += 1
        return published


def run_bridge(
    client_factory: Callable[..., MqttClient],
    site_of: Callable[[str], str],
    stop: threading.Event,
    label_of: Callable[[str, str], str | None] = lambda device_id, sensor_id: None,
) -> None:
    """Connect, subscribe to every node's readings and status, bridge until ``stop``.

    ``site_of`` names a hall (its device id), ``label_of`` a sensor (device and sensor
    id; None for no label) in the discovery messages.
    """
    bridge_holder: list[HomeAssistantBridge] = []

    def on_message(message: Message) -> None:
        bridge_holder[0].handle(message.topic, message.payload)

    def on_connect(client: MqttClient) -> None:
        client.subscribe_nowait(f"{TOPIC_PREFIX}/+/readings")
        client.subscribe_nowait(f"{TOPIC_PREFIX}/+/status")

    client = client_factory(on_message=on_message, on_connect=on_connect)

    def publish(where: str, payload: bytes) -> None:
        try:
            client.publish(where, payload, retain=True)
        except MqttError as error:
            log.warning("could not publish %s: %s", where, error)

    bridge_holder.append(HomeAssistantBridge(publish, site_of, label_of))
    client.start_background()
    try:
        stop.wait()
    finally:
        client.close()
