"""The node's one HTTPS call: enrol with a one-time token and receive broker credentials.

On first boot the node reads the one-time token the installer put on the SD card's boot
partition (:func:`read_token_file`), posts it to the hub's ``/enroll`` (:func:`enrol`),
writes the credentials it receives to a file created with mode 0600
(:func:`write_credentials`), and only then removes the token file
(:func:`remove_token_file`). :func:`enrol_with_token_file` does the four in that order.

Trust: the node trusts exactly one CA for this call, the council CA whose certificate
came with the bundle or sits on the boot partition; ``requests`` gets that file as
``verify=``, so neither the system's trust store nor ``REQUESTS_CA_BUNDLE`` counts, and
the server's name is checked against its certificate as usual. A QR code carries only
the CA's SHA-256 fingerprint, and a fingerprint alone cannot be pinned in ``requests``
without fetching the server's chain unauthenticated first, so the node does not do
that: it requires the CA file, and when a fingerprint is known (from the QR code) it
checks that the file holds exactly that one certificate before connecting, and that the
CA the hub hands back is that same one. Proxies from the environment and ``.netrc`` are
ignored (``trust_env`` off); a proxy is used only when passed in. Redirects are not
followed.

Each failure has its own exception (:class:`TokenUsed`, :class:`TokenExpired`,
:class:`TokenInvalid`, :class:`RateLimited`, :class:`TlsFailure`,
:class:`HubUnreachable`, …), all :class:`EnrolmentError`, whose ``retryable`` says
whether trying later can help. The token and the password are never logged nor put in
an exception's message.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import ssl
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests

from hub_sync.protocol import DEVICE_ID, certificate_fingerprint, normalise_fingerprint

log = logging.getLogger(__name__)

ENROL_PATH = "/enroll"
RESPONSE_VERSION = 1
"""The ``version`` of ``/enroll``'s JSON answer that this node understands."""
URI_PREFIX = "hallsense-enrol:v1?"
"""How the QR code's text starts."""
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,128}")
"""What a token looks like (URL-safe base64); anything else is refused before sending."""
MAX_TOKEN_FILE_BYTES = 4096
DEFAULT_TIMEOUT_S = 15.0

_PEM_CERT = re.compile(r"-----BEGIN CERTIFICATE-----\s+[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----")


# --- errors ---


class EnrolmentError(Exception):
    """Base of every enrolment failure; ``retryable``: trying again later can help."""

    retryable = False


class TokenFileError(EnrolmentError):
    """The token file is missing, empty, or does not hold a token."""


class CaMismatch(EnrolmentError):
    """The CA file or the CA the hub sent is not the one whose fingerprint the QR code has."""


class TokenRejected(EnrolmentError):
    """The hub refused the token; ``code`` is its error code."""

    code = "rejected"

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class TokenInvalid(TokenRejected):
    """The hub does not know the token: mistyped, from another hub, or forged."""

    code = "invalid_token"


class WrongDevice(TokenRejected):
    """The token is for another device: the wrong card in the wrong node."""

    code = "wrong_device"


class TokenUsed(TokenRejected):
    """The token has been used already; ask the council IoT team for a new one."""

    code = "token_used"


class TokenExpired(TokenRejected):
    """The token expired before it was used; ask for a new one."""

    code = "token_expired"


class TokenRevoked(TokenRejected):
    """The token was withdrawn (a newer one was made, or the device was revoked)."""

    code = "token_revoked"


class EnrolmentRefused(TokenRejected):
    """The hub refuses this device (e.g. it has been revoked)."""

    code = "refused"


class BadRequest(TokenRejected):
    """The hub says the request is malformed (a bug, or a hub of another version)."""

    code = "bad_request"


class RateLimited(EnrolmentError):
    """Too many failed attempts from this address; ``retry_after`` seconds to wait."""

    retryable = True

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TlsFailure(EnrolmentError):
    """The TLS handshake failed: the hub's certificate is not from the pinned CA.

    Or it is not for the hub's name. Not retried: someone must check the URL and CA file.
    """


class HubUnreachable(EnrolmentError, ConnectionError):
    """No connection to the hub, or no answer in time."""

    retryable = True


class HubError(EnrolmentError):
    """The hub failed (5xx) or answered something that is not an enrolment answer."""

    retryable = True


_BY_CODE: dict[str, type[TokenRejected]] = {
    cls.code: cls
    for cls in (
        TokenInvalid,
        WrongDevice,
        TokenUsed,
        TokenExpired,
        TokenRevoked,
        EnrolmentRefused,
        BadRequest,
    )
}


# --- credentials ---


