"""A reading's quality flags and censoring, as drivers set them and exports write them.

Each flag also has plain English (``FLAG_WORDS``) for the people who read them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType


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


FLAG_WORDS: Mapping[Quality, str] = MappingProxyType(
    {
        Quality.NOT_A_NUMBER: "the sensor gave no number",
        Quality.INFINITE: "the sensor gave an impossible value",
        Quality.OUT_OF_RANGE: "outside what this measurement can be",
        Quality.STUCK: "the same value many times in a row: the sensor may be stuck",
        Quality.CENSORED: "a limit, not an exact value",
        Quality.UNKNOWN_METRIC: "a measurement this software does not know, so not checked",
        Quality.CLOCK_UNSYNCED: "taken before the clock was set: the time may still change",
        Quality.CLOCK_CORRECTED: "time corrected once the clock was set",
        Quality.CLOCK_UNCORRECTABLE: "taken before the clock was set: the time may be wrong",
    }
)
"""Each quality flag in plain English, for pages and the terminal; every flag has words."""

NO_FLAGS_WORDS = "no problems"
"""What :func:`flag_words` gives for a reading with no flag set."""


def flag_words(quality: Quality | int) -> list[str]:
    """The plain-English words of each flag set in ``quality``, in flag order.

    A good reading has none; bits that no flag names (from a newer node) read "an
    unknown check (bit N)", so nothing is ever shown as a raw name or number alone.
    """
    bits = int(quality)
    words = [text for flag, text in FLAG_WORDS.items() if bits & flag]
    known = 0
    for flag in FLAG_WORDS:
        known |= int(flag)
    extra = bits & ~known
    words.extend(
        f"an unknown check (bit {bit})" for bit in range(extra.bit_length()) if extra >> bit & 1
    )
    return words


def flag_summary(quality: Quality | int) -> str:
    """All of a reading's flags in one phrase: "no problems", or the words joined by "; "."""
    return "; ".join(flag_words(quality)) or NO_FLAGS_WORDS
