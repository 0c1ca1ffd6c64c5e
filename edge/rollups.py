"""Per-minute, per-hour and per-day summaries (count, min, max, mean) kept as readings arrive."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from presentation.reading_flags import Quality
from presentation.rollup import Resolution, Rollup

NOT_ROLLED_UP = int(
    Quality.bad_value() | Quality.CENSORED | Quality.CLOCK_UNSYNCED | Quality.CLOCK_UNCORRECTABLE
)
"""Readings with any of these flags stay out of the summaries: their value or time is not
one to average (a held-back reading joins once its time is corrected)."""

MINUTE_US = 60_000_000
HOUR_US = 3_600_000_000

Aggregate = list[float]  # [count, min, max, sum]
Buckets = dict[tuple[int, int], Aggregate]


class LocalDays:
    """Maps UTC hours to the hall's local days, cached: a day is the hall's day.

    Every UTC offset in use for halls is a whole number of hours, so the local date of a
    UTC hour holds for all of it.
    """

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self._cache: dict[int, int] = {}

    def day_of_hour(self, hour_s: int) -> int:
        """The local date (as an ordinal) of the UTC hour starting ``hour_s``."""
        day = self._cache.get(hour_s)
        if day is None:
            local = datetime.fromtimestamp(hour_s, UTC).astimezone(self.zone)
            day = local.date().toordinal()
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[hour_s] = day
        return day

    def midnight(self, ordinal: int) -> datetime:
        """The start of local day ``ordinal`` as an aware local datetime."""
        return datetime.combine(date.fromordinal(ordinal), time(0), tzinfo=self.zone)


def aggregate(
    rows: Iterable[tuple[int, int, float | None, int, str | None]], days: LocalDays
) -> tuple[Buckets, Buckets, Buckets]:
    """Minute, hour and day aggregates of (series_id, ts_us, value, quality, censor) rows."""
    minutes: Buckets = {}
    isfinite = math.isfinite
    for series_id, ts_us, value, quality, _censor in rows:
        if quality & NOT_ROLLED_UP or value is None or not isfinite(value):
            continue
        key = (series_id, ts_us // MINUTE_US * 60)
        found = minutes.get(key)
        if found is None:
            minutes[key] = [1, value, value, value]
        else:
            found[0] += 1
            if value < found[1]:
                found[1] = value
            if value > found[2]:
                found[2] = value
            found[3] += value
    return _coarser(minutes, days)


def aggregate_stored(
    conn: sqlite3.Connection, first: int, last: int, days: LocalDays
) -> tuple[Buckets, Buckets, Buckets]:
    """Aggregates of the stored readings ``first``..``last``, summed by SQLite itself.

    The append path uses this: the rows were just written and are in the page cache, and
    SQLite's own GROUP BY is several times faster than a Python loop per reading.
    """
    minutes: Buckets = {
        (series_id, minute_s): [count, low, high, total]
        for series_id, minute_s, count, low, high, total in conn.execute(
            "SELECT series_id, ts_us / 60000000 * 60, count(*), min(value), max(value), "
            "sum(value) FROM readings WHERE seq BETWEEN ? AND ? AND quality & ? = 0 "
            "AND value BETWEEN -1.7976931348623157e308 AND 1.7976931348623157e308 "
            "GROUP BY 1, 2",
            (first, last, NOT_ROLLED_UP),
        )
    }
    return _coarser(minutes, days)


def _coarser(minutes: Buckets, days: LocalDays) -> tuple[Buckets, Buckets, Buckets]:
    """Hour and local-day aggregates built from minute aggregates."""
    hours: Buckets = {}
    local_days: Buckets = {}
    for (series_id, minute_s), agg in minutes.items():
        hour_s = minute_s // 3600 * 3600
        for target, key in (
            (hours, (series_id, hour_s)),
            (local_days, (series_id, days.day_of_hour(hour_s))),
        ):
            found = target.get(key)
            if found is None:
                target[key] = list(agg)
            else:
                found[0] += agg[0]
                found[1] = min(found[1], agg[1])
                found[2] = max(found[2], agg[2])
                found[3] += agg[3]
    return minutes, hours, local_days


def _upsert_sql(table: str) -> str:
    return (
        f"INSERT INTO {table} (series_id, bucket, count, min, max, sum) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (series_id, bucket) DO UPDATE SET count = count + excluded.count, "
        "min = MIN(min, excluded.min), max = MAX(max, excluded.max), sum = sum + excluded.sum"
    )


UPSERT = {
    "minute": _upsert_sql("rollup_minute"),
    "hour": _upsert_sql("rollup_hour"),
    "day": _upsert_sql("rollup_day"),
}


def save(conn: sqlite3.Connection, buckets: tuple[Buckets, Buckets, Buckets]) -> None:
    """Add aggregates to the rollup tables (inside the caller's transaction)."""
    for resolution, table in zip(("minute", "hour", "day"), buckets, strict=True):
        if table:
            conn.executemany(
                UPSERT[resolution],
                [(key[0], key[1], *agg) for key, agg in table.items()],
            )


def query(
    conn: sqlite3.Connection,
    resolution: Resolution,
    start: datetime,
    end: datetime,
    days: LocalDays,
    *,
    sensor_id: str | None = None,
    metric: str | None = None,
) -> list[Rollup]:
    """Rollups whose bucket starts in [start, end), ordered by series then time."""
    if resolution == "day":
        low = start.astimezone(days.zone).date().toordinal()
        high = end.astimezone(days.zone).date().toordinal()
        if end.astimezone(days.zone).timetz().replace(tzinfo=None) != time(0):
            high += 1
    else:
        low = math.ceil(start.timestamp())
        high = math.ceil(end.timestamp())
    # With a sensor or metric asked for, start from the few matching series and use the
    # table's own (series_id, bucket) key: measured 4x faster than filtering a window of
    # every series' buckets, and near free for a metric the node does not have.
    join = "CROSS JOIN" if sensor_id is not None or metric is not None else "JOIN"
    sql = (
        f"SELECT s.sensor_id, s.metric, s.unit, r.bucket, r.count, r.min, r.max, r.sum "
        f"FROM series s {join} rollup_{resolution} r ON r.series_id = s.id "
        "WHERE r.bucket >= ? AND r.bucket < ?"
    )
    params: list[object] = [low, high]
    if sensor_id is not None:
        sql += " AND s.sensor_id = ?"
        params.append(sensor_id)
    if metric is not None:
        sql += " AND s.metric = ?"
        params.append(metric)
    sql += " ORDER BY s.sensor_id, s.metric, r.bucket"
    result = []
    for sensor, name, unit, bucket, count, low_v, high_v, total in conn.execute(sql, params):
        if resolution == "day":
            begins = days.midnight(bucket)
        else:
            begins = datetime.fromtimestamp(bucket, UTC)
        result.append(Rollup(sensor, name, unit, begins, count, low_v, high_v, total / count))
    return result


def prune(conn: sqlite3.Connection, resolution: Resolution, before_bucket: int) -> int:
    """Delete rollups of ``resolution`` older than ``before_bucket``; returns how many."""
    cursor = conn.execute(f"DELETE FROM rollup_{resolution} WHERE bucket < ?", (before_bucket,))
    return cursor.rowcount


def day_bucket(moment: datetime, days: LocalDays) -> int:
    """The day bucket holding ``moment``."""
    return moment.astimezone(days.zone).date().toordinal()
