"""A batch of plain readings into PostgreSQL in bulk: one packed binary COPY, rollups in SQL.

Most batches are plain: every value a number a DOUBLE PRECISION column keeps bit for bit
(no NaN, no -0.0), no censored reading, every time plausible. For those the PostgreSQL
hub store copies only the five columns that differ from reading to reading
(:func:`copy_data`, packed by :mod:`struct` rather than by a Python call per row) into a
temporary table, and the server adds them to the readings, the hourly rollups, the
sequence spans and the latest values (the SQL below), doing per row in C what
:meth:`hub.store_sql_rollups.RollupTables._roll_up` and
:func:`hub.store_sql_ingest.newest_per_series` do in Python for the other batches and
for SQLite, with the same results.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator, Sequence
from itertools import repeat
from typing import overload

from hub.store_sql_base import HOUR_US, NOT_LATEST, NOT_ROLLED_UP, Row

CREATE = (
    "CREATE TEMP TABLE IF NOT EXISTS incoming_plain (seq BIGINT NOT NULL, "
    "series_id BIGINT NOT NULL, ts_us BIGINT NOT NULL, value DOUBLE PRECISION NOT NULL, "
    "quality INTEGER NOT NULL) ON COMMIT DELETE ROWS"
)
COPY = "COPY incoming_plain (seq, series_id, ts_us, value, quality) FROM STDIN (FORMAT BINARY)"
EMPTY = "DELETE FROM incoming_plain"
"""Emptied at each commit; inside a group commit (several batches in one transaction),
before each batch's COPY."""
INSERT = (
    "INSERT INTO readings (device_id, store_epoch, seq, series_id, ts_us, value, value_bits, "
    "quality, censor, received_us) SELECT %(device)s::text, %(epoch)s::bigint, seq, "
    "series_id, ts_us, value, NULL, quality, NULL, %(received)s::bigint FROM incoming_plain "
    "ON CONFLICT DO NOTHING"
)
INSERT_NEW = INSERT.removesuffix(" ON CONFLICT DO NOTHING")
"""INSERT without ON CONFLICT, for a batch no earlier one has brought: PostgreSQL's
speculative insertion doubles the cost of an insert (3.9 against 1.8 µs a row measured
here), and a fresh batch cannot conflict: the device's lock, taken before, keeps its
other batches waiting, and each records its seqs as received. A unique violation (rows
stored without their received ranges) sends the batch the safe way again."""
UNSEEN = (
    " WHERE NOT EXISTS (SELECT 1 FROM received r WHERE r.device_id = %(device)s::text "
    "AND r.store_epoch = %(epoch)s::bigint AND i.seq BETWEEN r.first_seq AND r.last_seq)"
)
INSERT_UNSEEN = INSERT.replace(
    "FROM incoming_plain ON CONFLICT", f"FROM incoming_plain i{UNSEEN} ON CONFLICT"
)
"""INSERT of the rows whose seqs no received range covers: the readings' key holds ts_us
(their partition key), so a seq sent again with another time does not conflict, and the
received ranges, read under the device's lock, are what keep it out. ON CONFLICT still
skips exact copies stored without their ranges."""
INSERT_UNSEEN_ROWS = (
    "INSERT INTO readings SELECT i.* FROM incoming i WHERE NOT EXISTS (SELECT 1 FROM "
    "received r WHERE r.device_id = i.device_id AND r.store_epoch = i.store_epoch "
    "AND i.seq BETWEEN r.first_seq AND r.last_seq) ON CONFLICT DO NOTHING"
)
"""The same for rows that are not plain, copied whole into the ``incoming`` table."""
RECEIVED_BEFORE = (
    "SELECT 1 FROM received WHERE device_id = %s AND store_epoch = %s AND last_seq >= %s "
    "AND first_seq <= %s LIMIT 1"
)
# The same upserts as the shared SQL's, in the same key order (two writers of one device
# never meet here: both hold its row's lock). Times of plain rows are never negative, so
# "%" ("%%" among psycopg's parameters) is the floor hub.store_sql_rollups.hour_of takes.
# SUM in seq order adds the values in the Python's order: the totals agree to the bit.
SEQ_HOURS = (
    "INSERT INTO seq_hours (device_id, hour_us, store_epoch, first_seq, last_seq) "  # noqa: S608
    f"SELECT %(device)s::text, ts_us - ts_us %% {HOUR_US}, %(epoch)s::bigint, MIN(seq), "
    "MAX(seq) FROM incoming_plain GROUP BY 2 ORDER BY 2 "
    "ON CONFLICT (device_id, hour_us, store_epoch) DO UPDATE SET "
    "first_seq = LEAST(excluded.first_seq, seq_hours.first_seq), "
    "last_seq = GREATEST(excluded.last_seq, seq_hours.last_seq)"
)
HOURLY = (
    "INSERT INTO hourly (device_id, series_id, hour_us, n, total, low, high) "  # noqa: S608
    f"SELECT %(device)s::text, series_id, ts_us - ts_us %% {HOUR_US}, COUNT(*), "
    "SUM(value ORDER BY seq), MIN(value), MAX(value) FROM incoming_plain "
    f"WHERE quality & {NOT_ROLLED_UP} = 0 AND value <> 'Infinity' AND value <> '-Infinity' "
    "GROUP BY 2, 3 ORDER BY 2, 3 "
    "ON CONFLICT (device_id, series_id, hour_us) DO UPDATE SET "
    "n = hourly.n + excluded.n, total = hourly.total + excluded.total, "
    "low = LEAST(excluded.low, hourly.low), high = GREATEST(excluded.high, hourly.high)"
)
LATEST = (
    "INSERT INTO latest (device_id, series_id, ts_us, value) "  # noqa: S608
    "SELECT DISTINCT ON (i.series_id) %(device)s::text, i.series_id, i.ts_us, i.value "
    "FROM incoming_plain i JOIN (SELECT series_id, MAX(ts_us) AS ts_us FROM incoming_plain "
    f"WHERE quality & {NOT_LATEST} = 0 GROUP BY series_id) newest "
    "ON newest.series_id = i.series_id AND newest.ts_us = i.ts_us "
    f"WHERE i.quality & {NOT_LATEST} = 0 "
    "ORDER BY i.series_id, i.seq "  # the first of the newest, as the Python keeps
    "ON CONFLICT (device_id, series_id) DO UPDATE SET ts_us = excluded.ts_us, "
    "value = excluded.value WHERE excluded.ts_us > latest.ts_us"
)

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
TRAILER = struct.pack(">h", -1)
ROW = struct.Struct(">hiqiqiqidii")
"""One row of incoming_plain in binary COPY: 5 fields, each its length and its value."""


