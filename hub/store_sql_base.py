"""The hub store's SQL groundwork: the connection a backend supplies, and what every table shares.

:class:`SqlTables` is the base of each concern's SQL (:mod:`hub.store_sql_registry`,
:mod:`hub.store_sql_ingest`, :mod:`hub.store_sql_rollups`, :mod:`hub.store_sql_configs`,
:mod:`hub.store_sql_logins`): a backend (:mod:`hub.store_sqlite`, :mod:`hub.store_postgres`)
supplies :meth:`~SqlTables._query`, :meth:`~SqlTables._run`, :meth:`~SqlTables._run_many`
and :meth:`~SqlTables._transaction`, with "?" placeholders in the SQL they are given.

:meth:`~SqlTables.grouped` is group commit: several writes in one transaction, each in a
savepoint of its own, and one commit (one flush to disk) for them all. A backend's
:meth:`~SqlTables._transaction` inside it is :meth:`~SqlTables._savepoint`.
"""

from __future__ import annotations

import abc
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

NOT_LATEST = 0b1111 | (1 << 8) | (1 << 10) | (1 << 11)
"""Quality bits that keep a reading out of "latest value": bad value, unsettled or
implausible time."""
CENSORED = 1 << 4
NOT_ROLLED_UP = NOT_LATEST | CENSORED
"""The same bits, and a bound ("fewer than 3"), keep a reading out of the hourly rollups,
as the node keeps it out of its own: a bound is not a value to average."""
HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US

Row = tuple[Any, ...]


def signed_epoch(epoch: int) -> int:
    """A u64 store epoch as a signed 64-bit integer (two's complement), as both databases store."""
    return epoch - 2**64 if epoch >= 2**63 else epoch


def unsigned_epoch(value: int) -> int:
    """The inverse of :func:`signed_epoch`."""
    return value + 2**64 if value < 0 else value


def now_us() -> int:
    """The hub's time in UTC microseconds."""
    return time.time_ns() // 1000


class SqlTables(abc.ABC):
    """One connection to the hub store's database, with "?" placeholders in its SQL.

    Writers hold :attr:`_lock` (one thread at a time on this connection; reentrant, as a
    :meth:`grouped` holds it around the writes inside) and a :meth:`_transaction`.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._savepoints: int | None = None
        """Savepoints made in the group under way; None outside :meth:`grouped`."""

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

    @contextmanager
    def grouped(self) -> Iterator[None]:
        """Several writes, committed together: one transaction and one commit for them all.

        Each write inside (a batch, a status, a refusal) is a savepoint of its own: one that
        fails is undone alone and the others still commit. Nothing is committed before the
        group ends, so whoever acknowledges the writes must wait for it.

        Raises:
            HubStoreError: the group could not begin or commit; none of it is stored.
        """
        with self._lock:
            if self._savepoints is not None:  # already in a group: one commit for all
                yield
                return
            with self._transaction():
                self._savepoints = 0
                try:
                    yield
                finally:
                    self._savepoints = None

    @property
    def _in_group(self) -> bool:
        return self._savepoints is not None

    @contextmanager
    def _savepoint(self) -> Iterator[None]:
        """A write inside :meth:`grouped`: kept by the group's commit, or undone alone."""
        assert self._savepoints is not None  # noqa: S101 - only backends' _transaction call it
        self._savepoints += 1
        name = f"write_{self._savepoints}"
        self._run(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            self._run(f"ROLLBACK TO SAVEPOINT {name}")
            self._run(f"RELEASE SAVEPOINT {name}")
            raise
        self._run(f"RELEASE SAVEPOINT {name}")

    def _audit(self, actor: str, action: str, device_id: str, detail: str) -> None:
        """Record who did what to a device (in the caller's transaction)."""
        self._run(
            "INSERT INTO audit (at_us, actor, action, device_id, detail) VALUES (?, ?, ?, ?, ?)",
            (now_us(), actor, action, device_id, detail),
        )
