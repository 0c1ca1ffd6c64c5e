"""The enrolment wire contract both ends import: ``/enroll``, the QR code's text, the codes.

The hub (``provisioning/enrolment.py``) answers ``POST /enroll`` and prints the label's
QR code; the node (``hub_sync/enrolment.py``) reads the code and posts the token. Both
take every path, field name, version, error code and HTTP status from here, and raise
and catch the same exceptions: :class:`TokenRejected` and its subclasses, one per error
code (:data:`REFUSALS_BY_CODE`), which the hub turns into its answer and the node turns
the answer back into. The rotation contract (:mod:`hub_sync.rotation_contract`) builds
on the same error body and base exception.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from hub_sync.untrusted_text import load_json
from hub_sync.wire_errors import PayloadTooLarge, ProtocolError

ENROL_PATH = "/enroll"
RESPONSE_VERSION = 1
"""``version`` of ``/enroll``'s JSON answer (and of the node's credentials file)."""
URI_SCHEME = "hallsense-enrol"
URI_VERSION = "v1"
URI_PREFIX = f"{URI_SCHEME}:{URI_VERSION}?"
"""How the QR code's text starts; its query holds the ``URI_*`` parameters below."""
URI_HUB = "hub"
URI_TOKEN = "token"  # noqa: S105 - a field name, not a secret
URI_DEVICE = "device"
URI_CA = "ca"
CA_FINGERPRINT_PREFIX = "sha256:"
"""Before the CA fingerprint's hex digits in the QR code."""

TOKEN_FIELD = "token"  # noqa: S105 - a field name, not a secret
DEVICE_ID_FIELD = "device_id"
VERSION_FIELD = "version"
ERROR_FIELD = "error"
MESSAGE_FIELD = "message"
RETRY_AFTER_HEADER = "Retry-After"
CREDENTIAL_FIELDS: Mapping[str, type] = {
    "broker_host": str,
    "broker_port": int,
    "username": str,
    "password": str,
    "ca_pem": str,
}
"""What a successful answer holds besides ``version`` and ``device_id`` (``client_id``
and other keys may follow)."""

MAX_REQUEST_BYTES = 4096
"""An enrolment request is a few hundred bytes of JSON."""
MAX_TOKEN_CHARS = 128
"""Anything longer is not a token and is refused before it is hashed or sent."""
TOKEN_PATTERN = re.compile(rf"[A-Za-z0-9_-]{{16,{MAX_TOKEN_CHARS}}}")
"""What a token looks like (URL-safe base64); the node refuses anything else before sending."""

RATE_LIMITED = "rate_limited"
"""The error code of a 429: too many failed attempts from this address."""
ISSUE_FAILED = "issue_failed"
"""The error code of a 500: the hub could not issue credentials; the token stays usable."""


def enrol_request(token: str, device_id: str) -> dict[str, str]:
    """The JSON body a node posts to ``/enroll``."""
    return {TOKEN_FIELD: token, DEVICE_ID_FIELD: device_id}


def error_body(code: str, message: str) -> dict[str, Any]:
    """The JSON body of every refusal, of enrolment and of rotation alike."""
    return {ERROR_FIELD: code, MESSAGE_FIELD: message}


# --- errors ---


class EnrolmentError(Exception):
    """Base of every failure of enrolment or rotation, at either end.

    ``retryable``: trying again later can help.
    """

    retryable = False


class TokenRejected(EnrolmentError):
    """The hub refuses the enrolment request; ``code`` and ``status`` are its answer's."""

    code = "rejected"
    status = 400

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status


class BadRequest(TokenRejected):
    """The request is not an enrolment request: not JSON, a field missing or malformed."""

    code = "bad_request"
    status = 400


class TokenInvalid(TokenRejected):
    """No such token: mistyped, from another hub, or forged."""

    code = "invalid_token"
    status = 401


class WrongDevice(TokenRejected):
    """The token is for another device: the wrong card in the wrong node."""

    code = "wrong_device"
    status = 401


class TokenUsed(TokenRejected):
    """The token has been used already: tokens are single-use; ask for a new one."""

    code = "token_used"
    status = 410


class TokenExpired(TokenRejected):
    """The token's time ran out before it was used; ask for a new one."""

    code = "token_expired"
    status = 410


class TokenRevoked(TokenRejected):
    """The token was withdrawn: a newer one was made, or the device was revoked."""

    code = "token_revoked"
    status = 410


class EnrolmentRefused(TokenRejected):
    """The hub refuses this device (e.g. it has been revoked)."""

    code = "refused"
    status = 403


class RateLimited(EnrolmentError):
    """Too many failed attempts from this address; ``retry_after`` seconds to wait."""

    code = RATE_LIMITED
    status = 429
    retryable = True

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


REFUSALS_BY_CODE: Mapping[str, type[TokenRejected]] = {
    cls.code: cls
    for cls in (
        BadRequest,
        TokenInvalid,
        WrongDevice,
        TokenUsed,
        TokenExpired,
        TokenRevoked,
        EnrolmentRefused,
    )
}
"""The refusal each error code of ``/enroll`` stands for."""


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
