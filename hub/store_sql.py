"""The hub store's logic, written once in SQL both SQLite and PostgreSQL understand."""

from __future__ import annotations

import abc
import hashlib
import json
import math
import struct
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hub.store import (
    DEAD_LETTER_PAYLOAD_BYTES,
    DEAD_LETTER_ROWS,
    FUTURE_TOLERANCE_US,
    IMPLAUSIBLE_TIME,
    PAST_TOLERANCE_US,
    QUARANTINED,
    QUOTA_SERIES,
    SERIES_QUOTA,
    AuditEntry,
    DailyRollup,
    DeadLetter,
    Device,
    DeviceState,
    HourlyRollup,
    Refusal,
    RegisteredDevice,
    SentConfig,
    StoredReading,
    StoreOutcome,
    UnknownDevice,
)
from hub.store_logins import LOGIN_MIGRATION_5, LOGIN_SCHEMA, LoginTables
from hub_sync.protocol import INT64_MIN, Batch, Rejection, WireReading, merge_ranges, seq_runs

NOT_LATEST = 0b1111 | (1 << 8) | (1 << 10) | (1 << 11)
"""Quality bits that keep a reading out of "latest value": bad value, unsettled or
implausible time."""
CENSORED = 1 << 4
NOT_ROLLED_UP = NOT_LATEST | CENSORED
"""The same bits, and a bound ("fewer than 3"), keep a reading out of the hourly rollups,
as the node keeps it out of its own: a bound is not a value to average."""
HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
EPOCH_DAY = date(1970, 1, 1)

MIGRATION_2 = [
    # Provisioning: where a device is, when it was revoked, and who did what to it when.
    "ALTER TABLE devices ADD COLUMN location TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE devices ADD COLUMN revoked_at_us BIGINT",
    """CREATE TABLE audit (
        at_us BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
        device_id TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '')""",
]
"""Schema version 2, the same SQL on SQLite and PostgreSQL."""
MIGRATION_3 = [
    # Credential rotation: set by `provision rotate`, cleared when the node has confirmed.
    "ALTER TABLE devices ADD COLUMN rotation_requested_us BIGINT",
    # The config the hub last sent each node, and when the node said it took effect.
    """CREATE TABLE node_configs (
        device_id TEXT PRIMARY KEY, revision BIGINT NOT NULL, config_json TEXT NOT NULL,
        sent_at_us BIGINT NOT NULL, sent_by TEXT NOT NULL,
        applied_at_us BIGINT, error TEXT NOT NULL DEFAULT '')""",
    # Hourly rollups (UTC hours) of every series, kept as readings arrive: a year's trend
    # reads 8,760 rows a series instead of half a million, and outlives raw retention.
    """CREATE TABLE hourly (
        device_id TEXT NOT NULL, series_id INTEGER NOT NULL, hour_us BIGINT NOT NULL,
        n BIGINT NOT NULL, total DOUBLE PRECISION NOT NULL,
        low DOUBLE PRECISION NOT NULL, high DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (device_id, series_id, hour_us))""",
    # Readings stored before version 3 join the rollups as they are.
    f"""INSERT INTO hourly (device_id, series_id, hour_us, n, total, low, high)
        SELECT device_id, series_id, (ts_us / {HOUR_US}) * {HOUR_US}, COUNT(*), SUM(value),
               MIN(value), MAX(value)
        FROM readings WHERE value IS NOT NULL AND (quality & {NOT_ROLLED_UP}) = 0
        GROUP BY device_id, series_id, (ts_us / {HOUR_US}) * {HOUR_US}""",  # noqa: S608
    # Which sequence numbers hold each hour's readings: raw readings by time are then
    # read by key, without an index on time (which would cost a fifth of the insert rate).
    """CREATE TABLE seq_hours (
        device_id TEXT NOT NULL, hour_us BIGINT NOT NULL, store_epoch BIGINT NOT NULL,
        first_seq BIGINT NOT NULL, last_seq BIGINT NOT NULL,
        PRIMARY KEY (device_id, hour_us, store_epoch))""",
    f"""INSERT INTO seq_hours (device_id, hour_us, store_epoch, first_seq, last_seq)
        SELECT device_id, (ts_us / {HOUR_US}) * {HOUR_US}, store_epoch, MIN(seq), MAX(seq)
        FROM readings GROUP BY device_id, (ts_us / {HOUR_US}) * {HOUR_US}, store_epoch""",  # noqa: S608
]
MIGRATION_5 = [
    # What a hostile or broken device cannot do unseen: each reason the hub refused its
    # messages, counted; messages the hub could not handle, kept aside (bounded); the
    # series each device has used, for its quota (the series table is shared).
    "ALTER TABLE devices ADD COLUMN quarantined BIGINT NOT NULL DEFAULT 0",
    """CREATE TABLE refusals (
        device_id TEXT NOT NULL, reason TEXT NOT NULL, n BIGINT NOT NULL,
        first_at_us BIGINT NOT NULL, last_at_us BIGINT NOT NULL, detail TEXT NOT NULL,
        PRIMARY KEY (device_id, reason))""",
    """INSERT INTO refusals (device_id, reason, n, first_at_us, last_at_us, detail)
        SELECT device_id, 'rejected', COUNT(*), MIN(at_us), MAX(at_us), MAX(reason)
        FROM rejections WHERE first_seq IS NULL GROUP BY device_id""",
    "DELETE FROM rejections WHERE first_seq IS NULL",
    """CREATE TABLE dead_letters (
        device_id TEXT NOT NULL, digest TEXT NOT NULL, topic TEXT NOT NULL,
        reason TEXT NOT NULL, size BIGINT NOT NULL, times BIGINT NOT NULL,
        first_at_us BIGINT NOT NULL, last_at_us BIGINT NOT NULL, payload BYTEA NOT NULL,
        PRIMARY KEY (device_id, digest))""",
    """CREATE TABLE device_series (
        device_id TEXT NOT NULL, series_id BIGINT NOT NULL, PRIMARY KEY (device_id, series_id))""",
    """INSERT INTO device_series (device_id, series_id)
        SELECT device_id, series_id FROM hourly UNION SELECT device_id, series_id FROM readings""",
]
"""Schema version 5: what a hostile device may not do (refusals, quarantine, quotas)."""
MIGRATIONS: dict[int, list[str]] = {
    2: MIGRATION_2,
    3: MIGRATION_3,
    4: LOGIN_SCHEMA,
    5: [*MIGRATION_5, *LOGIN_MIGRATION_5],
}
"""Each schema version's statements after version 1's tables, the same on both backends;
a store at version v runs every list of a higher version, in order, in one transaction."""
SCHEMA_VERSION = max(MIGRATIONS)

