"""PostgreSQL's ``readings`` partitioned by time: one partition per UTC month, made ahead.

On PostgreSQL (schema version 9 on) ``readings`` is a declaratively partitioned table,
``PARTITION BY RANGE (ts_us)``: one partition per UTC calendar month (``readings_2026_12``
holds [2026-12-01T00:00Z, 2027-01-01T00:00Z)), and ``readings_default`` for readings
whose time no partition covers. SQLite keeps one unpartitioned table.

What it changes:

- The primary key must hold the partition key: it is (device_id, store_epoch, seq,
  ts_us), so the database no longer refuses the same seq twice with another time. The
  ingest guards that instead (:mod:`hub.store_postgres`): under the device's row lock it
  inserts only the readings whose seqs no received range of the device covers. The key
  still refuses an exact copy, which backs that up.
- Partitions are made ahead: the migration makes the months its data needs and the
  next :data:`MONTHS_AHEAD`; retention makes the months ahead again each time it runs
  (:meth:`ReadingPartitions.prune`); the ingest makes a missing month before the batch's
  transaction (:meth:`ReadingPartitions._cover`), in a transaction of its own under an
  advisory lock, so two workers racing make it once and no insert waits on it. A reading
  the hub finds implausible (a day ahead of it, or a year before its device was
  registered) makes no partition: it goes to ``readings_default`` unless its month is
  there anyway. Rows of a month in ``readings_default`` (a reading from the future,
  whose month has come) move into the month's partition when it is made, in its
  transaction.
- Retention drops whole months (:meth:`ReadingPartitions.prune`): a DROP TABLE of a
  month, after counting its rows, where DELETE has to find them (no index on time: a
  scan of the whole table) and leaves them dead for VACUUM (0.09 to 0.26 s against 0.5
  to 1.3 s for a month of 744,000 readings in a year of 8.8 million, on the bench; the
  DELETE grows with the whole table, the drop with the month's count). Only the month
  the cut falls in, and the default partition, are deleted from. The rollups, in their
  own tables, stay.

The migration from version 8 keeps the old table and attaches it as one partition,
``readings_legacy``, covering the whole months its plausible readings span (the rare
implausible rows outside them move to ``readings_default``). It costs three sequential
reads of the old table (its time range, the rows outside it, the attach's check) and one
index build on (device_id, store_epoch, seq, ts_us), which replaces its old key, and
writes no row again but the few implausible ones: 6 to 11 s for 7.6 million readings
on the bench's two cores (``python -m bench partitions``, docs/benchmarks.md), about
1 µs a reading, so in the order of an hour or two for a county's year at the full rate
(5 billion); a copy would write every row, its index and its WAL again. The hub waits
meanwhile: the migration's transaction holds the table. The legacy partition is pruned
by DELETE (a scan, as before) until all of it is past retention, then dropped whole.
"""

from __future__ import annotations

import logging
import re

from hub.store import HubStoreError
from hub.store_sql_base import DAY_US, SqlTables, now_us

log = logging.getLogger(__name__)

MONTHS_AHEAD = 3
"""Months past the current one that the migration and retention make ahead."""
LOCK_KEY = 0x48534C_52454144  # "HSL" "READ": the advisory lock partition changes take
DEFAULT = "readings_default"
LEGACY = "readings_legacy"
PARTITIONED = """CREATE TABLE readings (
    device_id TEXT NOT NULL, store_epoch BIGINT NOT NULL, seq BIGINT NOT NULL,
    series_id BIGINT NOT NULL, ts_us BIGINT NOT NULL, value DOUBLE PRECISION,
    value_bits BYTEA, quality INTEGER NOT NULL, censor TEXT, received_us BIGINT NOT NULL,
    PRIMARY KEY (device_id, store_epoch, seq, ts_us)) PARTITION BY RANGE (ts_us)"""
IMPLAUSIBLE = 1 << 11  # hub.store.IMPLAUSIBLE_TIME, which the hub sets
FIRST_YEAR, LAST_YEAR = 1000, 9999  # months outside have no partition: four-digit names
_BOUND = re.compile(r"FROM \('?(-?\d+)'?\) TO \('?(-?\d+)'?\)")


def _days_from_civil(year: int, month: int) -> int:
    # Days from 1970-01-01 to the first of a month, for any year (H. Hinnant's algorithm).
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


def month_of(ts_us: int) -> tuple[int, int]:
    """The UTC (year, month) holding ``ts_us``, for any 64-bit time."""
    days = ts_us // DAY_US + 719468
    era = days // 146097
    doe = days - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    month = mp + (3 if mp < 10 else -9)
    return yoe + era * 400 + (month <= 2), month


