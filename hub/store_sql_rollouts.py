"""Staged rollouts of a release in SQL: the rollouts, their history, and the workers' lease.

Implements :class:`hub.store.RolloutRecords`. At most one rollout is running: starting
one stops the one before (``replaced by rollout N``), in the same transaction, and a
partial unique index holds the rule against two commands at once. A stopped rollout is
*unsettled* until a hub worker has told its halls that had not started to hold
(:mod:`hub.rollout_keeper`); an alert the hub raised when it stopped one waits in the
row (``alert_json``) until every notifier has taken it. The lease (``rollout_lease``,
one row) makes one ingestion worker at a time act on rollouts, however many run.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from hub.store import Rollout, RolloutNotRunning
from hub.store_sql_base import Row, SqlTables, now_us

ROLLOUT_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS rollouts (
        rollout_id BIGINT PRIMARY KEY, version TEXT NOT NULL, halls TEXT NOT NULL,
        percent INTEGER NOT NULL, stop_share DOUBLE PRECISION NOT NULL, state TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '', started_by TEXT NOT NULL,
        started_at_us BIGINT NOT NULL, ended_by TEXT NOT NULL DEFAULT '', ended_at_us BIGINT,
        settled_at_us BIGINT, alert_json TEXT NOT NULL DEFAULT '')""",
    # At most one running, whoever starts one at the same moment.
    "CREATE UNIQUE INDEX IF NOT EXISTS one_running_rollout ON rollouts (state) "
    "WHERE state = 'running'",
    """CREATE TABLE IF NOT EXISTS rollout_lease (
        lease INTEGER PRIMARY KEY, holder TEXT NOT NULL, until_us BIGINT NOT NULL)""",
    "INSERT INTO rollout_lease (lease, holder, until_us) "
    "SELECT 1, '', 0 WHERE NOT EXISTS (SELECT 1 FROM rollout_lease)",
]
"""Schema version 6 (staged rollouts), the same SQL on SQLite and PostgreSQL; it may run
over tables it made before (a store set back to an older version keeps them)."""

FLEET = ""
"""The device id of audit entries about the whole fleet, such as a rollout's."""

_COLUMNS = (
    "rollout_id, version, halls, percent, stop_share, state, reason, started_by, "
    "started_at_us, ended_by, ended_at_us"
)


def _rollout(row: Row) -> Rollout:
    rollout_id, version, halls, percent, share, state, reason, by, at, ended_by, ended = row
    return Rollout(
        int(rollout_id),
        version,
        tuple(json.loads(halls)),
        int(percent),
        float(share),
        state,
        reason,
        by,
        int(at),
        ended_by,
        None if ended is None else int(ended),
    )


def _extent(halls: Sequence[str], percent: int) -> str:
    named = ", ".join(halls) if halls else "no hall by name"
    return f"{named} and {percent} % of the others"


