"""The hub store on SQLite: every reading once, keyed by (device_id, store_epoch, seq)."""

from __future__ import annotations

import math
import sqlite3
import struct
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hub.store import (
    Device,
    DeviceState,
    HubStoreError,
    StoreOutcome,
    UnknownDevice,
    plausibility_flags,
)
from hub_sync.protocol import Batch, Rejection, WireReading

SCHEMA_VERSION = 1
NOT_LATEST = 0b1111 | (1 << 8) | (1 << 10) | (1 << 11)
"""Quality bits that keep a reading out of "latest value": bad value, unsettled or
implausible time."""

SCHEMA = [
    """CREATE TABLE devices (
        device_id TEXT PRIMARY KEY, name TEXT NOT NULL, added_at_us INTEGER NOT NULL,
        revoked INTEGER NOT NULL DEFAULT 0, online INTEGER NOT NULL DEFAULT 0,
        last_seen_us INTEGER, status_json TEXT NOT NULL DEFAULT '',
        rejected_batches INTEGER NOT NULL DEFAULT 0, readings INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID""",
    """CREATE TABLE series (
        id INTEGER PRIMARY KEY, sensor_id TEXT NOT NULL, metric TEXT NOT NULL,
        unit TEXT NOT NULL, UNIQUE (sensor_id, metric, unit))""",
    # value_bits holds the float64's exact bits where REAL cannot: NaN payloads and -0.0.
    """CREATE TABLE readings (
        device_id TEXT NOT NULL, store_epoch INTEGER NOT NULL, seq INTEGER NOT NULL,
        series_id INTEGER NOT NULL, ts_us INTEGER NOT NULL, value REAL,
        value_bits BLOB, quality INTEGER NOT NULL, censor TEXT, received_us INTEGER NOT NULL,
        PRIMARY KEY (device_id, store_epoch, seq)) WITHOUT ROWID""",
    """CREATE TABLE received (
        device_id TEXT NOT NULL, store_epoch INTEGER NOT NULL, first INTEGER NOT NULL,
        last INTEGER NOT NULL, PRIMARY KEY (device_id, store_epoch, first)) WITHOUT ROWID""",
    """CREATE TABLE latest (
        device_id TEXT NOT NULL, series_id INTEGER NOT NULL, ts_us INTEGER NOT NULL,
        value REAL, PRIMARY KEY (device_id, series_id)) WITHOUT ROWID""",
    """CREATE TABLE rejections (
        device_id TEXT NOT NULL, store_epoch INTEGER, first INTEGER, last INTEGER,
        reason TEXT NOT NULL, at_us INTEGER NOT NULL)""",
]


def signed_epoch(epoch: int) -> int:
    """A u64 store epoch as SQLite's signed 64-bit integer (two's complement)."""
    return epoch - 2**64 if epoch >= 2**63 else epoch


def unsigned_epoch(value: int) -> int:
    """The inverse of :func:`signed_epoch`."""
    return value + 2**64 if value < 0 else value


def _value_columns(value: float) -> tuple[float | None, bytes | None]:
    if math.isnan(value) or (value == 0 and math.copysign(1, value) < 0):
        return None, struct.pack(">d", value)
    return value, None


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


