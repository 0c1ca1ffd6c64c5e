"""The one-time enrolment tokens: made, stored as hashes, withdrawn and redeemed once.

Tokens are:

- made with :mod:`secrets` (256 bits, :func:`secrets.token_urlsafe`), shown once to
  whoever asked for them and stored only as a SHA-256 hash, with the device they are for,
  when they expire (seven days by default), and when and by whom they were used;
- single use: a token is claimed in one SQLite transaction (``BEGIN IMMEDIATE``), so two
  racing requests cannot both win; if the credential callback then fails the claim is
  released and the token can be used again; once the answer has left, a lost answer
  means a new token (the hub cannot know whether the node got it);
- a new token for a device revokes its earlier unused ones.

Looking a token up by its hash is safe against timing attacks: the timing can tell at
most something about a SHA-256 hash, never about the token, and the comparisons that
follow are :func:`hmac.compare_digest`. Tokens are never logged.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from hub_sync.enrolment_contract import (
    TokenExpired,
    TokenInvalid,
    TokenRevoked,
    TokenUsed,
    WrongDevice,
)
from hub_sync.topics import check_device_id

log = logging.getLogger(__name__)

T = TypeVar("T")
Clock = Callable[[], float]

DEFAULT_TTL = timedelta(days=7)
"""How long a token stays valid when nobody says otherwise."""
TOKEN_BYTES = 32
"""Random bytes in a token: 256 bits, 43 URL-safe characters."""
DB_NAME = "enrolment-tokens.sqlite3"
"""The token store's file in the directory the caller gives."""


def token_hash(token: str) -> bytes:
    """The SHA-256 of a token, the only form in which the store keeps it."""
    return hashlib.sha256(token.encode("utf-8")).digest()


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


@dataclass(frozen=True)
class IssuedToken:
    """A new token, shown once: put ``token`` on the SD card or the label, then forget it."""

    device_id: str
    token: str = field(repr=False)
    expires_at: datetime


@dataclass(frozen=True)
class TokenRecord:
    """What the store knows of a token (never the token itself)."""

    device_id: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    used_by: str | None
    revoked_at: datetime | None

    def state(self, now: datetime) -> str:
        """``used``, ``revoked``, ``expired`` or ``pending``."""
        if self.used_at is not None:
            return "used"
        if self.revoked_at is not None:
            return "revoked"
        if now >= self.expires_at:
            return "expired"
        return "pending"


