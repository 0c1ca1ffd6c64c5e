"""The metric vocabulary: every metric's name, unit, physical range and kind."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

MetricKind = Literal["gauge", "count", "state"]


@dataclass(frozen=True, slots=True)
class Metric:
    """One measured quantity.

    ``low``/``high`` bound what is physically possible for the hall's sensors (a value
    outside is flagged, never dropped); ``kind`` says whether it is a ``gauge`` (can be
    stuck), a ``count`` over the interval, or a ``state`` (0/1); ``senml_unit`` is the
    unit's symbol in the SenML units registry (RFC 8428, RFC 8798), or None where the
    registry has none.
    """

    name: str
    unit: str
    low: float
    high: float
    kind: MetricKind
    description: str
    senml_unit: str | None


_METRICS = (
    Metric("temperature", "°C", -40, 85, "gauge", "Air temperature", "Cel"),
    Metric("relative_humidity", "%", 0, 100, "gauge", "Relative humidity", "%RH"),
    Metric("co2", "ppm", 0, 40000, "gauge", "Carbon dioxide concentration", "ppm"),
    Metric("pm2_5", "µg/m³", 0, 1000, "gauge", "Fine particulates (PM2.5)", "ug/m3"),
    Metric("pm10", "µg/m³", 0, 1000, "gauge", "Coarse particulates (PM10)", "ug/m3"),
    Metric("pressure", "hPa", 300, 1100, "gauge", "Air pressure", "hPa"),
    Metric("noise", "dBA", 0, 140, "gauge", "A-weighted sound level", None),
    Metric("footfall", "count", 0, 100000, "count", "People through the door", "count"),
    Metric("entries", "count", 0, 100000, "count", "People coming in", "count"),
    Metric("exits", "count", 0, 100000, "count", "People going out", "count"),
    Metric("occupancy", "bool", 0, 1, "state", "Someone is in the room", None),
    Metric("motion_events", "count", 0, 100000, "count", "PIR activations", "count"),
    Metric("people_estimate", "count", 0, 100000, "count", "Estimated people present", "count"),
    Metric("battery", "V", 0, 5, "gauge", "Battery voltage", "V"),
    Metric("cpu_temperature", "°C", -40, 125, "gauge", "The Pi's CPU temperature", "Cel"),
    Metric("disk_free", "MB", 0, 1e9, "gauge", "Free space on the data disk", None),
    Metric("load_1m", "1", 0, 1000, "gauge", "One-minute load average", None),
    Metric("undervoltage", "bool", 0, 1, "state", "The Pi's supply is too low now", None),
    Metric("throttled", "bool", 0, 1, "state", "The Pi is throttled now", None),
    Metric("test_counter", "count", 0, 1e15, "count", "The counter driver's 1, 2, 3, …", "count"),
)

METRICS: Mapping[str, Metric] = MappingProxyType({m.name: m for m in _METRICS})
"""Every known metric by name."""


def metric(name: str) -> Metric:
    """The metric called ``name``.

    Raises:
        KeyError: naming the metric and listing the known ones.
    """
    try:
        return METRICS[name]
    except KeyError:
        known = ", ".join(sorted(METRICS))
        raise KeyError(f"unknown metric {name!r}; known metrics: {known}") from None
