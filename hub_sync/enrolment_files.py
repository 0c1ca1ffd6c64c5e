"""The files enrolment keeps on the node: the one-time token file and the credentials file.

The installer puts the one-time token on the SD card's boot partition
(:func:`read_token_file`); once the hub has answered, the credentials go to a file
created with mode 0600 (:func:`write_credentials`), and only then is the token file
removed (:func:`remove_token_file`). The token and the password are never logged nor
put in an exception's message.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hub_sync.enrolment_contract import (
    CREDENTIAL_FIELDS,
    DEVICE_ID_FIELD,
    RESPONSE_VERSION,
    TOKEN_PATTERN,
    VERSION_FIELD,
    EnrolmentError,
)

log = logging.getLogger(__name__)

MAX_TOKEN_FILE_BYTES = 4096


class TokenFileError(EnrolmentError):
    """The token file is missing, empty, or does not hold a token."""


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
        strings = [
            DEVICE_ID_FIELD,
            *(name for name, kind in CREDENTIAL_FIELDS.items() if kind is str),
        ]
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
        data = {VERSION_FIELD: RESPONSE_VERSION, **asdict(self)}
        if self.previous_password is None:
            del data["previous_password"]
        return json.dumps(data, indent=2) + "\n"


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