_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS tokens (
    token_hash BLOB PRIMARY KEY,
    device_id  TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    used_at    REAL,
    used_by    TEXT,
    revoked_at REAL
) WITHOUT ROWID
""",
    "CREATE INDEX IF NOT EXISTS tokens_device ON tokens (device_id)",
)


class TokenStore:
    """One-time enrolment tokens in a small SQLite file (mode 0600) under ``directory``.

    Every operation opens its own connection, so one store serves a multi-threaded web
    server; every change is one transaction, so a crash leaves the file as before or after.

    Args:
        directory: made (mode 0700) if missing; the file is :data:`DB_NAME` in it.
        clock: wall-clock seconds since the epoch (tests pass a fake one).
        ttl: how long new tokens stay valid unless :meth:`issue` says otherwise.
    """

    def __init__(
        self, directory: Path, *, clock: Clock = time.time, ttl: timedelta = DEFAULT_TTL
    ) -> None:
        if ttl <= timedelta(0):
            raise ValueError(f"token lifetime must be positive, not {ttl}")
        self.path = Path(directory) / DB_NAME
        self._clock = clock
        self.ttl = ttl
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Created 0600 before SQLite touches it; SQLite gives its journal the same mode.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_mode & 0o777 != 0o600:
                os.fchmod(fd, 0o600)
        finally:
            os.close(fd)
        with self._transaction() as db:
            for statement in _SCHEMA:
                db.execute(statement)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        try:
            yield db
        finally:
            db.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def issue(self, device_id: str, *, ttl: timedelta | None = None) -> IssuedToken:
        """A new one-time token for ``device_id``; its earlier unused tokens are revoked.

        Raises:
            DeviceIdError: ``device_id`` is not a valid device id.
            ValueError: ``ttl`` is not positive.
        """
        check_device_id(device_id)
        ttl = self.ttl if ttl is None else ttl
        if ttl <= timedelta(0):
            raise ValueError(f"token lifetime must be positive, not {ttl}")
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = self._clock()
        expires = now + ttl.total_seconds()
        with self._transaction() as db:
            db.execute(
                "UPDATE tokens SET revoked_at = ? "
                "WHERE device_id = ? AND used_at IS NULL AND revoked_at IS NULL",
                (now, device_id),
            )
            db.execute(
                "INSERT INTO tokens (token_hash, device_id, created_at, expires_at) "
                "VALUES (?, ?, ?, ?)",
                (token_hash(token), device_id, now, expires),
            )
        log.info("enrolment token made for %s, valid until %s", device_id, _utc(expires))
        return IssuedToken(device_id=device_id, token=token, expires_at=_utc(expires))

    def revoke(self, device_id: str) -> int:
        """Withdraw every unused token of ``device_id``; returns how many."""
        with self._transaction() as db:
            count = db.execute(
                "UPDATE tokens SET revoked_at = ? "
                "WHERE device_id = ? AND used_at IS NULL AND revoked_at IS NULL",
                (self._clock(), device_id),
            ).rowcount
        if count:
            log.info("revoked %d enrolment token(s) of %s", count, device_id)
        return count

    def tokens(self, device_id: str | None = None) -> list[TokenRecord]:
        """Every token's record (of one device when given), oldest first."""
        query = "SELECT device_id, created_at, expires_at, used_at, used_by, revoked_at FROM tokens"
        params: tuple[str, ...] = ()
        if device_id is not None:
            query += " WHERE device_id = ?"
            params = (device_id,)
        with self._connect() as db:
            rows = db.execute(query + " ORDER BY created_at", params).fetchall()
        return [
            TokenRecord(
                device_id=row[0],
                created_at=_utc(row[1]),
                expires_at=_utc(row[2]),
                used_at=None if row[3] is None else _utc(row[3]),
                used_by=row[4],
                revoked_at=None if row[5] is None else _utc(row[5]),
            )
            for row in rows
        ]

    def redeem(
        self, token: str, device_id: str, issue: Callable[[str], T], *, client: str = ""
    ) -> T:
        """Use ``token`` for ``device_id`` once: claim it, then return ``issue(device_id)``.

        The claim is committed before ``issue`` runs, so a concurrent request sees the
        token used; if ``issue`` raises, the claim is released and the error propagates.

        Raises:
            TokenInvalid: no such token (forged or mistyped).
            WrongDevice: the token is for another device.
            TokenUsed: the token has been used.
            TokenRevoked: the token was withdrawn.
            TokenExpired: the token's time ran out.
        """
        digest = token_hash(token)
        now = self._clock()
        with self._transaction() as db:
            row = db.execute(
                "SELECT token_hash, device_id, expires_at, used_at, revoked_at "
                "FROM tokens WHERE token_hash = ?",
                (digest,),
            ).fetchone()
            if row is None or not hmac.compare_digest(bytes(row[0]), digest):
                raise TokenInvalid("this enrolment token is not known to the hub")
            if not hmac.compare_digest(str(row[1]).encode(), device_id.encode()):
                raise WrongDevice("this enrolment token is for another device")
            if row[3] is not None:
                raise TokenUsed(
                    f"this enrolment token was used at {_utc(row[3]):%Y-%m-%d %H:%M} UTC; "
                    "tokens work once: ask the council IoT team for a new one"
                )
            if row[4] is not None:
                raise TokenRevoked(
                    "this enrolment token was withdrawn (a newer one was made, or the "
                    "device was revoked)"
                )
            if now >= row[2]:
                raise TokenExpired(
                    f"this enrolment token expired at {_utc(row[2]):%Y-%m-%d %H:%M} UTC; "
                    "ask the council IoT team for a new one"
                )
            db.execute(
                "UPDATE tokens SET used_at = ?, used_by = ? WHERE token_hash = ?",
                (now, client, digest),
            )
        try:
            return issue(device_id)
        except BaseException:
            with self._transaction() as db:
                db.execute(
                    "UPDATE tokens SET used_at = NULL, used_by = NULL WHERE token_hash = ?",
                    (digest,),
                )
            raise
