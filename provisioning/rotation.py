"""Replacing a device's broker password: the hub's ``POST /rotate`` and ``/rotate/confirm``.

``hallsense provision rotate DEVICE`` only marks the device in the registry; the hub's
acks to it then carry ``"rotate": true`` (a flag, never a secret, and never on a
retained topic). The node does the rest over HTTPS, pinning the council CA, in two steps
so that no lost answer can ever lock it out:

1. ``POST /rotate``, authenticated (HTTP Basic) with the device id and the password it
   is connected with now: the hub makes a new password with :mod:`secrets`, keeps only
   its hash as *pending* (``DIR/rotation/<device>.hash``, mode 0600) and answers with it.
   The broker still has the old one; the node keeps both.
2. ``POST /rotate/confirm``, authenticated with the *new* password: only now does the
   hub put the pending hash in the broker's password file, reload the broker (which
   drops the node's session made with the old password: the node reconnects with the
   new one), clear the registry's flag and record it in the audit trail. The answer says
   what happened: ``"rotated": true`` only when this request put a new password in
   force; ``"rotated": false`` with a ``reason`` when the password given was already the
   one in force (nothing was pending, or a newer one is). Either way ``"in_force":
   true``: the password the node authenticated with is the broker's now, which is all
   the node needs to know to go on.

Mosquitto holds one password per user, so there is a moment when only the new one
works; the node keeps the old one as a fallback until the new one has connected (see
:mod:`hub_sync.rotation`). If the first answer is lost, the node asks again and a new
pending password replaces the unconfirmed one; if the confirmation's answer is lost,
confirming again with the password now in force answers 200 again, truthfully: ``"rotated":
false, "in_force": true``.

Both routes take no body; one that is sent anyway must be a small JSON object (read with
:func:`hub_sync.untrusted_text.load_json`, at most :data:`MAX_BODY_BYTES`), and is otherwise
ignored. Failed authentications and malformed requests count towards the same
per-address limit as enrolment's (429 with ``Retry-After``), and are logged as
enrolment's are (one line, at most once a minute per address). An unknown device and a
wrong password get the same answer. Passwords are never logged.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, Response, request

from hub_sync.enrolment_contract import (
    DEVICE_ID_FIELD,
    RATE_LIMITED,
    VERSION_FIELD,
    BadRequest,
    parse_body,
)
from hub_sync.rotation_contract import (
    AUTH_REALM,
    CONFIRM_PATH,
    IN_FORCE_FIELD,
    MAX_BODY_BYTES,
    PASSWORD_FIELD,
    REASON_FIELD,
    RESPONSE_VERSION,
    ROTATE_PATH,
    ROTATED_FIELD,
    MalformedRequest,
    NotAuthorised,
    NotRequested,
    Refused,
    RotationFailed,
)
from hub_sync.topics import DEVICE_ID
from provisioning.device_accounts import device_password_matches, set_device_password_hash
from provisioning.device_requests import (
    error_answer,
    json_answer,
    rate_limited_answer,
    read_body,
    wait_seconds,
)
from provisioning.failure_limit import FailureLimiter
from provisioning.passwords import mosquitto_hash, new_password, verify, write_private_file
from provisioning.registry import RegistryDevice, RotationRegistry
from provisioning.state import AccountError, ProvisioningState

log = logging.getLogger(__name__)

PENDING_DIR = "rotation"
"""Under the provisioning state directory: the hashes of passwords handed out, not yet confirmed."""


@dataclass(frozen=True)
class Confirmation:
    """What a confirmation did; either way the password it was made with is in force.

    ``rotated``: this request put the password in force; otherwise ``reason`` says why
    nothing changed.
    """

    rotated: bool
    reason: str = ""


def forget_pending(state: ProvisioningState, device_id: str) -> bool:
    """Drop a password handed out and not confirmed (on revoke); False if there was none."""
    path = state.layout.root / PENDING_DIR / f"{device_id}.hash"
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


class CredentialRotation:
    """The hub's side of rotation over a provisioning state, a registry and a broker reload.

    Thread-safe: one rotation step at a time (they are rare).
    """

    def __init__(
        self,
        state: ProvisioningState,
        registry: RotationRegistry,
        reload_broker: Callable[[], None],
    ) -> None:
        self.state = state
        self.registry = registry
        self.reload_broker = reload_broker
        self.pending_dir = state.layout.root / PENDING_DIR
        self._lock = threading.Lock()

    def _pending_path(self, device_id: str) -> Path:
        return self.pending_dir / f"{device_id}.hash"

    def _device(self, device_id: str) -> RegistryDevice:
        device = self.registry.device(device_id)
        if device is None:
            raise NotAuthorised("unknown device or wrong password")
        if device.revoked:
            raise Refused(f"device {device_id!r} has been revoked")
        return device

    def begin(self, device_id: str, password: str) -> str:
        """Step 1: a new password for a device that proves its current one.

        Raises:
            NotAuthorised, Refused, NotRequested: see each.
        """
        with self._lock:
            if not device_password_matches(self.state, device_id, password):
                raise NotAuthorised("unknown device or wrong password")
            if not self._device(device_id).rotation_requested:
                raise NotRequested(f"no new password has been asked for {device_id!r}")
            fresh = new_password()
            self.pending_dir.mkdir(mode=0o700, exist_ok=True)
            path = self._pending_path(device_id)
            path.unlink(missing_ok=True)  # an unconfirmed earlier one is void
            write_private_file(path, mosquitto_hash(fresh))
        log.info("new broker password handed to %s, awaiting its confirmation", device_id)
        return fresh

    def confirm(self, device_id: str, password: str) -> Confirmation:
        """Step 2: the node proves it holds the new password; put it in force.

        Returns:
            whether this call rotated; when it did not, the password given was already
            the one in force (a confirmation whose answer was lost, or no rotation at all).

        Raises:
            NotAuthorised: neither the pending password nor the one in force.
            Refused: the device is revoked.
        """
        with self._lock:
            path = self._pending_path(device_id)
            try:
                pending = path.read_text(encoding="ascii").strip()
            except FileNotFoundError:
                pending = ""
            if not pending or not verify(password, pending):
                if device_password_matches(self.state, device_id, password):
                    self._device(device_id)
                    # Confirmed before and the answer was lost, or nothing was handed out.
                    waiting = (
                        "a newer password handed out still waits for its confirmation"
                        if pending
                        else "no new password was waiting for confirmation"
                    )
                    return Confirmation(
                        rotated=False,
                        reason=f"this password is the one in force already; {waiting}",
                    )
                raise NotAuthorised("unknown device or wrong password")
            self._device(device_id)
            try:
                set_device_password_hash(self.state, device_id, pending)
            except AccountError as error:
                raise Refused(str(error)) from None
            path.unlink()
            self.registry.finish_rotation(device_id, actor=f"device {device_id}")
            self.reload_broker()
        log.info("rotated the broker password of %s", device_id)
        return Confirmation(rotated=True)


def _read_body() -> None:
    """Refuse a body that is not empty and not a small JSON object (the routes need none).

    Raises:
        MalformedRequest: saying what was wrong.
    """
    try:
        data = read_body(MAX_BODY_BYTES, "these routes take no body")
        if not data.strip():
            return
        if not request.is_json:
            raise BadRequest(
                "these routes take no body; send none, or JSON (Content-Type: application/json)"
            )
        if not isinstance(parse_body(data, "the request body", MAX_BODY_BYTES), dict):
            raise BadRequest("the request body must be a JSON object, or nothing")
    except BadRequest as error:
        raise MalformedRequest(str(error)) from None


def rotation_blueprint(
    rotation: CredentialRotation,
    *,
    limiter: FailureLimiter | None = None,
    name: str = "rotation",
) -> Blueprint:
    """``POST /rotate`` and ``POST /rotate/confirm``, to mount on the hub web's app.

    Both authenticate with HTTP Basic (device id, password) and take no body (one sent
    anyway must be a JSON object of at most :data:`MAX_BODY_BYTES`, and is ignored).
    ``/rotate`` answers 200 ``{"version": 1, "device_id", "password"}``;
    ``/rotate/confirm`` answers 200 ``{"version": 1, "device_id", "rotated", "in_force":
    true}``, with ``"rotated": false`` and a ``reason`` when the password given was in
    force already and nothing changed. Refusals are JSON ``{"error", "message"}``: 400
    (``bad_request``: a malformed body), 401 (``unauthorised``, with
    ``WWW-Authenticate``), 403 (``refused``), 409 (``not_requested``), 429
    (``rate_limited``, with ``Retry-After``). Like ``/enroll`` these are for devices, not
    browsers: no cookie is read, so no CSRF token applies.
    """
    limiter = limiter or FailureLimiter()
    blueprint = Blueprint(name, __name__)

    def handle(step: Callable[[str, str], dict[str, object]]) -> Response:
        client = request.remote_addr or "unknown"
        wait = limiter.retry_after(client)
        if wait is not None:
            seconds = wait_seconds(wait)
            limiter.log_refusal(log, client, f"rotation step {request.path}", RATE_LIMITED)
            return rate_limited_answer(
                f"too many failed attempts; try again in {seconds} s", seconds
            )
        auth = request.authorization
        device_id = auth.username if auth is not None and auth.type == "basic" else None
        password = auth.password if auth is not None else None
        known = device_id if device_id and DEVICE_ID.fullmatch(device_id) else None
        try:
            _read_body()
            if not known or not password:
                raise NotAuthorised("give the device id and its password (HTTP Basic)")
            body = step(known, password)
        except RotationFailed as error:
            if isinstance(error, NotAuthorised | MalformedRequest):
                limiter.failed(client)
            limiter.log_refusal(
                log, client, f"rotation step {request.path} for {known or '?'}", error.code
            )
            response = error_answer(error.code, str(error), error.status)
            if isinstance(error, NotAuthorised):
                response.headers["WWW-Authenticate"] = AUTH_REALM
            return response
        return json_answer({VERSION_FIELD: RESPONSE_VERSION, DEVICE_ID_FIELD: known, **body}, 200)

    @blueprint.post(ROTATE_PATH)
    def rotate() -> Response:
        return handle(
            lambda device_id, password: {PASSWORD_FIELD: rotation.begin(device_id, password)}
        )

    @blueprint.post(CONFIRM_PATH)
    def confirm() -> Response:
        def step(device_id: str, password: str) -> dict[str, object]:
            done = rotation.confirm(device_id, password)
            if done.rotated:
                return {ROTATED_FIELD: True, IN_FORCE_FIELD: True}
            return {ROTATED_FIELD: False, IN_FORCE_FIELD: True, REASON_FIELD: done.reason}

        return handle(step)

    return blueprint
