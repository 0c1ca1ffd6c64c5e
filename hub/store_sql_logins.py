"""The hub store's tables for people: accounts, their halls, sessions, API tokens, set-up codes.

SQL only, the same on SQLite and PostgreSQL, implementing :class:`hub.login_store.LoginStore`
over the store's connection (:class:`hub.store_sql_base.SqlTables`); the rules (hashing, expiry,
throttling) live in :mod:`hub.logins`. Secrets are stored only as hashes: passwords as
scrypt hashes, session ids, API tokens and set-up codes as SHA-256 (they are 256-bit
random, so a fast hash is enough and a lookup by hash is safe against timing).
"""

from __future__ import annotations

from collections.abc import Sequence

from hub.login_store import TOKEN_SCOPES, AccountRow, SessionRow, TokenRow
from hub.store_sql_base import SqlTables

LOGIN_SCHEMA = [
    """CREATE TABLE accounts (
        username TEXT PRIMARY KEY, role TEXT NOT NULL, password_hash TEXT NOT NULL,
        created_us BIGINT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0)""",
    """CREATE TABLE account_halls (
        username TEXT NOT NULL, device_id TEXT NOT NULL, PRIMARY KEY (username, device_id))""",
    """CREATE TABLE sessions (
        id_hash TEXT PRIMARY KEY, username TEXT NOT NULL, csrf TEXT NOT NULL,
        created_us BIGINT NOT NULL, seen_us BIGINT NOT NULL)""",
    """CREATE TABLE api_tokens (
        token_hash TEXT PRIMARY KEY, username TEXT NOT NULL, name TEXT NOT NULL,
        created_us BIGINT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0)""",
    """CREATE TABLE setup_codes (code_hash TEXT PRIMARY KEY, expires_us BIGINT NOT NULL)""",
]
"""Schema version 4's tables."""

LOGIN_MIGRATION_5: list[str] = [
    # Least privilege (issue #14): a token may only read, or do all its account may. Tokens
    # made before version 5 become read-only: the one the docs suggested was Prometheus's,
    # and no route a script needs changes anything; a script that does gets a 403 saying
    # the token is read-only, and `hallsense hub account token --scope full` makes another.
    # The default is the safe one for any row written without a scope.
    "ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'read' "
    "CHECK (scope IN ('read', 'full'))",
]
"""Schema version 5's changes to the login tables (run after version 5's own)."""