class PlainRows(Sequence[Row]):
    """A batch's rows of the readings table, all plain, kept as their varying columns.

    The store copies exactly these rows into ``incoming_plain`` in the batch's
    transaction; a list of other rows (some refused, or received before) is a plain list.
    A row is made only when asked for: thousands of live tuples a batch would cost the
    hub's writers more in garbage collection than in making them.
    """

    def __init__(
        self,
        device_id: str,
        epoch: int,
        received_us: int,
        columns: tuple[Sequence[int], Sequence[int], Sequence[int], Sequence[float], Sequence[int]],
    ) -> None:
        self.device_id = device_id
        self.epoch = epoch
        self.received_us = received_us
        self.columns = columns

    def __len__(self) -> int:
        return len(self.columns[0])

    @overload
    def __getitem__(self, index: int) -> Row: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Row]: ...

    def __getitem__(self, index: int | slice) -> Row | Sequence[Row]:
        if isinstance(index, slice):
            return list(self)[index]
        seqs, series, stamps, values, qualities = self.columns
        return self._row(seqs[index], series[index], stamps[index], values[index], qualities[index])

    def __iter__(self) -> Iterator[Row]:
        return map(self._row, *self.columns)

    def _row(self, seq: int, series: int, ts_us: int, value: float, quality: int) -> Row:
        return (
            self.device_id,
            self.epoch,
            seq,
            series,
            ts_us,
            value,
            None,
            quality,
            None,
            self.received_us,
        )


def plain_values(values: Sequence[float]) -> bool:
    """Whether every value goes into a DOUBLE PRECISION column bit for bit (no NaN, -0.0)."""
    if any(map(math.isnan, values)):
        return False
    return 0.0 not in values or not any(
        v == 0 and math.copysign(1.0, v) < 0 for v in values if v == 0
    )


def copy_data(rows: PlainRows) -> bytes:
    """The binary COPY stream of the rows' (seq, series_id, ts_us, value, quality)."""
    seqs, series, stamps, values, qualities = rows.columns
    body = b"".join(
        map(
            ROW.pack,
            repeat(5, len(seqs)),
            repeat(8),
            seqs,
            repeat(8),
            series,
            repeat(8),
            stamps,
            repeat(8),
            values,
            repeat(4),
            qualities,
        )
    )
    return SIGNATURE + body + TRAILER