def month_start(year: int, month: int) -> int:
    """The first microsecond of a UTC month (months past 12 carry into the next years)."""
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return _days_from_civil(year, month) * DAY_US


def month_bounds(year: int, month: int) -> tuple[int, int]:
    """[first, end) microseconds of a UTC month."""
    return month_start(year, month), month_start(year, month + 1)


def partition_name(year: int, month: int) -> str:
    """The partition of a month: ``readings_2026_12``."""
    return f"readings_{year:04d}_{month:02d}"


def months_between(first_us: int, last_us: int) -> list[tuple[int, int]]:
    """Every UTC month from the one holding ``first_us`` to the one holding ``last_us``.

    Months outside the years a partition may have (:data:`FIRST_YEAR`..) are left out.
    """
    first_us = max(first_us, month_start(FIRST_YEAR, 1))
    last_us = min(last_us, month_start(LAST_YEAR + 1, 1) - 1)
    if first_us > last_us:
        return []
    year, month = month_of(first_us)
    end = month_of(last_us)
    out = []
    while (year, month) <= end:
        out.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def parse_bound(bound: str) -> tuple[int, int] | None:
    """[first, end) of a range partition's bound as pg_get_expr gives it; None: DEFAULT."""
    found = _BOUND.search(bound)
    return (int(found[1]), int(found[2])) if found else None