@dataclass(frozen=True)
class Credentials:
    """What the node needs to reach the broker; ``password`` never appears in a repr."""

    device_id: str
    broker_host: str
    broker_port: int
    username: str
    password: str = field(repr=False)
    ca_pem: str = field(repr=False)
    client_id: str | None = None
    previous_password: str | None = field(default=None, repr=False)
    """During a rotation: the password before ``password``, kept until the new one has
    connected (Mosquitto knows only one of them at any moment)."""

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Credentials:
        """Credentials from ``/enroll``'s answer or the credentials file.

        Raises:
            ValueError: naming the first field that is missing or of the wrong type.
        """
        strings = ("device_id", "broker_host", "username", "password", "ca_pem")
        for name in strings:
            if not isinstance(data.get(name), str) or not data[name]:
                raise ValueError(f"credentials have no valid {name!r}")
        port = data.get("broker_port")
        if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
            raise ValueError("credentials have no valid 'broker_port'")
        client_id = data.get("client_id")
        if client_id is not None and not isinstance(client_id, str):
            raise ValueError("credentials have no valid 'client_id'")
        previous = data.get("previous_password")
        if previous is not None and (not isinstance(previous, str) or not previous):
            raise ValueError("credentials have no valid 'previous_password'")
        return cls(
            device_id=data["device_id"],
            broker_host=data["broker_host"],
            broker_port=port,
            username=data["username"],
            password=data["password"],
            ca_pem=data["ca_pem"],
            client_id=client_id,
            previous_password=previous,
        )

    def to_json(self) -> str:
        """The credentials file's content (JSON, with ``version``)."""
        data = {"version": RESPONSE_VERSION, **asdict(self)}
        if self.previous_password is None:
            del data["previous_password"]
        return json.dumps(data, indent=2) + "\n"


# --- CA pinning ---


def pem_fingerprints(pem: str) -> list[str]:
    """The SHA-256 fingerprint (64 hex digits) of each certificate in a PEM text."""
    return [
        normalise_fingerprint(certificate_fingerprint(ssl.PEM_cert_to_DER_cert(block)))
        for block in _PEM_CERT.findall(pem)
    ]


def check_ca(pem: str, fingerprint: str, *, what: str) -> None:
    """That ``pem`` is exactly one certificate, the one with ``fingerprint``.

    Raises:
        CaMismatch: it is not.
    """
    expected = normalise_fingerprint(fingerprint)
    try:
        found = pem_fingerprints(pem)
    except ValueError:
        found = []
    if found != [expected]:
        raise CaMismatch(
            f"{what} is not the council CA whose fingerprint the enrolment code carries "
            f"(expected sha256:{expected}, found "
            f"{', '.join('sha256:' + f for f in found) or 'no certificate'})"
        )


# --- the QR code's text ---


@dataclass(frozen=True)
class EnrolmentUri:
    """What the label's QR code says: where the hub is, the token, and the CA fingerprint."""

    hub_url: str
    token: str = field(repr=False)
    ca_fingerprint: str
    device_id: str | None = None


def parse_enrolment_uri(text: str) -> EnrolmentUri:
    """The parts of a ``hallsense-enrol:v1?hub=…&token=…&ca=sha256:…[&device=…]`` text.

    Raises:
        ValueError: it is not such a text, or a part is missing or malformed.
    """
    text = text.strip()
    if not text.startswith(URI_PREFIX):
        raise ValueError(f"an enrolment code starts with {URI_PREFIX!r}")
    fields = dict(parse_qsl(text[len(URI_PREFIX) :], keep_blank_values=True, strict_parsing=True))
    for name in ("hub", "token", "ca"):
        if not fields.get(name):
            raise ValueError(f"the enrolment code has no {name!r}")
    _check_hub_url(fields["hub"])
    if not TOKEN_PATTERN.fullmatch(fields["token"]):
        raise ValueError("the enrolment code's token is malformed")
    device = fields.get("device")
    if device is not None and not DEVICE_ID.fullmatch(device):
        raise ValueError(f"the enrolment code's device id {device!r} is not valid")
    return EnrolmentUri(
        hub_url=fields["hub"],
        token=fields["token"],
        ca_fingerprint="sha256:" + normalise_fingerprint(fields["ca"]),
        device_id=device,
    )


def _check_hub_url(hub_url: str) -> None:
    parts = urlsplit(hub_url)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(f"the hub URL must be https://host[:port], not {hub_url!r}")


# --- the call ---


def _rejection(response: requests.Response) -> EnrolmentError:
    try:
        body = response.json()
    except (ValueError, RecursionError):  # not JSON, or nested past the parser's depth
        body = None
    code = body.get("error") if isinstance(body, dict) else None
    message = body.get("message") if isinstance(body, dict) else None
    text = (
        f"the hub refused the enrolment ({response.status_code} {code}): {message}"
        if isinstance(message, str)
        else f"the hub answered {response.status_code} {response.reason}"
    )
    if response.status_code == 429:
        try:
            retry_after = float(response.headers.get("Retry-After", "60"))
        except ValueError:
            retry_after = 60.0
        return RateLimited(text, retry_after=retry_after)
    if response.status_code >= 500 or not isinstance(code, str):
        return HubError(text)
    cls = _BY_CODE.get(code, TokenRejected)
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
    _check_hub_url(hub_url)
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
        body={"token": token, "device_id": device_id},
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


