"""The release contract both ends import: the repository's layout and the manifest.

The council's repository (``provisioning/release_repository.py``) publishes, and the node
(``hub_sync/release_client.py``) reads, a TUF repository at ``<hub>/releases/``:
``metadata/`` and ``targets/``. Each architecture's current release is the target
``<architecture>/release.json`` (:class:`Manifest`), naming its version, the store schema
it runs, and its files' target paths (``<architecture>/wheels/<file>``). A wheel's name
carries its own version, so a wheel that did not change between releases keeps its target
path and a node that holds it already is not sent it again. Versions are PEP 440 and order
releases: a node never takes one that is not newer than what it runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

MANIFEST = "release.json"
"""The manifest's name under each architecture's directory of targets."""

ARCHITECTURES = ("aarch64", "armv7l", "x86_64")
"""Machines a release may be for: the Pi's 64-bit and 32-bit OS, and a council's PC."""


UPDATE_STATES = (
    "idle",  # running the release the hub allows, or none is offered
    "waiting",  # a download paused: the link's budget or live readings come first
    "downloading",
    "installing",  # the release's environment is being made beside the running one
    "checking",  # switched; the new version must pass its health check
    "updated",  # the new version passed its health check
    "rolled back",  # the new version failed its health check; the node went back
    "refused",  # the release failed a check (signature, expiry, version, schema, hash)
    "failed",  # an install or a switch failed; the running version is untouched
)
"""A node's update state, in its status (``update_state``), as the fleet page shows it."""
UPDATE_FAILURES = ("rolled back", "refused", "failed")
"""States that count against a staged rollout: the release did not take on this node."""


def node_architecture(machine: str, pointer_bytes: int) -> str:
    """The release architecture of a machine (``platform.machine()``, pointer size).

    Raspberry Pi OS's 32-bit userland runs on a 64-bit kernel on a Pi 4 or 5, where the
    machine says aarch64 but Python, and every wheel it can load, is 32-bit ARM.
    """
    if machine in ("aarch64", "arm64") and pointer_bytes == 4:
        return "armv7l"
    if machine.startswith("armv") or machine == "arm":
        return "armv7l"
    return "aarch64" if machine == "arm64" else machine


class ReleaseFormatError(ValueError):
    """A version or manifest that is not in the contract's format, saying what is wrong."""


def release_version(text: str) -> Version:
    """A release's version (PEP 440), which orders releases.

    Raises:
        ReleaseFormatError: ``text`` is not a version.
    """
    try:
        return Version(text)
    except InvalidVersion:
        raise ReleaseFormatError(f"{text!r} is not a release version (such as 1.4.0)") from None


def manifest_target(architecture: str) -> str:
    """The target path of ``architecture``'s manifest."""
    return f"{architecture}/{MANIFEST}"


def file_target(architecture: str, name: str) -> str:
    """The target path of one file of a release: the same in every release that has it."""
    return f"{architecture}/wheels/{name}"


@dataclass(frozen=True)
class Manifest:
    """What one release of one architecture holds."""

    version: str
    architecture: str
    files: tuple[str, ...]
    """Target paths of the release's files, relative to ``targets/``."""
    schema: int
    """The node store's schema version this release migrates to (``edge.migrations``).

    Migrations go forward only: a node whose store is at a later schema cannot run this
    release, and a release may never have a lower schema than the one before it."""

    def to_json(self) -> bytes:
        """The manifest as the target file a node downloads."""
        body = {
            "version": self.version,
            "architecture": self.architecture,
            "files": self.files,
            "schema": self.schema,
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        """A manifest read back (from signed, verified bytes).

        Raises:
            ReleaseFormatError: the manifest is not the shape :meth:`to_json` writes, or
                its version is not a version.
        """
        try:
            body = json.loads(data)
            manifest = cls(
                str(body["version"]),
                str(body["architecture"]),
                tuple(map(str, body["files"])),
                body["schema"],
            )
        except (ValueError, KeyError, TypeError) as error:
            raise ReleaseFormatError(f"the release manifest is malformed: {error}") from None
        if not isinstance(manifest.schema, int) or isinstance(manifest.schema, bool):
            raise ReleaseFormatError("the release manifest's schema is not a whole number")
        release_version(manifest.version)
        return manifest
