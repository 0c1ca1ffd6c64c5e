"""Rotating the council's release signing keys: a new root naming a role's new keys.

Root says which keys each role may use, so replacing a key is writing root version N+1
that names the new key instead of the old one. A node follows roots one version at a
time and takes N+1 only when it is signed by a threshold of root N's keys *and* by a
threshold of its own (TUF's rule), so the new root is signed by the old root keys the
keys directory holds and, when root's own keys change, by the new ones too; it is checked
against that rule here, in memory, before any file is touched.

What can be rotated: ``targets``, ``snapshot`` or ``timestamp`` (every key of the role),
or ``root``, either every root key or one keyholder's (``replace``: its number, as in
``root-2.pem``, or its keyid, which is how a lost key is named). The root threshold can
change in the same step. :meth:`provisioning.release_repository.ReleaseRepository.rotate`
writes the result: the key files (the replaced one renamed ``….retired-<date>``, the new
one under the active name, 0600), the new root, then the rotated role's metadata signed
with its new key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import Metadata, Root

from provisioning.release_keys import (
    ROLES,
    ReleaseKeyError,
    held_keys,
    key_path,
    retire_key,
    write_private,
)


class RotationError(ReleaseKeyError):
    """A rotation that cannot be made, naming what is wrong; nothing was written."""


@dataclass(frozen=True)
class Rotation:
    """What a rotation did, for the one who ran it."""

    role: str
    root_version: int
    root_threshold: int
    root_keys: int
    added: tuple[str, ...]
    """The new keys' ids, as the new root names them."""
    made: tuple[Path, ...]
    """The new key files."""
    retired: tuple[Path, ...] = ()
    """The replaced key files, as renamed."""


@dataclass
class RotationPlan:
    """A rotation worked out in memory: the new root, its signers, the key files to change."""

    role: str
    root: Metadata[Root]
    signers: list[CryptoSigner]
    """Every key that signs the new root: the old root keys held, and its own."""
    fresh: dict[Path, Ed25519PrivateKey] = field(default_factory=dict)
    retire: list[Path] = field(default_factory=list)

    def commit(self, today: date) -> Rotation:
        """Rename the replaced key files and write the new ones (0600), never over a file."""
        retired = tuple(retire_key(path, today) for path in self.retire)
        for path, key in self.fresh.items():
            write_private(path, key)
        root = self.root.signed
        return Rotation(
            role=self.role,
            root_version=root.version,
            root_threshold=root.roles["root"].threshold,
            root_keys=len(root.roles["root"].keyids),
            added=tuple(CryptoSigner(key).public_key.keyid for key in self.fresh.values()),
            made=tuple(self.fresh),
            retired=retired,
        )


def short(keyid: str) -> str:
    """A keyid as people read it: its first 12 characters."""
    return keyid[:12]


