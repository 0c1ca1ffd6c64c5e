"""The Reading every driver produces, its quality flags, and the metadata a sensor carries."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime


class Quality(enum.IntFlag):
    """Why a reading should not be taken at face value; ``GOOD`` (0) when nothing is wrong.

    Flags are kept with the reading all the way to the hub: bad values are data, never
    dropped. The values are part of the wire format (docs/protocol.md) and never change.
    """

    GOOD = 0
    NOT_A_NUMBER = 1 << 0
    """The sensor returned NaN."""
    INFINITE = 1 << 1
    """The sensor returned +/- infinity."""
    OUT_OF_RANGE = 1 << 2
    """Outside the metric's physical range (sensors.vocabulary)."""
    STUCK = 1 << 3
    """The same value many times in a row from a sensor that should wander."""
    CENSORED = 1 << 4
    """The value is a bound, not a measurement: see ``Reading.censor``."""
    UNKNOWN_METRIC = 1 << 5
    """The metric is not in the vocabulary, so its range could not be checked."""
    CLOCK_UNSYNCED = 1 << 8
    """Taken while the system clock was not synchronised; the time is not final yet."""
    CLOCK_CORRECTED = 1 << 9
    """The time was corrected from monotonic time once the clock synchronised."""
    CLOCK_UNCORRECTABLE = 1 << 10
    """Taken on an unsynchronised clock and never corrected; the time may be wrong."""

    @classmethod
    def bad_value(cls) -> Quality:
        """The flags that make a value unfit for averages and charts."""
        return cls.NOT_A_NUMBER | cls.INFINITE | cls.OUT_OF_RANGE | cls.STUCK


class Censor(enum.StrEnum):
    """Which side of ``Reading.value`` the true value lies on, for censored readings."""

    LESS_THAN = "<"
    """Fewer than ``value`` (e.g. a people count published as "fewer than 3")."""
    MORE_THAN = ">"
    """More than ``value`` (e.g. a sensor saturated at the top of its range)."""


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