Row = tuple[Any, ...]


def signed_epoch(epoch: int) -> int:
    """A u64 store epoch as a signed 64-bit integer (two's complement), as both databases store."""
    return epoch - 2**64 if epoch >= 2**63 else epoch


def unsigned_epoch(value: int) -> int:
    """The inverse of :func:`signed_epoch`."""
    return value + 2**64 if value < 0 else value


def value_columns(value: float) -> tuple[float | None, bytes | None]:
    """(value, exact bits): the bits only where a REAL column cannot keep them (NaN, -0.0)."""
    if math.isnan(value) or (value == 0 and math.copysign(1, value) < 0):
        return None, struct.pack(">d", value)
    return value, None


def hour_of(ts_us: int) -> int:
    """The start of the UTC hour holding ``ts_us``, never below the 64-bit minimum.

    The first hour before 1970 of the signed 64-bit range starts below it; its readings
    (implausible, but valid on the wire) are kept under the minimum itself.
    """
    return max(ts_us - ts_us % HOUR_US, INT64_MIN)


def newest_per_series(rows: Iterable[Row]) -> dict[int, tuple[int, float | None]]:
    """Series id → (ts_us, value) of the newest reading rows fit for "latest value"."""
    newest: dict[int, tuple[int, float | None]] = {}
    for row in rows:
        series_id, ts_us, quality = row[3], row[4], row[7]
        if quality & NOT_LATEST:
            continue
        current = newest.get(series_id)
        if current is None or ts_us > current[0]:
            newest[series_id] = (ts_us, row[5])
    return newest


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


def config_answer(status_json: str) -> tuple[int, str] | None:
    """(config revision, config error) from a status's JSON, or None if it names neither."""
    if "config_" not in status_json:
        return None
    try:
        status = json.loads(status_json)
    except ValueError:
        return None
    revision = status.get("config_revision") if isinstance(status, dict) else None
    error = status.get("config_error", "") if isinstance(status, dict) else ""
    if not isinstance(revision, int) or isinstance(revision, bool):
        revision = -1
    if revision < 0 and not error:
        return None
    return revision, error if isinstance(error, str) else ""


