"""One agent per data directory: a lock the running agent holds, and others can test.

``hallsense edge run`` holds an exclusive ``flock`` on ``<data_dir>/agent.lock`` for its
whole life; the kernel drops it when the process ends, however it ends (SIGKILL and
power cuts included), so a stale lock cannot outlive its agent. A second agent on the
same store, or a wipe under a running agent, is refused with a clear message.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from edge.layout import DataDir


class AgentRunning(Exception):
    """Another process holds the data directory's agent lock."""


class AgentLock:
    """The data directory's agent lock, taken on ``acquire`` (or ``with``)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = DataDir(Path(data_dir)).agent_lock
        self._fd: int | None = None

    def acquire(self) -> AgentLock:
        """Take the lock at once or raise AgentRunning naming the holder.

        Where the lock file cannot be made at all (a read-only disk), nothing is locked
        and the caller goes on to the error its own writing meets.
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            # A read-only or unwritable data directory: nothing can write the store there
            # either, and opening it says so in words the operator can act on.
            return self
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "another process"
            os.close(fd)
            raise AgentRunning(
                f"{self.path.parent} is in use by a running agent (pid {holder}): "
                "stop it first (systemctl stop hallsense-edge)"
            ) from error
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self._fd = fd
        return self

    def release(self) -> None:
        """Let go of the lock (the file stays; it is the lock's place, not its state)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> AgentLock:
        return self.acquire()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.release()
