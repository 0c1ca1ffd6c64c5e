"""What every ``hub web`` process must share, in SQL: failed attempts, alert state, leases.

Several ``hub web`` processes may serve one hub (behind one proxy, on one machine or
several), and any of them may take the next request: a session is already in the store
(:mod:`hub.store_sql_logins`), and so now are

- the failed log-ins and enrolments each client has made lately (``failures``), which
  :class:`provisioning.failure_limit.SharedFailureLimiter` counts, so that a guesser
  spreading attempts over the processes is still stopped at the limit;
- the alert monitor's state (``alert_state``: the incidents open and the notices not yet
  delivered, :class:`hub.alerting.StoredAlertState`), so an incident alerts once however
  many processes watch the fleet;
- named leases (``leases``), by which one process at a time acts on shared work.
"""

from __future__ import annotations

from hub.store_sql_base import SqlTables

WEB_STATE_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS failures (
        kind TEXT NOT NULL, client TEXT NOT NULL, at_us BIGINT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS failures_by_client ON failures (kind, client, at_us)",
    """CREATE TABLE IF NOT EXISTS alert_state (
        one INTEGER PRIMARY KEY, state_json TEXT NOT NULL)""",
    "INSERT INTO alert_state (one, state_json) "
    "SELECT 1, '' WHERE NOT EXISTS (SELECT 1 FROM alert_state)",
    """CREATE TABLE IF NOT EXISTS leases (
        name TEXT PRIMARY KEY, holder TEXT NOT NULL, until_us BIGINT NOT NULL)""",
]
"""Schema version 8 (the web's shared state), the same SQL on SQLite and PostgreSQL."""

MAX_FAILURES_KEPT = 100
"""Failures kept per client and kind: more than any limit counts (they are forgotten
once out of the window anyway), so a client failing in a loop costs a bounded table."""


class WebStateTables(SqlTables):
    """Failed attempts (``failures``), the alert state and named leases."""

    def add_failure(self, kind: str, key: str, at_us: int, forget_before_us: int) -> None:
        """Count one failure of ``key``, forgetting its failures at or before the second time."""
        with self._lock, self._transaction():
            self._run(
                "DELETE FROM failures WHERE kind = ? AND client = ? AND at_us <= ?",
                (kind, key, forget_before_us),
            )
            self._run(
                "INSERT INTO failures (kind, client, at_us) VALUES (?, ?, ?)", (kind, key, at_us)
            )
            kept = self._query(
                "SELECT at_us FROM failures WHERE kind = ? AND client = ? "
                "ORDER BY at_us DESC LIMIT 1 OFFSET ?",
                (kind, key, MAX_FAILURES_KEPT),
            )
            if kept:
                self._run(
                    "DELETE FROM failures WHERE kind = ? AND client = ? AND at_us <= ?",
                    (kind, key, kept[0][0]),
                )

    def failures_since(self, kind: str, key: str, since_us: int, limit: int) -> list[int]:
        """The times of ``key``'s latest failures after ``since_us``, newest first."""
        with self._lock:
            return [
                int(at)
                for (at,) in self._query(
                    "SELECT at_us FROM failures WHERE kind = ? AND client = ? AND at_us > ? "
                    "ORDER BY at_us DESC LIMIT ?",
                    (kind, key, since_us, limit),
                )
            ]

    def forget_failures(self, kind: str, before_us: int) -> int:
        """Forget every failure of ``kind`` at or before ``before_us`` (out of its window)."""
        with self._lock, self._transaction():
            return self._run(
                "DELETE FROM failures WHERE kind = ? AND at_us <= ?", (kind, before_us)
            )

    def alert_state(self) -> str:
        """The alert monitor's state as JSON ("" before its first round)."""
        with self._lock:
            rows = self._query("SELECT state_json FROM alert_state WHERE one = 1")
        return str(rows[0][0]) if rows else ""

    def save_alert_state(self, state_json: str) -> None:
        """Replace the alert monitor's state."""
        with self._lock, self._transaction():
            self._run("UPDATE alert_state SET state_json = ? WHERE one = 1", (state_json,))

    def claim_lease(self, name: str, holder: str, until_us: int, at_us: int) -> bool:
        """Hold the lease ``name`` until ``until_us``; False while another holds it."""
        with self._lock, self._transaction():
            self._run(
                "INSERT INTO leases (name, holder, until_us) VALUES (?, '', 0) "
                "ON CONFLICT (name) DO NOTHING",
                (name,),
            )
            return bool(
                self._run(
                    "UPDATE leases SET holder = ?, until_us = ? "
                    "WHERE name = ? AND (holder = ? OR until_us <= ?)",
                    (holder, until_us, name, holder, at_us),
                )
            )

    def release_lease(self, name: str, holder: str) -> None:
        """Give the lease up, so another takes it at once."""
        with self._lock, self._transaction():
            self._run(
                "UPDATE leases SET holder = '', until_us = 0 WHERE name = ? AND holder = ?",
                (name, holder),
            )
