"""What the edge store hands out: its records, and stored rows and times turned into them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from presentation.reading_flags import Censor, Quality
from sensors.reading import Reading


@dataclass(frozen=True, slots=True)
class StoredReading(Reading):
    """A reading as the store holds it: a :class:`Reading` with its sequence number."""

    seq: int = field(kw_only=True)

    def reading(self) -> Reading:
        """The plain Reading, without its sequence number."""
        return Reading(
            self.sensor_id,
            self.metric,
            self.value,
            self.unit,
            self.timestamp,
            self.quality,
            self.censor,
        )


@dataclass(frozen=True, slots=True)
class RejectedRange:
    """Readings the hub refused, with its reason; kept, never sent again."""

    first: int
    last: int
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class DroppedRange:
    """Unacknowledged readings deleted under the size cap: a gap that is final."""

    first: int
    last: int
    count: int
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class HealthRecord:
    """A driver's (or the store's) health as last recorded by the agent."""

    driver: str
    state: str
    since: datetime
    last_error: str
    failures: int


@dataclass(frozen=True, slots=True)
class StoreStats:
    """What the store holds, for `edge status`, heartbeats and the page."""

    store_epoch: int
    last_seq: int | None
    readings_stored: int
    backlog: int
    held_back: int
    oldest_unacknowledged: datetime | None
    acknowledged: int
    rejected: int
    dropped: int
    db_bytes: int
    last_acknowledged_at: datetime | None


@dataclass(frozen=True, slots=True)
class RetentionReport:
    """What one pass of retention and the size cap deleted."""

    raw_deleted: int = 0
    minute_rollups_deleted: int = 0
    rollups_deleted: int = 0
    dropped_unacknowledged: int = 0


def to_us(moment: datetime) -> int:
    """``moment`` as whole microseconds since the Unix epoch, as the store keeps times."""
    return round(moment.timestamp() * 1_000_000)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def from_us(us: int) -> datetime:
    """The UTC time of ``us`` microseconds since the Unix epoch."""
    # Exact to the microsecond, unlike fromtimestamp() of a float.
    return _EPOCH + timedelta(microseconds=us)


SELECT_READINGS = (
    "SELECT r.seq, s.sensor_id, s.metric, r.value, s.unit, r.ts_us, r.quality, r.censor "
    "FROM readings r JOIN series s ON s.id = r.series_id "
)
"""The columns that :func:`stored_reading` reads; callers add WHERE and ORDER BY."""

_QUALITIES: dict[int, Quality] = {}


def _quality(bits: int) -> Quality:
    # Building an IntFlag member is slow; a node sees only a handful of combinations.
    found = _QUALITIES.get(bits)
    if found is None:
        found = _QUALITIES[bits] = Quality(bits)
    return found


def stored_reading(
    row: tuple[int, str, str, float | None, str, int, int, str | None],
) -> StoredReading:
    """The reading of a row selected with :data:`SELECT_READINGS`."""
    seq, sensor_id, metric, value, unit, ts_us, quality, censor = row
    return StoredReading(
        sensor_id,
        metric,
        math.nan if value is None else value,
        unit,
        from_us(ts_us),
        _quality(quality),
        Censor(censor) if censor else None,
        seq=seq,
    )
