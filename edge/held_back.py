"""Readings held back for an unsynchronised clock: their time settled once the clock is."""

from __future__ import annotations

from edge import rollups
from edge.clock import ClockSample
from edge.rollups import LocalDays
from edge.store_db import StoreDatabase
from edge.store_records import to_us
from presentation.reading_flags import Quality


def correct_clock(
    database: StoreDatabase, days: LocalDays, now: ClockSample, *, hold_max_s: float
) -> tuple[int, int]:
    """Settle the time of readings held back for an unsynchronised clock.

    Once ``now`` is synchronised, readings of the same boot get their true time from
    their monotonic time (flag ``CLOCK_CORRECTED``) and join the rollups at it.
    Readings of another boot can never be corrected, and readings of this boot held
    longer than ``hold_max_s`` are given up on: both are released flagged
    ``CLOCK_UNCORRECTABLE``, and stay out of the rollups. Returns (corrected,
    declared uncorrectable).
    """
    conn = database.connection
    if conn.execute("SELECT 1 FROM held LIMIT 1").fetchone() is None:
        return 0, 0
    offset_ns = to_us(now.wall) * 1000 - now.monotonic_ns
    expiry_ns = now.monotonic_ns - int(hold_max_s * 1e9)
    corrected = uncorrectable = 0
    with database.write("correcting the clock"):
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
                rollups.aggregate(((sid, ts, v, q, None) for _, ts, q, sid, v in fixed), days),
            )
            conn.execute("DELETE FROM held WHERE boot_id = ?", (now.boot_id,))
            corrected = len(fixed)
        flag = int(Quality.CLOCK_UNCORRECTABLE)
        unsynced = int(Quality.CLOCK_UNSYNCED)
        # Only constants are formatted into these statements; the values are bound.
        condition = "boot_id != ? OR mono_ns < ?"
        uncorrectable = conn.execute(
            f"UPDATE readings SET quality = (quality & ~{unsynced}) | {flag} "  # noqa: S608
            f"WHERE seq IN (SELECT seq FROM held WHERE {condition})",
            (now.boot_id, expiry_ns),
        ).rowcount
        conn.execute(f"DELETE FROM held WHERE {condition}", (now.boot_id, expiry_ns))  # noqa: S608
    return corrected, uncorrectable
