"""Ingestion in SQL: each batch stored once, refusals counted, messages quarantined, quotas kept.

Implements :class:`hub.store.HubStore` (with :mod:`hub.store_sql_rollups`, whose hourly
rollups each batch adds to, and :mod:`hub.store_sql_registry`, which says who may send).
"""

from __future__ import annotations

import abc
import hashlib
import json
import math
import struct
from collections.abc import Iterable, Sequence

from hub.backlog_age import stamp_waiting_since
from hub.store import (
    DEAD_LETTER_PAYLOAD_BYTES,
    DEAD_LETTER_ROWS,
    FUTURE_TOLERANCE_US,
    IMPLAUSIBLE_TIME,
    PAST_TOLERANCE_US,
    QUARANTINED,
    QUOTA_SERIES,
    SERIES_QUOTA,
    Device,
    StoreOutcome,
    UnknownDevice,
)
from hub.store_sql_base import NOT_LATEST, Row, SqlTables, signed_epoch
from hub_sync.acks import Rejection, merge_ranges, seq_runs
from hub_sync.batch_codec import Batch
from hub_sync.batch_types import SeriesKey


def value_columns(value: float) -> tuple[float | None, bytes | None]:
    """(value, exact bits): the bits only where a REAL column cannot keep them (NaN, -0.0)."""
    if math.isnan(value) or (value == 0 and math.copysign(1, value) < 0):
        return None, struct.pack(">d", value)
    return value, None


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


