"""The login tables as the logins see them: accounts, sessions, API tokens, set-up codes.

:class:`LoginStore` is the interface :mod:`hub.logins` and ``hallsense hub account``
work on; :class:`hub.store_sql_logins.LoginTables` implements it in SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol

TOKEN_SCOPES = ("read", "full")
"""What an API token may do: ``read`` (GET the data, exports, metrics and pages) or
``full`` (everything its account may)."""


class AccountRow(NamedTuple):
    """An account as stored."""

    username: str
    role: str
    password_hash: str
    created_us: int
    disabled: bool
    halls: tuple[str, ...]


class SessionRow(NamedTuple):
    """A session as stored (its id only as a hash)."""

    username: str
    csrf: str
    created_us: int
    seen_us: int


class TokenRow(NamedTuple):
    """An API token as stored (the token itself only as a hash)."""

    username: str
    name: str
    scope: str
    created_us: int
    revoked: bool
    token_hash: str


class LoginStore(Protocol):
    """Accounts, their halls, sessions, API tokens and the set-up code, as stored."""

    def has_accounts(self) -> bool:
        """Whether any account exists (the first is made with a set-up code)."""
        ...

    def create_account(
        self, username: str, role: str, password_hash: str, halls: Sequence[str], now_us: int
    ) -> bool:
        """Add an account; False if the name is taken."""
        ...

    def account(self, username: str) -> AccountRow | None:
        """The account, or None."""
        ...

    def accounts(self) -> list[AccountRow]:
        """Every account, by name."""
        ...

    def set_halls(self, username: str, halls: Sequence[str]) -> None:
        """Replace the halls an account (a clerk's) may see."""
        ...

    def set_password_hash(self, username: str, password_hash: str) -> None:
        """Replace an account's password hash and end its sessions."""
        ...

    def set_disabled(self, username: str, disabled: bool) -> None:
        """Disable (or enable) an account; disabling ends its sessions and tokens."""
        ...

    def add_session(self, id_hash: str, username: str, csrf: str, now_us: int) -> None:
        """Record a new session."""
        ...

    def session(self, id_hash: str) -> SessionRow | None:
        """The session, or None."""
        ...

    def touch_session(self, id_hash: str, now_us: int) -> None:
        """Note the session's latest request (for the idle timeout)."""
        ...

    def end_session(self, id_hash: str) -> None:
        """Forget a session (log-out, expiry)."""
        ...

    def end_expired_sessions(self, idle_before_us: int, created_before_us: int) -> int:
        """Forget sessions idle since, or made before, those times; returns how many."""
        ...

    def add_token(
        self, token_hash: str, username: str, name: str, now_us: int, scope: str = "read"
    ) -> None:
        """Record an API token with its scope (``read`` unless told ``full``)."""
        ...

    def live_token(self, token_hash: str) -> tuple[str, str] | None:
        """(account, scope) of a live token, or None for an unknown or revoked one."""
        ...

    def tokens(self, username: str | None = None) -> list[TokenRow]:
        """Every token (of one account, if named), by account then age, revoked ones too."""
        ...

    def revoke_token(self, username: str, name: str) -> int:
        """Revoke an account's tokens of that name; returns how many."""
        ...

    def put_setup_code(self, code_hash: str, expires_us: int) -> None:
        """Keep the one set-up code (replacing any earlier one)."""
        ...

    def spend_setup_code(self, code_hash: str, now_us: int) -> bool:
        """Use the set-up code if it is this one and still valid; it works once."""
        ...
