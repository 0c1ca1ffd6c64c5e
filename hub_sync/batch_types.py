"""The readings batch's types: a reading as it travels, a batch, and a batch as columns.

A batch the hub decodes stays in columns (:class:`BatchColumns`): the hub stores
thousands of readings a second, and a frozen :class:`WireReading` object for each one
cost about half of the decoding. Its ``readings`` are made only when something asks for
them one at a time (:class:`ColumnReadings`); the stores read the columns.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import overload

from hub_sync.acks import seq_runs

SeriesKey = tuple[str, str, str]
"""(sensor id, metric, unit): one series of a device."""


@dataclass(frozen=True, slots=True)
class WireReading:
    """One reading as it travels: its sequence number and everything the node stored."""

    seq: int
    sensor_id: str
    metric: str
    unit: str
    ts_us: int
    value: float
    quality: int = 0
    censor: str | None = None


@dataclass(frozen=True, slots=True)
class BatchColumns:
    """A batch's readings as columns, each in the batch's order.

    ``series`` lists each series once, in the order the batch first names it; a
    reading's entry in ``index`` is its series' place there. ``censors`` is None when no
    reading is censored; ``runs`` are the sequence numbers as inclusive ranges.
    """

    seqs: Sequence[int]
    series: tuple[SeriesKey, ...]
    index: Sequence[int]
    stamps: Sequence[int]
    values: Sequence[float]
    qualities: Sequence[int]
    censors: Sequence[str | None] | None
    runs: tuple[tuple[int, int], ...]

    def __len__(self) -> int:
        return len(self.seqs)

    def keys(self) -> list[SeriesKey]:
        """Each reading's series, in the batch's order."""
        return list(map(self.series.__getitem__, self.index))


def columns_of(readings: Sequence[WireReading]) -> BatchColumns:
    """The columns of readings already made one by one."""
    places: dict[SeriesKey, int] = {}
    index = [places.setdefault((r.sensor_id, r.metric, r.unit), len(places)) for r in readings]
    censors = [r.censor for r in readings]
    seqs = [r.seq for r in readings]
    return BatchColumns(
        seqs,
        tuple(places),
        index,
        [r.ts_us for r in readings],
        [r.value for r in readings],
        [r.quality for r in readings],
        censors if any(c is not None for c in censors) else None,
        tuple(seq_runs(seqs)),
    )


class ColumnReadings(Sequence[WireReading]):
    """A decoded batch's readings, made from its columns when first asked for."""

    __slots__ = ("_made", "columns")

    def __init__(self, columns: BatchColumns) -> None:
        self.columns = columns
        self._made: tuple[WireReading, ...] | None = None

    def _readings(self) -> tuple[WireReading, ...]:
        if self._made is None:
            c = self.columns
            keys = c.keys()
            censors = c.censors if c.censors is not None else [None] * len(c.seqs)
            self._made = tuple(
                WireReading(seq, sensor_id, metric, unit, ts_us, value, quality, censor)
                for seq, (sensor_id, metric, unit), ts_us, value, quality, censor in zip(
                    c.seqs, keys, c.stamps, c.values, c.qualities, censors, strict=True
                )
            )
        return self._made

    def __len__(self) -> int:
        return len(self.columns.seqs)

    @overload
    def __getitem__(self, index: int) -> WireReading: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[WireReading]: ...

    def __getitem__(self, index: int | slice) -> WireReading | Sequence[WireReading]:
        return self._readings()[index]

    def __iter__(self) -> Iterator[WireReading]:
        return iter(self._readings())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ColumnReadings):
            return self._readings() == other._readings()
        if isinstance(other, tuple | list):
            return list(self._readings()) == list(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._readings())

    def __repr__(self) -> str:
        return repr(self._readings())


@dataclass(frozen=True, slots=True)
class Batch:
    """Readings of one device and one store epoch, in sequence order."""

    device_id: str
    store_epoch: int
    readings: Sequence[WireReading] = field(default_factory=tuple)

    def columns(self) -> BatchColumns:
        """The readings as columns: kept from decoding, else made from the readings."""
        if isinstance(self.readings, ColumnReadings):
            return self.readings.columns
        return columns_of(self.readings)