class RolloutTables(SqlTables):
    """Rollouts (``rollouts``) and the lease of the worker acting on them."""

    def _select(
        self, where: str, params: Sequence[object] = (), *, limit: int = 1
    ) -> list[Rollout]:
        rows = self._query(
            f"SELECT {_COLUMNS} FROM rollouts {where} ORDER BY rollout_id DESC LIMIT {int(limit)}",  # noqa: S608
            params,
        )
        return [_rollout(row) for row in rows]

    def start_rollout(
        self, version: str, halls: Sequence[str], percent: int, stop_share: float, *, actor: str
    ) -> tuple[Rollout, Rollout | None]:
        """Start a rollout; a running one is stopped, replaced by it.

        Returns the new rollout and the one it replaced (None if none was running).
        """
        halls = list(dict.fromkeys(halls))
        with self._lock, self._transaction():
            rollout_id = int(
                self._query("SELECT COALESCE(MAX(rollout_id), 0) + 1 FROM rollouts")[0][0]
            )
            replaced = self._select("WHERE state = 'running'")
            if replaced:
                self._end(
                    replaced[0].rollout_id,
                    "stopped",
                    f"replaced by rollout {rollout_id} ({version})",
                    actor,
                )
            self._run(
                "INSERT INTO rollouts (rollout_id, version, halls, percent, stop_share, state, "
                "started_by, started_at_us) VALUES (?, ?, ?, ?, ?, 'running', ?, ?)",
                (rollout_id, version, json.dumps(halls), percent, stop_share, actor, now_us()),
            )
            self._audit(
                actor,
                "rollout started",
                FLEET,
                f"rollout {rollout_id}: {version} to {_extent(halls, percent)}; "
                f"stop share {stop_share:g}",
            )
        started = self.rollout(rollout_id)
        if started is None:  # pragma: no cover - just inserted
            raise RolloutNotRunning(f"rollout {rollout_id} was not started")
        return started, (self.rollout(replaced[0].rollout_id) if replaced else None)

    def widen_rollout(
        self, rollout_id: int, halls: Sequence[str], percent: int, *, actor: str
    ) -> Rollout:
        """Add named halls and raise the percentage (never lowered) of a running rollout.

        Raises:
            RolloutNotRunning: it is not running.
        """
        with self._lock, self._transaction():
            found = self._select("WHERE rollout_id = ? AND state = 'running'", (rollout_id,))
            if not found:
                raise RolloutNotRunning(f"rollout {rollout_id} is not running")
            named = list(dict.fromkeys([*found[0].halls, *halls]))
            percent = max(percent, found[0].percent)
            self._run(
                "UPDATE rollouts SET halls = ?, percent = ? WHERE rollout_id = ?",
                (json.dumps(named), percent, rollout_id),
            )
            self._audit(
                actor, "rollout widened", FLEET, f"rollout {rollout_id}: {_extent(named, percent)}"
            )
        widened = self.rollout(rollout_id)
        if widened is None:  # pragma: no cover - just updated
            raise RolloutNotRunning(f"rollout {rollout_id} is gone")
        return widened

    def _end(self, rollout_id: int, state: str, reason: str, actor: str, alert: str = "") -> bool:
        """End a running rollout (in the caller's transaction); False if it was not running."""
        settled = now_us() if state == "completed" else None
        changed = self._run(
            "UPDATE rollouts SET state = ?, reason = ?, ended_by = ?, ended_at_us = ?, "
            "settled_at_us = ?, alert_json = ? WHERE rollout_id = ? AND state = 'running'",
            (state, reason, actor, now_us(), settled, alert, rollout_id),
        )
        if changed:
            detail = f"rollout {rollout_id}" + (f": {reason}" if reason else "")
            self._audit(actor, f"rollout {state}", FLEET, detail)
        return bool(changed)

    def stop_rollout(
        self, rollout_id: int, reason: str, *, actor: str, alert_json: str = ""
    ) -> bool:
        """Stop a running rollout, saying why; False if it was not running."""
        with self._lock, self._transaction():
            return self._end(rollout_id, "stopped", reason, actor, alert_json)

    def complete_rollout(self, rollout_id: int, *, actor: str) -> bool:
        """Mark a running rollout completed; False if it was not running."""
        with self._lock, self._transaction():
            return self._end(rollout_id, "completed", "", actor)

    def rollout(self, rollout_id: int) -> Rollout | None:
        """One rollout, or None."""
        found = self._select("WHERE rollout_id = ?", (rollout_id,))
        return found[0] if found else None

    def running_rollout(self) -> Rollout | None:
        """The rollout running now, or None."""
        found = self._select("WHERE state = 'running'")
        return found[0] if found else None

    def latest_rollout(self) -> Rollout | None:
        """The running rollout, else the last one started, else None."""
        found = self._select("")  # a new rollout replaces the running one: it is the newest
        return found[0] if found else None

    def rollouts(self, limit: int = 20) -> list[Rollout]:
        """Rollouts, newest first."""
        return self._select("", limit=limit)

    def sent_releases(self) -> dict[str, str]:
        """Each device's release in the config the hub last sent it ("" for none)."""
        releases = {}
        for device_id, config_json in self._query(
            "SELECT device_id, config_json FROM node_configs"
        ):
            try:
                release = json.loads(config_json).get("release", "")
            except (ValueError, AttributeError):
                release = ""
            releases[device_id] = release if isinstance(release, str) else ""
        return releases

    def unsettled_rollouts(self) -> list[Rollout]:
        """Stopped rollouts whose halls that had not started are not yet told to hold."""
        return list(
            reversed(self._select("WHERE state = 'stopped' AND settled_at_us IS NULL", limit=100))
        )

    def settle_rollout(self, rollout_id: int) -> None:
        """Record that a stopped rollout's halls that had not started were told to hold."""
        with self._lock, self._transaction():
            self._run(
                "UPDATE rollouts SET settled_at_us = ? WHERE rollout_id = ? AND state <> 'running'",
                (now_us(), rollout_id),
            )

    def rollout_alerts(self) -> list[tuple[int, str]]:
        """(rollout id, alert JSON) of every rollout alert not yet delivered, oldest first."""
        return [
            (int(rollout_id), alert)
            for rollout_id, alert in self._query(
                "SELECT rollout_id, alert_json FROM rollouts WHERE alert_json <> '' "
                "ORDER BY rollout_id"
            )
        ]

    def keep_rollout_alert(self, rollout_id: int, alert_json: str) -> None:
        """Replace a rollout's undelivered alert ("" once delivered everywhere)."""
        with self._lock, self._transaction():
            self._run(
                "UPDATE rollouts SET alert_json = ? WHERE rollout_id = ?", (alert_json, rollout_id)
            )

    def claim_rollout_lease(self, holder: str, until_us: int, at_us: int) -> bool:
        """Be the one worker acting on rollouts until ``until_us``; False if another is."""
        with self._lock, self._transaction():
            return bool(
                self._run(
                    "UPDATE rollout_lease SET holder = ?, until_us = ? "
                    "WHERE lease = 1 AND (holder = ? OR until_us <= ?)",
                    (holder, until_us, holder, at_us),
                )
            )

    def release_rollout_lease(self, holder: str) -> None:
        """Give the lease up, so another worker takes it at once."""
        with self._lock, self._transaction():
            self._run(
                "UPDATE rollout_lease SET holder = '', until_us = 0 WHERE lease = 1 AND holder = ?",
                (holder,),
            )
