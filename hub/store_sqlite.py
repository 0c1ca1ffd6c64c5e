"""The hub store in one SQLite file: the default for a county's fleet."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hub.store import HubStoreError, HubStoreRefused
from hub.store_sql import MIGRATIONS, SCHEMA_VERSION, SqlHubStore
from hub.store_sql_base import Row

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
        device_id TEXT NOT NULL, store_epoch INTEGER NOT NULL, first_seq INTEGER NOT NULL,
        last_seq INTEGER NOT NULL, PRIMARY KEY (device_id, store_epoch, first_seq))
        WITHOUT ROWID""",
    """CREATE TABLE latest (
        device_id TEXT NOT NULL, series_id INTEGER NOT NULL, ts_us INTEGER NOT NULL,
        value REAL, PRIMARY KEY (device_id, series_id)) WITHOUT ROWID""",
    """CREATE TABLE rejections (
        device_id TEXT NOT NULL, store_epoch INTEGER, first_seq INTEGER, last_seq INTEGER,
        reason TEXT NOT NULL, at_us INTEGER NOT NULL)""",
]


REFUSED = (sqlite3.IntegrityError, sqlite3.DataError, sqlite3.InterfaceError, OverflowError)
"""Errors that say this data can never be stored, rather than that the store is down."""


def _create_private(path: Path) -> None:
    """Make the store's file 0600, whatever the umask, before SQLite writes a byte to it.

    It holds the accounts' scrypt hashes and the digests of sessions and API tokens.
    SQLite gives the ``-wal`` and ``-shm`` files it makes beside it the main file's mode,
    so they are 0600 too. An existing file keeps its mode: an operator may have chosen
    another.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, 0o600)  # a umask such as 0o277 would leave the owner unable to write
    finally:
        os.close(fd)


class SqliteHubStore(SqlHubStore):
    """The hub store in one SQLite file (WAL); each worker opens its own connection."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            _create_private(self.path)
            self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA busy_timeout = 10000")
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = FULL")
            self._migrate()
        except (sqlite3.Error, OSError) as error:
            raise HubStoreError(f"cannot open the hub store {self.path}: {error}") from error

    def _migrate(self) -> None:
        with self._transaction():
            version = int(self._conn.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise HubStoreError(
                    f"{self.path} has hub schema version {version}; this hallsense knows "
                    f"up to {SCHEMA_VERSION}: upgrade hallsense"
                )
            if version < 1:
                for statement in SCHEMA:
                    self._conn.execute(statement)
            for target in sorted(v for v in MIGRATIONS if v > version):
                for statement in MIGRATIONS[target]:
                    self._conn.execute(statement)
            if version < SCHEMA_VERSION:
                self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        try:
            return self._conn.execute(sql, params).fetchall()
        except (sqlite3.Error, OverflowError) as error:
            raise self._fail(error) from error

    def _run(self, sql: str, params: Sequence[Any] = ()) -> int:
        try:
            return self._conn.execute(sql, params).rowcount
        except (sqlite3.Error, OverflowError) as error:
            raise self._fail(error) from error

    def _run_many(self, sql: str, rows: Sequence[Row]) -> int:
        try:
            before = self._conn.total_changes
            self._conn.executemany(sql, rows)
            return self._conn.total_changes - before
        except (sqlite3.Error, OverflowError) as error:
            raise self._fail(error) from error

    def _fail(self, error: Exception) -> HubStoreError:
        kind = HubStoreRefused if isinstance(error, REFUSED) else HubStoreError
        return kind(f"hub store {self.path}: {error}")

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        if self._in_group:
            try:
                with self._savepoint():
                    yield
            except sqlite3.Error as error:
                raise HubStoreError(f"hub store {self.path}: {error}") from error
            return
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as error:
            raise HubStoreError(f"hub store {self.path}: {error}") from error
        try:
            yield
            self._conn.execute("COMMIT")
        except BaseException as error:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            if isinstance(error, sqlite3.Error):
                raise HubStoreError(f"hub store {self.path}: {error}") from error
            raise

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()
