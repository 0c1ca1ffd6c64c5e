"""The Reading every driver produces, its quality flags, and the metadata a sensor carries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from presentation.reading_flags import Censor, Quality


def utc_now() -> datetime:
    """The current time as an aware UTC datetime (the default clock of every driver)."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Reading:
    """One value of one metric from one sensor at one moment.

    ``sensor_id`` names the physical (or simulated) sensor, unique on the node, e.g.
    ``"hall-pir"``; ``metric`` and ``unit`` come from ``sensors.vocabulary``; ``timestamp``
    is an aware UTC datetime; ``quality`` holds the flags validation and the store add;
    ``censor`` says the value is a bound ("fewer than 3") rather than a measurement.
    """

    sensor_id: str
    metric: str
    value: float
    unit: str
    timestamp: datetime
    quality: Quality = Quality.GOOD
    censor: Censor | None = None

    def __post_init__(self) -> None:
        if self.timestamp.tzinfo is None:
            raise ValueError(
                f"Reading {self.sensor_id}/{self.metric}: timestamp must be timezone-aware "
                f"(UTC), got naive {self.timestamp.isoformat()}"
            )
        if self.censor is not None and not self.quality & Quality.CENSORED:
            object.__setattr__(self, "quality", self.quality | Quality.CENSORED)

    def flagged(self, flags: Quality) -> Reading:
        """This reading with ``flags`` added to its quality."""
        if flags == Quality.GOOD or (self.quality & flags) == flags:
            return self
        return Reading(
            self.sensor_id,
            self.metric,
            self.value,
            self.unit,
            self.timestamp,
            self.quality | flags,
            self.censor,
        )


@dataclass(frozen=True, slots=True)
class SensorInfo:
    """What a sensor is: shown on status pages and kept with its readings' series.

    ``part`` is the hardware part ("BME280", "HC-SR501 PIR", "simulation"); ``accuracy``
    and ``resolution`` are in the metric's unit, as the part's datasheet gives them.
    """

    sensor_id: str
    metric: str
    unit: str
    part: str = ""
    accuracy: float | None = None
    resolution: float | None = None
    description: str = field(default="")
