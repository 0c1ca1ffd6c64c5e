"""Readings, their hourly and daily rollups, and the fleet's state, in SQL: what the hub reads back.

The hourly rollups are kept as readings arrive (:meth:`RollupTables._roll_up`, called by
ingestion in the batch's transaction). Implements :class:`hub.store.ReadingQueries`.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hub.store import (
    DailyRollup,
    DeadLetter,
    DeviceState,
    HourlyRollup,
    Refusal,
    StoredReading,
)
from hub.store_sql_base import DAY_US, HOUR_US, NOT_ROLLED_UP, Row, SqlTables, unsigned_epoch
from hub_sync.batch_codec import WireReading
from hub_sync.limits import INT64_MIN

EPOCH_DAY = date(1970, 1, 1)


def hour_of(ts_us: int) -> int:
    """The start of the UTC hour holding ``ts_us``, never below the 64-bit minimum.

    The first hour before 1970 of the signed 64-bit range starts below it; its readings
    (implausible, but valid on the wire) are kept under the minimum itself.
    """
    return max(ts_us - ts_us % HOUR_US, INT64_MIN)


def offset_stretches(start_us: int, end_us: int, zone: ZoneInfo) -> list[tuple[int, int, int]]:
    """[first, last) hour ranges of constant UTC offset in ``zone``, with that offset (µs).

    Hall zones change offset on whole hours, so checking each day's start and, where it
    changed, each hour of the day before finds every change.
    """

    def offset(us: int) -> int:
        moment = datetime.fromtimestamp(us / 1e6, zone)
        delta = moment.utcoffset()
        return int(delta.total_seconds() * 1_000_000) if delta is not None else 0

    first = start_us - start_us % HOUR_US
    stretches: list[tuple[int, int, int]] = []
    current = offset(first)
    begin = first
    day = first
    while day < end_us:
        following = min(day + DAY_US, end_us)
        if offset(following) != current or following == end_us:
            hour = day
            while hour < following:
                if offset(hour) != current:
                    stretches.append((begin, hour, current))
                    begin, current = hour, offset(hour)
                hour += HOUR_US
        day = following
    stretches.append((begin, end_us, current))
    return stretches


class RollupTables(SqlTables):
    """Raw readings by key and time, hourly and daily rollups, gaps and the fleet's state."""

    def _roll_up(self, rows: Sequence[Row]) -> None:
        """Add rows to their hours' count, sum, lowest and highest, and seq spans."""
        buckets: dict[tuple[str, int, int], list[float]] = {}
        spans: dict[tuple[str, int, int], list[int]] = {}
        for row in rows:
            span_key = (row[0], hour_of(row[4]), row[1])
            span = spans.get(span_key)
            if span is None:
                spans[span_key] = [row[2], row[2]]
            elif row[2] < span[0]:
                span[0] = row[2]
            elif row[2] > span[1]:
                span[1] = row[2]
            value, quality = row[5], row[7]
            if value is None or quality & NOT_ROLLED_UP or not math.isfinite(value):
                continue
            key = (row[0], row[3], hour_of(row[4]))
            bucket = buckets.get(key)
            if bucket is None:
                buckets[key] = [1, value, value, value]
            else:
                bucket[0] += 1
                bucket[1] += value
                if value < bucket[2]:
                    bucket[2] = value
                if value > bucket[3]:
                    bucket[3] = value
        if spans:
            self._run_many(
                "INSERT INTO seq_hours (device_id, hour_us, store_epoch, first_seq, last_seq) "
                "VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (device_id, hour_us, store_epoch) DO UPDATE SET "
                "first_seq = CASE WHEN excluded.first_seq < seq_hours.first_seq "
                "THEN excluded.first_seq ELSE seq_hours.first_seq END, "
                "last_seq = CASE WHEN excluded.last_seq > seq_hours.last_seq "
                "THEN excluded.last_seq ELSE seq_hours.last_seq END",
                [(*key, a, b) for key, (a, b) in sorted(spans.items())],
            )
        if buckets:
            self._run_many(
                "INSERT INTO hourly (device_id, series_id, hour_us, n, total, low, high) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (device_id, series_id, hour_us) DO UPDATE SET "
                "n = hourly.n + excluded.n, total = hourly.total + excluded.total, "
                "low = CASE WHEN excluded.low < hourly.low THEN excluded.low ELSE hourly.low END, "
                "high = CASE WHEN excluded.high > hourly.high THEN excluded.high "
                "ELSE hourly.high END",
                [(*key, int(b[0]), b[1], b[2], b[3]) for key, b in sorted(buckets.items())],
            )

    def dead_letters(self, device_id: str | None = None, limit: int = 50) -> list[DeadLetter]:
        """Quarantined messages, newest first (one device's, or every one's)."""
        return [
            DeadLetter(device, message_topic, reason, size, times, first, last, bytes(payload))
            for device, message_topic, reason, size, times, first, last, payload in self._query(
                "SELECT device_id, topic, reason, size, times, first_at_us, last_at_us, payload "
                "FROM dead_letters WHERE ? = '' OR device_id = ? "
                "ORDER BY last_at_us DESC LIMIT ?",
                (device_id or "", device_id or "", limit),
            )
        ]

    def refusals(self, device_id: str | None = None) -> dict[str, tuple[Refusal, ...]]:
        """Each device's refusals by reason (one device's, or every one's in one query)."""
        sql = "SELECT device_id, reason, n, first_at_us, last_at_us, detail FROM refusals"
        params: tuple[str, ...] = ()
        if device_id is not None:
            sql += " WHERE device_id = ?"
            params = (device_id,)
        found: dict[str, list[Refusal]] = {}
        for device, reason, n, first, last, detail in self._query(
            sql + " ORDER BY 1, 5 DESC", params
        ):
            found.setdefault(device, []).append(Refusal(reason, int(n), first, last, detail))
        return {device: tuple(items) for device, items in found.items()}

    def prune(self, before_us: int) -> int:
        """Delete raw readings taken before ``before_us``; returns how many went.

        The received ranges stay, so the gaps the hub reports remain true.
        """
        with self._lock, self._transaction():
            return self._run("DELETE FROM readings WHERE ts_us < ?", (before_us,))

    def readings(self, device_id: str) -> list[tuple[int, WireReading]]:
        """Every stored reading of a device as (store_epoch, reading), in key order."""
        out = []
        for epoch, seq, sensor_id, metric, unit, ts_us, value, bits, quality, censor in self._query(
            "SELECT r.store_epoch, r.seq, s.sensor_id, s.metric, s.unit, r.ts_us, r.value, "
            "r.value_bits, r.quality, r.censor FROM readings r JOIN series s "
            "ON s.id = r.series_id WHERE r.device_id = ? ORDER BY 1, 2",
            (device_id,),
        ):
            exact = struct.unpack(">d", bytes(bits))[0] if bits is not None else float(value)
            reading = WireReading(seq, sensor_id, metric, unit, ts_us, exact, quality, censor)
            out.append((unsigned_epoch(epoch), reading))
        return out

    def readings_between(
        self,
        device_ids: Sequence[str],
        start_us: int,
        end_us: int,
        metrics: Sequence[str] = (),
        *,
        limit: int | None = None,
    ) -> list[StoredReading]:
        """Some devices' readings taken in [start_us, end_us), oldest first, at most ``limit``.

        Read by key within the sequence spans ``seq_hours`` gives for those hours: there is
        no index on time, which would cost a fifth of the insert rate.
        """
        found: list[StoredReading] = []
        metric_sql = ""
        if metrics:
            metric_sql = f" AND s.metric IN ({', '.join('?' for _ in metrics)})"
        for device_id in device_ids:
            for epoch, first, last in self._seq_spans(device_id, start_us, end_us):
                rows = self._query(
                    "SELECT s.sensor_id, s.metric, s.unit, r.ts_us, r.value, "  # noqa: S608
                    "r.value_bits, r.quality, r.censor, r.seq FROM readings r JOIN series s "
                    "ON s.id = r.series_id WHERE r.device_id = ? AND r.store_epoch = ? "
                    f"AND r.seq BETWEEN ? AND ? AND r.ts_us >= ? AND r.ts_us < ?{metric_sql}",
                    (device_id, epoch, first, last, start_us, end_us, *metrics),
                )
                found.extend(
                    StoredReading(
                        device_id,
                        sensor,
                        metric,
                        unit,
                        ts_us,
                        struct.unpack(">d", bytes(bits))[0] if bits is not None else float(value),
                        quality,
                        censor,
                        seq,
                    )
                    for sensor, metric, unit, ts_us, value, bits, quality, censor, seq in rows
                )
                if limit is not None and len(found) > 10 * limit:
                    break  # far past the limit: the answer is cut anyway
        found.sort(key=lambda r: (r.ts_us, r.device_id, r.seq))
        return found if limit is None else found[:limit]

    def _seq_spans(self, device_id: str, start_us: int, end_us: int) -> list[tuple[int, int, int]]:
        """(store_epoch, first, last) seq spans holding the device's readings of those hours."""
        spans = self._query(
            "SELECT store_epoch, first_seq, last_seq FROM seq_hours WHERE device_id = ? "
            "AND hour_us >= ? AND hour_us < ? ORDER BY store_epoch, first_seq",
            (device_id, start_us - start_us % HOUR_US, end_us),
        )
        merged: list[list[int]] = []
        for epoch, first, last in spans:
            if merged and merged[-1][0] == epoch and first <= merged[-1][2] + 1:
                merged[-1][2] = max(merged[-1][2], last)
            else:
                merged.append([epoch, first, last])
        return [(e, a, b) for e, a, b in merged]

    def latest(self, device_id: str) -> dict[tuple[str, str], tuple[int, float | None]]:
        """(sensor_id, metric) → (ts_us, value) of the newest plausible reading."""
        return {
            (sensor, metric): (ts, value)
            for sensor, metric, ts, value in self._query(
                "SELECT s.sensor_id, s.metric, l.ts_us, l.value FROM latest l "
                "JOIN series s ON s.id = l.series_id WHERE l.device_id = ?",
                (device_id,),
            )
        }

    def hourly(
        self, device_ids: Sequence[str], start_us: int, end_us: int, metrics: Sequence[str] = ()
    ) -> list[HourlyRollup]:
        """The hourly rollups of some devices' hours starting in [start_us, end_us).

        Ordered by device, then series (in the order the hub first saw them), then hour;
        ``metrics`` narrows to those metrics.
        """
        if not device_ids:
            return []
        marks = ", ".join("?" for _ in device_ids)
        sql = (
            "SELECT h.device_id, s.sensor_id, s.metric, s.unit, h.hour_us, h.n, h.total, "  # noqa: S608
            "h.low, h.high FROM hourly h JOIN series s ON s.id = h.series_id "
            f"WHERE h.device_id IN ({marks}) AND h.hour_us >= ? AND h.hour_us < ?"
        )
        params: list[Any] = [*device_ids, start_us, end_us]
        if metrics:
            sql += f" AND s.metric IN ({', '.join('?' for _ in metrics)})"
            params += list(metrics)
        # In the primary key's order: no sort, however many rows.
        return [
            HourlyRollup(device, sensor, metric, unit, hour, n, total / n, low, high)
            for device, sensor, metric, unit, hour, n, total, low, high in self._query(
                sql + " ORDER BY h.device_id, h.series_id, h.hour_us", params
            )
        ]

    def daily(
        self,
        device_ids: Sequence[str],
        start_us: int,
        end_us: int,
        zone: ZoneInfo,
        metrics: Sequence[str] = (),
    ) -> list[DailyRollup]:
        """The rollups of some devices' local days (in ``zone``) from their hours in range.

        Summed in SQL, one query per stretch of constant UTC offset (two a year where
        clocks change), so a year of a hall's days costs what a year of one series' hours
        would in Python. Ordered by device, sensor, metric and day.
        """
        if not device_ids:
            return []
        marks = ", ".join("?" for _ in device_ids)
        metric_sql = f" AND s.metric IN ({', '.join('?' for _ in metrics)})" if metrics else ""
        days: dict[tuple[str, str, str, str, date], list[float]] = {}
        for first, last, offset_us in offset_stretches(start_us, end_us, zone):
            for device, sensor, metric, unit, day, n, total, low, high in self._query(
                "SELECT h.device_id, s.sensor_id, s.metric, s.unit, "  # noqa: S608
                f"(h.hour_us + {int(offset_us)}) / {DAY_US}, SUM(h.n), SUM(h.total), "
                "MIN(h.low), MAX(h.high) FROM hourly h JOIN series s ON s.id = h.series_id "
                f"WHERE h.device_id IN ({marks}) AND h.hour_us >= ? AND h.hour_us < ?"
                f"{metric_sql} GROUP BY h.device_id, s.sensor_id, s.metric, s.unit, "
                f"(h.hour_us + {int(offset_us)}) / {DAY_US}",
                (*device_ids, first, last, *metrics),
            ):
                key = (device, sensor, metric, unit, EPOCH_DAY + timedelta(days=int(day)))
                n = int(n)  # PostgreSQL sums BIGINTs as NUMERIC
                found = days.get(key)
                if found is None:
                    days[key] = [n, total, low, high]
                else:  # a day the clocks changed on, in two stretches
                    found[0] += n
                    found[1] += total
                    found[2] = min(found[2], low)
                    found[3] = max(found[3], high)
        return [
            DailyRollup(device, sensor, metric, unit, day, int(n), total / n, low, high)
            for (device, sensor, metric, unit, day), (n, total, low, high) in sorted(days.items())
        ]

    def missing(self, device_id: str) -> tuple[tuple[int, int, int], ...]:
        """(store_epoch, first, last) gaps between the ranges received so far."""
        return self._gaps(device_id).get(device_id, ())

    def _gaps(self, device_id: str | None = None) -> dict[str, tuple[tuple[int, int, int], ...]]:
        """Each device's gaps (one device's, or every one's in a single query)."""
        sql = "SELECT device_id, store_epoch, first_seq, last_seq FROM received"
        params: tuple[str, ...] = ()
        if device_id is not None:
            sql += " WHERE device_id = ?"
            params = (device_id,)
        gaps: dict[str, list[tuple[int, int, int]]] = {}
        previous: tuple[str, int, int] | None = None
        for device, epoch, first, last in self._query(sql + " ORDER BY 1, 2, 3", params):
            if previous is not None and previous[:2] == (device, epoch) and first > previous[2] + 1:
                gaps.setdefault(device, []).append(
                    (unsigned_epoch(epoch), previous[2] + 1, first - 1)
                )
            previous = (device, epoch, last)
        return {device: tuple(found) for device, found in gaps.items()}

    def fleet(self) -> Sequence[DeviceState]:
        """Every device's state (three queries however many devices there are)."""
        gaps = self._gaps()
        refusals = self.refusals()
        return [
            DeviceState(
                device_id,
                name,
                bool(online),
                last_seen,
                readings,
                gaps.get(device_id, ()),
                rejected,
                status,
                quarantined,
                refusals.get(device_id, ()),
            )
            for (
                device_id,
                name,
                online,
                last_seen,
                readings,
                rejected,
                status,
                quarantined,
            ) in self._query(
                "SELECT device_id, name, online, last_seen_us, readings, rejected_batches, "
                "status_json, quarantined FROM devices ORDER BY device_id"
            )
        ]
