"""A reading's quality flags and censoring, as drivers set them and exports write them."""

from __future__ import annotations

import enum


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
    """Outside the metric's physical range (presentation.vocabulary)."""
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