def post_to_hub(
    url: str,
    *,
    ca_file: str | os.PathLike[str],
    body: Mapping[str, Any] | None = None,
    auth: tuple[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    proxies: Mapping[str, str] | None = None,
) -> requests.Response:
    """POST to the hub trusting only the council CA in ``ca_file``; the node's one way to.

    No proxy from the environment, no ``.netrc``, no redirects (see the module's notes).

    Raises:
        TlsFailure: the server's certificate is not from the pinned CA or not for its name.
        HubUnreachable: no connection or no answer in time.
    """
    with requests.Session() as session:
        session.trust_env = False
        try:
            return session.post(
                url,
                json=dict(body) if body is not None else None,
                auth=auth,
                headers={"Accept": "application/json"},
                verify=str(ca_file),
                timeout=timeout,
                allow_redirects=False,
                proxies=dict(proxies or {}),
            )
        except requests.exceptions.SSLError as error:
            raise TlsFailure(
                f"TLS with {url} failed: the hub's certificate is not signed by the "
                f"council CA in {ca_file}, or not for this name ({_reason(error)})"
            ) from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as error:
            raise HubUnreachable(f"cannot reach the hub at {url}: {_reason(error)}") from None


def _reason(error: BaseException) -> str:
    """The innermost cause's text: requests nests the ssl or socket error deep inside."""
    seen: BaseException = error
    while True:
        inner = seen.args[0] if seen.args and isinstance(seen.args[0], BaseException) else None
        inner = inner or getattr(seen, "reason", None) or seen.__cause__ or seen.__context__
        if not isinstance(inner, BaseException) or inner is seen:
            return str(seen)
        seen = inner


# --- files on the node ---


def read_token_file(path: str | os.PathLike[str]) -> str:
    """The one-time token in the file the installer put on the boot partition.

    Surrounding whitespace, Windows line ends and a UTF-8 byte-order mark (Notepad's)
    are allowed; nothing else.

    Raises:
        TokenFileError: the file is missing, too large, empty, or not a token.
    """
    path = Path(path)
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_TOKEN_FILE_BYTES + 1)
    except FileNotFoundError:
        raise TokenFileError(f"no enrolment token file at {path}") from None
    except OSError as error:
        raise TokenFileError(f"cannot read the enrolment token file {path}: {error}") from None
    if len(raw) > MAX_TOKEN_FILE_BYTES:
        raise TokenFileError(f"{path} is too large to be an enrolment token file")
    try:
        token = raw.decode("utf-8-sig").strip()
    except UnicodeDecodeError:
        raise TokenFileError(f"{path} does not hold an enrolment token (not text)") from None
    if not token:
        raise TokenFileError(f"the enrolment token file {path} is empty")
    if not TOKEN_PATTERN.fullmatch(token):
        raise TokenFileError(
            f"{path} does not hold an enrolment token (one line of letters, digits, - and _)"
        )
    return token


def remove_token_file(path: str | os.PathLike[str]) -> bool:
    """Overwrite the token file with zeros, then delete it; False if it was not there.

    Overwriting is best effort: a FAT boot partition on flash may keep the old blocks
    (wear levelling), which is why what protects the token is that it has been used.
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_WRONLY)
    except FileNotFoundError:
        return False
    try:
        size = os.fstat(fd).st_size
        os.write(fd, b"\0" * size)
        os.fsync(fd)
    finally:
        os.close(fd)
    path.unlink()
    _fsync_dir(path.parent)
    log.info("removed the enrolment token file %s", path)
    return True


def write_credentials(path: str | os.PathLike[str], credentials: Credentials) -> Path:
    """Write ``credentials`` to ``path`` atomically, the file created with mode 0600.

    The data go to a new file opened with ``O_EXCL`` and mode 0600 beside ``path``, are
    synced, and replace ``path`` in one rename, so the file is never readable by others,
    not even for a moment, and is never half written.
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, credentials.to_json().encode("utf-8"))
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        temporary.unlink()
        raise
    os.close(fd)
    os.replace(temporary, path)
    _fsync_dir(path.parent)
    return path


def read_credentials(path: str | os.PathLike[str]) -> Credentials:
    """The credentials :func:`write_credentials` wrote.

    Raises:
        FileNotFoundError: the node has not enrolled.
        ValueError: the file is not valid credentials.
    """
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path} does not hold credentials")
    return Credentials.from_mapping(data)


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system syncs directories (FAT)
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


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
