"""The hub's CSV and SenML downloads, written by the same writers as the node's.

Each exporter turns the hub's :class:`hub.store.StoredReading` rows into the rows that
:mod:`presentation.csv_export` and :mod:`presentation.senml_export` write, so a hall's
data reads the same downloaded from its own page and from the hub.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from hub.data_api import Exporter
from hub.store import StoredReading
from presentation.csv_export import csv_chunks
from presentation.reading_flags import Censor, Quality
from presentation.senml_export import senml_chunks
from presentation.vocabulary import METRICS


@dataclass(frozen=True, slots=True)
class _Row:
    seq: int
    sensor_id: str
    metric: str
    value: float
    unit: str
    timestamp: datetime
    quality: Quality
    censor: Censor | None


def _rows(readings: Iterable[StoredReading]) -> Iterator[_Row]:
    for r in readings:
        yield _Row(
            r.seq,
            r.sensor_id,
            r.metric,
            r.value,
            r.unit,
            datetime.fromtimestamp(r.ts_us / 1e6, UTC),
            Quality(r.quality),
            Censor(r.censor) if r.censor else None,
        )


def hub_exporters(timezone: str) -> dict[str, Exporter]:
    """``{"csv": ..., "senml": ...}`` for the hub's data API, times in ``timezone``."""
    units = {name: metric.senml_unit for name, metric in METRICS.items()}

    def csv(readings: Iterable[StoredReading], base_name: str) -> Iterator[str]:
        return csv_chunks(_rows(readings), timezone=timezone)

    def senml(readings: Iterable[StoredReading], base_name: str) -> Iterator[str]:
        return senml_chunks(_rows(readings), base_name=base_name, senml_units=units)

    return {"csv": csv, "senml": senml}
