"""What the hub's device routes (``/enroll``, ``/rotate``) share: bounded bodies, JSON answers.

A device's request body is read at most to a limit whatever the client says its length
is, and every answer is JSON that no cache keeps (``Cache-Control: no-store``): an
answer may hold a password.
"""

from __future__ import annotations

import json
import math
from typing import Any

from flask import Response, request
from werkzeug.exceptions import HTTPException

from hub_sync.enrolment_contract import (
    RATE_LIMITED,
    RETRY_AFTER_HEADER,
    BadRequest,
    RateLimited,
    error_body,
)


def json_answer(body: dict[str, Any], status: int) -> Response:
    """``body`` as JSON with ``status``, never cached."""
    response = Response(json.dumps(body), status=status)
    response.mimetype = "application/json"
    response.headers["Cache-Control"] = "no-store"
    return response


def error_answer(code: str, message: str, status: int) -> Response:
    """A refusal: ``{"error": code, "message": message}``."""
    return json_answer(error_body(code, message), status)


def wait_seconds(wait: float) -> int:
    """The whole seconds a client is told to wait, at least one."""
    return max(1, math.ceil(wait))


def rate_limited_answer(message: str, seconds: int) -> Response:
    """429 ``rate_limited`` with ``Retry-After: seconds``."""
    response = error_answer(RATE_LIMITED, message, RateLimited.status)
    response.headers[RETRY_AFTER_HEADER] = str(seconds)
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
