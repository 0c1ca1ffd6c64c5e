"""The edge store's schema versions, applied in order under PRAGMA user_version."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

Migration = Callable[[sqlite3.Connection], None]


def _v1(conn: sqlite3.Connection) -> None:
    """The first schema: readings, series, ranges, rollups, health, counters."""
    statements = [
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
        "CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID",
        """CREATE TABLE series (
            id INTEGER PRIMARY KEY,
            sensor_id TEXT NOT NULL,
            metric TEXT NOT NULL,
            unit TEXT NOT NULL,
            part TEXT NOT NULL DEFAULT '',
            accuracy REAL,
            resolution REAL,
            description TEXT NOT NULL DEFAULT '',
            UNIQUE (sensor_id, metric, unit))""",
        # value NULL is NaN (SQLite stores NaN as NULL); ts_us is UTC microseconds.
        """CREATE TABLE readings (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            series_id INTEGER NOT NULL,
            ts_us INTEGER NOT NULL,
            value REAL,
            quality INTEGER NOT NULL,
            censor TEXT)""",
        # Readings whose time is not final: taken on an unsynchronised clock.
        """CREATE TABLE held (
            seq INTEGER PRIMARY KEY,
            boot_id TEXT NOT NULL,
            mono_ns INTEGER NOT NULL)""",
        "CREATE TABLE acked (first INTEGER PRIMARY KEY, last INTEGER NOT NULL)",
        """CREATE TABLE rejected (
            first INTEGER PRIMARY KEY, last INTEGER NOT NULL,
            reason TEXT NOT NULL, at_us INTEGER NOT NULL)""",
        """CREATE TABLE dropped (
            first INTEGER PRIMARY KEY, last INTEGER NOT NULL, count INTEGER NOT NULL,
            reason TEXT NOT NULL, at_us INTEGER NOT NULL)""",
        # When each range was settled (acknowledged or rejected), for retention.
        """CREATE TABLE settled_log (
            id INTEGER PRIMARY KEY, first INTEGER NOT NULL, last INTEGER NOT NULL,
            at_us INTEGER NOT NULL)""",
        "CREATE INDEX settled_log_at ON settled_log (at_us)",
        "CREATE TABLE latest (series_id INTEGER PRIMARY KEY, seq INTEGER NOT NULL)",
        """CREATE TABLE health (
            driver TEXT PRIMARY KEY, state TEXT NOT NULL, since_us INTEGER NOT NULL,
            last_error TEXT NOT NULL, failures INTEGER NOT NULL) WITHOUT ROWID""",
    ]
    for table in ("rollup_minute", "rollup_hour", "rollup_day"):
        statements.append(
            f"""CREATE TABLE {table} (
                series_id INTEGER NOT NULL, bucket INTEGER NOT NULL,
                count INTEGER NOT NULL, min REAL NOT NULL, max REAL NOT NULL,
                sum REAL NOT NULL, PRIMARY KEY (series_id, bucket)) WITHOUT ROWID"""
        )
        statements.append(f"CREATE INDEX {table}_bucket ON {table} (bucket)")
    for statement in statements:
        conn.execute(statement)


MIGRATIONS: dict[int, Migration] = {1: _v1}
"""Schema version → the function that brings the previous version to it."""

LATEST_VERSION = max(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database up to :data:`LATEST_VERSION`, one transaction per step.

    The caller has checked the version is not newer than this code knows.
    Returns the version the database was at before.
    """
    before = int(conn.execute("PRAGMA user_version").fetchone()[0])
    for version in range(before + 1, LATEST_VERSION + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            MIGRATIONS[version](conn)
            conn.execute(f"PRAGMA user_version = {version}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return before
