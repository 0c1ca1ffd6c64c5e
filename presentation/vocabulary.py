"""The metric vocabulary: every metric's name, unit, physical range, kind and SenML unit.

One source for the node's drivers and pages, the hub's pages and open data, and the
exports; Home Assistant's classes for the metrics are in :mod:`presentation.home_assistant`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

MetricKind = Literal["gauge", "count", "state"]
"""``gauge``: a level that wanders (can be stuck); ``count``: how many things; ``state``: 0/1."""


@dataclass(frozen=True, slots=True)
class Metric:
    """One measured quantity, as every driver, the store and the exports name it.

    ``unit`` is the unit every reading of the metric carries. ``low``/``high`` bound what
    is physically possible (a value outside is flagged ``OUT_OF_RANGE``, never dropped).
    ``kind`` says whether it is a ``gauge`` (a level that wanders, so it can be stuck), a
    ``count`` (people or events; zero for hours on end is normal) or a ``state`` (0 or 1).
    ``senml_unit`` is the unit's name in the SenML units registries (RFC 8428 and the
    secondary units of RFC 8798), or None where they have none.
    """

    name: str
    unit: str
    low: float
    high: float
    kind: MetricKind
    description: str
    senml_unit: str | None


# Counts are per interval (or, for people_estimate, of people present): no hall sees more.
_MOST = 100_000

_METRICS = (
    Metric("temperature", "°C", -40, 85, "gauge", "Air temperature", "Cel"),
    Metric("relative_humidity", "%", 0, 100, "gauge", "Relative humidity", "%RH"),
    Metric("co2", "ppm", 0, 40_000, "gauge", "Carbon dioxide concentration", "ppm"),
    Metric("pm2_5", "µg/m³", 0, 1000, "gauge", "Fine particulate matter (PM2.5)", "ug/m3"),
    Metric("pm10", "µg/m³", 0, 1000, "gauge", "Coarse particulate matter (PM10)", "ug/m3"),
    Metric("pressure", "hPa", 300, 1100, "gauge", "Air pressure", "hPa"),
    Metric("noise", "dBA", 0, 140, "gauge", "A-weighted sound level", None),
    Metric("gas_resistance", "Ω", 0, 1e9, "gauge", "Gas sensor resistance (VOC trend)", "Ohm"),
    Metric("footfall", "count", 0, _MOST, "count", "People through the door", "count"),
    Metric("entries", "count", 0, _MOST, "count", "People coming in", "count"),
    Metric("exits", "count", 0, _MOST, "count", "People going out", "count"),
    Metric("occupancy", "bool", 0, 1, "state", "Someone is moving in the room now", None),
    Metric("motion_events", "count", 0, _MOST, "count", "Motion sensor activations", "count"),
    Metric("battery", "V", 0, 5, "gauge", "Battery voltage", "V"),
    Metric("battery_level", "%", 0, 100, "gauge", "Battery charge left", "%EL"),
    Metric("cpu_temperature", "°C", -40, 125, "gauge", "The Pi's CPU temperature", "Cel"),
    Metric("disk_free", "MB", 0, 1e9, "gauge", "Free space on the data disk", None),
    Metric("load_1m", "1", 0, 1000, "gauge", "The Pi's one-minute load average", None),
    Metric("undervoltage", "bool", 0, 1, "state", "The Pi's supply voltage is too low now", None),
    Metric("throttled", "bool", 0, 1, "state", "The Pi's CPU is throttled now", None),
    Metric("people_estimate", "count", 0, _MOST, "count", "Estimated people present", "count"),
    Metric("test_counter", "count", 0, 1e15, "count", "The counter driver's 1, 2, 3, …", "count"),
)

METRICS: Mapping[str, Metric] = MappingProxyType({m.name: m for m in _METRICS})
"""Every known metric by name, in the order of docs/sensors.md."""

DEFAULT_PUBLIC_METRICS = (
    "temperature",
    "relative_humidity",
    "co2",
    "pm2_5",
    "pm10",
    "noise",
    "footfall",
    "entries",
    "exits",
    "occupancy",
)
"""Metrics shown to visitors unless the settings say otherwise; the Pi's own health
(CPU temperature, disk, load) shows on the status page only."""

PUBLISHABLE_METRICS = (
    *DEFAULT_PUBLIC_METRICS,
    "pressure",
    "people_estimate",
    "gas_resistance",
    "battery_level",
)
"""Metrics a clerk may publish from the hub: what a hall's sensors measure. Every one is a
name in :data:`METRICS`, so the node never refuses a config for naming one."""


def metric_words(metric: str) -> str:
    """A metric as people read it: "Relative humidity", not ``relative_humidity``."""
    known = METRICS.get(metric)
    return known.description if known is not None else metric