class LoginTables(SqlTables):
    """Accounts, sessions, tokens and set-up codes in the hub store's SQL."""

    # --- accounts ---

    def has_accounts(self) -> bool:
        """Whether any account exists (the first is made with a set-up code)."""
        return bool(self._query("SELECT 1 FROM accounts LIMIT 1"))

    def create_account(
        self, username: str, role: str, password_hash: str, halls: Sequence[str], now_us: int
    ) -> bool:
        """Add an account; False if the name is taken."""
        with self._lock, self._transaction():
            if self._query("SELECT 1 FROM accounts WHERE username = ?", (username,)):
                return False
            self._run(
                "INSERT INTO accounts (username, role, password_hash, created_us) "
                "VALUES (?, ?, ?, ?)",
                (username, role, password_hash, now_us),
            )
            for device_id in sorted(set(halls)):
                self._run(
                    "INSERT INTO account_halls (username, device_id) VALUES (?, ?)",
                    (username, device_id),
                )
        return True

    def account(self, username: str) -> AccountRow | None:
        """The account, or None."""
        rows = self._query(
            "SELECT username, role, password_hash, created_us, disabled FROM accounts "
            "WHERE username = ?",
            (username,),
        )
        if not rows:
            return None
        halls = tuple(
            row[0]
            for row in self._query(
                "SELECT device_id FROM account_halls WHERE username = ? ORDER BY device_id",
                (username,),
            )
        )
        name, role, hashed, created, disabled = rows[0]
        return AccountRow(name, role, hashed, created, bool(disabled), halls)

    def accounts(self) -> list[AccountRow]:
        """Every account, by name."""
        names = [row[0] for row in self._query("SELECT username FROM accounts ORDER BY 1")]
        return [found for name in names if (found := self.account(name)) is not None]

    def set_halls(self, username: str, halls: Sequence[str]) -> None:
        """Replace the halls an account (a clerk's) may see."""
        with self._lock, self._transaction():
            self._run("DELETE FROM account_halls WHERE username = ?", (username,))
            for device_id in sorted(set(halls)):
                self._run(
                    "INSERT INTO account_halls (username, device_id) VALUES (?, ?)",
                    (username, device_id),
                )

    def set_password_hash(self, username: str, password_hash: str) -> None:
        """Replace an account's password hash and end its sessions."""
        with self._lock, self._transaction():
            self._run(
                "UPDATE accounts SET password_hash = ? WHERE username = ?",
                (password_hash, username),
            )
            self._run("DELETE FROM sessions WHERE username = ?", (username,))

    def set_disabled(self, username: str, disabled: bool) -> None:
        """Disable (or enable) an account; disabling ends its sessions and tokens."""
        with self._lock, self._transaction():
            self._run(
                "UPDATE accounts SET disabled = ? WHERE username = ?", (int(disabled), username)
            )
            if disabled:
                self._run("DELETE FROM sessions WHERE username = ?", (username,))
                self._run("UPDATE api_tokens SET revoked = 1 WHERE username = ?", (username,))

    # --- sessions ---

    def add_session(self, id_hash: str, username: str, csrf: str, now_us: int) -> None:
        """Record a new session."""
        with self._lock, self._transaction():
            self._run(
                "INSERT INTO sessions (id_hash, username, csrf, created_us, seen_us) "
                "VALUES (?, ?, ?, ?, ?)",
                (id_hash, username, csrf, now_us, now_us),
            )

    def session(self, id_hash: str) -> SessionRow | None:
        """The session, or None."""
        rows = self._query(
            "SELECT username, csrf, created_us, seen_us FROM sessions WHERE id_hash = ?",
            (id_hash,),
        )
        return SessionRow(*rows[0]) if rows else None

    def touch_session(self, id_hash: str, now_us: int) -> None:
        """Note the session's latest request (for the idle timeout)."""
        with self._lock, self._transaction():
            self._run("UPDATE sessions SET seen_us = ? WHERE id_hash = ?", (now_us, id_hash))

    def end_session(self, id_hash: str) -> None:
        """Forget a session (log-out, expiry)."""
        with self._lock, self._transaction():
            self._run("DELETE FROM sessions WHERE id_hash = ?", (id_hash,))

    def end_expired_sessions(self, idle_before_us: int, created_before_us: int) -> int:
        """Forget sessions idle since, or made before, those times; returns how many."""
        with self._lock, self._transaction():
            return self._run(
                "DELETE FROM sessions WHERE seen_us < ? OR created_us < ?",
                (idle_before_us, created_before_us),
            )

    # --- API tokens ---

    def add_token(
        self, token_hash: str, username: str, name: str, now_us: int, scope: str = "read"
    ) -> None:
        """Record an API token with its scope (``read`` unless told ``full``)."""
        if scope not in TOKEN_SCOPES:
            raise ValueError(f"a token's scope is one of {', '.join(TOKEN_SCOPES)}, not {scope!r}")
        with self._lock, self._transaction():
            self._run(
                "INSERT INTO api_tokens (token_hash, username, name, created_us, scope) "
                "VALUES (?, ?, ?, ?, ?)",
                (token_hash, username, name, now_us, scope),
            )

    def live_token(self, token_hash: str) -> tuple[str, str] | None:
        """(account, scope) of a live token, or None for an unknown or revoked one."""
        rows = self._query(
            "SELECT username, scope FROM api_tokens WHERE token_hash = ? AND revoked = 0",
            (token_hash,),
        )
        return (str(rows[0][0]), str(rows[0][1])) if rows else None

    def tokens(self, username: str | None = None) -> list[TokenRow]:
        """Every token (of one account, if named), by account then age, revoked ones too."""
        columns = "SELECT username, name, scope, created_us, revoked, token_hash FROM api_tokens"
        order = "ORDER BY username, created_us, name"
        rows = (
            self._query(f"{columns} {order}")
            if username is None
            else self._query(f"{columns} WHERE username = ? {order}", (username,))
        )
        return [
            TokenRow(user, name, scope, created, bool(revoked), hashed)
            for user, name, scope, created, revoked, hashed in rows
        ]

    def revoke_token(self, username: str, name: str) -> int:
        """Revoke an account's tokens of that name; returns how many."""
        with self._lock, self._transaction():
            return self._run(
                "UPDATE api_tokens SET revoked = 1 WHERE username = ? AND name = ? AND revoked = 0",
                (username, name),
            )

    # --- set-up codes ---

    def put_setup_code(self, code_hash: str, expires_us: int) -> None:
        """Keep the one set-up code (replacing any earlier one)."""
        with self._lock, self._transaction():
            self._run("DELETE FROM setup_codes")
            self._run(
                "INSERT INTO setup_codes (code_hash, expires_us) VALUES (?, ?)",
                (code_hash, expires_us),
            )

    def spend_setup_code(self, code_hash: str, now_us: int) -> bool:
        """Use the set-up code if it is this one and still valid; it works once."""
        with self._lock, self._transaction():
            rows = self._query(
                "SELECT expires_us FROM setup_codes WHERE code_hash = ?", (code_hash,)
            )
            if not rows or rows[0][0] < now_us or self._query("SELECT 1 FROM accounts LIMIT 1"):
                return False
            self._run("DELETE FROM setup_codes")
            return True
