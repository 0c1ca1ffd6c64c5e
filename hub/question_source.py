"""A hall's hourly rollups at the hub, as the question answerer reads them (a RollupSource).

:class:`HallRollups` gives :mod:`presentation.questions` the same rows the node's own
store would: one :class:`~presentation.rollup.Rollup` per sensor, metric and UTC hour, made
from the hub store's public :meth:`~hub.store.ReadingQueries.hourly` over every device of
the hall. It offers only the metrics it is told to (a hall's published ones, on the open
data page) and only hours: open data is hourly, so minute and day rollups are not offered
(the question routes answer "now" without them).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

from hub.store import HourlyRollup
from presentation.rollup import Resolution, Rollup

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class HourlyStore(Protocol):
    """What the source reads of the hub store."""

    def hourly(
        self, device_ids: Sequence[str], start_us: int, end_us: int, metrics: Sequence[str] = ()
    ) -> list[HourlyRollup]:
        """The hourly rollups of some devices' hours starting in [start_us, end_us)."""
        ...


def to_us(moment: datetime) -> int:
    """An aware datetime as exact microseconds since 1970 (no float rounding)."""
    return (moment - _EPOCH) // _MICROSECOND


class HallRollups:
    """The hourly rollups of one hall's devices, limited to some metrics.

    Args:
        store: the hub store (anything with its ``hourly`` query).
        device_ids: the hall's devices. With more than one, each sensor is named
            ``device/sensor``, so two devices' sensors of the same name stay apart.
        metrics: the metrics offered; rollups of any other are never read.
    """

    def __init__(
        self, store: HourlyStore, device_ids: Sequence[str], metrics: Sequence[str]
    ) -> None:
        self.store = store
        self.device_ids = tuple(device_ids)
        self.metrics = frozenset(metrics)

    def rollups(
        self,
        resolution: Resolution,
        start: datetime,
        end: datetime,
        *,
        sensor_id: str | None = None,
        metric: str | None = None,
    ) -> list[Rollup]:
        """Hourly summaries starting in [start, end); none of another resolution."""
        if resolution != "hour" or not self.device_ids or end <= start:
            return []
        if metric is not None and metric not in self.metrics:
            return []
        wanted = [metric] if metric is not None else sorted(self.metrics)
        if not wanted:
            return []
        rows = self.store.hourly(self.device_ids, to_us(start), to_us(end), wanted)
        named = len(self.device_ids) > 1
        out = []
        for row in rows:
            if row.metric not in self.metrics:
                continue
            sensor = f"{row.device_id}/{row.sensor_id}" if named else row.sensor_id
            if sensor_id is not None and sensor != sensor_id:
                continue
            begins = _EPOCH + timedelta(microseconds=row.hour_us)
            out.append(
                Rollup(
                    sensor, row.metric, row.unit, begins, row.readings, row.low, row.high, row.mean
                )
            )
        out.sort(key=lambda r: (r.sensor_id, r.metric, r.start))
        return out
