"""Pure checks of reading values: NaN, infinities, out of range, stuck — flagged, never dropped."""

from __future__ import annotations

import math
from collections.abc import Sequence

from sensors.reading import Quality, Reading
from sensors.vocabulary import METRICS


def validate(reading: Reading) -> Reading:
    """``reading`` with the flags its value earns against the vocabulary."""
    flags = Quality.GOOD
    value = reading.value
    if math.isnan(value):
        flags |= Quality.NOT_A_NUMBER
    elif math.isinf(value):
        flags |= Quality.INFINITE
    described = METRICS.get(reading.metric)
    if described is None or described.unit != reading.unit:
        flags |= Quality.UNKNOWN_METRIC
    elif not flags and not described.low <= value <= described.high:
        flags |= Quality.OUT_OF_RANGE
    return reading.flagged(flags) if flags else reading


class StuckDetector:
    """Flags a gauge that has returned exactly the same value ``repeats`` times in a row.

    Real sensors wander by at least their resolution; a frozen value usually means a hung
    bus or a dead part. Counts and states are never stuck (a quiet night is zero people).
    """

    def __init__(self, repeats: int) -> None:
        if repeats < 2:
            raise ValueError(f"repeats must be at least 2, got {repeats}")
        self.repeats = repeats
        self._last: dict[tuple[str, str], tuple[float, int]] = {}

    def check(self, reading: Reading) -> Reading:
        """``reading``, flagged STUCK if its series has not moved for ``repeats`` readings."""
        described = METRICS.get(reading.metric)
        if described is None or described.kind != "gauge":
            return reading
        key = (reading.sensor_id, reading.metric)
        value = reading.value
        previous = self._last.get(key)
        count = previous[1] + 1 if previous is not None and previous[0] == value else 1
        self._last[key] = (value, count)
        return reading.flagged(Quality.STUCK) if count >= self.repeats else reading


class Validator:
    """Applies :func:`validate` and a :class:`StuckDetector` to every reading of a driver."""

    def __init__(self, stuck_repeats: int = 100) -> None:
        self.stuck = StuckDetector(stuck_repeats)

    def __call__(self, readings: Sequence[Reading]) -> list[Reading]:
        """The readings, each with the flags it earns."""
        return [self.stuck.check(validate(reading)) for reading in readings]
