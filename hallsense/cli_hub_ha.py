"""``hallsense hub home-assistant``: the hub's bridge to Home Assistant, its own process.

Runs :func:`hub.ha_bridge.run_bridge` with the hub's broker account and settings file
until SIGTERM or Ctrl-C (systemd: deploy/hallsense-hub-ha.service). Hall names for the
discovery messages' device blocks come from the hub store's registry, sensor labels for
the entities' names from the hall settings the hub last sent (``hub set-config``); both
are read once per hall, so a later change shows after the bridge restarts.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from types import FrameType

import click

from hallsense.cli_hub import _settings
from hallsense.cli_options import env_option
from hallsense.logs import configure_logging
from hub.ha_bridge import run_bridge
from hub.hall_settings import hall_settings
from hub.service import broker_settings
from hub.store import HubStoreError
from hub.store_factory import open_hub_store
from hub_sync.mqtt import MqttClient


@click.command("home-assistant")
@env_option
def home_assistant(env_file: Path | None) -> None:
    """Publish Home Assistant discovery and each sensor's state on the hub's broker.

    Home Assistant then subscribes with the read-only account (_reader) and finds every
    hall as a device with its sensors; see docs/home-assistant.md.

    \b
    Example:
        hallsense hub home-assistant --env /etc/hallsense/hub.env
    """
    settings = _settings(env_file)
    configure_logging(settings.log_level)
    broker = broker_settings(settings)
    names: dict[str, str] = {}
    labels: dict[str, dict[str, str]] = {}

    def look_up(device_id: str) -> None:
        if device_id in names:
            return
        try:
            store = open_hub_store(settings.hub_store)
            try:
                device = store.device(device_id)
                page = hall_settings(store, device_id).page
            finally:
                store.close()
        except HubStoreError:
            return  # the names fill in once the store answers
        names[device_id] = device.name if device is not None else device_id
        given = page.get("sensor_labels", {})
        labels[device_id] = (
            {str(k): str(v) for k, v in given.items()} if isinstance(given, dict) else {}
        )

    def site_of(device_id: str) -> str:
        look_up(device_id)
        return names.get(device_id, device_id)

    def label_of(device_id: str, sensor_id: str) -> str | None:
        look_up(device_id)
        return labels.get(device_id, {}).get(sensor_id)

    def client(**kwargs: object) -> MqttClient:
        return MqttClient(broker, client_id=f"{broker.username}-ha-{os.getpid()}", **kwargs)  # type: ignore[arg-type]

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    click.echo(f"bridging to Home Assistant on {broker.host}:{broker.port}", err=True)
    run_bridge(client, site_of, stop, label_of)
