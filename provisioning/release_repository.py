"""The council's signed release repository: TUF metadata and the files of each release.

A directory the hub serves as it is (``metadata/`` and ``targets/``), laid out as TUF's
consistent snapshots: ``N.root.json``, ``N.targets.json``, ``N.snapshot.json``,
``timestamp.json``, and each file under ``targets/`` prefixed with its SHA-256, so a node
never reads a half-written release and a new release never changes a file a node is
downloading.

A release is one version for one architecture (``aarch64``, ``armv7l``): its files (the
wheelhouse) and a manifest, the target ``<architecture>/release.json``, naming the
version and the files' target paths. Publishing signs a new targets version with the
offline targets key, then snapshot and timestamp; :meth:`ReleaseRepository.refresh`
re-signs only timestamp (and snapshot) with the online keys, so a node can tell fresh
metadata from metadata an attacker holds back. Versions of metadata only ever go up,
which is how a node refuses a replayed older repository. :meth:`ReleaseRepository.rotate`
replaces a role's keys with a new root version (:mod:`provisioning.release_rotation`).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

from securesystemslib.signer import Signer
from tuf.api.metadata import (
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

from hub_sync.release_contract import (
    ARCHITECTURES,
    Manifest,
    ReleaseFormatError,
    file_target,
    manifest_target,
    release_version,
)
from provisioning.release_keys import ONLINE_ROLES, load_signers
from provisioning.release_rotation import Rotation, plan_rotation

EXPIRY = {
    "root": timedelta(days=365),
    "targets": timedelta(days=365),
    "snapshot": timedelta(days=30),
    "timestamp": timedelta(days=7),
}
"""How long each role's metadata stays valid: timestamp is re-signed by the hub daily, so
a week allows for a hub down over a bank holiday; a node refuses metadata past it."""


class ReleaseError(ValueError):
    """A release that cannot be published, naming what is wrong."""


_PRETTY = JSONSerializer(compact=False)
P = ParamSpec("P")
R = TypeVar("R")


def _one_writer(
    method: Callable[Concatenate[ReleaseRepository, P], R],
) -> Callable[Concatenate[ReleaseRepository, P], R]:
    """The method holds the repository (:meth:`ReleaseRepository.writing`) while it runs."""

    def held(self: ReleaseRepository, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self.writing():
            return method(self, *args, **kwargs)

    held.__name__, held.__doc__ = method.__name__, method.__doc__
    return held


class ReleaseRepository:
    """The repository directory, and the signing of what it holds."""

    def __init__(self, repo_dir: Path, *, now: Callable[[], datetime] | None = None) -> None:
        self.repo_dir = repo_dir
        self.metadata_dir = repo_dir / "metadata"
        self.targets_dir = repo_dir / "targets"
        self.now = now or (lambda: datetime.now(UTC))
        self._held = False

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the repository against every other writer until the block ends.

        Publishing, re-signing and rotating read the versions there and write the next
        ones: two at once (the daily re-signing of each ``hub web`` process, or a
        ``provision release publish`` meanwhile) could each write the same version. An
        exclusive ``flock`` on the repository's directory (no file of its own, so nothing
        more is served) keeps them one at a time on its machine; within this object the
        hold is re-entrant.
        """
        if self._held:
            yield
            return
        try:
            fd = os.open(self.repo_dir, os.O_RDONLY | os.O_DIRECTORY)
        except (FileNotFoundError, NotADirectoryError):
            raise ReleaseError(f"{self.repo_dir} is not a release repository") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._held = True
            try:
                yield
            finally:
                self._held = False
        finally:
            os.close(fd)

    # --- reading what is there ---

    def _latest_path(self, role: str) -> Path:
        if role == "timestamp":
            return self.metadata_dir / "timestamp.json"
        versions = [int(p.name.split(".", 1)[0]) for p in self.metadata_dir.glob(f"*.{role}.json")]
        if not versions:
            raise ReleaseError(f"{self.repo_dir} is not a release repository (no {role})")
        return self.metadata_dir / f"{max(versions)}.{role}.json"

    def load(self, role: str) -> Metadata:  # type: ignore[type-arg]
        """The newest metadata of ``role``."""
        return Metadata.from_file(str(self._latest_path(role)))

    def trusted_root(self) -> bytes:
        """The first root, which each node's bundle carries as its anchor of trust."""
        return (self.metadata_dir / "1.root.json").read_bytes()

    def manifest(self, architecture: str) -> Manifest | None:
        """The current release of ``architecture``, as published (None before the first)."""
        targets = self.load("targets").signed
        entry = targets.targets.get(manifest_target(architecture))
        if entry is None:
            return None
        return Manifest.from_json(self._target_bytes(entry))

    def _target_bytes(self, entry: TargetFile) -> bytes:
        return self._stored(entry).read_bytes()

    def _stored(self, entry: TargetFile) -> Path:
        """Where a target's bytes lie: named by their SHA-256 (consistent snapshots)."""
        directory, _, name = entry.path.rpartition("/")
        return self.targets_dir / directory / f"{entry.hashes['sha256']}.{name}"

    # --- writing ---

    def _expires(self, role: str) -> datetime:
        return (self.now() + EXPIRY[role]).replace(microsecond=0)

    def _write(self, role: str, metadata: Metadata, signers: Sequence[Signer]) -> None:  # type: ignore[type-arg]
        metadata.signatures.clear()
        for signer in signers:
            metadata.sign(signer, append=True)
        self.metadata_dir.mkdir(parents=True, exist_ok=True)
        name = "timestamp.json" if role == "timestamp" else f"{metadata.signed.version}.{role}.json"
        temporary = self.metadata_dir / f".{name}.tmp"
        metadata.to_file(str(temporary), serializer=_PRETTY)
        temporary.replace(self.metadata_dir / name)

    def create(self, keys_dir: Path, *, root_threshold: int = 2) -> None:
        """Start the repository: root, targets, snapshot and timestamp at version 1.

        Root is signed by every root key and needs ``root_threshold`` of them from then on.

        Raises:
            ReleaseError: the repository exists already, or the threshold is more than the
                root keys there are.
        """
        if (self.metadata_dir / "1.root.json").exists():
            raise ReleaseError(f"{self.repo_dir} is a release repository already")
        signers = {role: load_signers(keys_dir, role) for role in EXPIRY}
        if not 1 <= root_threshold <= len(signers["root"]):
            raise ReleaseError(
                f"a root threshold of {root_threshold} needs that many root keys; "
                f"{keys_dir} has {len(signers['root'])}"
            )
        root = Metadata(Root(expires=self._expires("root"), consistent_snapshot=True))
        for role, role_signers in signers.items():
            for signer in role_signers:
                root.signed.add_key(signer.public_key, role)
        root.signed.roles["root"].threshold = root_threshold
        self._write("root", root, signers["root"])
        self._write(
            "targets", Metadata(Targets(expires=self._expires("targets"))), signers["targets"]
        )
        self._sign_freshness(keys_dir, targets_version=1, new=True)

    def _sign_freshness(self, keys_dir: Path, *, targets_version: int, new: bool = False) -> None:
        if new:
            snapshot = Metadata(Snapshot(expires=self._expires("snapshot")))
            timestamp = Metadata(Timestamp(expires=self._expires("timestamp")))
        else:
            snapshot = self.load("snapshot")
            timestamp = self.load("timestamp")
            snapshot.signed.version += 1
            timestamp.signed.version += 1
        snapshot.signed.meta["targets.json"] = MetaFile(version=targets_version)
        snapshot.signed.expires = self._expires("snapshot")
        self._write("snapshot", snapshot, load_signers(keys_dir, "snapshot"))
        timestamp.signed.snapshot_meta = MetaFile(version=snapshot.signed.version)
        timestamp.signed.expires = self._expires("timestamp")
        self._write("timestamp", timestamp, load_signers(keys_dir, "timestamp"))

    @_one_writer
    def refresh(self, keys_dir: Path) -> None:
        """Re-sign snapshot and timestamp with the online keys: fresh for another week."""
        self._sign_freshness(keys_dir, targets_version=self.load("targets").signed.version)

    @_one_writer
    def rotate(
        self,
        keys_dir: Path,
        role: str,
        *,
        replace: str | None = None,
        root_threshold: int | None = None,
    ) -> Rotation:
        """Replace ``role``'s keys (or, for root, the one ``replace`` names) with new ones.

        Writes root version N+1 naming the new keys (and ``root_threshold``, when given),
        signed by a threshold of root N's keys in ``keys_dir`` and of its own; the new key
        files go in ``keys_dir`` under the active names, the replaced ones renamed
        ``….retired-<date>``. Then the rotated role's metadata is signed with its new key
        (targets: a new version; snapshot and timestamp: re-signed freshness), so a node's
        next refresh takes it.

        Raises:
            RotationError: the rotation is refused (see
                :func:`provisioning.release_rotation.plan_rotation`); nothing was written.
            ReleaseError: ``repo_dir`` is not a release repository.
            ReleaseKeyError: a key the re-signing needs is not in ``keys_dir``.
        """
        plan = plan_rotation(
            self.load("root"),
            keys_dir,
            role,
            replace=replace,
            root_threshold=root_threshold,
            expires=self._expires("root"),
        )
        for online in ONLINE_ROLES if role != "root" else ():
            if online != role:  # the re-signing's other keys are there, before a file changes
                load_signers(keys_dir, online)
        rotation = plan.commit(self.now().date())
        self._write("root", plan.root, plan.signers)
        if role == "targets":
            targets = self.load("targets")
            targets.signed.version += 1
            targets.signed.expires = self._expires("targets")
            self._write("targets", targets, load_signers(keys_dir, "targets"))
            self._sign_freshness(keys_dir, targets_version=targets.signed.version)
        elif role in ONLINE_ROLES:
            self.refresh(keys_dir)
        return rotation

    @_one_writer
    def publish(
        self,
        files: Sequence[Path],
        *,
        version: str,
        architecture: str,
        schema: int,
        keys_dir: Path,
    ) -> Manifest:
        """Add a release of ``architecture``: copy and sign its files and its manifest.

        ``schema`` is the node store's schema version the release migrates to.

        Raises:
            ReleaseError: an unknown architecture, a version that is not newer than the one
                published for it (versions never go back), a schema older than the one
                published (a node that ran the newer one could not go back to it), or a
                file that is not there.
        """
        if architecture not in ARCHITECTURES:
            raise ReleaseError(
                f"architecture {architecture!r} is none of {', '.join(ARCHITECTURES)}"
            )
        try:
            offered = release_version(version)
        except ReleaseFormatError as error:
            raise ReleaseError(str(error)) from None
        current = self.manifest(architecture)
        if current is not None and offered <= release_version(current.version):
            raise ReleaseError(
                f"{architecture} is at {current.version} already: a release must be newer"
            )
        if current is not None and schema < current.schema:
            raise ReleaseError(
                f"{version} has store schema {schema}, older than {current.version}'s "
                f"{current.schema}: nodes that migrated to {current.schema} cannot run it "
                "(store migrations go forward only)"
            )
        targets = self.load("targets")
        paths = []
        for file in files:
            if not file.is_file():
                raise ReleaseError(f"{file} is not a file")
            target = file_target(architecture, file.name)
            paths.append(self._add_target(targets.signed, target, file.read_bytes()))
        manifest = Manifest(version, architecture, tuple(paths), schema)
        self._add_target(targets.signed, manifest_target(architecture), manifest.to_json())
        targets.signed.version += 1
        targets.signed.expires = self._expires("targets")
        self._write("targets", targets, load_signers(keys_dir, "targets"))
        self._sign_freshness(keys_dir, targets_version=targets.signed.version)
        return manifest

    def _add_target(self, targets: Targets, path: str, data: bytes) -> str:
        entry = TargetFile.from_data(path, data, ["sha256"])
        stored = self._stored(entry)
        stored.parent.mkdir(parents=True, exist_ok=True)
        temporary = stored.with_name(f".{stored.name}.tmp")
        temporary.write_bytes(data)
        temporary.replace(stored)
        targets.targets[path] = entry
        return path
