"""The release contract both ends import: the repository's layout and the manifest.

The council's repository (``provisioning/release_repository.py``) publishes, and the node
(``hub_sync/release_client.py``) reads, a TUF repository at ``<hub>/releases/``:
``metadata/`` and ``targets/``. Each architecture's current release is the target
``<architecture>/release.json`` (:class:`Manifest`), naming its version and its files'
target paths (``<version>/<architecture>/<file>``). Versions are PEP 440 and order
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


def file_target(version: str, architecture: str, name: str) -> str:
    """The target path of one file of a release."""
    return f"{version}/{architecture}/{name}"


@dataclass(frozen=True)
class Manifest:
    """What one release of one architecture holds."""

    version: str
    architecture: str
    files: tuple[str, ...]
    """Target paths of the release's files, relative to ``targets/``."""

    def to_json(self) -> bytes:
        """The manifest as the target file a node downloads."""
        body = {"version": self.version, "architecture": self.architecture, "files": self.files}
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
                str(body["version"]), str(body["architecture"]), tuple(map(str, body["files"]))
            )
        except (ValueError, KeyError, TypeError) as error:
            raise ReleaseFormatError(f"the release manifest is malformed: {error}") from None
        release_version(manifest.version)
        return manifest
