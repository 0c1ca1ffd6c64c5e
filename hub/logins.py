"""Who may use the hub's web, and how they prove it: accounts, sessions, tokens, set-up code.

Decisions (issue #6, NCSC password guidance, OWASP session management):

- **No default password.** While no account exists, ``hallsense hub web`` makes a one-time
  set-up code (:func:`issue_setup_code`) and prints it; whoever has it creates the first
  account (a council IoT team member) at ``/setup``. The code is stored only hashed,
  expires after a day, works once, and a new start makes a new one.
- **Passwords** are hashed with scrypt (``hashlib``, no extra dependency) at OWASP's
  minimum for 16 MiB, N=2^14, r=8, p=5 (about 150 ms a check on the project's x86
  machine, so guessing offline is slow and a log-in is not), each with its own salt;
  every hash records its own parameters, so they can be raised later. Rules: at least
  12 characters, at most 256, not one of the commonest passwords, not the user name; no
  composition rules (NCSC).
- **Login throttling**: five failures in 15 minutes for one user name, or 20 from one
  address, make further attempts wait (``hub web`` counts them in the hub store, so that
  several processes hold a guesser back together:
  :class:`provisioning.failure_limit.SharedFailureLimiter`); an unknown user
  and a wrong password get the same answer and take the same time (a dummy hash is
  checked for unknown users). Every failed attempt counts (issue #14), not only a wrong
  password: a missing field, a name or password longer than any account's, a NUL or
  control character, a missing or wrong form token, a body that is not a form. Such an
  attempt is refused (400, saying what was wrong: it cannot tell anyone whether an
  account exists) before the store is touched. Each failure is logged once at most, and
  at most once a minute per address (:class:`FailureLog`), without the name or password.
- **Sessions** live on the server (the cookie holds a 256-bit random id, the store its
  SHA-256): a new id at every login, 30 minutes idle and 12 hours in all, ended at
  log-out, at a password change and when the account is disabled. Each has its own CSRF
  token.
- **API tokens** for scripts (``Authorization: Bearer``): 256-bit, shown once, stored
  hashed, revocable, with a scope (issue #14): ``read`` (the default: data, exports,
  metrics and the pages, by GET) or ``full`` (the rights of their account).
- **Roles**: ``team`` (the council IoT team: everything) and ``clerk`` (their own halls
  only: :meth:`Account.may_see`).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import ipaddress
import logging
import re
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hub.login_store import TOKEN_SCOPES, LoginStore
from provisioning.failure_limit import FailureLimiter, client_key
from provisioning.log_limit import LogLimiter

log = logging.getLogger(__name__)

ROLES = ("team", "clerk")
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 5
MIN_PASSWORD, MAX_PASSWORD = 12, 256
IDLE_TIMEOUT_S = 30 * 60
SESSION_LIFETIME_S = 12 * 3600
SETUP_CODE_LIFETIME_S = 24 * 3600
TOUCH_AFTER_S = 60
"""A session's last-seen time is written at most once a minute."""
MAX_USERNAME = 40
USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,39}")
MAX_SETUP_CODE = 64
"""Longer than any set-up code (24 characters): a longer one is refused unread."""
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
"""NUL and the other control characters: in no user name, password or set-up code."""
LOG_EVERY_S = 60.0
"""At most one log line a minute about one address's failed log-ins."""
SCOPES = TOKEN_SCOPES
READ_ONLY = "read"
COMMON_PASSWORDS = frozenset(
    {
        "123456789012", "password1234", "qwertyuiopas", "111111111111", "passwordpassword",
        "iloveyou1234", "letmeinletmein", "administrator", "welcome12345", "changeme1234",
        "villagehall123", "hallsense1234", "parishcouncil", "password123!", "qwerty123456",
    }
)  # fmt: skip
"""A short list of the commonest 12-character-plus passwords and the obvious local ones."""


class LoginRefused(Exception):
    """The one answer for an unknown user, a wrong password and a disabled account."""


class MalformedLogin(LoginRefused):
    """A log-in that could not be anyone's: a field missing, too long or with a NUL.

    It says what was wrong (that tells nobody whether an account exists) and counts as a
    failure like a wrong password.
    """


