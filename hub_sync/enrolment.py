"""The node's one enrolment call: post the one-time token, receive broker credentials.

On first boot the node reads the one-time token the installer put on the SD card's boot
partition, posts it to the hub's ``/enroll`` (:func:`enrol`), writes the credentials it
receives to a file created with mode 0600, and only then removes the token file
(:mod:`hub_sync.enrolment_files`). :func:`enrol_with_token_file` does the four in that
order.

Trust: the call goes through :func:`hub_sync.hub_https.post_to_hub`, which trusts only
the council CA in the CA file; with a fingerprint from the QR code, the CA file and the
CA the hub hands back must both be that certificate (:mod:`hub_sync.enrolment_code`).

Each failure has its own exception (:class:`TokenUsed`, :class:`TokenExpired`,
:class:`TokenInvalid`, :class:`RateLimited`, :class:`TlsFailure`,
:class:`HubUnreachable`, …), all :class:`EnrolmentError`, whose ``retryable`` says
whether trying later can help; the hub's refusals are the enrolment contract's
(:mod:`hub_sync.enrolment_contract`), one per error code. The token and the password are
never logged nor put in an exception's message.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

import requests

from hub_sync.enrolment_code import CaMismatch, check_ca, check_hub_url
from hub_sync.enrolment_contract import (
    ENROL_PATH,
    ERROR_FIELD,
    MESSAGE_FIELD,
    REFUSALS_BY_CODE,
    RETRY_AFTER_HEADER,
    TOKEN_PATTERN,
    EnrolmentError,
    RateLimited,
    TokenRejected,
    enrol_request,
)
from hub_sync.enrolment_files import (
    Credentials,
    read_token_file,
    remove_token_file,
    write_credentials,
)
from hub_sync.hub_https import (
    DEFAULT_TIMEOUT_S,
    HubError,
    TlsFailure,
    answer_json,
    post_to_hub,
)
from hub_sync.topics import DEVICE_ID

log = logging.getLogger(__name__)


def _rejection(response: requests.Response) -> EnrolmentError:
    body = answer_json(response)
    code = body.get(ERROR_FIELD) if isinstance(body, dict) else None
    message = body.get(MESSAGE_FIELD) if isinstance(body, dict) else None
    text = (
        f"the hub refused the enrolment ({response.status_code} {code}): {message}"
        if isinstance(message, str)
        else f"the hub answered {response.status_code} {response.reason}"
    )
    if response.status_code == RateLimited.status:
        try:
            retry_after = float(response.headers.get(RETRY_AFTER_HEADER, "60"))
        except ValueError:
            retry_after = 60.0
        return RateLimited(text, retry_after=retry_after)
    if response.status_code >= 500 or not isinstance(code, str):
        return HubError(text)
    cls = REFUSALS_BY_CODE.get(code, TokenRejected)
    return cls(text, status=response.status_code)


def enrol(
    hub_url: str,
    token: str,
    device_id: str,
    *,
    ca_file: str | os.PathLike[str],
    ca_fingerprint: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    proxies: Mapping[str, str] | None = None,
) -> Credentials:
    """Post the one-time ``token`` to the hub's ``/enroll`` and return the credentials.

    Args:
        hub_url: ``https://host[:port][/prefix]`` of the hub's web.
        token: the one-time token (from :func:`read_token_file` or the QR code).
        device_id: this node's id; the token must be for it.
        ca_file: the council CA certificate (PEM), the only CA trusted for this call.
        ca_fingerprint: from the QR code: ``ca_file`` must be exactly that certificate,
            and so must the CA in the hub's answer.
        timeout: seconds for connecting and for each read.
        proxies: ``requests`` proxies, when the hall's network needs one.

    Raises:
        ValueError: the URL is not https, or the token or device id is malformed.
        CaMismatch: the CA file or the received CA does not match ``ca_fingerprint``.
        TlsFailure: the server's certificate is not from the pinned CA or not for its name.
        HubUnreachable: no connection or no answer in time.
        RateLimited: too many failed attempts from this address; see ``retry_after``.
        TokenUsed, TokenExpired, TokenRevoked, TokenInvalid, WrongDevice,
        EnrolmentRefused, BadRequest: the hub refused the token (see each).
        HubError: the hub failed, or its answer is not valid credentials.
    """
    check_hub_url(hub_url)
    if not TOKEN_PATTERN.fullmatch(token):
        raise ValueError("the enrolment token is malformed (expected URL-safe base64)")
    if not DEVICE_ID.fullmatch(device_id):
        raise ValueError(f"device id {device_id!r} is not valid")
    ca_path = Path(ca_file)
    if ca_fingerprint is not None:
        try:
            pinned = ca_path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as error:
            raise CaMismatch(f"cannot read the CA file {ca_path}: {error}") from None
        check_ca(pinned, ca_fingerprint, what=f"the CA file {ca_path}")
    elif not ca_path.is_file():
        raise TlsFailure(f"no CA file at {ca_path}: enrolment trusts only the council CA")
    url = hub_url.rstrip("/") + ENROL_PATH
    log.info("enrolling %s at %s", device_id, url)
    response = post_to_hub(
        url,
        ca_file=ca_path,
        body=enrol_request(token, device_id),
        timeout=timeout,
        proxies=proxies,
    )
    if response.status_code != 200:
        refusal = _rejection(response)
        log.warning("enrolment of %s refused: %s", device_id, refusal)
        raise refusal
    try:
        answer = response.json()
        if not isinstance(answer, dict):
            raise ValueError("it is not a JSON object")
        credentials = Credentials.from_mapping(answer)
    except (ValueError, RecursionError) as error:
        raise HubError(f"the hub's answer is not valid credentials: {error}") from None
    if credentials.device_id != device_id:
        raise HubError(f"the hub sent credentials for {credentials.device_id!r}, not {device_id!r}")
    if ca_fingerprint is not None:
        check_ca(credentials.ca_pem, ca_fingerprint, what="the CA the hub sent")
    log.info(
        "enrolled %s: broker %s:%d", device_id, credentials.broker_host, credentials.broker_port
    )
    return credentials


def enrol_with_token_file(
    hub_url: str,
    device_id: str,
    *,
    token_file: str | os.PathLike[str],
    credentials_file: str | os.PathLike[str],
    ca_file: str | os.PathLike[str],
    ca_fingerprint: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    proxies: Mapping[str, str] | None = None,
) -> Credentials:
    """First boot: read the token file, enrol, write the credentials, remove the token file.

    The token file is removed only once the credentials are safely on disk; on any
    failure it stays (a used or expired token is then useless anyway).

    Raises:
        TokenFileError: no usable token file.
        EnrolmentError: as :func:`enrol`.
    """
    token = read_token_file(token_file)
    credentials = enrol(
        hub_url,
        token,
        device_id,
        ca_file=ca_file,
        ca_fingerprint=ca_fingerprint,
        timeout=timeout,
        proxies=proxies,
    )
    write_credentials(credentials_file, credentials)
    remove_token_file(token_file)
    return credentials
