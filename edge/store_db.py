"""The edge store's database file: opening it safely, its connection and its transactions."""

from __future__ import annotations

import logging
import os
import secrets
import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Literal

from edge.migrations import LATEST_VERSION, migrate
from edge.store_errors import (
    SQLITE_CANTOPEN,
    SQLITE_CORRUPT,
    SQLITE_NOTADB,
    StoreCorrupt,
    StoreError,
    StoreReadOnly,
    StoreTooNew,
    sqlite_code,
    translate,
)

log = logging.getLogger(__name__)


class StoreDatabase:
    """The SQLite file (WAL) under the edge store: one connection, transactions, counters.

    Opening a corrupt, newer or unwritable database raises a :class:`StoreError` naming
    the file and touches nothing. Opened ``readonly``, it can never write.
    """

    def __init__(
        self,
        path: Path,
        *,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
        readonly: bool = False,
    ) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self.on_rollback: list[Callable[[], None]] = []
        """Called when a transaction's body failed and was rolled back (to drop caches)."""
        self._conn: sqlite3.Connection | None = None
        # One connection serves the agent's threads: a write transaction, and closing,
        # hold this, so a health report from a background thread neither lands inside
        # another thread's transaction nor meets a connection closed under it.
        self.lock = threading.RLock()
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
            self.store_epoch = int(self.meta("store_epoch"))
        except sqlite3.Error as error:
            self.close()
            raise self.translate(error, "open") from error
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
                if sqlite_code(error) != SQLITE_CANTOPEN:
                    raise
                # No -shm and a directory we cannot write: nobody is writing either.
                version = self._probe("mode=ro&immutable=1")
        except sqlite3.Error as error:
            if sqlite_code(error) in (SQLITE_CORRUPT, SQLITE_NOTADB):
                raise StoreCorrupt(f"{self.path} is damaged: {error}") from error
            raise self.translate(error, "open") from error
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
        conn = self.connection
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

    # --- using ---

    def translate(self, error: sqlite3.Error, doing: str) -> StoreError:
        """The store error that says what ``error`` meant while ``doing`` something."""
        return translate(error, self.path, doing)

    @property
    def connection(self) -> sqlite3.Connection:
        """The open connection (autocommit; write only inside :meth:`write`)."""
        if self._conn is None:
            raise StoreError(f"the store {self.path} is closed")
        return self._conn

    def meta(self, key: str) -> str:
        """A value of the meta table; a database without it is not a hallsense one."""
        row = self.connection.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise StoreCorrupt(f"{self.path} is not a hallsense database (no {key})")
        return str(row[0])

    def write(self, doing: str) -> Transaction:
        """A write transaction, described as ``doing`` in its errors."""
        if self.readonly:
            raise StoreReadOnly(f"the store {self.path} was opened read-only")
        return Transaction(self, doing)

    def last_seq(self) -> int | None:
        """The last sequence number ever given to a reading, or None before the first."""
        row = self.connection.execute(
            "SELECT seq FROM sqlite_sequence WHERE name = 'readings'"
        ).fetchone()
        return int(row[0]) if row is not None else None

    def used_bytes(self) -> int:
        """Bytes of the database in use (pages not on the free list)."""
        conn = self.connection
        pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
        free = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
        size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        return (pages - free) * size

    def backup(self, dest: Path) -> None:
        """Copy the live database to ``dest`` with SQLite's backup API (never a file copy)."""
        target = sqlite3.connect(dest)
        try:
            self.connection.backup(target)
        except sqlite3.Error as error:
            raise StoreError(f"backing up {self.path} to {dest} failed: {error}") from error
        finally:
            target.close()

    def close(self) -> None:
        """Close the connection; safe to call more than once."""
        with self.lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class Transaction:
    """BEGIN IMMEDIATE … COMMIT, rolled back on any error, SQLite errors translated."""

    def __init__(self, database: StoreDatabase, doing: str) -> None:
        self.database = database
        self.doing = doing

    def __enter__(self) -> None:
        self.database.lock.acquire()
        try:
            self.database.connection.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as error:
            self.database.lock.release()
            raise self.database.translate(error, self.doing) from error
        except BaseException:
            self.database.lock.release()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._end(exc)
        finally:
            self.database.lock.release()

    def _end(self, exc: BaseException | None) -> None:
        conn = self.database.connection
        if exc is None:
            try:
                conn.execute("COMMIT")
                return
            except sqlite3.Error as error:
                self._rollback(conn)
                raise self.database.translate(error, self.doing) from error
        self._rollback(conn)
        for forget in self.database.on_rollback:
            forget()
        if isinstance(exc, sqlite3.Error):
            raise self.database.translate(exc, self.doing) from exc

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error as error:
                log.warning("rollback failed: %s", error)
