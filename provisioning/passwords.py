"""Broker passwords: strong random secrets, Mosquitto's PBKDF2-SHA512 hashes and private files."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

ITERATIONS = 101
"""Mosquitto 2.0's default for ``$7$`` (PBKDF2-SHA512) hashes; it reads any count."""
SALT_BYTES = 12

Owner = tuple[int, int]
"""A file's (uid, gid)."""


class PasswordFileError(ValueError):
    """A password file that is not ``user:hash`` lines, naming the file and line."""


def new_password() -> str:
    """A strong random password (256 bits), safe in .env files and URLs."""
    return secrets.token_urlsafe(32)


def mosquitto_hash(
    password: str, *, salt: bytes | None = None, iterations: int = ITERATIONS
) -> str:
    """``password`` hashed as Mosquitto's password file wants it: ``$7$iter$salt$hash``."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations, 64)
    return (
        f"$7${iterations}${base64.b64encode(salt).decode('ascii')}"
        f"${base64.b64encode(digest).decode('ascii')}"
    )


def verify(password: str, hashed: str) -> bool:
    """Whether ``password`` matches a ``$7$`` hash (in constant time)."""
    try:
        _, kind, iterations, salt, digest = hashed.split("$")
        if kind != "7":
            return False
        expected = hashlib.pbkdf2_hmac(
            "sha512", password.encode("utf-8"), base64.b64decode(salt), int(iterations), 64
        )
        return hmac.compare_digest(expected, base64.b64decode(digest))
    except ValueError:
        return False


def password_file_text(hashed: dict[str, str]) -> str:
    """A password file from account → hash, one ``user:hash`` line each, sorted."""
    return "".join(f"{user}:{hashed[user]}\n" for user in sorted(hashed))


def parse_password_file(text: str, *, source: str = "password file") -> dict[str, str]:
    """Account → hash from a password file's text (as Mosquitto and ``mosquitto_passwd`` read it).

    Blank lines and ``#`` comments are skipped, as Mosquitto skips them.

    Raises:
        PasswordFileError: a line without ``user:hash``, or a user listed twice.
    """
    hashed: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, digest = line.partition(":")
        if not sep or not user or not digest:
            raise PasswordFileError(f"{source}, line {number}: not of the form user:hash")
        if user in hashed:
            raise PasswordFileError(f"{source}, line {number}: {user!r} is listed twice")
        hashed[user] = digest
    return hashed


def read_password_file(path: Path) -> dict[str, str]:
    """Account → hash from a Mosquitto password file (ours or one ``mosquitto_passwd`` wrote).

    Raises:
        PasswordFileError: the file is not a password file.
        OSError: it cannot be read.
    """
    return parse_password_file(path.read_text(encoding="utf-8"), source=str(path))


@contextlib.contextmanager
def _private_fd(path: Path, mode: int, owner: Owner | None) -> Iterator[int]:
    # O_EXCL: the file is new, so nobody else holds it open and no other mode can leak in;
    # it is 0600 (or ``mode``) from the first byte, never chmodded after a secret is in it.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        if owner is not None:
            os.fchown(fd, *owner)
        os.fchmod(fd, mode)  # the umask may have taken bits off a public file's mode
        yield fd
    finally:
        os.close(fd)


def _write_all(fd: int, content: bytes) -> None:
    view = memoryview(content)
    while view:
        view = view[os.write(fd, view) :]
    os.fsync(fd)


def write_private_file(
    path: Path, data: bytes | str, *, owner: Owner | None = None, mode: int = 0o600
) -> Path:
    """Write a new file that is ``mode`` (0600 by default) from its creation.

    Args:
        path: the file; it must not exist yet.
        data: its content (str is written as UTF-8).
        owner: (uid, gid) to give it before anything is written (needs root).
        mode: its permission bits.

    Raises:
        FileExistsError: ``path`` exists already.
    """
    content = data.encode("utf-8") if isinstance(data, str) else data
    with _private_fd(path, mode, owner) as fd:
        _write_all(fd, content)
    return path


def replace_private_file(
    path: Path, data: bytes | str, *, owner: Owner | None = None, mode: int = 0o600
) -> Path:
    """Replace ``path`` atomically: readers see the old file or the new one, never half.

    The new content goes to a fresh ``mode`` file beside it, which is renamed over it.
    """
    content = data.encode("utf-8") if isinstance(data, str) else data
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        with _private_fd(temporary, mode, owner) as fd:
            _write_all(fd, content)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return path