class Throttled(Exception):
    """Too many failures; ``retry_after`` seconds to wait."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many failed log-ins: try again in {max(1, round(retry_after))} s")
        self.retry_after = retry_after


class PasswordRejected(ValueError):
    """A new password that breaks a rule, saying which."""


@dataclass(frozen=True)
class Account:
    """Someone logged in (or a script with their token)."""

    username: str
    role: str
    halls: tuple[str, ...]
    scope: str = "full"
    """``full`` for a person logged in; an API token's own scope for a script."""

    @property
    def read_only(self) -> bool:
        """A script with a read-only token: it may read but change nothing."""
        return self.scope != "full"  # anything but "full" reads only: fail closed

    @property
    def is_team(self) -> bool:
        """The council IoT team: sees and changes everything."""
        return self.role == "team"

    def may_see(self, device_id: str) -> bool:
        """Whether this account may see (and, for a clerk, edit) a hall's device."""
        return self.is_team or device_id in self.halls


def digest(secret: str) -> str:
    """SHA-256 of a random secret (session id, token, code), as stored."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """``scrypt$N$r$p$salt$hash`` (base64), with a fresh 16-byte salt."""
    salt = secrets.token_bytes(16) if salt is None else salt
    key = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32,
        maxmem=64 * 1024 * 1024,
    )  # fmt: skip
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, hashed: str) -> bool:
    """Whether ``password`` matches ``hashed`` (constant-time compare)."""
    try:
        kind, n, r, p, salt, key = hashed.split("$")
        if kind != "scrypt":
            return False
        expected = base64.b64decode(key)
        found = hashlib.scrypt(
            password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r),
            p=int(p), dklen=len(expected), maxmem=64 * 1024 * 1024,
        )  # fmt: skip
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(found, expected)


@functools.cache
def _dummy_hash() -> str:
    """A hash to check unknown users against, made on first need.

    A scrypt hash costs a quarter of a second, which every hub command paid at import.
    """
    return hash_password(secrets.token_urlsafe(16))


def check_new_password(password: str, username: str) -> None:
    """Raise :class:`PasswordRejected` saying which rule a new password breaks."""
    if "\x00" in password:
        raise PasswordRejected("a password cannot hold a NUL character")
    if len(password) < MIN_PASSWORD:
        raise PasswordRejected(f"use at least {MIN_PASSWORD} characters (three words work well)")
    if len(password) > MAX_PASSWORD:
        raise PasswordRejected(f"use at most {MAX_PASSWORD} characters")
    if password.lower() in COMMON_PASSWORDS or len(set(password)) < 4:
        raise PasswordRejected("that password is too common: choose another")
    if username and username.lower() in password.lower():
        raise PasswordRejected("do not use your user name in your password")


def check_login_form(username: str, password: str) -> str:
    """The user name as looked up (stripped, lower case), or :class:`MalformedLogin`.

    Only what no account can have is refused here; any other name goes on to the store
    and the password check, so that a wrong name and a wrong password look the same.
    """
    name = username.strip().lower()
    if not name or not password:
        raise MalformedLogin("enter your user name and your password")
    if len(name) > MAX_USERNAME:
        raise MalformedLogin(f"a user name is at most {MAX_USERNAME} characters")
    if len(password) > MAX_PASSWORD:
        raise MalformedLogin(f"a password is at most {MAX_PASSWORD} characters")
    if CONTROL.search(name) or "\x00" in password:
        raise MalformedLogin("a user name or password cannot hold control characters")
    return name


def printable_address(client: str) -> str:
    """A client's rate-limit bucket for a log line; never text a client chose."""
    key = client_key(client)
    try:
        ipaddress.ip_network(key)
    except ValueError:
        return "an address that is not an IP address"
    return key


