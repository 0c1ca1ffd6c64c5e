"""The node's durable SQLite store: readings, sequence numbers, acknowledgements, rollups."""

from __future__ import annotations

import errno
import logging
import math
import os
import secrets
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import repeat
from operator import attrgetter, mul
from pathlib import Path
from types import TracebackType
from typing import Any, Literal
from zoneinfo import ZoneInfo

from edge import rollups
from edge.clock import ClockSample
from edge.migrations import LATEST_VERSION, migrate
from edge.ranges import SeqRange, gaps, merge, subtract
from edge.rollups import LocalDays, Resolution, Rollup
from sensors.reading import Censor, Quality, Reading, SensorInfo

log = logging.getLogger(__name__)

__all__ = [
    "DroppedRange",
    "EdgeStore",
    "HealthRecord",
    "RejectedRange",
    "Rollup",
    "SeqRange",
    "StoreCorrupt",
    "StoreError",
    "StoreFull",
    "StoreReadOnly",
    "StoreStats",
    "StoreTooNew",
    "StoredReading",
]

SQLITE_FULL = 13
SQLITE_READONLY = 8
SQLITE_CANTOPEN = 14
SQLITE_CORRUPT = 11
SQLITE_NOTADB = 26
SQLITE_IOERR = 10


class StoreError(Exception):
    """Base of every error of the edge store."""


class StoreCorrupt(StoreError):
    """The database file is damaged or is not a hallsense database."""


class StoreTooNew(StoreError):
    """The database was written by a newer hallsense than this one."""


class StoreReadOnly(StoreError, OSError):
    """The database cannot be written (a read-only disk or directory)."""


class StoreFull(StoreError, OSError):
    """The disk is full: nothing was written, the database is intact."""


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


def _us(moment: datetime) -> int:
    return round(moment.timestamp() * 1_000_000)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _from_us(us: int) -> datetime:
    # Exact to the microsecond, unlike fromtimestamp() of a float.
    return _EPOCH + timedelta(microseconds=us)


def _sqlite_code(error: sqlite3.Error) -> int:
    return int(getattr(error, "sqlite_errorcode", 0)) & 0xFF


_SERIES_KEY = attrgetter("sensor_id", "metric", "unit")
_TIMESTAMP = attrgetter("timestamp")
_VALUE = attrgetter("value")
_QUALITY = attrgetter("quality")
_CENSOR = attrgetter("censor")
_MICRO = repeat(1_000_000)

INSERT_PLAIN = "INSERT INTO readings (series_id, ts_us, value, quality) VALUES (?, ?, ?, ?)"
INSERT_CENSORED = (
    "INSERT INTO readings (series_id, ts_us, value, quality, censor) VALUES (?, ?, ?, ?, ?)"
)

SELECT_READINGS = (
    "SELECT r.seq, s.sensor_id, s.metric, r.value, s.unit, r.ts_us, r.quality, r.censor "
    "FROM readings r JOIN series s ON s.id = r.series_id "
)


_QUALITIES: dict[int, Quality] = {}


def _quality(bits: int) -> Quality:
    # Building an IntFlag member is slow; a node sees only a handful of combinations.
    found = _QUALITIES.get(bits)
    if found is None:
        found = _QUALITIES[bits] = Quality(bits)
    return found


def _row(row: tuple[int, str, str, float | None, str, int, int, str | None]) -> StoredReading:
    seq, sensor_id, metric, value, unit, ts_us, quality, censor = row
    return StoredReading(
        sensor_id,
        metric,
        math.nan if value is None else value,
        unit,
        _from_us(ts_us),
        _quality(quality),
        Censor(censor) if censor else None,
        seq=seq,
    )


