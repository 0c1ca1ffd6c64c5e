"""One-time enrolment tokens, the hub's ``/enroll`` route, and the installer's QR-code label.

A node is enrolled once: the installer brings a one-time token (a file on the SD card's
boot partition, or the QR code on a printed label), and on first boot the node posts it
to the hub's ``/enroll`` over HTTPS, pinning the council CA, and receives its broker
credentials in the answer. Nothing else on the hub changes state without authentication.

Tokens:

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
follow are :func:`hmac.compare_digest`. Brute force against 256-bit tokens is hopeless
anyway; a per-address limit of failed attempts (five a minute by default, then 429 with
``Retry-After``) keeps log noise and load down. Every refused attempt counts: a wrong
token, a malformed body (deep JSON, a huge number, a control character, the wrong
content type) and a device the credential source refuses alike. The body is read with
the protocol's own bounded parser (:func:`hub_sync.protocol.load_json`), never more
than :data:`MAX_REQUEST_BYTES`; a refusal is logged in one line without a traceback, at
most once a minute per address (the next line says how many were left out).

The limiter lives in the process's memory: each ``hub web`` process limits on its own,
and behind a reverse proxy the app must take the client address from the proxy
(werkzeug's ``ProxyFix``), or every client shares the proxy's budget.

Neither tokens nor passwords are ever logged.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import json
import logging
import math
import os
import secrets
import sqlite3
import ssl
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlencode, urlsplit
from xml.sax.saxutils import escape

import segno
from flask import Blueprint, Response, request
from werkzeug.exceptions import HTTPException

from hub_sync.protocol import (
    PayloadTooLarge,
    ProtocolError,
    certificate_fingerprint,
    check_device_id,
    load_json,
    normalise_fingerprint,
)
from provisioning.log_limit import LogLimiter

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_TTL = timedelta(days=7)
"""How long a token stays valid when nobody says otherwise."""
TOKEN_BYTES = 32
"""Random bytes in a token: 256 bits, 43 URL-safe characters."""
MAX_TOKEN_CHARS = 128
"""Anything longer is not a token of ours and is refused before it is hashed."""
MAX_REQUEST_BYTES = 4096
"""An enrolment request is a few hundred bytes of JSON."""
DB_NAME = "enrolment-tokens.sqlite3"
"""The token store's file in the directory the caller gives."""
URI_SCHEME = "hallsense-enrol"
URI_VERSION = "v1"
ENROL_RESPONSE_VERSION = 1
"""``version`` of the JSON body of a successful ``/enroll``."""
CREDENTIAL_FIELDS: Mapping[str, type] = {
    "broker_host": str,
    "broker_port": int,
    "username": str,
    "password": str,
    "ca_pem": str,
}
"""What the credential callback must return (``client_id`` and other keys may follow)."""

Clock = Callable[[], float]
IssueCredentials = Callable[[str], Mapping[str, Any]]
"""``issue_credentials(device_id)``: the node's broker credentials, as :data:`CREDENTIAL_FIELDS`."""


# --- errors ---


class EnrolmentError(Exception):
    """Base of every refused enrolment; ``code`` and ``status`` are what ``/enroll`` answers."""

    code = "enrolment_failed"
    status = 400


class BadRequest(EnrolmentError):
    """The request is not an enrolment request: not JSON, a field missing or malformed."""

    code = "bad_request"
    status = 400


class InvalidToken(EnrolmentError):
    """No such token: mistyped, from another hub, or forged."""

    code = "invalid_token"
    status = 401


class WrongDevice(EnrolmentError):
    """The token is for another device."""

    code = "wrong_device"
    status = 401


class TokenUsed(EnrolmentError):
    """The token has been used already: tokens are single-use."""

    code = "token_used"
    status = 410


class TokenExpired(EnrolmentError):
    """The token's time ran out before it was used."""

    code = "token_expired"
    status = 410


class TokenRevoked(EnrolmentError):
    """The token was withdrawn: a newer one was made, or the device was revoked."""

    code = "token_revoked"
    status = 410


class EnrolmentRefused(EnrolmentError):
    """The credential callback refuses this device (e.g. it has been revoked)."""

    code = "refused"
    status = 403


# --- tokens ---


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
            InvalidToken: no such token (forged or mistyped).
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
                raise InvalidToken("this enrolment token is not known to the hub")
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


# --- brute-force limit ---


