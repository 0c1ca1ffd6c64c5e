"""The node's side of replacing its broker password, and keeping the old one until then.

When the hub's ack says ``rotate`` (``hallsense provision rotate`` was run), the node:

1. asks the hub's ``POST /rotate`` over HTTPS, pinning the council CA, authenticated
   with the password it is connected with, and receives a new one;
2. writes both to its credentials file (mode 0600, atomically): ``password`` is the new
   one, ``previous_password`` the old one;
3. confirms with ``POST /rotate/confirm``, authenticated with the new password; the hub
   then puts it in force and reloads the broker, which drops the session made with the
   old password, and the node reconnects with the new one. The hub's answer says
   ``"in_force": true`` both when this confirmation rotated (``"rotated": true``) and when
   an earlier one had, whose answer was lost (``"rotated": false``): either way the new
   password is the broker's, and the node goes on;
4. forgets the old password once a connection with the new one has worked.

Whatever is lost on the way, the node is never locked out: a broker that refuses one of
the two passwords (bad user name or password, not authorised) is tried with the other
at the next reconnection, and a hub that keeps asking (its flag stays until the
confirmation arrives) makes the node start again from step 1 with the password that
works. Passwords are never logged.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from hub_sync.enrolment_contract import DEVICE_ID_FIELD, ERROR_FIELD, MESSAGE_FIELD, EnrolmentError
from hub_sync.enrolment_files import read_credentials, write_credentials
from hub_sync.hub_https import DEFAULT_TIMEOUT_S, HubError, answer_json, post_to_hub
from hub_sync.rotation_contract import (
    CONFIRM_PATH,
    IN_FORCE_FIELD,
    PASSWORD_FIELD,
    ROTATE_PATH,
    ROTATED_FIELD,
    ROTATION_REFUSALS_BY_CODE,
    RotationFailed,
)

log = logging.getLogger(__name__)

AUTH_REFUSALS = frozenset({0x86, 0x87})
"""CONNACK reason codes that say the password is wrong: "Bad user name or password" and
"Not authorized" (Mosquitto answers the latter to a wrong password)."""
COOL_DOWN_S = 300.0
"""After a rotation, acks sent before the hub cleared its flag are ignored this long."""
RETRY_S = 60.0
"""After a failed attempt, the next request waits at least this long."""
CONFIRM_ATTEMPTS = 5


class PasswordClient(Protocol):
    """The MQTT client's one setter rotation uses."""

    def set_password(self, password: str) -> None:
        """Use ``password`` from the next (re)connection on."""
        ...


def _post(
    hub_url: str,
    path: str,
    device_id: str,
    password: str,
    *,
    ca_file: str | os.PathLike[str],
    timeout: float,
    proxies: Mapping[str, str] | None = None,
) -> dict[str, object]:
    response = post_to_hub(
        hub_url.rstrip("/") + path,
        ca_file=ca_file,
        auth=(device_id, password),
        timeout=timeout,
        proxies=proxies,
    )
    body = answer_json(response)
    if not isinstance(body, dict):
        raise HubError(f"the hub answered {response.status_code} without a JSON object")
    if response.status_code != 200:
        code = str(body.get(ERROR_FIELD, "refused"))
        refusal = ROTATION_REFUSALS_BY_CODE.get(code, RotationFailed)
        raise refusal(
            f"the hub refused {path} ({response.status_code} {code}): {body.get(MESSAGE_FIELD)}",
            status=response.status_code,
            code=code,
        )
    return body


def request_new_password(
    hub_url: str,
    device_id: str,
    password: str,
    *,
    ca_file: str | os.PathLike[str],
    timeout: float = DEFAULT_TIMEOUT_S,
    proxies: Mapping[str, str] | None = None,
) -> str:
    """Step 1: the new password the hub hands out in return for the current one.

    Raises:
        RotationFailed: the hub refused (wrong password, not requested, revoked…).
        TlsFailure, HubUnreachable, HubError: as in enrolment.
    """
    body = _post(
        hub_url, ROTATE_PATH, device_id, password, ca_file=ca_file, timeout=timeout, proxies=proxies
    )
    fresh = body.get(PASSWORD_FIELD)
    if not isinstance(fresh, str) or not fresh or body.get(DEVICE_ID_FIELD) != device_id:
        raise HubError("the hub's answer to /rotate holds no password for this device")
    return fresh


def confirm_new_password(
    hub_url: str,
    device_id: str,
    password: str,
    *,
    ca_file: str | os.PathLike[str],
    timeout: float = DEFAULT_TIMEOUT_S,
    proxies: Mapping[str, str] | None = None,
) -> bool:
    """Step 3: prove the new password arrived; the hub puts it in force.

    Returns:
        True when this confirmation put the password in force, False when the hub had
        already (an earlier confirmation's answer was lost).

    Raises:
        RotationFailed, TlsFailure, HubUnreachable, HubError: as :func:`request_new_password`.
    """
    body = _post(
        hub_url,
        CONFIRM_PATH,
        device_id,
        password,
        ca_file=ca_file,
        timeout=timeout,
        proxies=proxies,
    )
    if body.get(DEVICE_ID_FIELD) != device_id:
        raise HubError("the hub's answer to /rotate/confirm is not for this device")
    if body.get(ROTATED_FIELD) is True:  # (hubs before "in_force" say only this)
        return True
    if body.get(IN_FORCE_FIELD) is True:
        return False
    raise HubError("the hub's answer to /rotate/confirm does not say the password is in force")


