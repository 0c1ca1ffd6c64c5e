"""The hub's ``POST /enroll``: a node trades its one-time token for broker credentials.

A node is enrolled once: the installer brings a one-time token (a file on the SD card's
boot partition, or the QR code on a printed label, :mod:`provisioning.enrolment_label`),
and on first boot the node posts it to the hub's ``/enroll`` over HTTPS, pinning the
council CA, and receives its broker credentials in the answer. Nothing else on the hub
changes state without authentication. The tokens are kept by
:mod:`provisioning.enrolment_tokens`; the paths, fields and codes are the enrolment
contract's (:mod:`hub_sync.enrolment_contract`).

Brute force against 256-bit tokens is hopeless; a per-address limit of failed attempts
(:mod:`provisioning.failure_limit`: five a minute by default, then 429 with
``Retry-After``) keeps log noise and load down. Every refused attempt counts: a wrong
token, a malformed body (deep JSON, a huge number, a control character, the wrong
content type) and a device the credential source refuses alike. The body is read with
the protocol's own bounded parser (:func:`hub_sync.untrusted_text.load_json`), never more
than :data:`MAX_REQUEST_BYTES`; a refusal is logged in one line without a traceback, at
most once a minute per address (the next line says how many were left out).

Neither tokens nor passwords are ever logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from flask import Blueprint, Response, request

from hub_sync.enrolment_contract import (
    CREDENTIAL_FIELDS,
    DEVICE_ID_FIELD,
    ENROL_PATH,
    ISSUE_FAILED,
    MAX_REQUEST_BYTES,
    MAX_TOKEN_CHARS,
    RATE_LIMITED,
    RESPONSE_VERSION,
    TOKEN_FIELD,
    VERSION_FIELD,
    BadRequest,
    TokenRejected,
    parse_body,
)
from hub_sync.topics import check_device_id
from hub_sync.wire_errors import ProtocolError
from provisioning.device_requests import (
    error_answer,
    json_answer,
    rate_limited_answer,
    read_body,
    wait_seconds,
)
from provisioning.enrolment_tokens import TokenStore
from provisioning.failure_limit import FailureLimiter

log = logging.getLogger(__name__)

IssueCredentials = Callable[[str], Mapping[str, Any]]
"""``issue_credentials(device_id)``: the node's broker credentials, as :data:`CREDENTIAL_FIELDS`."""


def _read_request() -> tuple[str, str]:
    if not request.is_json:
        raise BadRequest("send the enrolment request as JSON (Content-Type: application/json)")
    data = read_body(MAX_REQUEST_BYTES, "an enrolment request is a few hundred")
    body = parse_body(data, "the enrolment request", MAX_REQUEST_BYTES)
    if not isinstance(body, dict):
        raise BadRequest('the request must be a JSON object: {"token": ..., "device_id": ...}')
    token, device_id = body.get(TOKEN_FIELD), body.get(DEVICE_ID_FIELD)
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
        return {VERSION_FIELD: RESPONSE_VERSION, **given, DEVICE_ID_FIELD: device_id}

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
    with :func:`hub_sync.untrusted_text.load_json` (at most :data:`MAX_REQUEST_BYTES`, eight
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
            raises :class:`~hub_sync.enrolment_contract.EnrolmentRefused` to refuse,
            anything else to fail (500).
        limiter: failed-attempt limit per client address (default: 5 a minute).
        name: the blueprint's name.
    """
    limiter = limiter or FailureLimiter()
    issue = _checked_credentials(issue_credentials)
    blueprint = Blueprint(name, __name__)

    @blueprint.post(ENROL_PATH)
    def enroll() -> Response:
        client = request.remote_addr or "unknown"
        wait = limiter.retry_after(client)
        if wait is not None:
            seconds = wait_seconds(wait)
            limiter.log_refusal(log, client, "enrolment", RATE_LIMITED)
            return rate_limited_answer(
                f"too many failed enrolment attempts from this address; try again in {seconds} s",
                seconds,
            )
        device_id = "?"
        try:
            token, device_id = _read_request()
            credentials = store.redeem(token, device_id, issue, client=client)
        except TokenRejected as error:
            # Every refusal counts, a malformed body as much as a wrong token: each is a
            # try that failed, and only counting them all bounds the work and the log.
            limiter.failed(client)
            limiter.log_refusal(log, client, f"enrolment of {device_id}", error.code)
            return error_answer(error.code, str(error), error.status)
        except Exception:
            log.exception("issuing credentials for %s failed", device_id)
            return error_answer(
                ISSUE_FAILED,
                "the hub could not issue credentials; the token is still valid, try again later",
                500,
            )
        log.info("enrolled %s from %s", device_id, client)
        return json_answer(credentials, 200)

    return blueprint
