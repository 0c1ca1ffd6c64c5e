"""The rotation wire contract both ends import: ``/rotate``, ``/rotate/confirm``, their codes.

The hub (``provisioning/rotation.py``) answers both routes; the node
(``hub_sync/rotation.py``) calls them, authenticated with HTTP Basic (device id,
password). Refusals share enrolment's error body (:func:`hub_sync.enrolment_contract.error_body`)
and are :class:`RotationFailed` and its subclasses, one per error code
(:data:`ROTATION_REFUSALS_BY_CODE`).
"""

from __future__ import annotations

from collections.abc import Mapping

from hub_sync.enrolment_contract import EnrolmentError

ROTATE_PATH = "/rotate"
CONFIRM_PATH = "/rotate/confirm"
RESPONSE_VERSION = 1
"""``version`` of both routes' JSON answers."""
MAX_BODY_BYTES = 1024
"""The routes take no body; anything sent anyway is refused past this size."""
PASSWORD_FIELD = "password"  # noqa: S105 - a field name, not a secret
"""In ``/rotate``'s answer: the new password."""
ROTATED_FIELD = "rotated"
"""In ``/rotate/confirm``'s answer: this request put the password in force."""
IN_FORCE_FIELD = "in_force"
"""In ``/rotate/confirm``'s answer: the password given is the broker's now."""
REASON_FIELD = "reason"
"""In ``/rotate/confirm``'s answer when nothing changed: why."""
AUTH_REALM = 'Basic realm="hallsense devices"'
"""``WWW-Authenticate`` of a 401."""


class RotationFailed(EnrolmentError):
    """A refused rotation step; ``code`` and ``status`` are the hub's answer's.

    ``retryable`` when the hub failed (5xx) or asked to wait (429).
    """

    code = "bad_request"
    status = 400

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.retryable = self.status >= 500 or self.status == 429


class NotAuthorised(RotationFailed):
    """Unknown device or wrong password (one answer for both)."""

    code = "unauthorised"
    status = 401


class Refused(RotationFailed):
    """The device is revoked."""

    code = "refused"
    status = 403


class NotRequested(RotationFailed):
    """Nobody asked for this device's password to be replaced."""

    code = "not_requested"
    status = 409


class MalformedRequest(RotationFailed):
    """The request's body is not empty and not a small JSON object."""

    code = "bad_request"
    status = 400


ROTATION_REFUSALS_BY_CODE: Mapping[str, type[RotationFailed]] = {
    cls.code: cls for cls in (NotAuthorised, Refused, NotRequested, MalformedRequest)
}
"""The refusal each error code of the rotation routes stands for."""
