"""Where the alert monitor keeps its incidents and undelivered notices, and who may act.

:class:`hub.alerting.AlertMonitor` reads its state, checks the fleet, delivers, and
writes the state back, while holding the right to do so; two ways to keep it:

- :class:`StoredAlertState`, what ``hub web`` uses: the state in the hub store and a
  lease there, so any number of ``hub web`` processes, on one machine or several, watch
  the fleet and each incident still alerts once. A process that finds the lease held
  skips its round (the holder is doing the work); a holder that dies frees it when the
  lease runs out. On its first round it takes over the state an older hub kept in its
  JSON file, so an upgrade does not alert again for what was already told.
- :class:`FileAlertState`: a JSON file (written atomically, mode 0600) under an exclusive
  ``flock``, which serves processes on one machine only (tests, a single small hub).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

ALERT_LEASE = "alerts"
LEASE_S = 300.0
"""How long a round may take (delivery included: a mail server's timeouts) before another
process may take over from a holder that died."""


class AlertState(Protocol):
    """The monitor's state and the right to change it."""

    def held(self) -> AbstractContextManager[bool]:
        """Within it: whether this process may act now (False: another is acting)."""
        ...

    def load(self) -> dict[str, Any]:
        """The state as last saved ({} before the first)."""
        ...

    def save(self, state: dict[str, Any]) -> None:
        """Keep the state."""
        ...


class FileAlertState:
    """The state in a JSON file, rounds serialised by ``flock`` on a file beside it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def held(self) -> Iterator[bool]:
        """Wait for the other processes of this machine, then act."""
        lock_path = self.path.with_name(f"{self.path.name}.lock")
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield True
        finally:
            os.close(fd)

    def load(self) -> dict[str, Any]:
        """The state in the file ({} when there is none yet).

        Raises:
            ValueError: the file cannot be read or is not JSON.
        """
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            raise ValueError(f"the alert state {self.path} is unreadable: {error}") from None
        return data if isinstance(data, dict) else {}

    def save(self, state: dict[str, Any]) -> None:
        """Write the state atomically, readable by its owner only."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            json.dump(state, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.path)


class AlertStateStore(Protocol):
    """What :class:`StoredAlertState` uses of a hub store connection."""

    def alert_state(self) -> str: ...  # noqa: D102
    def save_alert_state(self, state_json: str) -> None: ...  # noqa: D102
    def claim_lease(self, name: str, holder: str, until_us: int, at_us: int) -> bool: ...  # noqa: D102
    def release_lease(self, name: str, holder: str) -> None: ...  # noqa: D102
    def close(self) -> None: ...  # noqa: D102


class StoredAlertState:
    """The state in the hub store, rounds taken by one process at a time under a lease.

    ``open_store`` opens a connection of this object's own (it is used from the monitor's
    thread); ``earlier_file`` is the JSON file an older hub kept, taken over once.
    """

    def __init__(
        self,
        open_store: Callable[[], AlertStateStore],
        *,
        earlier_file: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._open = open_store
        self._store: AlertStateStore | None = None
        self.earlier_file = earlier_file
        self.holder = secrets.token_hex(8)
        self._clock = clock

    def _connection(self) -> AlertStateStore:
        if self._store is None:
            self._store = self._open()
        return self._store

    @contextmanager
    def held(self) -> Iterator[bool]:
        """Hold the lease for the round, or say another process has it."""
        store = self._connection()
        now_us = int(self._clock() * 1_000_000)
        mine = store.claim_lease(ALERT_LEASE, self.holder, now_us + int(LEASE_S * 1e6), now_us)
        try:
            yield mine
        finally:
            if mine:
                store.release_lease(ALERT_LEASE, self.holder)

    def load(self) -> dict[str, Any]:
        """The state in the store; the older hub's file's on the very first round."""
        text = self._connection().alert_state()
        if not text:
            return self._earlier()
        try:
            data = json.loads(text)
        except ValueError:
            log.error("the alert state in the hub store is not JSON; starting afresh")
            return {}
        return data if isinstance(data, dict) else {}

    def _earlier(self) -> dict[str, Any]:
        if self.earlier_file is None or not self.earlier_file.exists():
            return {}
        try:
            state = FileAlertState(self.earlier_file).load()
        except ValueError as error:
            log.warning("%s; alerts start afresh in the hub store", error)
            return {}
        log.info("alert state taken over from %s into the hub store", self.earlier_file)
        return state

    def save(self, state: dict[str, Any]) -> None:
        """Keep the state in the store."""
        self._connection().save_alert_state(json.dumps(state))

    def close(self) -> None:
        """Close this object's store connection."""
        if self._store is not None:
            self._store.close()
            self._store = None
