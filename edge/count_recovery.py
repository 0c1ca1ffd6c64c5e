"""Putting back the counts a crash kept from the store: the agent's side of the count journals.

A counting driver (the GPIO driver's beams and PIR) journals every count and every
hand-over beside the store (sensors/count_journal.py). At start the agent opens each
driver's journal, looks each journalled hand-over up in the store by its sensor, metric
and time, appends only those the store lacks (readings a crash caught in the agent's
memory before their commit), and then lets the driver settle its journal. The store's
committed readings are the truth: a hand-over found there is never appended again, and
counts never handed over go out with the driver's next read. docs/sensors.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Protocol, runtime_checkable

from edge.clock import ClockSample
from edge.layout import DataDir
from edge.store import EdgeStore
from sensors.driver import Driver
from sensors.reading import Reading

log = logging.getLogger(__name__)


@runtime_checkable
class JournallingDriver(Protocol):
    """A driver that journals its counts (``sensors.gpio.GpioDriver``)."""

    name: str

    def open_journal(self, path: Path) -> list[Reading]:
        """Open the journal; the readings it says were handed over."""
        ...

    def settle_journal(self) -> None:
        """Every hand-over is in the store: keep only the open counts."""
        ...


def journal_path(store: EdgeStore, driver_name: str) -> Path:
    """Where ``driver_name`` journals its counts: in the store's data directory."""
    return DataDir(store.path.parent).count_journal(driver_name)


def in_store(store: EdgeStore, reading: Reading) -> bool:
    """Whether the store holds a reading of this sensor and metric at this very time."""
    rows = store.readings_between(
        reading.timestamp, reading.timestamp + timedelta(microseconds=1), metrics=[reading.metric]
    )
    return any(row.sensor_id == reading.sensor_id for row in rows)


def recover_counts(
    store: EdgeStore, drivers: Sequence[Driver], sample_clock: Callable[[], ClockSample]
) -> int:
    """Open each counting driver's journal and store what a crash lost; returns readings stored.

    A driver whose journal cannot be opened keeps counting without one (logged); one
    whose lost readings cannot be stored (a full disk) keeps its journal as it is, and
    the next start tries again.
    """
    recovered = 0
    for driver in drivers:
        if not isinstance(driver, JournallingDriver):
            continue
        try:
            handed = driver.open_journal(journal_path(store, driver.name))
        except Exception as error:  # a driver's journal must not stop the node
            log.error("driver %s counts without a journal: %s", driver.name, error)
            continue
        missing = [reading for reading in handed if not in_store(store, reading)]
        if missing:
            store.append(missing, sample_clock())
            recovered += len(missing)
            log.warning(
                "driver %s: stored %d count readings a crash had kept from the store",
                driver.name,
                len(missing),
            )
        driver.settle_journal()
    return recovered