class EdgeStore:
    """The node's SQLite database (WAL), written by one agent and read by anyone.

    A reading's identity is ``(store_epoch, seq)``: ``seq`` counts up and is never
    reused (AUTOINCREMENT), ``store_epoch`` is a random 64-bit number made with the
    database. One instance writes, from one thread; readers (status, exports, the page)
    open it with ``readonly=True``, which can never write. Opening a corrupt, newer or
    unwritable database raises a :class:`StoreError` naming the file and touches nothing.
    """

    def __init__(
        self,
        path: Path,
        *,
        timezone: str = "Europe/London",
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
        readonly: bool = False,
    ) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self.days = LocalDays(ZoneInfo(timezone))
        self._series: dict[tuple[str, str, str], int] = {}
        self._settled: list[SeqRange] | None = None
        self._conn: sqlite3.Connection | None = None
        exists = self.path.exists()
        if exists:
            self._check_existing()
        elif readonly:
            raise StoreError(f"no database at {self.path}")
        try:
            self._conn = self._connect(synchronous)
            if not readonly:
                migrate(self._conn)
                self._ensure_epoch()
            self.store_epoch = int(self._meta("store_epoch"))
        except sqlite3.Error as error:
            self.close()
            raise self._translate(error, "open") from error
        except BaseException:
            self.close()
            raise

    # --- opening ---

    def _check_existing(self) -> None:
        """Refuse a corrupt or newer file before anything could write to it."""
        try:
            with self.path.open("rb") as f:
                header = f.read(100)
            size = self.path.stat().st_size
        except OSError as error:
            raise StoreError(f"cannot read the database {self.path}: {error.strerror}") from error
        if size == 0:
            return  # an empty file is a database not yet begun
        if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
            raise StoreCorrupt(f"{self.path} is not a SQLite database (damaged or wrong file)")
        page_size = int.from_bytes(header[16:18], "big")
        page_size = 65536 if page_size == 1 else page_size
        pages = int.from_bytes(header[28:32], "big")
        valid = header[92:96] == header[96:100]
        if page_size < 512 or (valid and pages * page_size > size):
            raise StoreCorrupt(
                f"{self.path} is damaged: it is shorter than its header says "
                f"({size} of {pages * page_size} bytes)"
            )
        try:
            try:
                version = self._probe("mode=ro")
            except sqlite3.OperationalError as error:
                if _sqlite_code(error) != SQLITE_CANTOPEN:
                    raise
                # No -shm and a directory we cannot write: nobody is writing either.
                version = self._probe("mode=ro&immutable=1")
        except sqlite3.Error as error:
            if _sqlite_code(error) in (SQLITE_CORRUPT, SQLITE_NOTADB):
                raise StoreCorrupt(f"{self.path} is damaged: {error}") from error
            raise self._translate(error, "open") from error
        if version > LATEST_VERSION:
            raise StoreTooNew(
                f"{self.path} has schema version {version}, but this hallsense only knows "
                f"versions up to {LATEST_VERSION}: upgrade hallsense"
            )

    def _probe(self, options: str) -> int:
        """The schema version, read without writing anything; raises on a damaged file."""
        probe = sqlite3.connect(f"file:{self.path}?{options}", uri=True)
        try:
            version = int(probe.execute("PRAGMA user_version").fetchone()[0])
            probe.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            probe.close()
        return version

    def _connect(self, synchronous: str) -> sqlite3.Connection:
        if self.readonly:
            conn = sqlite3.connect(
                f"file:{self.path}?mode=ro",
                uri=True,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.execute("PRAGMA busy_timeout = 5000")
            try:
                conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
            except sqlite3.OperationalError:
                # A WAL database with no -shm in a place we cannot write: after a clean
                # shutdown there is no writer, so reading it as immutable is safe.
                conn.close()
                conn = sqlite3.connect(
                    f"file:{self.path}?mode=ro&immutable=1",
                    uri=True,
                    isolation_level=None,
                    check_same_thread=False,
                )
            return conn
        directory = self.path.parent
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreReadOnly(
                f"cannot create the directory for the database {self.path}: {error.strerror}"
            ) from error
        if not os.access(directory, os.W_OK) or (
            self.path.exists() and not os.access(self.path, os.W_OK)
        ):
            raise StoreReadOnly(
                f"cannot write the database {self.path}: its disk or directory is read-only"
            )
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 5000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        conn.execute("PRAGMA journal_size_limit = 67108864")
        conn.execute("PRAGMA foreign_keys = OFF")
        return conn

    def _ensure_epoch(self) -> None:
        conn = self._db
        if conn.execute("SELECT 1 FROM meta WHERE key = 'store_epoch'").fetchone():
            return
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('store_epoch', ?), ('created_at', ?)",
            (str(secrets.randbits(64)), datetime.now(UTC).isoformat()),
        )
        conn.executemany(
            "INSERT INTO counters (name, value) VALUES (?, 0)",
            [(name,) for name in ("appended", "acked", "rejected", "dropped", "deleted")],
        )
        conn.execute("COMMIT")

    def _translate(self, error: sqlite3.Error, doing: str) -> StoreError:
        code = _sqlite_code(error)
        if code == SQLITE_FULL or (code == SQLITE_IOERR and _disk_free(self.path.parent) == 0):
            return StoreFull(f"the disk holding {self.path} is full ({doing}): {error}")
        if code == SQLITE_READONLY:
            return StoreReadOnly(f"cannot write the database {self.path}: it is read-only")
        if code == SQLITE_CANTOPEN:
            return StoreError(f"cannot open the database {self.path}: {error}")
        if code in (SQLITE_CORRUPT, SQLITE_NOTADB):
            return StoreCorrupt(f"{self.path} is damaged: {error}")
        return StoreError(f"database {self.path}: {error} ({doing})")

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"the store {self.path} is closed")
        return self._conn

    def _meta(self, key: str) -> str:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise StoreCorrupt(f"{self.path} is not a hallsense database (no {key})")
        return str(row[0])

    # --- writing ---

    def _write(self, doing: str) -> _Transaction:
        if self.readonly:
            raise StoreReadOnly(f"the store {self.path} was opened read-only")
        return _Transaction(self, doing)

    def _series_id(self, sensor_id: str, metric: str, unit: str) -> int:
        key = (sensor_id, metric, unit)
        found = self._series.get(key)
        if found is not None:
            return found
        conn = self._db
        row = conn.execute(
            "SELECT id FROM series WHERE sensor_id = ? AND metric = ? AND unit = ?", key
        ).fetchone()
        if row is None:
            cursor = conn.execute(
                "INSERT INTO series (sensor_id, metric, unit) VALUES (?, ?, ?)", key
            )
            series_id = int(cursor.lastrowid or 0)
        else:
            series_id = int(row[0])
        self._series[key] = series_id
        return series_id

    def register_sensors(self, infos: Sequence[SensorInfo]) -> None:
        """Record what each sensor is (part, accuracy, resolution)."""
        if not infos:
            return
        with self._write("registering sensors"):
            for info in infos:
                series_id = self._series_id(info.sensor_id, info.metric, info.unit)
                self._db.execute(
                    "UPDATE series SET part = ?, accuracy = ?, resolution = ?, description = ? "
                    "WHERE id = ?",
                    (info.part, info.accuracy, info.resolution, info.description, series_id),
                )

    def _rows(self, readings: Sequence[Reading], unsynced: int) -> list[tuple[Any, ...]]:
        """The readings as rows (series_id, ts_us, value, quality[, censor if any]).

        This is the hot path of every commit, so the columns are built with ``map`` over
        attribute getters (loops that run in C) rather than a Python loop per reading.
        """
        keys = list(map(_SERIES_KEY, readings))
        series: list[int | None] = list(map(self._series.get, keys))
        if None in series:
            series = [self._series_id(*key) for key in keys]
        stamps = map(round, map(mul, map(datetime.timestamp, map(_TIMESTAMP, readings)), _MICRO))
        values: list[float | None] = list(map(_VALUE, readings))
        qualities = list(map(int, map(_QUALITY, readings)))
        if unsynced:
            qualities = [quality | unsynced for quality in qualities]
        if any(map(math.isnan, values)):  # type: ignore[arg-type]
            nan_flag = int(Quality.NOT_A_NUMBER)
            for i, value in enumerate(values):
                if value != value:  # SQLite would store NULL for NaN anyway
                    values[i] = None
                    qualities[i] |= nan_flag
        censors: list[str | None] = list(map(_CENSOR, readings))
        if any(censors):
            censors = [None if c is None else str(Censor(c).value) for c in censors]
            return list(zip(series, stamps, values, qualities, censors, strict=True))
        # Binding a NULL costs as much as a third of an insert: leave the column out.
        return list(zip(series, stamps, values, qualities, strict=True))

    def append(self, readings: Sequence[Reading], clock: ClockSample) -> SeqRange | None:
        """Store ``readings`` in one transaction; returns the sequence numbers they got.

        ``clock`` is the clock as read when the readings were taken: when it was not
        synchronised, each reading is flagged ``CLOCK_UNSYNCED`` and held back (with its
        boot id and monotonic time) until :meth:`correct_clock` settles its time.

        Raises:
            StoreFull: the disk is full; nothing was written.
        """
        if not readings:
            return None
        unsynced = 0 if clock.synchronised else int(Quality.CLOCK_UNSYNCED)
        try:
            with self._write("appending readings"):
                rows = self._rows(readings, unsynced)
                conn = self._db
                conn.executemany(INSERT_CENSORED if len(rows[0]) == 5 else INSERT_PLAIN, rows)
                last = int(conn.execute("SELECT last_insert_rowid()").fetchone()[0])
                first = last - len(rows) + 1
                if unsynced:
                    wall_ns = _us(clock.wall) * 1000
                    conn.executemany(
                        "INSERT INTO held (seq, boot_id, mono_ns) VALUES (?, ?, ?)",
                        [
                            (
                                first + i,
                                clock.boot_id,
                                clock.monotonic_ns - (wall_ns - row[1] * 1000),
                            )
                            for i, row in enumerate(rows)
                        ],
                    )
                else:
                    rollups.save(conn, rollups.aggregate_stored(conn, first, last, self.days))
                latest = {row[0]: first + i for i, row in enumerate(rows)}
                conn.executemany(
                    "INSERT INTO latest (series_id, seq) VALUES (?, ?) "
                    "ON CONFLICT (series_id) DO UPDATE SET seq = excluded.seq",
                    latest.items(),
                )
                conn.execute(
                    "UPDATE counters SET value = value + ? WHERE name = 'appended'", (len(rows),)
                )
        except BaseException:
            self._series.clear()  # ids made in a rolled-back transaction are gone
            raise
        return SeqRange(first, last)

    # --- the uplink's view ---

    def _settled_ranges(self) -> list[SeqRange]:
        if self._settled is None or self.readonly:
            conn = self._db
            self._settled = merge(
                [SeqRange(a, b) for a, b in conn.execute("SELECT first, last FROM acked")]
                + [SeqRange(a, b) for a, b in conn.execute("SELECT first, last FROM rejected")]
            )
        return self._settled

    def _unsettled_rows(
        self,
        *,
        newest_first: bool,
        include_held: bool,
        limit: int | None,
        skip: Sequence[tuple[int, int]] = (),
    ) -> Iterator[StoredReading]:
        """Rows neither acknowledged nor rejected, walking the gaps between settled ranges."""
        for row in self._unsettled_tuples(
            newest_first=newest_first, include_held=include_held, limit=limit, skip=skip
        ):
            yield _row(row)

    def _unsettled_tuples(
        self,
        *,
        newest_first: bool,
        include_held: bool,
        limit: int | None,
        skip: Sequence[tuple[int, int]] = (),
    ) -> Iterator[tuple[Any, ...]]:
        conn = self._db
        settled = self._settled_ranges()
        if skip:
            settled = merge([*settled, *(SeqRange(a, b) for a, b in skip)])
        stretches = list(gaps(settled, 1))
        if newest_first:
            stretches.reverse()
        held_clause = "" if include_held else " AND r.seq NOT IN (SELECT seq FROM held)"
        order = "DESC" if newest_first else "ASC"
        remaining = limit
        for first, last in stretches:
            sql = SELECT_READINGS + "WHERE r.seq >= ?" + held_clause
            params: list[int] = [first]
            if last is not None:
                sql += " AND r.seq <= ?"
                params.append(last)
            sql += f" ORDER BY r.seq {order}"
            if remaining is not None:
                sql += " LIMIT ?"
                params.append(remaining)
            for row in conn.execute(sql, params):
                yield row
                if remaining is not None:
                    remaining -= 1
            if remaining is not None and remaining <= 0:
                return

    def outbox_rows(
        self, limit: int, *, newest_first: bool = True, skip: Sequence[tuple[int, int]] = ()
    ) -> list[tuple[int, str, str, str, int, float, int, str | None]]:
        """The uplink's fast path: up to ``limit`` readings to send, as plain tuples.

        Each is (seq, sensor_id, metric, unit, ts_us, value, quality, censor); ``skip``
        lists ranges already in flight. Held-back readings are never offered.
        """
        if limit <= 0:
            return []
        conn = self._db
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
        out: list[tuple[int, str, str, str, int, float, int, str | None]] = []
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
                out.append((seq, sensor, metric, unit, ts_us, nan_safe, quality, censor))
            if len(out) >= limit:
                break
        return out

    def _check_ranges(self, ranges: Iterable[SeqRange | tuple[int, int]]) -> list[SeqRange]:
        wanted = merge(r if isinstance(r, SeqRange) else SeqRange(*r) for r in ranges)
        last_seq = self._last_seq()
        for block in wanted:
            if last_seq is None or block.last > last_seq:
                raise ValueError(
                    f"range {block} goes beyond the last sequence number stored ({last_seq})"
                )
        return wanted

    def _settle(self, table: str, ranges: Iterable[SeqRange | tuple[int, int]], reason: str) -> int:
        wanted = self._check_ranges(ranges)
        now_us = _us(datetime.now(UTC))
        with self._write(f"settling ranges in {table}"):
            conn = self._db
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
            for a, b in self._db.execute("SELECT first, last FROM acked ORDER BY first")
        ]

    def rejected_ranges(self) -> list[RejectedRange]:
        """Every range the hub rejected, with its reason."""
        return [
            RejectedRange(a, b, reason, _from_us(at))
            for a, b, reason, at in self._db.execute(
                "SELECT first, last, reason, at_us FROM rejected ORDER BY first"
            )
        ]

    def dropped_ranges(self) -> list[DroppedRange]:
        """Every range of unacknowledged readings deleted under the size cap."""
        return [
            DroppedRange(a, b, count, reason, _from_us(at))
            for a, b, count, reason, at in self._db.execute(
                "SELECT first, last, count, reason, at_us FROM dropped ORDER BY first"
            )
        ]

    # --- the clock ---

    def correct_clock(self, now: ClockSample, *, hold_max_s: float) -> tuple[int, int]:
        """Settle the time of readings held back for an unsynchronised clock.

        Once ``now`` is synchronised, readings of the same boot get their true time from
        their monotonic time (flag ``CLOCK_CORRECTED``) and join the rollups at it.
        Readings of another boot can never be corrected, and readings of this boot held
        longer than ``hold_max_s`` are given up on: both are released flagged
        ``CLOCK_UNCORRECTABLE``, and stay out of the rollups. Returns (corrected,
        declared uncorrectable).
        """
        conn = self._db
        if conn.execute("SELECT 1 FROM held LIMIT 1").fetchone() is None:
            return 0, 0
        offset_ns = _us(now.wall) * 1000 - now.monotonic_ns
        expiry_ns = now.monotonic_ns - int(hold_max_s * 1e9)
        corrected = uncorrectable = 0
        with self._write("correcting the clock"):
            if now.synchronised:
                rows = conn.execute(
                    "SELECT h.seq, h.mono_ns, r.series_id, r.value, r.quality FROM held h "
                    "JOIN readings r ON r.seq = h.seq WHERE h.boot_id = ?",
                    (now.boot_id,),
                ).fetchall()
                fixed = []
                for seq, mono_ns, series_id, value, quality in rows:
                    ts_us = (mono_ns + offset_ns) // 1000
                    quality = (quality & ~Quality.CLOCK_UNSYNCED) | Quality.CLOCK_CORRECTED
                    fixed.append((seq, ts_us, int(quality), series_id, value))
                conn.executemany(
                    "UPDATE readings SET ts_us = ?, quality = ? WHERE seq = ?",
                    [(ts, q, seq) for seq, ts, q, _, _ in fixed],
                )
                rollups.save(
                    conn,
                    rollups.aggregate(
                        ((sid, ts, v, q, None) for _, ts, q, sid, v in fixed), self.days
                    ),
                )
                conn.execute("DELETE FROM held WHERE boot_id = ?", (now.boot_id,))
                corrected = len(fixed)
            flag = int(Quality.CLOCK_UNCORRECTABLE)
            unsynced = int(Quality.CLOCK_UNSYNCED)
            condition = "boot_id != ? OR mono_ns < ?"
            uncorrectable = conn.execute(
                f"UPDATE readings SET quality = (quality & ~{unsynced}) | {flag} "
                f"WHERE seq IN (SELECT seq FROM held WHERE {condition})",
                (now.boot_id, expiry_ns),
            ).rowcount
            conn.execute(f"DELETE FROM held WHERE {condition}", (now.boot_id, expiry_ns))
        return corrected, uncorrectable

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
        from edge.retention import enforce

        return enforce(
            self,
            now,
            raw_retention_days=raw_retention_days,
            minute_rollup_days=minute_rollup_days,
            rollup_days=rollup_days,
            max_bytes=max_bytes,
        )

    def used_bytes(self) -> int:
        """Bytes of the database in use (pages not on the free list)."""
        conn = self._db
        pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
        free = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
        size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        return (pages - free) * size

    # --- reading ---

    def _last_seq(self) -> int | None:
        row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'readings'").fetchone()
        return int(row[0]) if row is not None else None

    def stats(self) -> StoreStats:
        """Counts and sizes, cheaply (from counters, not by counting rows)."""
        conn = self._db
        counters = dict(conn.execute("SELECT name, value FROM counters"))
        stored = counters["appended"] - counters["deleted"] - counters["dropped"]
        backlog = (
            counters["appended"] - counters["acked"] - counters["rejected"] - counters["dropped"]
        )
        held = int(conn.execute("SELECT count(*) FROM held").fetchone()[0])
        oldest = next(self._unsettled_rows(newest_first=False, include_held=True, limit=1), None)
        last_ack = conn.execute(
            "SELECT value FROM meta WHERE key = 'last_acknowledged_at'"
        ).fetchone()
        try:
            db_bytes = self.path.stat().st_size
            wal = self.path.with_name(self.path.name + "-wal")
            db_bytes += wal.stat().st_size if wal.exists() else 0
        except OSError:
            db_bytes = 0
        return StoreStats(
            store_epoch=self.store_epoch,
            last_seq=self._last_seq(),
            readings_stored=stored,
            backlog=backlog,
            held_back=held,
            oldest_unacknowledged=oldest.timestamp if oldest is not None else None,
            acknowledged=counters["acked"],
            rejected=counters["rejected"],
            dropped=counters["dropped"],
            db_bytes=db_bytes,
            last_acknowledged_at=_from_us(int(last_ack[0])) if last_ack else None,
        )

    def metrics(self) -> set[str]:
        """Every metric a sensor of this node has measured or registered.

        A driver registers its sensors when the agent starts, before its first reading.
        """
        return {metric for (metric,) in self._db.execute("SELECT DISTINCT metric FROM series")}

    def latest(self) -> list[StoredReading]:
        """The newest reading of each sensor's metric."""
        return [
            _row(row)
            for row in self._db.execute(
                SELECT_READINGS + "JOIN latest l ON l.seq = r.seq ORDER BY s.sensor_id, s.metric"
            )
        ]

    def readings_between(
        self, start: datetime, end: datetime, *, metrics: Collection[str] | None = None
    ) -> Iterator[StoredReading]:
        """Readings stamped in [start, end), in sequence order, streamed.

        ``metrics`` keeps only those metrics (chosen in SQL, so the rest cost nothing).
        """
        sql = SELECT_READINGS + "WHERE r.ts_us >= ? AND r.ts_us < ?"
        params: list[object] = [_us(start), _us(end)]
        if metrics is not None:
            wanted = sorted(metrics)
            sql += f" AND s.metric IN ({', '.join('?' * len(wanted))})" if wanted else " AND 0"
            params.extend(wanted)
        cursor = self._db.execute(sql + " ORDER BY r.seq", params)
        while True:
            batch = cursor.fetchmany(1000)
            if not batch:
                return
            for row in batch:
                yield _row(row)

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
        return rollups.query(
            self._db, resolution, start, end, self.days, sensor_id=sensor_id, metric=metric
        )

    def record_health(
        self, driver: str, state: str, last_error: str, failures: int, at: datetime
    ) -> None:
        """Record a driver's health; ``since`` moves only when the state changes."""
        with self._write("recording health"):
            self._db.execute(
                "INSERT INTO health (driver, state, since_us, last_error, failures) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (driver) DO UPDATE SET "
                "since_us = CASE WHEN state = excluded.state THEN since_us "
                "ELSE excluded.since_us END, "
                "state = excluded.state, last_error = excluded.last_error, "
                "failures = excluded.failures",
                (driver, state, _us(at), last_error, failures),
            )

    def health(self) -> list[HealthRecord]:
        """Every driver's last recorded health."""
        return [
            HealthRecord(driver, state, _from_us(since), error, failures)
            for driver, state, since, error, failures in self._db.execute(
                "SELECT driver, state, since_us, last_error, failures FROM health ORDER BY driver"
            )
        ]

    def backup(self, dest: Path) -> None:
        """Copy the live database to ``dest`` with SQLite's backup API (never a file copy)."""
        target = sqlite3.connect(dest)
        try:
            self._db.backup(target)
        except sqlite3.Error as error:
            raise StoreError(f"backing up {self.path} to {dest} failed: {error}") from error
        finally:
            target.close()

    def close(self) -> None:
        """Close the connection; safe to call more than once."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> EdgeStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT, rolled back on any error, SQLite errors translated."""

    def __init__(self, store: EdgeStore, doing: str) -> None:
        self.store = store
        self.doing = doing

    def __enter__(self) -> None:
        try:
            self.store._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as error:
            raise self.store._translate(error, self.doing) from error

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn = self.store._db
        if exc is None:
            try:
                conn.execute("COMMIT")
                return
            except sqlite3.Error as error:
                self._rollback(conn)
                raise self.store._translate(error, self.doing) from error
        self._rollback(conn)
        self.store._settled = None
        if isinstance(exc, sqlite3.Error):
            raise self.store._translate(exc, self.doing) from exc

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error as error:
                log.warning("rollback failed: %s", error)


def _disk_free(directory: Path) -> int:
    try:
        stat = os.statvfs(directory)
    except OSError as error:
        return 0 if error.errno == errno.ENOSPC else -1
    return stat.f_bavail * stat.f_frsize
