"""The node's durable SQLite store: the one object the agent, uplink and pages hold.

:class:`EdgeStore` puts together the store's parts, each in its own module: the database
file and its transactions (edge.store_db), appending readings (edge.appending), the
outbox and the hub's acknowledgements (edge.outbox), readings held back for the clock
(edge.held_back), retention and the size cap (edge.retention), driver health
(edge.driver_health) and the queries of status and the pages (edge.store_queries).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Literal
from zoneinfo import ZoneInfo

from edge import driver_health, held_back, retention, store_queries
from edge.appending import ReadingAppender
from edge.clock import ClockSample
from edge.outbox import Outbox, OutboxRow
from edge.ranges import SeqRange
from edge.rollups import LocalDays
from edge.store_db import StoreDatabase
from edge.store_records import (
    DroppedRange,
    HealthRecord,
    RejectedRange,
    RetentionReport,
    StoredReading,
    StoreStats,
)
from presentation.rollup import Resolution, Rollup
from sensors.reading import Reading, SensorInfo


class EdgeStore:
    """The node's SQLite database (WAL), written by one agent and read by anyone.

    A reading's identity is ``(store_epoch, seq)``: ``seq`` counts up and is never
    reused (AUTOINCREMENT), ``store_epoch`` is a random 64-bit number made with the
    database. One instance writes, from one thread; readers (status, exports, the page)
    open it with ``readonly=True``, which can never write. Opening a corrupt, newer or
    unwritable database raises a :class:`edge.store_errors.StoreError` naming the file
    and touches nothing.
    """

    def __init__(
        self,
        path: Path,
        *,
        timezone: str = "Europe/London",
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
        readonly: bool = False,
    ) -> None:
        self.days = LocalDays(ZoneInfo(timezone))
        self.database = StoreDatabase(path, synchronous=synchronous, readonly=readonly)
        self.path = self.database.path
        self.store_epoch = self.database.store_epoch
        self._appender = ReadingAppender(self.database, self.days)
        self._outbox = Outbox(self.database)

    # --- writing ---

    def register_sensors(self, infos: Sequence[SensorInfo]) -> None:
        """Record what each sensor is (part, accuracy, resolution)."""
        self._appender.register_sensors(infos)

    def append(self, readings: Sequence[Reading], clock: ClockSample) -> SeqRange | None:
        """Store ``readings`` in one transaction; see :meth:`ReadingAppender.append`."""
        return self._appender.append(readings, clock)

    def correct_clock(self, now: ClockSample, *, hold_max_s: float) -> tuple[int, int]:
        """Settle held-back readings' times: see :func:`edge.held_back.correct_clock`."""
        return held_back.correct_clock(self.database, self.days, now, hold_max_s=hold_max_s)

    def record_health(
        self, driver: str, state: str, last_error: str, failures: int, at: datetime
    ) -> None:
        """Record a driver's health; ``since`` moves only when the state changes."""
        driver_health.record_health(self.database, driver, state, last_error, failures, at)

    def record_start(self, version: str, at: datetime) -> None:
        """Note that an agent of ``version`` started on this store, at ``at``.

        The updater's health check reads it: a new version is up once it has said so here.
        """
        with self.database.write("recording the agent's start"):
            self.database.connection.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [("agent_version", version), ("agent_started_at", at.isoformat())],
            )

    def shift_health_times(self, step: timedelta) -> None:
        """Move every health record's ``since`` by a step the wall clock took."""
        driver_health.shift_health_times(self.database, round(step.total_seconds() * 1e6))

    # --- the uplink's view (hub_sync.uplink.Outbox) ---

    def outbox_rows(
        self, limit: int, *, newest_first: bool = True, skip: Sequence[tuple[int, int]] = ()
    ) -> list[OutboxRow]:
        """Up to ``limit`` readings to send, never held-back ones; ``skip``: in flight."""
        return self._outbox.outbox_rows(limit, newest_first=newest_first, skip=skip)

    def acknowledge(self, ranges: Iterable[SeqRange | tuple[int, int]]) -> int:
        """Record that the hub has committed ``ranges``; see :meth:`Outbox.acknowledge`."""
        return self._outbox.acknowledge(ranges)

    def reject(self, ranges: Iterable[SeqRange | tuple[int, int]], reason: str) -> int:
        """Record that the hub refused ``ranges``: kept and counted, never offered again."""
        return self._outbox.reject(ranges, reason)

    def acknowledged_ranges(self) -> list[SeqRange]:
        """Every acknowledged sequence number, as merged ranges."""
        return self._outbox.acknowledged_ranges()

    def rejected_ranges(self) -> list[RejectedRange]:
        """Every range the hub rejected, with its reason."""
        return self._outbox.rejected_ranges()

    def dropped_ranges(self) -> list[DroppedRange]:
        """Every range of unacknowledged readings deleted under the size cap."""
        return self._outbox.dropped_ranges()

    # --- upkeep ---

    def enforce_retention(
        self,
        now: datetime,
        *,
        raw_retention_days: float,
        minute_rollup_days: float,
        rollup_days: float,
        max_bytes: int,
    ) -> RetentionReport:
        """Delete what is past its retention, then keep the database under ``max_bytes``."""
        return retention.enforce(
            self.database,
            self._outbox,
            self.days,
            now,
            raw_retention_days=raw_retention_days,
            minute_rollup_days=minute_rollup_days,
            rollup_days=rollup_days,
            max_bytes=max_bytes,
        )

    def used_bytes(self) -> int:
        """Bytes of the database in use (pages not on the free list)."""
        return self.database.used_bytes()

    def backup(self, dest: Path) -> None:
        """Copy the live database to ``dest`` with SQLite's backup API (never a file copy)."""
        self.database.backup(dest)

    # --- reading ---

    def stats(self) -> StoreStats:
        """Counts and sizes, cheaply (from counters, not by counting rows)."""
        return store_queries.stats(self.database, self._outbox)

    def metrics(self) -> set[str]:
        """Every metric a sensor of this node has measured or registered.

        A driver registers its sensors when the agent starts, before its first reading.
        """
        return store_queries.metrics(self.database)

    def latest(self) -> list[StoredReading]:
        """The newest reading of each sensor's metric."""
        return store_queries.latest(self.database)

    def readings_between(
        self, start: datetime, end: datetime, *, metrics: Collection[str] | None = None
    ) -> Iterator[StoredReading]:
        """Readings stamped in [start, end), in sequence order, streamed.

        ``metrics`` keeps only those metrics (chosen in SQL, so the rest cost nothing).
        """
        return store_queries.readings_between(self.database, start, end, metrics=metrics)

    def rollups(
        self,
        resolution: Resolution,
        start: datetime,
        end: datetime,
        *,
        sensor_id: str | None = None,
        metric: str | None = None,
    ) -> list[Rollup]:
        """Summaries of ``resolution`` starting in [start, end)."""
        return store_queries.rollups_between(
            self.database, self.days, resolution, start, end, sensor_id=sensor_id, metric=metric
        )

    def health(self) -> list[HealthRecord]:
        """Every driver's last recorded health."""
        return driver_health.health(self.database)

    def close(self) -> None:
        """Close the connection; safe to call more than once."""
        self.database.close()

    def __enter__(self) -> EdgeStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