def client_key(address: str) -> str:
    """The rate-limit bucket of a client address: IPv4 as is, IPv6 by its /64 network."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class FailureLimiter:
    """At most ``max_failures`` failed attempts per client in any ``window_s`` seconds.

    It also keeps the log quiet: :meth:`log_refusal` writes at most one line per client
    every ``log_interval_s`` seconds, and the next line it writes says how many it left
    out, so a client failing in a loop costs one line a minute, not one a request.

    Thread-safe; memory is bounded by ``max_clients`` (the least recently failing are
    forgotten first).
    """

    def __init__(
        self,
        max_failures: int = 5,
        window_s: float = 60.0,
        *,
        clock: Clock = time.monotonic,
        max_clients: int = 10_000,
        log_interval_s: float = 60.0,
    ) -> None:
        if max_failures < 1 or window_s <= 0:
            raise ValueError("max_failures must be at least 1 and window_s positive")
        self.max_failures = max_failures
        self.window_s = window_s
        self.log_interval_s = log_interval_s
        self._clock = clock
        self._max_clients = max_clients
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._log_limits: dict[str, LogLimiter] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def retry_after(self, client: str) -> float | None:
        """Seconds until ``client`` may try again, or None if it may try now."""
        key = client_key(client)
        with self._lock:
            now = self._clock()
            times = self._recent(key, now)
            if times is None or len(times) < self.max_failures:
                return None
            return times[-self.max_failures] + self.window_s - now

    def failed(self, client: str) -> None:
        """Count one failed attempt of ``client``."""
        key = client_key(client)
        with self._lock:
            now = self._clock()
            times = self._recent(key, now) or deque(maxlen=self.max_failures)
            times.append(now)
            self._failures[key] = times
            self._failures.move_to_end(key)
            while len(self._failures) > self._max_clients:
                self._failures.popitem(last=False)

    def log_refusal(self, logger: logging.Logger, client: str, what: str, code: str) -> bool:
        """Log "``what`` from ``client`` refused: ``code``", at most once per interval.

        Nothing is written when this client's last such line is less than
        ``log_interval_s`` old; returns whether a line was written. ``what`` and ``code``
        must be the caller's own words or checked values: they go into the log as they are.
        """
        limiter = self._log_limits.get(logger.name)
        if limiter is None:
            limiter = self._log_limits.setdefault(
                logger.name,
                LogLimiter(
                    logger, self.log_interval_s, clock=self._clock, max_keys=self._max_clients
                ),
            )
        return limiter.log(
            client_key(client), logging.WARNING, "%s from %s refused: %s", what, client, code
        )


# --- the /enroll route ---


def _error(code: str, message: str, status: int) -> Response:
    body: dict[str, Any] = {"error": code, "message": message}
    response = Response(json.dumps(body), status=status)
    response.mimetype = "application/json"
    response.headers["Cache-Control"] = "no-store"
    return response


def read_body(max_bytes: int, hint: str) -> bytes:
    """The request's body, at most ``max_bytes``, whatever the client says its length is.

    Raises:
        BadRequest: the body is larger (the message ends with ``hint``), or could not be
            read (the client went away).
    """
    too_large = f"the request is larger than {max_bytes} bytes ({hint})"
    length = request.content_length
    if length is not None and length > max_bytes:
        raise BadRequest(too_large)
    try:
        data = request.stream.read(max_bytes + 1)
    except HTTPException as error:  # a body cut short, or over the app's own limit
        raise BadRequest(f"the request body could not be read ({error.description})") from None
    if len(data) > max_bytes:
        raise BadRequest(too_large)
    return bytes(data)


def parse_body(data: bytes, what: str, max_bytes: int) -> Any:
    """JSON from a device, bounded in size, depth and number length, with no control characters.

    Raises:
        BadRequest: saying what was wrong (the protocol's own words).
    """
    try:
        return load_json(data, what, max_bytes=max_bytes)
    except PayloadTooLarge:
        raise BadRequest(f"the request is larger than {max_bytes} bytes") from None
    except ProtocolError as error:
        raise BadRequest(str(error)) from None


def _read_request() -> tuple[str, str]:
    if not request.is_json:
        raise BadRequest("send the enrolment request as JSON (Content-Type: application/json)")
    data = read_body(MAX_REQUEST_BYTES, "an enrolment request is a few hundred")
    body = parse_body(data, "the enrolment request", MAX_REQUEST_BYTES)
    if not isinstance(body, dict):
        raise BadRequest('the request must be a JSON object: {"token": ..., "device_id": ...}')
    token, device_id = body.get("token"), body.get("device_id")
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
        raise BadRequest('"token" must be the enrolment token, a string')
    if not isinstance(device_id, str):
        raise BadRequest('"device_id" must be the device id, a string')
    try:
        check_device_id(device_id)
    except ProtocolError:
        raise BadRequest(
            '"device_id" must be 1 to 32 lowercase letters, digits and hyphens'
        ) from None
    return token, device_id


def _checked_credentials(
    issue_credentials: IssueCredentials,
) -> Callable[[str], dict[str, Any]]:
    def issue(device_id: str) -> dict[str, Any]:
        given = dict(issue_credentials(device_id))
        for name, kind in CREDENTIAL_FIELDS.items():
            value = given.get(name)
            if not isinstance(value, kind) or isinstance(value, bool) or value == "":
                raise TypeError(f"issue_credentials gave no valid {name!r} for {device_id}")
        return {"version": ENROL_RESPONSE_VERSION, **given, "device_id": device_id}

    return issue


def enrolment_blueprint(
    store: TokenStore,
    issue_credentials: IssueCredentials,
    *,
    limiter: FailureLimiter | None = None,
    name: str = "enrolment",
) -> Blueprint:
    """The hub's ``POST /enroll``, to mount on the hub web's Flask app.

    The request is JSON, ``{"token": "...", "device_id": "..."}``; the answer to a good
    token is 200 with ``{"version": 1, "device_id", "broker_host", "broker_port",
    "username", "password", "ca_pem", ...}`` (what ``issue_credentials(device_id)``
    returns), exactly once. Refusals are JSON ``{"error": code, "message": text}``:
    400 (not an enrolment request), 401 (``invalid_token``, ``wrong_device``), 403
    (``refused`` by the callback), 410 (``token_used``, ``token_expired``,
    ``token_revoked``), 429 (``rate_limited``, with ``Retry-After``), 500 (the callback
    failed; the token stays usable). Every answer says ``Cache-Control: no-store``.
    Every 400, 401, 403 and 410 counts towards the client's limit; the body is read
    with :func:`hub_sync.protocol.load_json` (at most :data:`MAX_REQUEST_BYTES`, eight
    levels deep, numbers of 24 characters, no control characters).

    This is the hub's one state-changing route without a login, and no CSRF token
    applies: it is not a browser form but JSON posted by a device, and the one-time
    token in the body is itself the authentication, which a cross-site page cannot know
    (a request made with the victim's cookies gains nothing: the route reads none). Only
    ``application/json`` bodies are accepted, which a cross-site form cannot send
    without a CORS preflight that this route never grants.

    Args:
        store: where the tokens are.
        issue_credentials: called with the device id once its token has been claimed;
            raises :class:`EnrolmentRefused` to refuse, anything else to fail (500).
        limiter: failed-attempt limit per client address (default: 5 a minute).
        name: the blueprint's name.
    """
    limiter = limiter or FailureLimiter()
    issue = _checked_credentials(issue_credentials)
    blueprint = Blueprint(name, __name__)

    @blueprint.post("/enroll")
    def enroll() -> Response:
        client = request.remote_addr or "unknown"
        wait = limiter.retry_after(client)
        if wait is not None:
            seconds = max(1, math.ceil(wait))
            limiter.log_refusal(log, client, "enrolment", "rate_limited")
            response = _error(
                "rate_limited",
                f"too many failed enrolment attempts from this address; try again in {seconds} s",
                429,
            )
            response.headers["Retry-After"] = str(seconds)
            return response
        device_id = "?"
        try:
            token, device_id = _read_request()
            credentials = store.redeem(token, device_id, issue, client=client)
        except EnrolmentError as error:
            # Every refusal counts, a malformed body as much as a wrong token: each is a
            # try that failed, and only counting them all bounds the work and the log.
            limiter.failed(client)
            limiter.log_refusal(log, client, f"enrolment of {device_id}", error.code)
            return _error(error.code, str(error), error.status)
        except Exception:
            log.exception("issuing credentials for %s failed", device_id)
            return _error(
                "issue_failed",
                "the hub could not issue credentials; the token is still valid, try again later",
                500,
            )
        log.info("enrolled %s from %s", device_id, client)
        response = Response(json.dumps(credentials), status=200)
        response.mimetype = "application/json"
        response.headers["Cache-Control"] = "no-store"
        return response

    return blueprint


# --- the QR code and the label ---


def ca_fingerprint(ca_pem: str) -> str:
    """``sha256:<hex>`` of a PEM certificate's DER bytes (as ``openssl x509 -fingerprint``)."""
    return certificate_fingerprint(ssl.PEM_cert_to_DER_cert(ca_pem))


def qr_payload(
    hub_url: str, token: str, ca_fingerprint: str, *, device_id: str | None = None
) -> str:
    """The text of the label's QR code: ``hallsense-enrol:v1?hub=…&token=…&ca=sha256:…``.

    ``device`` is added when ``device_id`` is given. ``hub_url`` must be ``https``: the
    node enrols only over TLS, pinning the CA of the fingerprint.

    Raises:
        ValueError: the hub URL is not https, or the fingerprint is not SHA-256.
    """
    parts = urlsplit(hub_url)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(f"the hub URL must be https://host[:port], not {hub_url!r}")
    query: list[tuple[str, str]] = [("hub", hub_url.rstrip("/")), ("token", token)]
    if device_id is not None:
        query.append(("device", check_device_id(device_id)))
    query.append(("ca", "sha256:" + normalise_fingerprint(ca_fingerprint)))
    return f"{URI_SCHEME}:{URI_VERSION}?" + urlencode(query, quote_via=quote, safe=":/")


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    line = ""
    for word in text.split():
        while len(word) > width:
            if line:
                lines.append(line)
                line = ""
            lines.append(word[:width])
            word = word[width:]
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        lines.append(line)
    return lines


def label_svg(
    *,
    hub_url: str,
    token: str,
    ca_fingerprint: str,
    device_id: str,
    site: str,
    expires_at: datetime | None = None,
    width_mm: float = 62.0,
) -> str:
    """A printable label (SVG, sized in millimetres): the enrolment QR code, site and device.

    The QR code (segno, error correction M, four modules of quiet zone) carries
    :func:`qr_payload` with the device id; it is drawn as one path of black runs, so it
    prints sharp at any size. The token itself is not printed as text: whoever holds the
    label can enrol the device once, so it goes with the installer, not on the wall.
    """
    payload = qr_payload(hub_url, token, ca_fingerprint, device_id=device_id)
    qr = segno.make(payload, error="m", micro=False)
    modules, _ = qr.symbol_size(border=4)
    runs: list[str] = []
    for y, row in enumerate(qr.matrix_iter(border=4)):
        x = 0
        cells = [bool(v) for v in row]
        while x < len(cells):
            if cells[x]:
                start = x
                while x < len(cells) and cells[x]:
                    x += 1
                runs.append(f"M{start},{y}h{x - start}v1h-{x - start}z")
            else:
                x += 1
    margin = 3.0
    qr_mm = width_mm - 2 * margin
    scale = qr_mm / modules
    font = 3.6
    line_height = font * 1.35
    lines: list[tuple[str, str]] = [(line, "bold") for line in _wrap(site, 30)]
    lines.append((f"Device: {device_id}", "normal"))
    if expires_at is not None:
        lines.append((f"Enrol before {expires_at.astimezone(UTC):%d %b %Y %H:%M} UTC", "normal"))
    lines.append(("One-time enrolment code. Keep safe.", "normal"))
    height = margin + qr_mm + margin + len(lines) * line_height + margin
    texts = []
    y_text = margin + qr_mm + margin + font
    for text, weight in lines:
        texts.append(
            f'<text x="{width_mm / 2:.2f}" y="{y_text:.2f}" font-size="{font}" '
            f'font-weight="{weight}" text-anchor="middle">{escape(text)}</text>'
        )
        y_text += line_height
    title = escape(f"hallsense enrolment label for {device_id}, {site}")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width_mm:.2f}mm" '
        f'height="{height:.2f}mm" viewBox="0 0 {width_mm:.2f} {height:.2f}" '
        'role="img" font-family="Helvetica, Arial, sans-serif">\n'
        f"<title>{title}</title>\n"
        f'<rect width="{width_mm:.2f}" height="{height:.2f}" fill="#fff"/>\n'
        f'<path class="qr" transform="translate({margin:.2f} {margin:.2f}) scale({scale:.6f})" '
        f'fill="#000" d="{"".join(runs)}"/>\n' + "\n".join(texts) + "\n</svg>\n"
    )