class FailureLog:
    """Logs failed log-ins at most once per ``every_s`` per address, with a count of the rest.

    Thread-safe; memory is bounded by ``max_clients`` (the longest quiet are forgotten).
    """

    def __init__(
        self,
        every_s: float = LOG_EVERY_S,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 10_000,
    ) -> None:
        self.limiter = LogLimiter(log, every_s, clock=clock, max_keys=max_clients)

    def failed(self, client: str, reason: str) -> None:
        """Note a failure of ``client``; log it unless this address was logged lately.

        ``reason`` is the project's own words, never what the client sent.
        """
        key = printable_address(client)
        self.limiter.log(key, logging.WARNING, "failed log-in from %s: %s", key, reason)


def check_username(username: str) -> str:
    """The user name in its stored form (lower case), or ValueError naming the rule."""
    name = username.strip().lower()
    if not USERNAME.fullmatch(name):
        raise ValueError(
            "a user name is 2 to 40 lowercase letters, digits, dots, hyphens or underscores"
        )
    return name


class Logins:
    """The login rules over the hub store, with this process's throttles."""

    def __init__(
        self,
        store: Callable[[], LoginStore],
        *,
        clock: Callable[[], float] = time.time,
        per_user: FailureLimiter | None = None,
        per_address: FailureLimiter | None = None,
        failure_log: FailureLog | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.per_user = per_user or FailureLimiter(5, 15 * 60)
        self.per_address = per_address or FailureLimiter(20, 15 * 60)
        self.failure_log = failure_log or FailureLog()

    def ready(self) -> None:
        """Make the hash unknown names are checked against now, before the first log-in.

        Then the first unknown name takes as long as a wrong password too.
        """
        _dummy_hash()

    def _now_us(self) -> int:
        return int(self.clock() * 1_000_000)

    # --- the first account ---

    def issue_setup_code(self) -> str | None:
        """A fresh one-time set-up code while no account exists (else None)."""
        store = self.store()
        if store.has_accounts():
            return None
        code = secrets.token_urlsafe(18)
        store.put_setup_code(digest(code), self._now_us() + SETUP_CODE_LIFETIME_S * 1_000_000)
        return code

    def create_first_account(
        self, code: str, username: str, password: str, client: str = "local"
    ) -> Account:
        """Spend the set-up code on the first (team) account.

        A wrong code counts as a failed log-in of ``client`` (its address).

        Raises:
            Throttled: too many recent failures from this address.
            LoginRefused: the code is wrong, used or expired, or an account exists.
            ValueError, PasswordRejected: the name or the password breaks a rule.
        """
        self.check_throttle("", client)
        name = check_username(username)
        check_new_password(password, name)
        store = self.store()
        code = code.strip()
        if (
            len(code) > MAX_SETUP_CODE
            or CONTROL.search(code)
            or not store.spend_setup_code(digest(code), self._now_us())
        ):
            self.failed_attempt("", client, "wrong set-up code")
            raise LoginRefused("that set-up code is not valid: it may be used or expired")
        store.create_account(name, "team", hash_password(password), (), self._now_us())
        return Account(name, "team", ())

    def create_account(
        self, username: str, password: str, role: str, halls: Sequence[str] = ()
    ) -> Account:
        """Add an account (the IoT team adds clerks and colleagues).

        Raises:
            ValueError, PasswordRejected: naming the rule; ValueError if the name is taken.
        """
        name = check_username(username)
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        check_new_password(password, name)
        if not self.store().create_account(
            name, role, hash_password(password), halls, self._now_us()
        ):
            raise ValueError(f"there is already an account called {name!r}")
        return Account(name, role, tuple(sorted(set(halls))))

    # --- logging in and out ---

    @staticmethod
    def _user_key(username: str) -> str:
        return f"user:{username.strip().lower()[:MAX_USERNAME]}"

    def check_throttle(self, username: str, client: str) -> None:
        """Raise :class:`Throttled` if this name (if any) or this address must wait."""
        keys = [(self.per_address, client)]
        if username.strip():
            keys.insert(0, (self.per_user, self._user_key(username)))
        for limiter, key in keys:
            wait = limiter.retry_after(key)
            if wait is not None:
                self.failure_log.failed(client, "throttled")
                raise Throttled(wait)

    def failed_attempt(self, username: str, client: str, reason: str) -> None:
        """Count a failed attempt against the name (if any) and the address, and log it.

        It counts as a wrong password does; the log has at most a line a minute an address.

        Args:
            username: the name as sent ("" if none could be read).
            client: the client's address.
            reason: what was wrong, in the project's words (logged; never the input).
        """
        if username.strip():
            self.per_user.failed(self._user_key(username))
        self.per_address.failed(client)
        self.failure_log.failed(client, reason)

    def log_in(self, username: str, password: str, client: str) -> tuple[str, str]:
        """A new session for good credentials: (session id, CSRF token).

        Raises:
            Throttled: too many recent failures for this name or this address.
            MalformedLogin: a field is missing, too long or holds a control character
                (counted as a failure, the store untouched).
            LoginRefused: the same for an unknown name, a wrong password, a disabled account.
        """
        self.check_throttle(username, client)
        try:
            name = check_login_form(username, password)
        except MalformedLogin as refusal:
            self.failed_attempt(username, client, f"malformed: {refusal}")
            raise
        store = self.store()
        row = store.account(name)
        ok = verify_password(password, row.password_hash if row else _dummy_hash())
        if row is None or not ok or row.disabled:
            self.failed_attempt(name, client, "wrong user name or password")
            raise LoginRefused("that user name and password do not match an account")
        session_id = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = self._now_us()
        store.end_expired_sessions(
            now - IDLE_TIMEOUT_S * 1_000_000, now - SESSION_LIFETIME_S * 1_000_000
        )
        store.add_session(digest(session_id), row.username, csrf, now)
        return session_id, csrf

    def session(self, session_id: str) -> tuple[Account, str] | None:
        """The account and CSRF token of a live session, noting the request; else None."""
        store = self.store()
        key = digest(session_id)
        row = store.session(key)
        if row is None:
            return None
        now = self._now_us()
        if (
            now - row.seen_us > IDLE_TIMEOUT_S * 1_000_000
            or now - row.created_us > SESSION_LIFETIME_S * 1_000_000
        ):
            store.end_session(key)
            return None
        account = store.account(row.username)
        if account is None or account.disabled:
            store.end_session(key)
            return None
        if now - row.seen_us > TOUCH_AFTER_S * 1_000_000:  # not a write every request
            store.touch_session(key, now)
        return Account(account.username, account.role, account.halls), row.csrf

    def log_out(self, session_id: str) -> None:
        """End the session on the server: its cookie no longer works."""
        self.store().end_session(digest(session_id))

    def change_password(self, account: Account, current: str, new: str) -> None:
        """Change a password (every session of the account ends).

        Raises:
            LoginRefused: the current password is wrong.
            PasswordRejected: the new one breaks a rule.
        """
        key = f"user:{account.username}"
        wait = self.per_user.retry_after(key)
        if wait is not None:
            raise Throttled(wait)
        store = self.store()
        row = store.account(account.username)
        if row is None or not verify_password(current, row.password_hash):
            self.per_user.failed(key)
            raise LoginRefused("your current password is not right")
        check_new_password(new, account.username)
        store.set_password_hash(account.username, hash_password(new))

    # --- tokens ---

    def issue_token(self, account: Account, name: str, scope: str = READ_ONLY) -> str:
        """A new API token for ``account``, shown this once.

        Args:
            account: whose rights the token carries (at most).
            name: what it is for (``prometheus``); revoked by this name.
            scope: ``read`` (the default: least privilege) or ``full``.

        Raises:
            ValueError: an unknown scope.
        """
        if scope not in SCOPES:
            raise ValueError(f"a token's scope is one of {', '.join(SCOPES)}, not {scope!r}")
        token = secrets.token_urlsafe(32)
        self.store().add_token(digest(token), account.username, name[:80], self._now_us(), scope)
        return token

    def token_account(self, token: str) -> Account | None:
        """The account of a live token, with the token's scope.

        None for an unknown, revoked or disabled one.
        """
        store = self.store()
        found = store.live_token(digest(token))
        row = store.account(found[0]) if found else None
        if found is None or row is None or row.disabled:
            return None
        return Account(row.username, row.role, row.halls, found[1])
