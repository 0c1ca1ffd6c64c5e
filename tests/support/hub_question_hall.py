"""The question corpus's simulated hall, at the hub and on the node, from the same readings.

The node's store is filled as :mod:`tests.support.question_hall` fills it (``EdgeStore.append``);
the hub's gets the very readings the node's outbox offers the uplink, stored through
``store_batch`` as ingestion stores a batch, under the node's store epoch. The hall is
registered and sent a config that publishes ``metrics`` with the corpus's opening hours.
The span starts late in September 2026 (the corpus asks about "last month", October),
not a year back: the hub flags readings taken long before a device was registered.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask

from edge.store import EdgeStore
from hub.config_downlink import build_config
from hub.question_source import to_us
from hub_sync.batch_codec import Batch, WireReading
from sensors.simulated import METRIC_NAMES
from tests.hub.web_support import make_app
from tests.support.question_hall import NOW, OPENING_HOURS, build_hall_store

FIRST = datetime(2026, 9, 28, tzinfo=UTC)
"""A Monday, before "last month" (October 2026) and the six weeks of 15-minute readings."""
DEVICE = "askrigg"
SITE = "Askrigg Village Hall"
SLUG = "askrigg-village-hall"


def publish(store: Any, device: str, site: str, metrics: Sequence[str]) -> None:
    """Register ``device`` at ``site`` and record a config publishing ``metrics``."""
    store.add_device(device, site, location="Main hall")
    page = {"hall_name": site, "opening_hours": OPENING_HOURS, "public_metrics": list(metrics)}
    _, payload = build_config(1, {}, page)
    store.save_config(device, 1, payload.decode(), actor="tests")


def send_to_hub(edge_path: Path, hub: Any, device: str, chunk: int = 5000) -> int:
    """Store every reading of the node's outbox at the hub, batch by batch; returns how many."""
    edge = EdgeStore(edge_path)
    try:
        rows = edge.outbox_rows(10**7, newest_first=False)
        epoch = edge.store_epoch
    finally:
        edge.close()
    received = to_us(NOW)
    for i in range(0, len(rows), chunk):
        readings = tuple(WireReading(*row) for row in rows[i : i + chunk])
        outcome = hub.store_batch(Batch(device, epoch, readings), received)
        assert not outcome.rejected, outcome.rejected
    return len(rows)


def build_both(
    edge_path: Path,
    hub: Any,
    *,
    first: datetime = FIRST,
    metrics: Sequence[str] = METRIC_NAMES,
    device: str = DEVICE,
    site: str = SITE,
) -> int:
    """The simulated hall from ``first`` to the corpus's now, on the node and at the hub."""
    build_hall_store(edge_path, first=first, end=NOW)
    publish(hub, device, site, metrics)
    return send_to_hub(edge_path, hub, device)


def question_app(directory: Path, store: Any) -> Flask:
    """The hub's real app at the corpus's now: the box as hub.web registers it, public."""

    def clock() -> float:
        return NOW.timestamp()

    return make_app(directory, store, clock=clock)
