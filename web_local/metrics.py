"""The node's numbers for Prometheus (``/metrics``): store, backlog, drivers, latest readings.

Written with ``prometheus_client``'s metric families and a one-off registry per scrape, as
the hub's ``/metrics`` is: the values live in the node's store, not in this process. The
Pi's own health (CPU temperature, disk, load, power) is here with every other sensor's
newest reading, for the IoT team.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Final

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from edge.store_records import HealthRecord, StoredReading, StoreStats

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
"""The text exposition format that :func:`exposition` writes."""

SERIES_LABELS: Final = ["sensor", "metric", "unit"]
"""The labels of a sensor's metric: its sensor id, the metric's name and its unit."""


def _gauge(name: str, help_text: str, value: float | None) -> GaugeMetricFamily:
    """A gauge without labels: one sample, or none when ``value`` is None."""
    family = GaugeMetricFamily(name, help_text, labels=[])
    if value is not None:
        family.add_metric([], value)
    return family


def _series(reading: StoredReading) -> list[str]:
    return [reading.sensor_id, reading.metric, reading.unit]


class NodeCollector(Collector):
    """Metric families for one snapshot of the node's store."""

    def __init__(
        self,
        stats: StoreStats,
        health: Sequence[HealthRecord],
        latest: Sequence[StoredReading],
    ) -> None:
        self.stats = stats
        self.health = health
        self.latest = latest

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        """Every family, in the order the page has always listed them."""
        yield from self._store_families()
        yield from self._driver_families()
        yield from self._reading_families()

    def _store_families(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        stats = self.stats
        yield _gauge(
            "hallsense_readings_stored",
            "Readings held in the node's store.",
            stats.readings_stored,
        )
        yield _gauge(
            "hallsense_backlog_readings",
            "Readings not yet acknowledged by the hub (including any held back for the clock).",
            stats.backlog,
        )
        yield _gauge(
            "hallsense_held_back_readings",
            "Readings held back until the system clock is synchronised.",
            stats.held_back,
        )
        yield CounterMetricFamily(
            "hallsense_readings_acknowledged_total",
            "Readings the hub has acknowledged since this store was made.",
            value=stats.acknowledged,
        )
        yield CounterMetricFamily(
            "hallsense_readings_rejected_total",
            "Readings the hub has rejected since this store was made.",
            value=stats.rejected,
        )
        yield CounterMetricFamily(
            "hallsense_readings_dropped_total",
            "Unacknowledged readings deleted to keep the store under its size cap.",
            value=stats.dropped,
        )
        yield _gauge(
            "hallsense_db_bytes",
            "Bytes of the store's database file and its write-ahead log.",
            stats.db_bytes,
        )
        last_ack = stats.last_acknowledged_at
        yield _gauge(
            "hallsense_last_acknowledged_timestamp_seconds",
            "Unix time of the hub's last acknowledgement; 0 if the hub has never acknowledged.",
            last_ack.timestamp() if last_ack is not None else 0,
        )
        oldest = stats.oldest_unacknowledged
        yield _gauge(
            "hallsense_oldest_unacknowledged_timestamp_seconds",
            "Unix time of the oldest reading not yet acknowledged; no sample when there is none.",
            oldest.timestamp() if oldest is not None else None,
        )

    def _driver_families(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "hallsense_driver_up",
            "1 when the driver's last recorded state is ok, else 0.",
            labels=["driver"],
        )
        failures = GaugeMetricFamily(
            "hallsense_driver_failures",
            "Consecutive failures of the driver as last recorded.",
            labels=["driver"],
        )
        for record in self.health:
            up.add_metric([record.driver], 1 if record.state == "ok" else 0)
            failures.add_metric([record.driver], record.failures)
        yield up
        yield failures

    def _reading_families(self) -> Iterator[GaugeMetricFamily]:
        values = GaugeMetricFamily(
            "hallsense_latest_value",
            "The newest reading of each sensor's metric (NaN when the sensor gave no number).",
            labels=SERIES_LABELS,
        )
        stamps = GaugeMetricFamily(
            "hallsense_latest_timestamp_seconds",
            "Unix time of the newest reading of each sensor's metric.",
            labels=SERIES_LABELS,
        )
        for reading in self.latest:
            values.add_metric(_series(reading), reading.value)
            stamps.add_metric(_series(reading), reading.timestamp.timestamp())
        yield values
        yield stamps


def exposition(
    stats: StoreStats, health: Sequence[HealthRecord], latest: Sequence[StoredReading]
) -> bytes:
    """The node's metrics in the text exposition format (:data:`CONTENT_TYPE`)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(NodeCollector(stats, health, latest))
    return generate_latest(registry)