class IngestTables(SqlTables):
    """Every reading once on (device_id, store_epoch, seq); what was refused, and why."""

    def __init__(self) -> None:
        super().__init__()
        self._series: dict[tuple[str, str, str], int] = {}
        self._device_series: dict[str, set[tuple[str, str, str]]] = {}
        self.series_quota = SERIES_QUOTA
        """Distinct series one device may use; readings on more are refused."""

    @abc.abstractmethod
    def device(self, device_id: str) -> Device | None:
        """The registered device, or None (the registry's)."""

    @abc.abstractmethod
    def _roll_up(self, rows: Sequence[Row]) -> None:
        """Add new reading rows to their hours' rollups (the rollups')."""

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
            columns = batch.columns()
            over_quota = self._series_over_quota(batch.device_id, columns.series)
            rows = self._rows(batch, device.added_at_us, received_at_us, over_quota)
        quota_refused = (
            [
                seq
                for seq, i in zip(columns.seqs, columns.index, strict=True)
                if columns.series[i] in over_quota
            ]
            if over_quota
            else []
        )
        newest = self._newest(rows)
        received = list(columns.runs)
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
                    for first, last in seq_runs(quota_refused)
                ]
                refused.update(quota_refused)
                self._count_refused(
                    batch.device_id, QUOTA_SERIES, detail, received_at_us, len(quota_refused)
                )
            new_rows = self._not_yet_received(
                batch.device_id, epoch, rows, refused, min(columns.seqs), max(columns.seqs)
            )
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
        acked = seq_runs([s for s in columns.seqs if s not in refused]) if refused else received
        return StoreOutcome(
            tuple(acked), tuple(rejected), inserted, len(rows) - inserted, device.rotation_requested
        )

    def _newest(self, rows: Sequence[Row]) -> dict[int, tuple[int, float | None]] | None:
        """The newest reading of each series among the rows (None: the backend finds it)."""
        return newest_per_series(rows)

    def _series_over_quota(
        self, device_id: str, keys: Sequence[SeriesKey]
    ) -> set[tuple[str, str, str]]:
        """The batch's series (``keys``) that would take its device past its series quota.

        The series the device may use are noted before the batch is stored (a batch that
        then fails leaves its series counted, which only errs towards the quota). Counted
        again from the database, under the device's lock, whenever a batch brings a series
        this connection has not seen for the device.
        """
        known = self._device_series.get(device_id)
        if known is not None and all(key in known for key in keys):
            return set()
        try:
            # One connection at a time counts and grants a device's series: two writers
            # reading the same count could otherwise each grant the last places.
            with self._transaction():
                self._lock_device(device_id)
                known = {
                    (sensor, metric, unit)
                    for sensor, metric, unit in self._query(
                        "SELECT s.sensor_id, s.metric, s.unit FROM device_series d "
                        "JOIN series s ON s.id = d.series_id WHERE d.device_id = ?",
                        (device_id,),
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
                        (device_id, self._series_id(*key)),
                    )
                    known.add(key)
        except BaseException:
            # Series ids made in a transaction that was rolled back must not be reused.
            self._series.clear()
            self._device_series.pop(device_id, None)
            raise
        self._device_series[device_id] = known
        return over

    def _rows(
        self,
        batch: Batch,
        registered_us: int,
        received_at_us: int,
        skip: set[tuple[str, str, str]],
    ) -> Sequence[Row]:
        """The batch as rows of the readings table, implausible times flagged.

        Readings on a series in ``skip`` (over the device's quota) make no row.
        """
        device_id = batch.device_id
        epoch = signed_epoch(batch.store_epoch)
        earliest = registered_us - PAST_TOLERANCE_US
        latest = received_at_us + FUTURE_TOLERANCE_US
        c = batch.columns()
        # Each series' id once (None: over the quota, so its readings make no row).
        ids = [None if skip and key in skip else self._series_id(*key) for key in c.series]
        censors = c.censors if c.censors is not None else [None] * len(c.seqs)
        rows: list[Row] = []
        append = rows.append
        for seq, i, ts_us, value, quality, censor in zip(
            c.seqs, c.index, c.stamps, c.values, c.qualities, censors, strict=True
        ):
            series = ids[i]
            if series is None:
                continue
            value, bits = value_columns(value)
            # A day ahead of the hub, or a year before the device was registered.
            if not earliest <= ts_us <= latest:
                quality |= IMPLAUSIBLE_TIME
            append(
                (device_id, epoch, seq, series, ts_us, value, bits, quality, censor, received_at_us)
            )
        return rows

    def _lock_device(self, device_id: str) -> bool:
        """Lock the device's row until the transaction ends; False if it is gone or revoked.

        SQLite's BEGIN IMMEDIATE already holds the whole database; PostgreSQL overrides
        this with SELECT … FOR UPDATE.
        """
        rows = self._query("SELECT revoked FROM devices WHERE device_id = ?", (device_id,))
        return bool(rows) and not rows[0][0]

    def _insert_readings(self, rows: Sequence[Row]) -> int:
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
        self,
        device_id: str,
        epoch: int,
        rows: Sequence[Row],
        refused: set[int],
        low: int,
        high: int,
    ) -> Sequence[Row]:
        """The rows no earlier batch brought: resends must not count twice in the rollups.

        Read under the device's lock, before this batch's ranges are merged in; the
        received ranges outlive raw retention, so a reading pruned and sent again still
        counts once. ``low`` and ``high`` bound the batch's sequence numbers.
        """
        if not rows:
            return rows
        ranges = self._query(
            "SELECT first_seq, last_seq FROM received WHERE device_id = ? AND store_epoch = ? "
            "AND last_seq >= ? AND first_seq <= ? ORDER BY first_seq",
            (device_id, epoch, low, high),
        )
        if not ranges and not refused:
            return rows
        seen = [(int(a), int(b)) for a, b in ranges]
        return [
            row
            for row in rows
            if row[2] not in refused and not any(a <= row[2] <= b for a, b in seen)
        ]

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

    def _update_latest(
        self, device_id: str, newest: dict[int, tuple[int, float | None]] | None
    ) -> None:
        # A backfilled (older) reading never replaces a newer live one.
        if newest is None:  # only a backend that defers them (its _newest) gives None
            raise TypeError("the newest readings were left for the backend to find")
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

    def record_status(self, device_id: str, online: bool, status_json: str, at_us: int) -> None:
        """Record a node's status (birth, heartbeat, will); "" keeps the last figures.

        A status that names the config revision the node runs (or the error that kept it
        from applying one) settles the hub's record of the config it sent.
        """
        answer = config_answer(status_json)
        with self._lock, self._transaction():
            if status_json:
                previous = self._query(
                    "SELECT status_json FROM devices WHERE device_id = ?", (device_id,)
                )
                status_json = stamp_waiting_since(
                    status_json, str(previous[0][0] or "") if previous else "", at_us
                )
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
