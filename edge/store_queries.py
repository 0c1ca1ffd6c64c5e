"""What the edge store answers for status, heartbeats, exports and the pages (reads only)."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import datetime

from edge import rollups
from edge.outbox import Outbox
from edge.rollups import LocalDays
from edge.store_db import StoreDatabase
from edge.store_records import (
    SELECT_READINGS,
    StoredReading,
    StoreStats,
    from_us,
    stored_reading,
    to_us,
)
from presentation.rollup import Resolution, Rollup


def stats(database: StoreDatabase, outbox: Outbox) -> StoreStats:
    """Counts and sizes, cheaply (from counters, not by counting rows)."""
    conn = database.connection
    counters = dict(conn.execute("SELECT name, value FROM counters"))
    stored = counters["appended"] - counters["deleted"] - counters["dropped"]
    backlog = counters["appended"] - counters["acked"] - counters["rejected"] - counters["dropped"]
    held = int(conn.execute("SELECT count(*) FROM held").fetchone()[0])
    oldest = outbox.oldest_unsettled()
    last_ack = conn.execute("SELECT value FROM meta WHERE key = 'last_acknowledged_at'").fetchone()
    path = database.path
    try:
        db_bytes = path.stat().st_size
        wal = path.with_name(path.name + "-wal")
        db_bytes += wal.stat().st_size if wal.exists() else 0
    except OSError:
        db_bytes = 0
    return StoreStats(
        store_epoch=database.store_epoch,
        last_seq=database.last_seq(),
        readings_stored=stored,
        backlog=backlog,
        held_back=held,
        oldest_unacknowledged=oldest.timestamp if oldest is not None else None,
        acknowledged=counters["acked"],
        rejected=counters["rejected"],
        dropped=counters["dropped"],
        db_bytes=db_bytes,
        last_acknowledged_at=from_us(int(last_ack[0])) if last_ack else None,
    )


def metrics(database: StoreDatabase) -> set[str]:
    """Every metric a sensor of this node has measured or registered."""
    return {
        metric for (metric,) in database.connection.execute("SELECT DISTINCT metric FROM series")
    }


def latest(database: StoreDatabase) -> list[StoredReading]:
    """The newest reading of each sensor's metric."""
    return [
        stored_reading(row)
        for row in database.connection.execute(
            SELECT_READINGS + "JOIN latest l ON l.seq = r.seq ORDER BY s.sensor_id, s.metric"
        )
    ]


def readings_between(
    database: StoreDatabase,
    start: datetime,
    end: datetime,
    *,
    metrics: Collection[str] | None = None,
) -> Iterator[StoredReading]:
    """Readings stamped in [start, end), in sequence order, streamed.

    ``metrics`` keeps only those metrics (chosen in SQL, so the rest cost nothing).
    """
    sql = SELECT_READINGS + "WHERE r.ts_us >= ? AND r.ts_us < ?"
    params: list[object] = [to_us(start), to_us(end)]
    if metrics is not None:
        wanted = sorted(metrics)
        sql += f" AND s.metric IN ({', '.join('?' * len(wanted))})" if wanted else " AND 0"
        params.extend(wanted)
    cursor = database.connection.execute(sql + " ORDER BY r.seq", params)
    while True:
        batch = cursor.fetchmany(1000)
        if not batch:
            return
        for row in batch:
            yield stored_reading(row)


def rollups_between(
    database: StoreDatabase,
    days: LocalDays,
    resolution: Resolution,
    start: datetime,
    end: datetime,
    *,
    sensor_id: str | None = None,
    metric: str | None = None,
) -> list[Rollup]:
    """Summaries of ``resolution`` starting in [start, end)."""
    return rollups.query(
        database.connection, resolution, start, end, days, sensor_id=sensor_id, metric=metric
    )