def plan_rotation(
    current: Metadata[Root],
    keys_dir: Path,
    role: str,
    *,
    replace: str | None = None,
    root_threshold: int | None = None,
    expires: datetime,
) -> RotationPlan:
    """The root after ``current`` that names new keys for ``role``, signed and checked.

    Raises:
        RotationError: an unknown role, a keys directory that is not one, fewer of the
            current root's keys in it than its threshold, a ``replace`` that names no root
            key, or a threshold the new root cannot meet.
        ReleaseKeyError: a key file that cannot be read.
    """
    if role not in ROLES:
        raise RotationError(f"unknown role {role!r}: the roles are {', '.join(ROLES)}")
    if not keys_dir.is_dir():
        raise RotationError(f"{keys_dir} is not a directory of release keys")
    if replace is not None and role != "root":
        raise RotationError(
            f"replacing one key is for root's keyholders; a {role} rotation replaces its key"
        )
    old = current.signed
    old_root = old.roles["root"]
    held_root = held_keys(keys_dir, "root")
    signing = [s for s in held_root.values() if s.public_key.keyid in old_root.keyids]
    if len(signing) < old_root.threshold:
        raise RotationError(
            f"{keys_dir} holds {len(signing)} of the {len(old_root.keyids)} root keys that "
            f"root v{old.version} names, and a new root needs {old_root.threshold} of them: "
            "bring the keyholders' keys"
        )
    held = held_root if role == "root" else held_keys(keys_dir, role)
    plan = RotationPlan(role, Metadata.from_bytes(current.to_bytes()), signing)
    if replace is None:
        replaced = list(old.roles[role].keyids)
        plan.retire = list(held)
        new_paths = [key_path(keys_dir, role, n) for n in range(1, max(len(replaced), 1) + 1)]
    else:
        keyid, path = _replaced_root_key(replace, old, held, keys_dir)
        replaced = [keyid]
        plan.retire = [] if path is None else [path]
        new_paths = [path or _free_path(keys_dir, "root")]
    plan.fresh = {path: Ed25519PrivateKey.generate() for path in new_paths}
    root = plan.root.signed
    root.version += 1
    root.expires = expires
    for keyid in replaced:
        root.revoke_key(keyid, role)
    for key in plan.fresh.values():
        root.add_key(CryptoSigner(key).public_key, role)
    threshold = old_root.threshold if root_threshold is None else root_threshold
    keys = len(root.roles["root"].keyids)
    if not 1 <= threshold <= keys:
        raise RotationError(
            f"a root threshold of {threshold} needs that many root keys; "
            f"root v{root.version} would name {keys}"
        )
    root.roles["root"].threshold = threshold
    own = [s for s in held_root.values() if s.public_key.keyid in root.roles["root"].keyids]
    if role == "root":
        own += [CryptoSigner(key) for key in plan.fresh.values()]
    plan.signers = list({s.public_key.keyid: s for s in [*signing, *own]}.values())
    _check(plan, old, keys_dir)
    return plan


def _check(plan: RotationPlan, old: Root, keys_dir: Path) -> None:
    """Sign the new root in memory and check it as a node will, against TUF's rule."""
    metadata = plan.root
    metadata.signatures.clear()
    for signer in plan.signers:
        metadata.sign(signer, append=True)
    result = metadata.signed.get_root_verification_result(
        old, metadata.signed_bytes, metadata.signatures
    )
    if not result.verified:
        new = result.second
        raise RotationError(
            f"root v{metadata.signed.version} would be signed by {len(new.signed)} of its own "
            f"root keys and needs {new.threshold}: {keys_dir} holds too few of the keys it "
            "keeps (replace a lost one, or lower --root-threshold)"
        )


def _replaced_root_key(
    replace: str, old: Root, held: dict[Path, CryptoSigner], keys_dir: Path
) -> tuple[str, Path | None]:
    """The keyid ``replace`` names (a key's number or its keyid), and its file if held."""
    keyids = old.roles["root"].keyids
    files = {signer.public_key.keyid: path for path, signer in held.items()}
    if replace.isdigit() and len(replace) < 8:  # eight characters or more: a keyid
        path = key_path(keys_dir, "root", int(replace))
        signer = held.get(path)
        if signer is None:
            lost = [short(keyid) for keyid in keyids if keyid not in files]
            raise RotationError(
                f"{keys_dir} holds no {path.name} to replace; a lost root key is replaced by "
                f"its keyid (root v{old.version}'s keys not there: {', '.join(lost) or 'none'})"
            )
        if signer.public_key.keyid not in keyids:
            raise RotationError(f"{path} is not one of the root keys root v{old.version} names")
        return signer.public_key.keyid, path
    matches = [keyid for keyid in keyids if keyid.startswith(replace.lower())]
    if len(replace) < 8 or len(matches) != 1:
        raise RotationError(
            f"--replace {replace!r} names none of root v{old.version}'s keys: give a key's "
            f"number (2 for root-2.pem) or its keyid, at least 8 characters, one of "
            f"{', '.join(short(keyid) for keyid in keyids)}"
        )
    return matches[0], files.get(matches[0])


def _free_path(keys_dir: Path, role: str) -> Path:
    """The first ``<role>-<n>.pem`` not there: where a lost key's successor goes."""
    number = 1
    while key_path(keys_dir, role, number).exists():
        number += 1
    return key_path(keys_dir, role, number)
