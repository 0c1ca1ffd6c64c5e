"""The health check a new version must pass after the updater switches to it.

Read straight from the store with SQLite, read-only, not through :class:`EdgeStore`: the
updater doing the checking is the version that was running, and if the new version has
migrated the store, the old code's store would refuse to open it. Healthy means, all at
once: the store opens; an agent of the new version has started since the switch (it
records its start, :meth:`edge.store.EdgeStore.record_start`); and readings have been
committed since the switch. The uplink being connected is reported but not required:
a hall whose broadband is down is healthy if it is storing (docs/operations.md).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path


@dataclass(frozen=True)
class StoreLook:
    """What the store says about the agent that writes it."""

    agent_version: str
    agent_started_at: str
    last_seq: int
    schema: int
    uplink: str
    """The uplink's last reported state ("ok", "sending", "waiting"), "" if none."""


class StoreUnreadable(Exception):
    """The store could not be opened or read, saying why."""


def look(db_path: Path) -> StoreLook:
    """Read the store's figures the health check needs.

    Raises:
        StoreUnreadable: the file is missing, not a database, or cannot be read.
    """
    if not db_path.is_file():
        raise StoreUnreadable(f"the store {db_path} is not there")
    try:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error as error:
        raise StoreUnreadable(f"the store {db_path} cannot be opened: {error}") from None
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta"))
        row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'readings'").fetchone()
        schema = int(conn.execute("PRAGMA user_version").fetchone()[0])
        uplink = conn.execute("SELECT state FROM health WHERE driver = 'uplink'").fetchone()
    except sqlite3.Error as error:
        raise StoreUnreadable(f"the store {db_path} cannot be read: {error}") from None
    finally:
        conn.close()
    return StoreLook(
        agent_version=str(meta.get("agent_version", "")),
        agent_started_at=str(meta.get("agent_started_at", "")),
        last_seq=int(row[0]) if row else 0,
        schema=schema,
        uplink=str(uplink[0]) if uplink else "",
    )


def store_schema(db_path: Path) -> int:
    """The store's schema version (0 when there is no store yet).

    Raises:
        StoreUnreadable: a store is there but cannot be read.
    """
    return look(db_path).schema if db_path.is_file() else 0


def not_yet_healthy(seen: StoreLook, version: str, switched_at: datetime, seq: int) -> str:
    """What ``version`` still has to show since ``switched_at``; "" when it is healthy.

    ``seq`` is the store's last sequence number at the switch.
    """
    if seen.agent_version != version:
        running = seen.agent_version or "unknown"
        return f"the agent of {version} has not started (the store's agent is {running})"
    try:
        started = datetime.fromisoformat(seen.agent_started_at)
    except ValueError:
        return f"the agent of {version} has not recorded its start"
    if started < switched_at:
        return f"the agent of {version} has not started since the switch"
    if seen.last_seq <= seq:
        return f"the agent of {version} has stored no reading since the switch"
    return ""


def uplink_words(seen: StoreLook) -> str:
    """The uplink's part of a health report, in words."""
    if seen.uplink in ("ok", "sending"):
        return "connected to the hub"
    return "offline, storing readings"
