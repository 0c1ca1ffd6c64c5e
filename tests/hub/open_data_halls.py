"""Halls in a real hub store for the open data tests: registered, publishing, with readings."""

from __future__ import annotations

import time
from typing import Any

from hub.config_downlink import build_config
from hub_sync.batch_codec import Batch, WireReading

HOUR_US = 3_600_000_000
NOW_US = time.time_ns() // 1000
THIS_HOUR_US = NOW_US - NOW_US % HOUR_US


def add_hall(
    store: Any, device: str, site: str, publishes: tuple[str, ...], *, location: str = ""
) -> None:
    """Register ``device`` at ``site`` and send it a config publishing ``publishes``."""
    store.add_device(device, site, location=location)
    if publishes is not None:
        _, payload = build_config(1, {}, {"hall_name": site, "public_metrics": list(publishes)})
        store.save_config(device, 1, payload.decode(), actor="test")


def add_hours(
    store: Any,
    device: str,
    metric: str,
    unit: str,
    first_hour_us: int,
    hours: int,
    *,
    sensor: str = "bme280",
    seq: int = 1,
    value: float = 20.0,
) -> int:
    """One reading in each of ``hours`` hours from ``first_hour_us`` (at :10); next seq."""
    readings = tuple(
        WireReading(
            seq + n, sensor, metric, unit, first_hour_us + n * HOUR_US + 600_000_000, value + n % 3
        )
        for n in range(hours)
    )
    store.store_batch(Batch(device, 5, readings), NOW_US)
    return seq + hours
