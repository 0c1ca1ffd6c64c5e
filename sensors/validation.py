"""Pure checks of reading values (NaN, infinities, out of range, stuck) that flag, never drop."""

from __future__ import annotations

from collections.abc import Sequence

from presentation.reading_flags import Quality
from presentation.vocabulary import METRICS
from sensors.reading import Reading

# This runs on every reading, so the vocabulary is flattened once into plain tuples: the
# common case (a known metric, in range) is one dict lookup and three comparisons.
_BOUNDS: dict[str, tuple[str, float, float]] = {
    m.name: (m.unit, m.low, m.high) for m in METRICS.values()
}
_GAUGES: frozenset[str] = frozenset(m.name for m in METRICS.values() if m.kind == "gauge")
_INFINITY = float("inf")


def validate(reading: Reading) -> Reading:
    """``reading`` with the flags its value earns against the vocabulary.

    NaN is flagged ``NOT_A_NUMBER`` and ±infinity ``INFINITE`` (neither is also called
    out of range); a finite value outside the metric's physical range is flagged
    ``OUT_OF_RANGE``; a metric the vocabulary does not know, or a unit other than the
    vocabulary's, is flagged ``UNKNOWN_METRIC`` and its range is not checked. The value
    itself is never changed.

    Args:
        reading: any reading.

    Returns:
        The same object when nothing is wrong, else a copy with the flags added.
    """
    bounds = _BOUNDS.get(reading.metric)
    value = reading.value
    if bounds is not None and bounds[0] == reading.unit:
        if bounds[1] <= value <= bounds[2]:
            return reading
        flags = Quality.GOOD
    else:
        flags = Quality.UNKNOWN_METRIC
    if value != value:  # NaN is the only value unequal to itself
        flags |= Quality.NOT_A_NUMBER
    elif value == _INFINITY or value == -_INFINITY:
        flags |= Quality.INFINITE
    elif not flags:
        flags = Quality.OUT_OF_RANGE
    return reading.flagged(flags) if flags else reading


class StuckDetector:
    """Flags a gauge that has returned exactly the same value ``repeats`` times in a row.

    Real sensors wander by at least their resolution; a frozen value usually means a hung
    bus, a dead part or a driver returning a cached value. Each series (``sensor_id``,
    ``metric``) is followed on its own. Counts and states are never stuck: a quiet night
    is zero people, and an empty room stays unoccupied.
    """

    def __init__(self, repeats: int) -> None:
        if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 2:
            raise ValueError(f"stuck repeats must be a whole number of 2 or more, got {repeats!r}")
        self.repeats = repeats
        # (sensor_id, metric) -> [last value, how many times in a row]; a list so the
        # common case updates in place instead of allocating.
        self._runs: dict[tuple[str, str], list[float]] = {}

    def check(self, reading: Reading) -> Reading:
        """``reading``, flagged ``STUCK`` from the ``repeats``-th identical value on.

        Args:
            reading: the next reading of its series.

        Returns:
            The same object, or a copy flagged ``STUCK``.
        """
        if reading.metric not in _GAUGES:
            return reading
        key = (reading.sensor_id, reading.metric)
        run = self._runs.get(key)
        if run is None or run[0] != reading.value:
            self._runs[key] = [reading.value, 1]
            return reading
        run[1] += 1
        return reading.flagged(Quality.STUCK) if run[1] >= self.repeats else reading


class Validator:
    """Applies :func:`validate` and a :class:`StuckDetector` to each batch from a driver.

    One validator per driver: it remembers each series' last value to spot stuck gauges.
    """

    def __init__(self, stuck_repeats: int = 100) -> None:
        self.stuck = StuckDetector(stuck_repeats)

    def __call__(self, readings: Sequence[Reading]) -> list[Reading]:
        """The readings in the same order, each with the flags it earns.

        Args:
            readings: one driver's readings.

        Returns:
            A new list; readings that earn no flags are the same objects.
        """
        check = self.stuck.check
        return [check(validate(reading)) for reading in readings]