def now_us() -> int:
    """The hub's time in UTC microseconds."""
    return time.time_ns() // 1000


class SqlHubStore(LoginTables):
    """Every reading once on (device_id, store_epoch, seq), in any SQL database.

    Subclasses supply the connection: :meth:`_query`, :meth:`_run`, :meth:`_run_many`
    and :meth:`_transaction`, with "?" placeholders in the SQL they are given.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._series: dict[tuple[str, str, str], int] = {}
        self._device_series: dict[str, set[tuple[str, str, str]]] = {}
        self.series_quota = SERIES_QUOTA
        """Distinct series one device may use; readings on more are refused."""

    # --- what a backend provides ---

    @abc.abstractmethod
    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Rows of a SELECT."""

    @abc.abstractmethod
    def _run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Execute a statement; returns the rows it changed."""

    @abc.abstractmethod
    def _run_many(self, sql: str, rows: Sequence[Row]) -> int:
        """Execute a statement for each row; returns the rows changed in all."""

    @abc.abstractmethod
    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One transaction; database errors come out as HubStoreError, rolled back."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the connection."""

    # --- devices ---

    def add_device(
        self, device_id: str, name: str, *, location: str = "", actor: str = "hallsense"
    ) -> Device:
        """Register a device (or re-register it: its first registration time stays)."""
        with self._lock, self._transaction():
            existed = bool(self._query("SELECT 1 FROM devices WHERE device_id = ?", (device_id,)))
            self._run(
                "INSERT INTO devices (device_id, name, location, added_at_us) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET "
                "name = excluded.name, location = excluded.location, revoked = 0, "
                "revoked_at_us = NULL",
                (device_id, name, location, now_us()),
            )
            self._audit(actor, "re-registered" if existed else "registered", device_id, name)
        device = self.device(device_id)
        if device is None:  # pragma: no cover - just inserted
            raise UnknownDevice(f"device {device_id} was not registered")
        return device

    def revoke_device(self, device_id: str, *, actor: str = "hallsense") -> bool:
        """Refuse the device's readings from now on; False if it is not registered."""
        with self._lock, self._transaction():
            changed = self._run(
                "UPDATE devices SET revoked = 1, revoked_at_us = ?, online = 0 WHERE device_id = ?",
                (now_us(), device_id),
            )
            if changed:
                self._audit(actor, "revoked", device_id, "")
        return bool(changed)

    def delete_device(self, device_id: str, *, with_data: bool, actor: str = "hallsense") -> int:
        """Revoke a device and, with ``with_data``, delete it and everything it sent.

        Returns how many readings were deleted (0 without ``with_data``).

        Raises:
            UnknownDevice: no such device.
        """
        with self._lock, self._transaction():
            if not self._query("SELECT 1 FROM devices WHERE device_id = ?", (device_id,)):
                raise UnknownDevice(f"device {device_id!r} is not registered")
            deleted = 0
            if with_data:
                deleted = self._run("DELETE FROM readings WHERE device_id = ?", (device_id,))
                for table in (
                    "received",
                    "latest",
                    "rejections",
                    "hourly",
                    "node_configs",
                    "devices",
                ):
                    self._run(f"DELETE FROM {table} WHERE device_id = ?", (device_id,))  # noqa: S608
                self._audit(actor, "deleted with its data", device_id, f"{deleted} readings")
            else:
                self._run(
                    "UPDATE devices SET revoked = 1, online = 0, "
                    "revoked_at_us = COALESCE(revoked_at_us, ?) WHERE device_id = ?",
                    (now_us(), device_id),
                )
                self._audit(actor, "deleted, data kept", device_id, "")
        return deleted

    def _audit(self, actor: str, action: str, device_id: str, detail: str) -> None:
        self._run(
            "INSERT INTO audit (at_us, actor, action, device_id, detail) VALUES (?, ?, ?, ?, ?)",
            (now_us(), actor, action, device_id, detail),
        )

    def audit_log(self, device_id: str | None = None) -> list[AuditEntry]:
        """Who did what to which device, and when, oldest first."""
        sql = "SELECT at_us, actor, action, device_id, detail FROM audit"
        params: tuple[str, ...] = ()
        if device_id is not None:
            sql += " WHERE device_id = ?"
            params = (device_id,)
        return [AuditEntry(*row) for row in self._query(sql + " ORDER BY at_us", params)]

    def registered(self) -> list[RegisteredDevice]:
        """Every registered device, with its site, location and state."""
        return [
            RegisteredDevice(d, n, loc, added, bool(rev), rev_at, seen, rotation)
            for d, n, loc, added, rev, rev_at, seen, rotation in self._query(
                "SELECT device_id, name, location, added_at_us, revoked, revoked_at_us, "
                "last_seen_us, rotation_requested_us FROM devices ORDER BY device_id"
            )
        ]

    def device(self, device_id: str) -> Device | None:
        """The registered device, or None."""
        rows = self._query(
            "SELECT device_id, name, added_at_us, revoked, rotation_requested_us "
            "FROM devices WHERE device_id = ?",
            (device_id,),
        )
        if not rows:
            return None
        found, name, added_at_us, revoked, rotation = rows[0]
        return Device(found, name, added_at_us, bool(revoked), rotation is not None)

    def request_rotation(self, device_id: str, *, actor: str = "hallsense") -> bool:
        """Ask the device for a new broker password (its acks say so until it confirms).

        False if the device is not registered or is revoked.
        """
        with self._lock, self._transaction():
            changed = self._run(
                "UPDATE devices SET rotation_requested_us = COALESCE(rotation_requested_us, ?) "
                "WHERE device_id = ? AND revoked = 0",
                (now_us(), device_id),
            )
            if changed:
                self._audit(actor, "rotation requested", device_id, "")
        return bool(changed)

    def finish_rotation(self, device_id: str, *, actor: str = "hallsense") -> None:
        """Record that the device's new broker password is in force."""
        with self._lock, self._transaction():
            self._run(
                "UPDATE devices SET rotation_requested_us = NULL WHERE device_id = ?",
                (device_id,),
            )
            self._audit(actor, "credentials rotated", device_id, "")

    # --- readings ---

    def _series_id(self, sensor_id: str, metric: str, unit: str) -> int:
        key = (sensor_id, metric, unit)
        found = self._series.get(key)
        if found is None:
            self._run(
                "INSERT INTO series (sensor_id, metric, unit) VALUES (?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                key,
            )
            found = int(
                self._query(
                    "SELECT id FROM series WHERE sensor_id = ? AND metric = ? AND unit = ?", key
                )[0][0]
            )
            self._series[key] = found
        return found

    def store_batch(self, batch: Batch, received_at_us: int) -> StoreOutcome:
        """Store a batch idempotently and commit (see hub.store.HubStore).

        The rows are built before the transaction opens, and the device's row is locked
        only after the insert: batches of one device merge their received ranges one at
        a time, while other connections' decoding and inserts overlap.
        """
        with self._lock:
            device = self.device(batch.device_id)
            if device is None or device.revoked:
                raise UnknownDevice(f"device {batch.device_id!r} is not registered or is revoked")
            over_quota = self._series_over_quota(batch)
            rows = self._rows(batch, device.added_at_us, received_at_us, over_quota)
        quota_refused = [r for r in batch.readings if (r.sensor_id, r.metric, r.unit) in over_quota]
        newest = newest_per_series(rows)
        received = seq_runs([r.seq for r in batch.readings])
        epoch = signed_epoch(batch.store_epoch)
        with self._lock, self._transaction():
            inserted = self._insert_readings(rows)
            # Locked after the insert, which is safe side by side, and before the merges,
            # which are not: other writers' inserts overlap this one's.
            if not self._lock_device(batch.device_id):
                raise UnknownDevice(f"device {batch.device_id!r} was revoked")
            rejected = self._differing_replays(batch) if inserted < len(rows) else []
            refused = {s for rej in rejected for s in range(rej.first, rej.last + 1)}
            if refused:
                newest = newest_per_series([row for row in rows if row[2] not in refused])
            if quota_refused:
                detail = (
                    f"readings on {len(over_quota)} more series refused: a device may use "
                    f"{self.series_quota}"
                )
                rejected += [
                    Rejection(first, last, f"{QUOTA_SERIES} ({self.series_quota})")
                    for first, last in seq_runs([r.seq for r in quota_refused])
                ]
                refused.update(r.seq for r in quota_refused)
                self._count_refused(
                    batch.device_id, QUOTA_SERIES, detail, received_at_us, len(quota_refused)
                )
            new_rows = self._not_yet_received(batch.device_id, epoch, rows, refused)
            self._roll_up(new_rows)
            self._record_received(batch.device_id, epoch, received)
            self._update_latest(batch.device_id, newest)
            self._run(
                "UPDATE devices SET readings = readings + ?, last_seen_us = ? WHERE device_id = ?",
                (inserted, received_at_us, batch.device_id),
            )
            for rej in rejected:
                self._run(
                    "INSERT INTO rejections (device_id, store_epoch, first_seq, "
                    "last_seq, reason, at_us) VALUES (?, ?, ?, ?, ?, ?)",
                    (batch.device_id, epoch, rej.first, rej.last, rej.reason, received_at_us),
                )
        acked = (
            seq_runs([r.seq for r in batch.readings if r.seq not in refused])
            if refused
            else received
        )
        return StoreOutcome(
            tuple(acked), tuple(rejected), inserted, len(rows) - inserted, device.rotation_requested
        )

    def _series_over_quota(self, batch: Batch) -> set[tuple[str, str, str]]:
        """The batch's series that would take its device past its series quota.

        The series the device may use are noted before the batch is stored (a batch that
        then fails leaves its series counted, which only errs towards the quota). Counted
        again from the database, under the device's lock, whenever a batch brings a series
        this connection has not seen for the device.
        """
        keys = list(dict.fromkeys((r.sensor_id, r.metric, r.unit) for r in batch.readings))
        known = self._device_series.get(batch.device_id)
        if known is not None and all(key in known for key in keys):
            return set()
        try:
            # One connection at a time counts and grants a device's series: two writers
            # reading the same count could otherwise each grant the last places.
            with self._transaction():
                self._lock_device(batch.device_id)
                known = {
                    (sensor, metric, unit)
                    for sensor, metric, unit in self._query(
                        "SELECT s.sensor_id, s.metric, s.unit FROM device_series d "
                        "JOIN series s ON s.id = d.series_id WHERE d.device_id = ?",
                        (batch.device_id,),
                    )
                }
                room = self.series_quota - len(known)
                over: set[tuple[str, str, str]] = set()
                for key in keys:
                    if key in known:
                        continue
                    if room <= 0:
                        over.add(key)
                        continue
                    room -= 1
                    self._run(
                        "INSERT INTO device_series (device_id, series_id) VALUES (?, ?) "
                        "ON CONFLICT DO NOTHING",
                        (batch.device_id, self._series_id(*key)),
                    )
                    known.add(key)
        except BaseException:
            # Series ids made in a transaction that was rolled back must not be reused.
            self._series.clear()
            self._device_series.pop(batch.device_id, None)
            raise
        self._device_series[batch.device_id] = known
        return over

    def _rows(
        self,
        batch: Batch,
        registered_us: int,
        received_at_us: int,
        skip: set[tuple[str, str, str]],
    ) -> list[Row]:
        """The batch as rows of the readings table, implausible times flagged.

        Readings on a series in ``skip`` (over the device's quota) make no row.
        """
        device_id = batch.device_id
        epoch = signed_epoch(batch.store_epoch)
        earliest = registered_us - PAST_TOLERANCE_US
        latest = received_at_us + FUTURE_TOLERANCE_US
        series_ids = self._series
        rows: list[Row] = []
        append = rows.append
        for r in batch.readings:
            value, bits = value_columns(r.value)
            quality = r.quality
            # A day ahead of the hub, or a year before the device was registered.
            if not earliest <= r.ts_us <= latest:
                quality |= IMPLAUSIBLE_TIME
            series = series_ids.get((r.sensor_id, r.metric, r.unit))
            if series is None:
                if skip and (r.sensor_id, r.metric, r.unit) in skip:
                    continue
                series = self._series_id(r.sensor_id, r.metric, r.unit)
            append(
                (
                    device_id,
                    epoch,
                    r.seq,
                    series,
                    r.ts_us,
                    value,
                    bits,
                    quality,
                    r.censor,
                    received_at_us,
                )
            )
        return rows

    def _lock_device(self, device_id: str) -> bool:
        """Lock the device's row until the transaction ends; False if it is gone or revoked.

        SQLite's BEGIN IMMEDIATE already holds the whole database; PostgreSQL overrides
        this with SELECT … FOR UPDATE.
        """
        rows = self._query("SELECT revoked FROM devices WHERE device_id = ?", (device_id,))
        return bool(rows) and not rows[0][0]

    def _insert_readings(self, rows: list[Row]) -> int:
        """Insert reading rows, skipping keys already stored; returns how many were new."""
        return self._run_many(
            "INSERT INTO readings (device_id, store_epoch, seq, series_id, ts_us, "
            "value, value_bits, quality, censor, received_us) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            rows,
        )

    def _differing_replays(self, batch: Batch) -> list[Rejection]:
        """Sequence numbers already stored with different content: a replay that lies."""
        sent = {r.seq: r for r in batch.readings}
        differing = []
        for seq, series_id, ts_us, value, bits, censor in self._query(
            "SELECT seq, series_id, ts_us, value, value_bits, censor FROM readings "
            "WHERE device_id = ? AND store_epoch = ? AND seq BETWEEN ? AND ?",
            (
                batch.device_id,
                signed_epoch(batch.store_epoch),
                batch.readings[0].seq,
                batch.readings[-1].seq,
            ),
        ):
            new = sent.get(seq)
            if new is None:
                continue
            stored = struct.unpack(">d", bytes(bits))[0] if bits is not None else value
            if not (
                series_id == self._series_id(new.sensor_id, new.metric, new.unit)
                and ts_us == new.ts_us
                and struct.pack(">d", stored) == struct.pack(">d", new.value)
                and censor == new.censor
            ):
                differing.append(seq)
        return [
            Rejection(a, b, "sequence numbers already stored with different content")
            for a, b in merge_ranges([(s, s) for s in differing])
        ]

    def _not_yet_received(
        self, device_id: str, epoch: int, rows: list[Row], refused: set[int]
    ) -> list[Row]:
        """The rows no earlier batch brought: resends must not count twice in the rollups.

        Read under the device's lock, before this batch's ranges are merged in; the
        received ranges outlive raw retention, so a reading pruned and sent again still
        counts once.
        """
        if not rows:
            return rows
        seqs = [row[2] for row in rows]
        ranges = self._query(
            "SELECT first_seq, last_seq FROM received WHERE device_id = ? AND store_epoch = ? "
            "AND last_seq >= ? AND first_seq <= ? ORDER BY first_seq",
            (device_id, epoch, min(seqs), max(seqs)),
        )
        if not ranges and not refused:
            return rows
        seen = [(int(a), int(b)) for a, b in ranges]
        return [
            row
            for row in rows
            if row[2] not in refused and not any(a <= row[2] <= b for a, b in seen)
        ]

    def _roll_up(self, rows: list[Row]) -> None:
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

    def _record_received(self, device_id: str, epoch: int, received: list[tuple[int, int]]) -> None:
        existing = [
            (int(a), int(b))
            for a, b in self._query(
                "SELECT first_seq, last_seq FROM received WHERE device_id = ? AND store_epoch = ?",
                (device_id, epoch),
            )
        ]
        merged = merge_ranges(existing + received)
        if merged == sorted(existing):
            return
        self._run(
            "DELETE FROM received WHERE device_id = ? AND store_epoch = ?", (device_id, epoch)
        )
        self._run_many(
            "INSERT INTO received (device_id, store_epoch, first_seq, last_seq) "
            "VALUES (?, ?, ?, ?)",
            [(device_id, epoch, a, b) for a, b in merged],
        )

    def _update_latest(self, device_id: str, newest: dict[int, tuple[int, float | None]]) -> None:
        # A backfilled (older) reading never replaces a newer live one.
        self._run_many(
            "INSERT INTO latest (device_id, series_id, ts_us, value) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (device_id, series_id) DO UPDATE SET ts_us = excluded.ts_us, "
            "value = excluded.value WHERE excluded.ts_us > latest.ts_us",
            [(device_id, sid, ts, v) for sid, (ts, v) in newest.items()],
        )

    def count_refused(
        self, device_id: str, reason: str, detail: str, at_us: int, count: int = 1
    ) -> None:
        """Count messages refused for ``reason`` (see hub.store.HubStore.count_refused)."""
        with self._lock, self._transaction():
            self._count_refused(device_id, reason, detail, at_us, count)

    def _count_refused(
        self, device_id: str, reason: str, detail: str, at_us: int, count: int
    ) -> None:
        self._run(
            "INSERT INTO refusals (device_id, reason, n, first_at_us, last_at_us, detail) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (device_id, reason) DO UPDATE SET "
            "n = refusals.n + excluded.n, last_at_us = excluded.last_at_us, "
            "detail = excluded.detail",
            (device_id, reason[:80], count, at_us, at_us, detail[:300]),
        )
        if not reason.startswith("over its quota") and reason != QUARANTINED:
            self._run(
                "UPDATE devices SET rejected_batches = rejected_batches + ? WHERE device_id = ?",
                (count, device_id),
            )

    def quarantine(
        self, device_id: str, message_topic: str, payload: bytes, reason: str, at_us: int
    ) -> None:
        """Keep a message that could not be handled; the same payload again is counted once.

        Bounded: the first DEAD_LETTER_PAYLOAD_BYTES of each, DEAD_LETTER_ROWS in all.
        """
        digest = hashlib.sha256(payload).hexdigest()
        with self._lock, self._transaction():
            self._run(
                "INSERT INTO dead_letters (device_id, digest, topic, reason, size, times, "
                "first_at_us, last_at_us, payload) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?) "
                "ON CONFLICT (device_id, digest) DO UPDATE SET times = dead_letters.times + 1, "
                "last_at_us = excluded.last_at_us, reason = excluded.reason",
                (
                    device_id,
                    digest,
                    message_topic[:200],
                    reason[:300],
                    len(payload),
                    at_us,
                    at_us,
                    bytes(payload[:DEAD_LETTER_PAYLOAD_BYTES]),
                ),
            )
            self._run(
                "UPDATE devices SET quarantined = quarantined + 1 WHERE device_id = ?",
                (device_id,),
            )
            self._count_refused(device_id, QUARANTINED, reason, at_us, 1)
            kept = self._query(
                "SELECT last_at_us FROM dead_letters ORDER BY last_at_us DESC LIMIT 1 OFFSET ?",
                (DEAD_LETTER_ROWS - 1,),
            )
            if kept:
                self._run("DELETE FROM dead_letters WHERE last_at_us < ?", (kept[0][0],))

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

    def record_status(self, device_id: str, online: bool, status_json: str, at_us: int) -> None:
        """Record a node's status (birth, heartbeat, will); "" keeps the last figures.

        A status that names the config revision the node runs (or the error that kept it
        from applying one) settles the hub's record of the config it sent.
        """
        answer = config_answer(status_json)
        with self._lock, self._transaction():
            self._run(
                "UPDATE devices SET online = ?, "
                "status_json = CASE WHEN ? = '' THEN status_json ELSE ? END, "
                "last_seen_us = CASE "
                "WHEN last_seen_us IS NULL OR last_seen_us < ? THEN ? ELSE last_seen_us END "
                "WHERE device_id = ?",
                (int(online), status_json, status_json, at_us, at_us, device_id),
            )
            if answer is not None:
                revision, error = answer
                self._run(
                    "UPDATE node_configs SET applied_at_us = COALESCE(applied_at_us, ?), "
                    "error = '' WHERE device_id = ? AND revision <= ?",
                    (at_us, device_id, revision),
                )
                if error:
                    self._run(
                        "UPDATE node_configs SET error = ? "
                        "WHERE device_id = ? AND applied_at_us IS NULL",
                        (error, device_id),
                    )

    def save_config(self, device_id: str, revision: int, config_json: str, *, actor: str) -> None:
        """Record the config just sent to a node (replacing the one before)."""
        with self._lock, self._transaction():
            self._run(
                "INSERT INTO node_configs (device_id, revision, config_json, sent_at_us, "
                "sent_by) VALUES (?, ?, ?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET "
                "revision = excluded.revision, config_json = excluded.config_json, "
                "sent_at_us = excluded.sent_at_us, sent_by = excluded.sent_by, "
                "applied_at_us = NULL, error = ''",
                (device_id, revision, config_json, now_us(), actor),
            )
            self._audit(actor, "config sent", device_id, f"revision {revision}")

    def node_config(self, device_id: str) -> SentConfig | None:
        """The config the hub last sent the node, and whether it took effect; None if none."""
        rows = self._query(
            "SELECT device_id, revision, config_json, sent_at_us, sent_by, applied_at_us, error "
            "FROM node_configs WHERE device_id = ?",
            (device_id,),
        )
        return SentConfig(*rows[0]) if rows else None

    def prune(self, before_us: int) -> int:
        """Delete raw readings taken before ``before_us``; returns how many went.

        The received ranges stay, so the gaps the hub reports remain true.
        """
        with self._lock, self._transaction():
            return self._run("DELETE FROM readings WHERE ts_us < ?", (before_us,))

    # --- reading back ---

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
