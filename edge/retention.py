"""Retention and the size cap: what the store deletes, in which order, and the count of it."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from edge import rollups
from edge.outbox import Outbox
from edge.ranges import SeqRange, merge, runs
from edge.rollups import LocalDays
from edge.store_db import StoreDatabase
from edge.store_records import RetentionReport

log = logging.getLogger(__name__)

CHUNK = 2000
"""Rows deleted per transaction: small enough that the WAL never needs much disk."""

SIZE_CAP_REASON = "size cap"


def enforce(
    database: StoreDatabase,
    outbox: Outbox,
    days: LocalDays,
    now: datetime,
    *,
    raw_retention_days: float,
    minute_rollup_days: float,
    rollup_days: float,
    max_bytes: int,
) -> RetentionReport:
    """Apply the retention windows, then the size cap, to the store's ``database``.

    The policy, in order:

    1. raw readings the hub acknowledged (or rejected) more than ``raw_retention_days``
       ago are deleted; per-minute rollups older than ``minute_rollup_days`` and hourly
       and daily ones older than ``rollup_days`` are deleted;
    2. while the database is over ``max_bytes``: acknowledged and rejected raw readings,
       oldest first; then per-minute rollups, oldest first;
    3. only if it is still over: unacknowledged readings, oldest first, each one counted
       and recorded as a dropped range so the hub can be told the gap is final.
    """
    conn = database.connection
    now_us = round(now.timestamp() * 1_000_000)
    raw_deleted = 0
    cutoff_us = now_us - int(raw_retention_days * 86400 * 1_000_000)
    for log_id, first, last in conn.execute(
        "SELECT id, first, last FROM settled_log WHERE at_us < ? ORDER BY id", (cutoff_us,)
    ).fetchall():
        raw_deleted += _delete_range(database, first, last, log_id=log_id)

    minute_before = int((now - timedelta(days=minute_rollup_days)).timestamp())
    hour_before = int((now - timedelta(days=rollup_days)).timestamp())
    day_before = rollups.day_bucket(now - timedelta(days=rollup_days), days)
    with database.write("pruning rollups"):
        minutes = rollups.prune(conn, "minute", minute_before)
        others = rollups.prune(conn, "hour", hour_before) + rollups.prune(conn, "day", day_before)

    dropped = 0
    if database.used_bytes() > max_bytes:
        for log_id, first, last in conn.execute(
            "SELECT id, first, last FROM settled_log ORDER BY first"
        ).fetchall():
            raw_deleted += _delete_range(database, first, last, log_id=log_id)
            if database.used_bytes() <= max_bytes:
                break
    while database.used_bytes() > max_bytes:
        oldest = conn.execute("SELECT min(bucket) FROM rollup_minute").fetchone()[0]
        if oldest is None:
            break
        with database.write("pruning minute rollups for the size cap"):
            minutes += rollups.prune(conn, "minute", oldest + 3600)
    while database.used_bytes() > max_bytes:
        removed = _drop_oldest_unacknowledged(database, outbox, now_us)
        if not removed:
            break
        dropped += removed
    if dropped:
        log.warning("size cap: dropped %d unacknowledged readings", dropped)
    return RetentionReport(raw_deleted, minutes, others, dropped)


def _delete_range(database: StoreDatabase, first: int, last: int, *, log_id: int) -> int:
    """Delete the stored rows of a settled range, in chunks; forget its log entry."""
    conn = database.connection
    deleted = 0
    start = first
    while start <= last:
        end = min(last, start + CHUNK - 1)
        with database.write("deleting settled readings"):
            count = conn.execute(
                "DELETE FROM readings WHERE seq BETWEEN ? AND ?", (start, end)
            ).rowcount
            conn.execute("DELETE FROM latest WHERE seq BETWEEN ? AND ?", (start, end))
            conn.execute("UPDATE counters SET value = value + ? WHERE name = 'deleted'", (count,))
            if end == last:
                conn.execute("DELETE FROM settled_log WHERE id = ?", (log_id,))
        deleted += count
        start = end + 1
    return deleted


def _drop_oldest_unacknowledged(database: StoreDatabase, outbox: Outbox, now_us: int) -> int:
    """Delete up to CHUNK of the oldest unsettled readings, recording the dropped ranges."""
    victims = outbox.oldest_unsettled_seqs(CHUNK)
    if not victims:
        return 0
    ranges = runs(victims)
    conn = database.connection
    with database.write("dropping unacknowledged readings for the size cap"):
        for block in ranges:
            conn.execute(
                "DELETE FROM readings WHERE seq BETWEEN ? AND ?", (block.first, block.last)
            )
            conn.execute("DELETE FROM held WHERE seq BETWEEN ? AND ?", (block.first, block.last))
            conn.execute("DELETE FROM latest WHERE seq BETWEEN ? AND ?", (block.first, block.last))
        existing = [
            (SeqRange(a, b), n)
            for a, b, n in conn.execute("SELECT first, last, count FROM dropped")
        ]
        merged = merge([r for r, _ in existing] + ranges)
        counts = dict.fromkeys(merged, 0)
        for block, n in [*existing, *((r, len(r)) for r in ranges)]:
            for target in merged:
                if target.first <= block.first and block.last <= target.last:
                    counts[target] += n
                    break
        conn.execute("DELETE FROM dropped")
        conn.executemany(
            "INSERT INTO dropped (first, last, count, reason, at_us) VALUES (?, ?, ?, ?, ?)",
            [(r.first, r.last, counts[r], SIZE_CAP_REASON, now_us) for r in merged],
        )
        conn.execute(
            "UPDATE counters SET value = value + ? WHERE name = 'dropped'", (len(victims),)
        )
    return len(victims)
