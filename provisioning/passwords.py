"""Broker passwords: strong random secrets and Mosquitto's own PBKDF2-SHA512 password hashes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

ITERATIONS = 101
"""Mosquitto 2.0's default for ``$7$`` (PBKDF2-SHA512) hashes; it reads any count."""
SALT_BYTES = 12


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
