"""The metric vocabulary as sensors offer it: the shared table and a checked lookup.

The table itself is :mod:`presentation.vocabulary`, one source for node and hub alike;
:func:`metric` raises the sensors' own error for a name it does not hold.
"""

from __future__ import annotations

from presentation.vocabulary import METRICS, Metric
from sensors.driver import SensorError

__all__ = ["METRICS", "Metric", "UnknownMetric", "metric"]


class UnknownMetric(SensorError, KeyError):
    """A metric name that is not in the vocabulary."""

    def __str__(self) -> str:
        # KeyError's own __str__ quotes its argument; the message reads better bare.
        return str(self.args[0]) if self.args else "unknown metric"


def metric(name: str) -> Metric:
    """The metric called ``name``.

    Args:
        name: a metric name, e.g. ``"co2"``.

    Raises:
        UnknownMetric: a KeyError naming the metric and listing the known ones.
    """
    try:
        return METRICS[name]
    except KeyError:
        known = ", ".join(sorted(METRICS))
        raise UnknownMetric(f"unknown metric {name!r}; known metrics: {known}") from None