class CredentialKeeper:
    """The node's broker password, the one before it during a rotation, and the rotation.

    Hooks for the uplink: :meth:`attach` (the MQTT client), :meth:`connected` and
    :meth:`refused` (paho's thread, on each CONNACK), :meth:`requested` (an ack said
    ``rotate``); :meth:`start` and :meth:`close` run the rotation's own thread, so the
    agent's loop never waits on HTTPS.
    """

    def __init__(
        self,
        credentials_file: Path,
        *,
        hub_url: str,
        ca_file: Path | None,
        proxies: Mapping[str, str] | None = None,
        report: Callable[[str, str], None] | None = None,
        cool_down_s: float = COOL_DOWN_S,
        retry_s: float = RETRY_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.credentials_file = credentials_file
        self.credentials = read_credentials(credentials_file)
        self.hub_url = hub_url
        self.ca_file = ca_file
        self.proxies = dict(proxies or {})
        self.report = report
        self.cool_down_s = cool_down_s
        self.retry_s = retry_s
        self.monotonic = monotonic
        self.in_use = self.credentials.password
        self._client: PasswordClient | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._not_before = 0.0
        self._thread: threading.Thread | None = None
        self.rotations = 0

    @property
    def password(self) -> str:
        """The password to connect with now."""
        return self.in_use

    def attach(self, client: PasswordClient) -> None:
        """The MQTT client whose password this keeper sets."""
        self._client = client

    # --- paho's thread ---

    def connected(self) -> None:
        """A connection worked: if with the newest password, forget the one before it."""
        with self._lock:
            credentials = self.credentials
            if credentials.previous_password is None or self.in_use != credentials.password:
                return
            self.credentials = replace(credentials, previous_password=None)
            write_credentials(self.credentials_file, self.credentials)
        log.info("the new broker password works; the old one is forgotten")

    def refused(self, reason: int) -> None:
        """The broker refused the password: try the other one we hold, if any."""
        if reason not in AUTH_REFUSALS:
            return
        with self._lock:
            credentials = self.credentials
            if credentials.previous_password is None:
                return
            self.in_use = (
                credentials.previous_password
                if self.in_use == credentials.password
                else credentials.password
            )
            if self._client is not None:
                self._client.set_password(self.in_use)
        log.warning("the broker refused this node's password; trying the other one it holds")

    def requested(self) -> None:
        """The hub asks for a new password (from an ack); the rotation thread does it."""
        self._wake.set()

    # --- the rotation's thread ---

    def start(self) -> None:
        """Start the thread that rotates when asked."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="rotation", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Stop the rotation's thread (a rotation under way ends at its next step)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            if self._stop.is_set():
                return
            if self.monotonic() < self._not_before:
                continue
            try:
                self.rotate()
            except (EnrolmentError, OSError, ValueError) as error:
                log.warning("replacing the broker password failed: %s", error)
                self._report("failing", f"password rotation: {error}")
                self._not_before = self.monotonic() + self.retry_s
            else:
                self._not_before = self.monotonic() + self.cool_down_s

    def _report(self, state: str, words: str) -> None:
        if self.report is not None:
            self.report(state, words)

    def rotate(self) -> None:
        """Steps 1 to 3 (see the module's notes); returns once the hub has confirmed.

        Raises:
            RotationFailed, TlsFailure, HubUnreachable, HubError: the hub's part failed;
                the password that works is kept, and the hub's next ask starts again.
            OSError: the credentials file could not be written.
        """
        if not self.hub_url or self.ca_file is None:
            raise HubError(
                "the hub asks for a new password, but this node has no enrolment address "
                "(HALLSENSE_ENROL_URL) or CA file (HALLSENSE_BROKER_CA_FILE) to fetch it from"
            )
        device_id = self.credentials.device_id
        current = self.in_use
        fresh = request_new_password(
            self.hub_url, device_id, current, ca_file=self.ca_file, proxies=self.proxies
        )
        with self._lock:
            self.credentials = replace(self.credentials, password=fresh, previous_password=current)
            write_credentials(self.credentials_file, self.credentials)
        for attempt in range(CONFIRM_ATTEMPTS):
            try:
                rotated_now = confirm_new_password(
                    self.hub_url, device_id, fresh, ca_file=self.ca_file, proxies=self.proxies
                )
                break
            except EnrolmentError as error:
                if not error.retryable or attempt == CONFIRM_ATTEMPTS - 1:
                    raise
                if self._stop.wait(min(2.0**attempt, 30.0)):
                    raise
        with self._lock:
            self.in_use = fresh
            if self._client is not None:
                self._client.set_password(fresh)
        self.rotations += 1
        if rotated_now:
            log.info("the hub confirmed this node's new broker password")
        else:
            log.info("the hub had this node's new broker password in force already")
        self._report("ok", "broker password replaced")
