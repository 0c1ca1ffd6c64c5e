"""The council's release signing keys: made offline, kept 0600, never on a node.

Releases are signed as a TUF repository (The Update Framework, with python-tuf): each of
the four roles has its own Ed25519 keys. Root, which says which keys each role may use,
has several keys and needs a threshold of them to sign, so one lost or stolen root key
neither stops nor forges an update; targets (which files a release holds, with their
hashes and lengths) is signed when a release is made; snapshot and timestamp, re-signed
often so that a node notices metadata held back from it (a freeze), are the only keys a
hub may keep online.

Each private key is one PKCS#8 PEM file, ``<role>-<n>.pem``, mode 0600, in a directory of
mode 0700 that the council keeps off the hub (a USB stick in a safe). Nothing here reads
a node's files: nodes hold only the public root metadata, from their bundle.

Those ``.pem`` files are a role's active keys, the only ones signing reads. A rotation
(:mod:`provisioning.release_rotation`) renames the key it replaces to
``<role>-<n>.pem.retired-<date>`` (kept, never read for signing, never overwritten) and
writes the new key under the active name, so a role's key keeps its file name.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from securesystemslib.signer import CryptoSigner

ROLES = ("root", "targets", "snapshot", "timestamp")
"""TUF's top-level roles, each with keys of its own."""

ONLINE_ROLES = ("snapshot", "timestamp")
"""Roles whose keys the hub may hold, to re-sign freshness without the offline keys."""


class ReleaseKeyError(ValueError):
    """A key directory that cannot be used: missing, unreadable, or with too few keys."""


def key_path(keys_dir: Path, role: str, number: int) -> Path:
    """Where the ``number``-th key (from 1) of ``role`` is kept."""
    return keys_dir / f"{role}-{number}.pem"


def write_private(path: Path, key: Ed25519PrivateKey) -> None:
    """Write ``key`` to a new file ``path`` of mode 0600: never over a file that is there."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(pem)
    os.chmod(path, 0o600)  # whatever the umask


def generate_release_keys(keys_dir: Path, *, root_keys: int = 3) -> dict[str, int]:
    """Make every role's keys in ``keys_dir`` (new or empty); returns keys per role.

    Raises:
        ReleaseKeyError: the directory already holds keys (they are never overwritten),
            or fewer than one root key was asked for.
    """
    if root_keys < 1:
        raise ReleaseKeyError(f"root needs at least one key, not {root_keys}")
    keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(keys_dir, 0o700)
    if any(keys_dir.glob("*.pem")):
        raise ReleaseKeyError(f"{keys_dir} already holds release keys; they are never replaced")
    counts = {role: root_keys if role == "root" else 1 for role in ROLES}
    for role, count in counts.items():
        for number in range(1, count + 1):
            write_private(key_path(keys_dir, role, number), Ed25519PrivateKey.generate())
    return counts


def retire_key(path: Path, today: date) -> Path:
    """Rename the key file ``path`` to ``<name>.retired-<today>``, never over another file.

    A second retirement the same day gets ``-2``, ``-3`` … The key is kept (no command
    destroys a key; the council decides when to) but signing never reads it again.
    """
    for count in range(1, 1000):
        suffix = f".retired-{today.isoformat()}" + ("" if count == 1 else f"-{count}")
        retired = path.with_name(path.name + suffix)
        try:
            os.link(path, retired)  # unlike rename, fails when the name is taken
        except FileExistsError:
            continue
        except OSError:  # a file system without hard links (FAT)
            if retired.exists():
                continue
            path.rename(retired)
            return retired
        path.unlink()
        return retired
    raise ReleaseKeyError(f"{path}: too many retired copies today")


def held_keys(keys_dir: Path, role: str) -> dict[Path, CryptoSigner]:
    """The active keys of ``role`` in ``keys_dir`` (none when it holds none), by file.

    Raises:
        ReleaseKeyError: a key file that is not an Ed25519 private key.
    """
    signers = {}
    for path in sorted(keys_dir.glob(f"{role}-*.pem")):
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError) as error:
            raise ReleaseKeyError(f"{path}: not a readable private key ({error})") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ReleaseKeyError(f"{path}: not an Ed25519 key")
        signers[path] = CryptoSigner(key)
    return signers


def load_signers(keys_dir: Path, role: str) -> list[CryptoSigner]:
    """The signers of ``role`` whose keys are in ``keys_dir``, in key order.

    Raises:
        ReleaseKeyError: naming the role when the directory holds none of its keys, or a
            key file that is not an Ed25519 private key.
    """
    signers = list(held_keys(keys_dir, role).values())
    if not signers:
        raise ReleaseKeyError(f"{keys_dir} holds no {role} key ({role}-1.pem …)")
    return signers
