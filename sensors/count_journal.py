"""A counting driver's journal: every counted event and every hand-over, so a crash loses no count.

An event counter (a door beam, a PIR's activations) counts people between reads and hands
the counts over as readings; the agent keeps readings in memory for up to its commit
interval. A crash or a power cut in between used to lose those people. The journal is one
append-only file beside the store:

- ``+ <kind> <n>`` for counts taken (``n`` people of ``kind``), written through to the
  kernel at once (a killed process's writes survive in the page cache) and synced to
  the disk at most ``sync_interval_s`` later (a power cut loses at most that much);
- ``R <time_us> <kind>=<n> …`` for a hand-over: the counts one read returned, stamped
  with that reading's time, synced before the reading is returned.

After a restart :meth:`CountJournal.replay` says what is still open: the counts taken
since the last hand-over (the driver counts them again in its next read), and the
hand-overs not yet known to be in the store (the agent looks each up by its time, and
appends only those the store lacks: the store's committed readings are the truth, so
nothing is counted twice). :meth:`CountJournal.settle` then rewrites the journal as just
the open counts. docs/sensors.md has the design.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

SYNC_INTERVAL_S = 0.1
"""Counts reach the disk at most this long after they happen (the power-cut window)."""

COMPACT_BYTES = 256 * 1024
"""A journal grown past this is rewritten as its open counts and its recent hand-overs."""

KEEP_HANDED_S = 3600.0
"""Hand-overs younger than this are kept when compacting while running (the agent commits
them within seconds; an hour covers a full disk's long wait in memory)."""


class JournalError(OSError):
    """The journal cannot be read or written."""


@dataclass(frozen=True)
class Handover:
    """The counts one read returned, and the time of its readings."""

    at: datetime
    counts: Mapping[str, int]


def _time_us(at: datetime) -> int:
    return (at - _EPOCH) // timedelta(microseconds=1)


class CountJournal:
    """The append-only journal of one counting driver (see the module's docstring)."""

    def __init__(self, path: Path, *, sync_interval_s: float = SYNC_INTERVAL_S) -> None:
        self.path = path
        self.sync_interval_s = sync_interval_s
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        self._lock = threading.Lock()
        self._dirty = threading.Event()
        self._closed = threading.Event()
        self._size = os.fstat(self._fd).st_size
        self._syncer = threading.Thread(target=self._sync_loop, name="count-journal", daemon=True)
        self._syncer.start()

    def replay(self) -> tuple[dict[str, int], list[Handover]]:
        """(counts taken since the last hand-over, every hand-over in the journal).

        A torn last line (a crash mid-write) is ignored: its write never returned.
        """
        data = self.path.read_bytes()
        open_counts: dict[str, int] = {}
        handovers: list[Handover] = []
        for line in data.split(b"\n")[:-1]:
            parts = line.decode("ascii", "replace").split(" ")
            if parts[0] == "+" and len(parts) == 3 and parts[2].isdigit():
                open_counts[parts[1]] = open_counts.get(parts[1], 0) + int(parts[2])
            elif parts[0] == "R" and len(parts) >= 2 and parts[1].lstrip("-").isdigit():
                counts = dict(_pair(part) for part in parts[2:])
                at = _EPOCH + timedelta(microseconds=int(parts[1]))
                handovers.append(Handover(at, counts))
                open_counts = {}
        return open_counts, handovers

    def counted(self, kind: str, n: int = 1) -> None:
        """Record ``n`` counts of ``kind`` (in the kernel on return, on disk soon after)."""
        self._write(b"+ %s %d\n" % (kind.encode("ascii"), n))
        self._dirty.set()

    def handed_over(self, at: datetime, counts: Mapping[str, int]) -> None:
        """Record a read's counts, synced to the disk before returning."""
        fields = " ".join(f"{kind}={n}" for kind, n in counts.items())
        self._write(f"R {_time_us(at)} {fields}\n".encode("ascii"))
        self._sync()

    def settle(self, open_counts: Mapping[str, int]) -> None:
        """Rewrite the journal as just ``open_counts`` (after the agent's restart check)."""
        self._rewrite(open_counts, [])

    def compact_if_large(self, open_counts: Mapping[str, int], now: datetime) -> None:
        """Past :data:`COMPACT_BYTES`, keep only the open counts and recent hand-overs."""
        if self._size <= COMPACT_BYTES:
            return
        _, handovers = self.replay()
        recent = [h for h in handovers if (now - h.at).total_seconds() < KEEP_HANDED_S]
        self._rewrite(open_counts, recent)

    def _rewrite(self, open_counts: Mapping[str, int], handovers: list[Handover]) -> None:
        lines = [
            f"R {_time_us(h.at)} {' '.join(f'{k}={n}' for k, n in h.counts.items())}\n"
            for h in handovers
        ]
        lines += [f"+ {kind} {n}\n" for kind, n in open_counts.items() if n]
        new = self.path.with_name(self.path.name + ".new")
        with self._lock:
            try:
                new.write_text("".join(lines), encoding="ascii")
                with new.open("rb+") as file:
                    os.fsync(file.fileno())
                os.replace(new, self.path)
                directory = os.open(self.path.parent, os.O_RDONLY)
                try:
                    os.fsync(directory)
                finally:
                    os.close(directory)
                old, self._fd = self._fd, os.open(self.path, os.O_RDWR | os.O_APPEND)
                os.close(old)
                self._size = os.fstat(self._fd).st_size
            except OSError as error:
                raise JournalError(error.errno, f"cannot rewrite {self.path}: {error}") from error

    def _write(self, line: bytes) -> None:
        with self._lock:
            try:
                if os.write(self._fd, line) != len(line):
                    raise OSError(28, "short write")
            except OSError as error:
                raise JournalError(error.errno, f"cannot write {self.path}: {error}") from error
            self._size += len(line)

    def _sync(self) -> None:
        with self._lock:
            self._dirty.clear()
            with contextlib.suppress(OSError):  # the next hand-over tries again
                os.fsync(self._fd)

    def _sync_loop(self) -> None:
        while not self._closed.is_set():
            self._dirty.wait()
            if self._closed.is_set():
                return
            self._sync()
            self._closed.wait(self.sync_interval_s)

    def close(self) -> None:
        """Sync and close; safe to call twice."""
        if self._closed.is_set():
            return
        self._sync()
        self._closed.set()
        self._dirty.set()
        self._syncer.join(2)
        with self._lock:
            os.close(self._fd)


def _pair(text: str) -> tuple[str, int]:
    kind, _, n = text.partition("=")
    return kind, int(n) if n.isdigit() else 0