class SqliteHubStore:
    """The hub store in one SQLite file (WAL), the default for a county's fleet.

    Each ingestion worker opens its own; they share the file, SQLite serialising writes.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA busy_timeout = 10000")
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = FULL")
            self._migrate()
        except sqlite3.Error as error:
            raise HubStoreError(f"cannot open the hub store {self.path}: {error}") from error
        self._lock = threading.Lock()
        self._series: dict[tuple[str, str, str], int] = {}

    def _migrate(self) -> None:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise HubStoreError(
                    f"{self.path} has hub schema version {version}; this hallsense knows "
                    f"up to {SCHEMA_VERSION}: upgrade hallsense"
                )
            if version < 1:
                for statement in SCHEMA:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # --- devices ---

    def add_device(self, device_id: str, name: str) -> Device:
        """Register a device; registering it again keeps its first registration time."""
        with self._lock:
            now = _now_us()
            self._conn.execute(
                "INSERT INTO devices (device_id, name, added_at_us) VALUES (?, ?, ?) "
                "ON CONFLICT (device_id) DO UPDATE SET name = excluded.name, revoked = 0",
                (device_id, name, now),
            )
        found = self.device(device_id)
        if found is None:  # pragma: no cover - just inserted
            raise HubStoreError(f"device {device_id} was not registered")
        return found

    def device(self, device_id: str) -> Device | None:
        """The registered device, or None."""
        row = self._conn.execute(
            "SELECT device_id, name, added_at_us, revoked FROM devices WHERE device_id = ?",
            (device_id,),
        ).fetchone()
        return Device(row[0], row[1], row[2], bool(row[3])) if row else None

    # --- readings ---

    def _series_id(self, sensor_id: str, metric: str, unit: str) -> int:
        key = (sensor_id, metric, unit)
        found = self._series.get(key)
        if found is None:
            self._conn.execute(
                "INSERT OR IGNORE INTO series (sensor_id, metric, unit) VALUES (?, ?, ?)", key
            )
            found = int(
                self._conn.execute(
                    "SELECT id FROM series WHERE sensor_id = ? AND metric = ? AND unit = ?", key
                ).fetchone()[0]
            )
            self._series[key] = found
        return found

    def store_batch(self, batch: Batch, received_at_us: int) -> StoreOutcome:
        """Store a batch idempotently and commit; see HubStore.store_batch."""
        device = self.device(batch.device_id)
        if device is None or device.revoked:
            raise UnknownDevice(f"device {batch.device_id!r} is not registered or is revoked")
        epoch = signed_epoch(batch.store_epoch)
        with self._lock:
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE")
                rows: list[tuple[Any, ...]] = []
                for r in batch.readings:
                    value, bits = _value_columns(r.value)
                    quality = r.quality | plausibility_flags(
                        r.ts_us, received_at_us, device.added_at_us
                    )
                    rows.append(
                        (
                            batch.device_id,
                            epoch,
                            r.seq,
                            self._series_id(r.sensor_id, r.metric, r.unit),
                            r.ts_us,
                            value,
                            bits,
                            quality,
                            r.censor,
                            received_at_us,
                        )
                    )
                before = conn.total_changes
                conn.executemany(
                    "INSERT INTO readings (device_id, store_epoch, seq, series_id, ts_us, value, "
                    "value_bits, quality, censor, received_us) VALUES (?,?,?,?,?,?,?,?,?,?) "
                    "ON CONFLICT DO NOTHING",
                    rows,
                )
                inserted = conn.total_changes - before
                rejected: list[Rejection] = []
                if inserted < len(rows):
                    rejected = self._differing_replays(batch, rows)
                refused = {seq for rej in rejected for seq in range(rej.first, rej.last + 1)}
                self._record_received(batch.device_id, epoch, [r.seq for r in batch.readings])
                self._update_latest(batch.device_id, rows, refused)
                conn.execute(
                    "UPDATE devices SET readings = readings + ?, last_seen_us = ? "
                    "WHERE device_id = ?",
                    (inserted, received_at_us, batch.device_id),
                )
                for rej in rejected:
                    conn.execute(
                        "INSERT INTO rejections VALUES (?, ?, ?, ?, ?, ?)",
                        (batch.device_id, epoch, rej.first, rej.last, rej.reason, received_at_us),
                    )
                conn.execute("COMMIT")
            except sqlite3.Error as error:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                self._series.clear()
                raise HubStoreError(f"hub store {self.path}: {error}") from error
        seqs = [r.seq for r in batch.readings if r.seq not in refused]
        acked = _merge([(s, s) for s in seqs])
        return StoreOutcome(tuple(acked), tuple(rejected), inserted, len(rows) - inserted)

    def _differing_replays(self, batch: Batch, rows: list[tuple[Any, ...]]) -> list[Rejection]:
        """Sequence numbers already stored with different content: a replay that lies."""
        by_seq = {r.seq: r for r in batch.readings}
        first, last = batch.readings[0].seq, batch.readings[-1].seq
        differing = []
        for seq, series_id, ts_us, value, bits, censor in self._conn.execute(
            "SELECT r.seq, r.series_id, r.ts_us, r.value, r.value_bits, r.censor FROM readings r "
            "WHERE r.device_id = ? AND r.store_epoch = ? AND r.seq BETWEEN ? AND ?",
            (batch.device_id, signed_epoch(batch.store_epoch), first, last),
        ):
            sent = by_seq.get(seq)
            if sent is None:
                continue
            stored_value = struct.unpack(">d", bits)[0] if bits is not None else value
            same = (
                series_id == self._series_id(sent.sensor_id, sent.metric, sent.unit)
                and ts_us == sent.ts_us
                and struct.pack(">d", stored_value) == struct.pack(">d", sent.value)
                and censor == sent.censor
            )
            if not same:
                differing.append(seq)
        return [
            Rejection(a, b, "sequence numbers already stored with different content")
            for a, b in _merge([(s, s) for s in differing])
        ]

    def _record_received(self, device_id: str, epoch: int, seqs: list[int]) -> None:
        existing = [
            (a, b)
            for a, b in self._conn.execute(
                "SELECT first, last FROM received WHERE device_id = ? AND store_epoch = ?",
                (device_id, epoch),
            )
        ]
        merged = _merge(existing + [(s, s) for s in seqs])
        if merged == existing:
            return
        self._conn.execute(
            "DELETE FROM received WHERE device_id = ? AND store_epoch = ?", (device_id, epoch)
        )
        self._conn.executemany(
            "INSERT INTO received VALUES (?, ?, ?, ?)",
            [(device_id, epoch, a, b) for a, b in merged],
        )

    def _update_latest(
        self, device_id: str, rows: list[tuple[Any, ...]], refused: set[int]
    ) -> None:
        newest: dict[int, tuple[int, float | None]] = {}
        for row in rows:
            seq, series_id, ts_us, value, quality = row[2], row[3], row[4], row[5], row[7]
            if seq in refused or quality & NOT_LATEST:
                continue
            current = newest.get(series_id)
            if current is None or ts_us > current[0]:
                newest[series_id] = (ts_us, value)
        # A backfilled (older) reading never replaces a newer live one.
        self._conn.executemany(
            "INSERT INTO latest VALUES (?, ?, ?, ?) ON CONFLICT (device_id, series_id) DO UPDATE "
            "SET ts_us = excluded.ts_us, value = excluded.value WHERE excluded.ts_us > ts_us",
            [(device_id, sid, ts, v) for sid, (ts, v) in newest.items()],
        )

    def count_rejected_batch(self, device_id: str, reason: str, at_us: int) -> None:
        """Count a batch refused before storage, per device (unknown devices too)."""
        with self._lock:
            self._conn.execute(
                "UPDATE devices SET rejected_batches = rejected_batches + 1 WHERE device_id = ?",
                (device_id,),
            )
            self._conn.execute(
                "INSERT INTO rejections VALUES (?, NULL, NULL, NULL, ?, ?)",
                (device_id, reason, at_us),
            )

    def record_status(self, device_id: str, online: bool, status_json: str, at_us: int) -> None:
        """Record a node's status (birth, heartbeat, will)."""
        with self._lock:
            self._conn.execute(
                "UPDATE devices SET online = ?, status_json = ?, last_seen_us = MAX("
                "COALESCE(last_seen_us, 0), ?) WHERE device_id = ?",
                (int(online), status_json, at_us, device_id),
            )

    # --- reading back ---

    def readings(self, device_id: str) -> list[tuple[int, WireReading]]:
        """Every stored reading of a device as (store_epoch, reading), in key order."""
        out = []
        for (
            epoch,
            seq,
            sensor_id,
            metric,
            unit,
            ts_us,
            value,
            bits,
            quality,
            censor,
        ) in self._conn.execute(
            "SELECT r.store_epoch, r.seq, s.sensor_id, s.metric, s.unit, r.ts_us, r.value, "
            "r.value_bits, r.quality, r.censor FROM readings r JOIN series s "
            "ON s.id = r.series_id WHERE r.device_id = ? ORDER BY 1, 2",
            (device_id,),
        ):
            exact = struct.unpack(">d", bits)[0] if bits is not None else float(value)
            out.append(
                (
                    unsigned_epoch(epoch),
                    WireReading(seq, sensor_id, metric, unit, ts_us, exact, quality, censor),
                )
            )
        return out

    def latest(self, device_id: str) -> dict[tuple[str, str], tuple[int, float | None]]:
        """(sensor_id, metric) → (ts_us, value) of the newest plausible reading."""
        return {
            (sensor, metric): (ts, value)
            for sensor, metric, ts, value in self._conn.execute(
                "SELECT s.sensor_id, s.metric, l.ts_us, l.value FROM latest l "
                "JOIN series s ON s.id = l.series_id WHERE l.device_id = ?",
                (device_id,),
            )
        }

    def missing(self, device_id: str) -> tuple[tuple[int, int, int], ...]:
        """(store_epoch, first, last) gaps between the ranges received so far."""
        gaps = []
        previous: tuple[int, int] | None = None
        for epoch, first, last in self._conn.execute(
            "SELECT store_epoch, first, last FROM received WHERE device_id = ? ORDER BY 1, 3",
            (device_id,),
        ):
            if previous is not None and previous[0] == epoch and first > previous[1] + 1:
                gaps.append((unsigned_epoch(epoch), previous[1] + 1, first - 1))
            previous = (epoch, last)
        return tuple(gaps)

    def fleet(self) -> Sequence[DeviceState]:
        """Every device's state."""
        return [
            DeviceState(
                device_id,
                name,
                bool(online),
                last_seen,
                readings,
                self.missing(device_id),
                rejected,
                status,
            )
            for device_id, name, online, last_seen, readings, rejected, status in (
                self._conn.execute(
                    "SELECT device_id, name, online, last_seen_us, readings, rejected_batches, "
                    "status_json FROM devices ORDER BY device_id"
                ).fetchall()
            )
        ]

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


def _now_us() -> int:
    return time.time_ns() // 1000