class ReadingPartitions(SqlTables):
    """The monthly partitions of PostgreSQL's readings: made, found, and dropped."""

    _covered: list[tuple[int, int]] | None = None
    """[first, end) ranges of the partitions this connection knows of (None: read them)."""
    _months_after_group: list[tuple[int, int]]
    """Months a group commit under way wants made once it has committed."""

    def _cover_after_group(self) -> None:
        """Make the months the group just committed asked for (see :meth:`_cover`)."""
        wanted = sorted(set(self._months_after_group))
        self._months_after_group = []
        if not wanted:
            return
        try:
            self._cover(month_start(*wanted[0]), month_start(*wanted[-1]), wanted)
        except HubStoreError as error:  # the readings are safe in readings_default
            log.warning("months %s not made yet, next time: %s", wanted, error)

    def _partitions(self) -> list[tuple[str, int, int]]:
        """(name, first, end) of each range partition of readings, oldest first."""
        found = []
        for name, bound in self._query(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'readings'::regclass"
        ):
            span = parse_bound(str(bound))
            if span is not None:
                found.append((str(name), *span))
        return sorted(found, key=lambda p: p[1])

    def _cover(
        self, first_us: int, last_us: int, months: list[tuple[int, int]] | None = None
    ) -> None:
        """Make sure a partition covers every month from ``first_us`` to ``last_us``.

        Or only ``months``, if given (those between ``first_us`` and ``last_us`` that hold
        readings). Months this connection knows are covered cost nothing; the others are
        made in a transaction of their own (so call this outside one).
        """
        if self._covered is None:
            self._covered = [(a, b) for _, a, b in self._partitions()]
        covered = self._covered
        if any(a <= first_us and last_us < b for a, b in covered):
            return
        wanted = months_between(first_us, last_us) if months is None else months
        if all(any(a <= month_start(*m) < b for a, b in covered) for m in wanted):
            return
        if self._in_group:
            # A group commit holds its transaction open: the months are made once it has
            # committed (:meth:`_cover_after_group`); meanwhile these readings wait in
            # readings_default, and move to their month when it is made.
            self._months_after_group.extend(wanted)
            return
        with self._transaction():
            self._run("SELECT pg_advisory_xact_lock(?)", (LOCK_KEY,))
            self._make_months(wanted)
        self._covered = None
        self._covered = [(a, b) for _, a, b in self._partitions()]

    def _make_months(self, months: list[tuple[int, int]]) -> None:
        """Make the months no partition covers yet (under the advisory lock, in a transaction).

        A month's rows already in the default partition (it would refuse a partition that
        leaves them there) move into the new one, in the same transaction.
        """
        existing = [(a, b) for _, a, b in self._partitions()]
        for year, month in months:
            first, end = month_bounds(year, month)
            if any(a < end and first < b for a, b in existing):
                continue
            name = partition_name(year, month)
            # Inserts into the default partition finish first, so their rows move too:
            # left there, they would fail the ATTACH below.
            self._run(f"LOCK TABLE {DEFAULT} IN ACCESS EXCLUSIVE MODE")
            self._run(
                f"CREATE TABLE {name} (LIKE readings INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
            )
            self._run(
                f"WITH moved AS (DELETE FROM {DEFAULT} WHERE ts_us >= ? AND ts_us < ? "  # noqa: S608
                f"RETURNING *) INSERT INTO {name} SELECT * FROM moved",
                (first, end),
            )
            # ATTACH locks readings less than CREATE … PARTITION OF would (SHARE UPDATE
            # EXCLUSIVE, not ACCESS EXCLUSIVE): inserts into other months go on.
            self._run(
                f"ALTER TABLE readings ATTACH PARTITION {name} "
                f"FOR VALUES FROM ({int(first)}) TO ({int(end)})"
            )
            existing.append((first, end))

    def _months_ahead(self) -> None:
        """Make the current UTC month and the next :data:`MONTHS_AHEAD` (outside a transaction)."""
        year, month = month_of(now_us())
        self._cover(month_start(year, month), month_start(year, month + MONTHS_AHEAD + 1) - 1)

    def _partition_readings(self) -> None:
        """Migrate an unpartitioned readings table to the partitioned one, its rows kept.

        In the migration's transaction; see the module's docstring for what it costs.
        """
        self._run("SELECT pg_advisory_xact_lock(?)", (LOCK_KEY,))
        ((kind,),) = self._query("SELECT relkind FROM pg_class WHERE oid = 'readings'::regclass")
        if kind == "p":
            return  # partitioned already (a store whose version was set back by hand)
        self._run(f"ALTER TABLE readings RENAME TO {LEGACY}")
        self._run(f"ALTER TABLE {LEGACY} RENAME CONSTRAINT readings_pkey TO {LEGACY}_old_pkey")
        self._run(PARTITIONED)
        self._run(f"CREATE TABLE {DEFAULT} PARTITION OF readings DEFAULT")
        ((low, high),) = self._query(
            f"SELECT MIN(ts_us), MAX(ts_us) FROM {LEGACY} WHERE quality & {IMPLAUSIBLE} = 0"  # noqa: S608
        )
        months = months_between(low, high) if low is not None else []
        if not months:
            self._run(f"INSERT INTO {DEFAULT} SELECT * FROM {LEGACY}")  # noqa: S608
            self._run(f"DROP TABLE {LEGACY}")
            year, month = month_of(now_us())
            first = month_start(year, month)
        else:
            first, end = month_start(*months[0]), month_start(months[-1][0], months[-1][1] + 1)
            self._run(
                f"WITH moved AS (DELETE FROM {LEGACY} WHERE ts_us < ? OR ts_us >= ? "  # noqa: S608
                f"RETURNING *) INSERT INTO {DEFAULT} SELECT * FROM moved",
                (first, end),
            )
            self._run(
                f"CREATE UNIQUE INDEX {LEGACY}_key ON {LEGACY} (device_id, store_epoch, seq, ts_us)"
            )
            self._run(f"ALTER TABLE {LEGACY} DROP CONSTRAINT {LEGACY}_old_pkey")
            self._run(
                f"ALTER TABLE {LEGACY} ADD CONSTRAINT {LEGACY}_pkey "
                f"PRIMARY KEY USING INDEX {LEGACY}_key"
            )
            self._run(
                f"ALTER TABLE readings ATTACH PARTITION {LEGACY} "
                f"FOR VALUES FROM ({int(first)}) TO ({int(end)})"
            )
            year, month = month_of(max(end, now_us()))
            first = month_start(year, month)
        year, month = month_of(now_us())
        self._make_months(months_between(first, month_start(year, month + MONTHS_AHEAD + 1) - 1))

    def prune(self, before_us: int) -> int:
        """Delete raw readings taken before ``before_us``; returns how many went.

        Every partition wholly before ``before_us`` is dropped, its rows counted first
        (COUNT(*): exact, and a read, far cheaper than deleting them); the rows of the one
        partition ``before_us`` falls in, and of the default partition, are deleted.
        The received ranges and the rollups stay. Then the months ahead are made.
        """
        with self._lock:
            try:
                with self._transaction():
                    self._run("SELECT pg_advisory_xact_lock(?)", (LOCK_KEY,))
                    gone = 0
                    for name, _, end in self._partitions():
                        if end <= before_us:
                            gone += int(self._query(f"SELECT COUNT(*) FROM {name}")[0][0])  # noqa: S608
                            self._run(f"DROP TABLE {name}")
                    gone += self._run("DELETE FROM readings WHERE ts_us < ?", (before_us,))
            finally:
                self._covered = None
            self._months_ahead()
        return gone
