"""The report's halls at the hub: a node's store delivered into a real hub store.

:func:`deliver` sends what the node's outbox offers, oldest first, as batches through
the hub store's own ingestion method (``store_batch``), as the uplink and ingestion do
without the broker in between: the hub then holds exactly the readings, flags and
sequence numbers the node does. The node's store is only read (nothing is acknowledged),
so one node's store can be delivered to several hubs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edge.store import EdgeStore
from hub_sync.batch_codec import Batch, WireReading

RECEIVED_US = int(datetime(2026, 12, 7, 10, tzinfo=UTC).timestamp() * 1_000_000)
"""When the hub received them: after November, when the tests make their reports."""


def deliver(node_db: Path, hub: Any, device_id: str, *, received_us: int = RECEIVED_US) -> int:
    """Send every reading of the node's store to ``hub`` as ``device_id``; returns how many."""
    sent: list[tuple[int, int]] = []
    with EdgeStore(node_db, readonly=True) as node:
        while rows := node.outbox_rows(5000, newest_first=False, skip=sent):
            batch = Batch(device_id, node.store_epoch, tuple(WireReading(*row) for row in rows))
            outcome = hub.store_batch(batch, received_us)
            assert not outcome.rejected, outcome.rejected
            sent.append((rows[0].seq, rows[-1].seq))
    return sum(last - first + 1 for first, last in sent)
