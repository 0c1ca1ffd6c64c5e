"""The node's installed versions side by side, and the one switch that picks the running one.

Each version lives in its own virtual environment, ``<root>/releases/<version>/``, made
from a verified wheelhouse with ``pip --no-index`` (nothing fetched from the internet).
``<root>/current`` is a symlink to the running one, and the systemd units start
``<root>/current/bin/hallsense``; ``<root>/previous`` remembers the one before. Switching
replaces ``current`` with a rename, which is atomic: a power cut leaves the old version
or the new one, never neither. Rolling back is switching to ``previous``. A half-made
environment (a power cut during pip) has no ``.complete`` marker, is never switched to,
and is made again from scratch.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

COMPLETE = ".complete"
"""Written last into a release's environment: it installed whole."""
PIP_TIMEOUT_S = 900.0
"""A Pi Zero installing a release's wheels takes minutes, not hours."""


class ReleaseSlotError(RuntimeError):
    """A version that cannot be installed or switched to, saying why."""


class ReleaseSlots:
    """The installed versions under ``root`` (``/opt/hallsense`` on a node).

    The updater keeps its own files beside them, under ``update/``: the signed metadata
    the node trusts (``metadata``) and the release files it holds (``downloads``, each
    under its own name), so that a wheel a later release still has is never sent again.
    """

    def __init__(self, root: Path, *, python: str = sys.executable) -> None:
        self.root = root
        self.releases = root / "releases"
        self.python = python
        self.metadata = root / "update" / "metadata"
        self.downloads = root / "update" / "downloads"

    def keep_downloads(self, wheels: Iterable[Path]) -> int:
        """Put ``wheels`` among the downloads (linked where the disk allows); returns how many.

        The installer keeps the bundle's wheels there, so the first update from the hub
        sends only what changed since the bundle was made: the updater's client checks
        each against the signed hashes before it counts as held.
        """
        self.downloads.mkdir(parents=True, exist_ok=True)
        kept = 0
        for wheel in wheels:
            target = self.downloads / wheel.name
            if target.exists():
                continue
            try:
                os.link(wheel, target)
            except OSError:
                shutil.copyfile(wheel, target)
            kept += 1
        return kept

    def prune_downloads(self, keep: Iterable[Path]) -> list[str]:
        """Remove the downloads not in ``keep`` (a release's files); returns their names."""
        wanted = {path.name for path in keep}
        if not self.downloads.is_dir():
            return []
        gone = sorted(
            p.name for p in self.downloads.iterdir() if p.is_file() and p.name not in wanted
        )
        for name in gone:
            (self.downloads / name).unlink()
        return gone

    def path(self, version: str) -> Path:
        """Where ``version``'s environment is (or would be)."""
        if not version or "/" in version or version.startswith("."):
            raise ReleaseSlotError(f"{version!r} is not a version a directory can be named")
        return self.releases / version

    def installed(self) -> list[str]:
        """The versions installed whole, in no particular order."""
        if not self.releases.is_dir():
            return []
        return [p.name for p in self.releases.iterdir() if (p / COMPLETE).exists()]

    def _link(self, name: str) -> str | None:
        target = self.root / name
        if not target.is_symlink():
            return None
        return Path(os.readlink(target)).name

    def current(self) -> str | None:
        """The version the units start, or None before the first install."""
        return self._link("current")

    def previous(self) -> str | None:
        """The version that ran before the last switch, or None."""
        return self._link("previous")

    def install(self, version: str, wheelhouse: Path, requirement: str) -> Path:
        """Make ``version``'s environment from ``wheelhouse`` (no index); returns its path.

        ``requirement`` is what pip installs (``hallsense==1.1.0``). An environment already
        installed whole is kept as it is.

        Raises:
            ReleaseSlotError: pip could not install it (its last lines say why).
        """
        path = self.path(version)
        if (path / COMPLETE).exists():
            return path
        if path.exists():
            shutil.rmtree(path)  # half made: a power cut during an earlier try
        self.releases.mkdir(parents=True, exist_ok=True)
        try:
            self._run([self.python, "-m", "venv", str(path)], f"making {version}'s environment")
            self._run(
                [
                    str(path / "bin" / "python"), "-m", "pip", "install", "--quiet",
                    "--no-index", "--find-links", str(wheelhouse), requirement,
                ],
                f"installing {requirement}",
            )  # fmt: skip
        except ReleaseSlotError:
            shutil.rmtree(path, ignore_errors=True)  # no half-made version left to fill the card
            raise
        (path / COMPLETE).write_text(version + "\n", encoding="utf-8")
        return path

    def _run(self, command: Sequence[str], doing: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON"))}
        try:
            done = subprocess.run(  # noqa: S603 - our own python and pip, fixed arguments
                command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, env=env
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise ReleaseSlotError(f"{doing} failed: {error}") from None
        if done.returncode != 0:
            said = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise ReleaseSlotError(f"{doing} failed: {' / '.join(said)}")

    def switch(self, version: str) -> None:
        """Make ``version`` the one the units start; the one running becomes ``previous``.

        Raises:
            ReleaseSlotError: ``version`` is not installed whole.
        """
        path = self.path(version)
        if not (path / COMPLETE).exists():
            raise ReleaseSlotError(f"{version} is not installed whole; it cannot run")
        running = self.current()
        if running == version:
            return
        if running is not None:
            self._point("previous", self.path(running))
        self._point("current", path)

    def roll_back(self) -> str:
        """Switch back to ``previous``; returns its version.

        Raises:
            ReleaseSlotError: there is no previous version installed whole.
        """
        before = self.previous()
        if before is None or before not in self.installed():
            raise ReleaseSlotError("there is no previous version to go back to")
        failed = self.current()
        self._point("current", self.path(before))
        if failed is not None:
            self._point("previous", self.path(failed))
        return before

    def _point(self, name: str, target: Path) -> None:
        link = self.root / name
        temporary = self.root / f".{name}.new"
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(target.relative_to(self.root))
        temporary.replace(link)  # rename(2): atomic

    def prune(self) -> list[str]:
        """Remove every environment but ``current`` and ``previous``; returns their versions.

        Two are enough: the running one, and the one to go back to.
        """
        wanted = {v for v in (self.current(), self.previous()) if v is not None}
        if not self.releases.is_dir():
            return []
        removed = sorted(p.name for p in self.releases.iterdir() if p.name not in wanted)
        for version in removed:
            shutil.rmtree(self.releases / version)
        return removed
