"""The edge store's outbox: what the uplink sends, and the hub's acknowledgements and refusals.

A reading is settled once the hub acknowledged or rejected it; the unsettled ones are the
backlog, found by walking the gaps between the settled ranges.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from edge.ranges import SeqRange, gaps, merge, subtract
from edge.store_db import StoreDatabase
from edge.store_records import (
    SELECT_READINGS,
    DroppedRange,
    RejectedRange,
    StoredReading,
    from_us,
    stored_reading,
    to_us,
)


class OutboxRow(NamedTuple):
    """One reading waiting to be sent, as the uplink reads it."""

    seq: int
    sensor_id: str
    metric: str
    unit: str
    ts_us: int
    value: float
    quality: int
    censor: str | None


class Outbox:
    """The backlog of unsettled readings and the settled ranges of the store."""

    def __init__(self, database: StoreDatabase) -> None:
        self.database = database
        self._settled: list[SeqRange] | None = None
        database.on_rollback.append(self._forget_settled)

    def _forget_settled(self) -> None:
        self._settled = None

    def _settled_ranges(self) -> list[SeqRange]:
        if self._settled is None or self.database.readonly:
            conn = self.database.connection
            self._settled = merge(
                [SeqRange(a, b) for a, b in conn.execute("SELECT first, last FROM acked")]
                + [SeqRange(a, b) for a, b in conn.execute("SELECT first, last FROM rejected")]
            )
        return self._settled

    def _unsettled_tuples(self, limit: int) -> Iterator[tuple[Any, ...]]:
        """Up to ``limit`` unsettled rows (held-back ones too), oldest first."""
        conn = self.database.connection
        remaining = limit
        for first, last in gaps(self._settled_ranges(), 1):
            sql = SELECT_READINGS + "WHERE r.seq >= ?"
            params: list[int] = [first]
            if last is not None:
                sql += " AND r.seq <= ?"
                params.append(last)
            sql += " ORDER BY r.seq ASC LIMIT ?"
            params.append(remaining)
            for row in conn.execute(sql, params):
                yield row
                remaining -= 1
            if remaining <= 0:
                return

    def oldest_unsettled(self) -> StoredReading | None:
        """The oldest reading neither acknowledged nor rejected (held back or not)."""
        row = next(self._unsettled_tuples(1), None)
        return None if row is None else stored_reading(row)

    def oldest_unsettled_seqs(self, limit: int) -> list[int]:
        """The sequence numbers of up to ``limit`` of the oldest unsettled readings."""
        return [row[0] for row in self._unsettled_tuples(limit)]

    def outbox_rows(
        self, limit: int, *, newest_first: bool = True, skip: Sequence[tuple[int, int]] = ()
    ) -> list[OutboxRow]:
        """The uplink's fast path: up to ``limit`` readings to send.

        ``skip`` lists ranges already in flight. Held-back readings are never offered.
        """
        if limit <= 0:
            return []
        conn = self.database.connection
        series = {
            sid: (sensor, metric, unit)
            for sid, sensor, metric, unit in conn.execute(
                "SELECT id, sensor_id, metric, unit FROM series"
            )
        }
        held = conn.execute("SELECT 1 FROM held LIMIT 1").fetchone() is not None
        settled = self._settled_ranges()
        if skip:
            settled = merge([*settled, *(SeqRange(a, b) for a, b in skip)])
        stretches = list(gaps(settled, 1))
        if newest_first:
            stretches.reverse()
        order = "DESC" if newest_first else "ASC"
        out: list[OutboxRow] = []
        append = out.append
        new = tuple.__new__  # OutboxRow(...) would cost a Python call per row
        for first, last in stretches:
            # No JOIN, and no held-back test per row unless something is held: this is
            # the hot path of draining a month of backlog.
            sql = (
                "SELECT seq, series_id, ts_us, value, quality, censor FROM readings WHERE seq >= ?"
            )
            params: list[int] = [first]
            if last is not None:
                sql += " AND seq <= ?"
                params.append(last)
            if held:
                sql += " AND seq NOT IN (SELECT seq FROM held)"
            sql += f" ORDER BY seq {order} LIMIT ?"
            params.append(limit - len(out))
            for seq, sid, ts_us, value, quality, censor in conn.execute(sql, params):
                sensor, metric, unit = series[sid]
                nan_safe = math.nan if value is None else value
                append(
                    new(OutboxRow, (seq, sensor, metric, unit, ts_us, nan_safe, quality, censor))
                )
            if len(out) >= limit:
                break
        return out

    def _check_ranges(self, ranges: Iterable[SeqRange | tuple[int, int]]) -> list[SeqRange]:
        wanted = merge(r if isinstance(r, SeqRange) else SeqRange(*r) for r in ranges)
        last_seq = self.database.last_seq()
        for block in wanted:
            if last_seq is None or block.last > last_seq:
                raise ValueError(
                    f"range {block} goes beyond the last sequence number stored ({last_seq})"
                )
        return wanted

    def _settle(self, table: str, ranges: Iterable[SeqRange | tuple[int, int]], reason: str) -> int:
        wanted = self._check_ranges(ranges)
        now_us = to_us(datetime.now(UTC))
        with self.database.write(f"settling ranges in {table}"):
            conn = self.database.connection
            new = subtract(wanted, self._settled_ranges())
            count = 0
            for block in new:
                count += int(
                    conn.execute(
                        "SELECT count(*) FROM readings WHERE seq BETWEEN ? AND ?",
                        (block.first, block.last),
                    ).fetchone()[0]
                )
                conn.execute(
                    "DELETE FROM held WHERE seq BETWEEN ? AND ?", (block.first, block.last)
                )
                conn.execute(
                    "INSERT INTO settled_log (first, last, at_us) VALUES (?, ?, ?)",
                    (block.first, block.last, now_us),
                )
            if table == "acked":
                merged = merge(
                    [SeqRange(a, b) for a, b in conn.execute("SELECT first, last FROM acked")] + new
                )
                conn.execute("DELETE FROM acked")
                conn.executemany(
                    "INSERT INTO acked (first, last) VALUES (?, ?)",
                    [(b.first, b.last) for b in merged],
                )
                conn.execute("UPDATE counters SET value = value + ? WHERE name = 'acked'", (count,))
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('last_acknowledged_at', ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (str(now_us),),
                )
            else:
                conn.executemany(
                    "INSERT INTO rejected (first, last, reason, at_us) VALUES (?, ?, ?, ?)",
                    [(b.first, b.last, reason, now_us) for b in new],
                )
                conn.execute(
                    "UPDATE counters SET value = value + ? WHERE name = 'rejected'", (count,)
                )
            self._settled = None
        return count

    def acknowledge(self, ranges: Iterable[SeqRange | tuple[int, int]]) -> int:
        """Record that the hub has committed ``ranges``; returns readings newly acknowledged.

        Acknowledgements are a monotone union: they may come in any order, overlap or
        repeat, and nothing is ever un-acknowledged.

        Raises:
            ValueError: a range reaches past the last sequence number stored.
        """
        return self._settle("acked", ranges, "")

    def reject(self, ranges: Iterable[SeqRange | tuple[int, int]], reason: str) -> int:
        """Record that the hub refused ``ranges``: kept and counted, never offered again."""
        return self._settle("rejected", ranges, reason)

    def acknowledged_ranges(self) -> list[SeqRange]:
        """Every acknowledged sequence number, as merged ranges."""
        return [
            SeqRange(a, b)
            for a, b in self.database.connection.execute(
                "SELECT first, last FROM acked ORDER BY first"
            )
        ]

    def rejected_ranges(self) -> list[RejectedRange]:
        """Every range the hub rejected, with its reason."""
        return [
            RejectedRange(a, b, reason, from_us(at))
            for a, b, reason, at in self.database.connection.execute(
                "SELECT first, last, reason, at_us FROM rejected ORDER BY first"
            )
        ]

    def dropped_ranges(self) -> list[DroppedRange]:
        """Every range of unacknowledged readings deleted under the size cap."""
        return [
            DroppedRange(a, b, count, reason, from_us(at))
            for a, b, count, reason, at in self.database.connection.execute(
                "SELECT first, last, count, reason, at_us FROM dropped ORDER BY first"
            )
        ]
