"""The installer's file work: paths under a root, files written whole with owner and mode.

Everything the installer writes goes through :func:`write_file`: a new file beside the
old one, created with its final mode and owner before a byte is written, synced, then
renamed over the old one; so a secret is never readable by others, not even for a
moment, and a power cut leaves the old file or the new, never half of one.
"""

from __future__ import annotations

import contextlib
import os
import platform
import stat
import struct
import subprocess
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

COMMAND_TIMEOUT_S = 120.0


class InstallError(Exception):
    """Something the installer cannot do, saying what and, where it can, how to fix it."""


def under(root: Path, path: PurePosixPath | Path) -> Path:
    """``path`` (absolute, as on the node) inside ``root``: ``/etc/x`` under ``/mnt``."""
    if not str(path).startswith("/"):
        raise InstallError(f"{path} is not an absolute path")
    return root / str(path).lstrip("/")


def machine_architecture(machine: str | None = None, pointer_bytes: int | None = None) -> str:
    """The wheelhouse this machine needs: aarch64, armv7l or x86_64 (or what it is).

    Raspberry Pi OS's 32-bit userland runs on a 64-bit kernel on a Pi 4 or 5, where
    ``uname -m`` says aarch64 but Python, and every wheel it can load, is 32-bit ARM.
    """
    machine = platform.machine() if machine is None else machine
    pointer_bytes = struct.calcsize("P") if pointer_bytes is None else pointer_bytes
    if machine in ("aarch64", "arm64") and pointer_bytes == 4:
        return "armv7l"
    if machine.startswith("armv") or machine == "arm":
        return "armv7l"
    return "aarch64" if machine == "arm64" else machine


def ensure_dir(path: Path, *, mode: int, uid: int = 0, gid: int = 0) -> bool:
    """Make ``path`` (parents 0755, root's) or set its owner and mode; True if it changed.

    Only the directory itself: what is inside is never touched.
    """
    made = False
    if not path.is_dir():
        if not path.parent.is_dir():
            ensure_dir(path.parent, mode=0o755)
        path.mkdir(mode=0o700)
        made = True
    return fix_owner_mode(path, mode=mode, uid=uid, gid=gid) or made


def fix_owner_mode(path: Path, *, mode: int, uid: int, gid: int) -> bool:
    """Give ``path`` this owner and mode if it has others; True if it had.

    Raises:
        InstallError: the file system keeps no owners or modes (a FAT partition).
    """
    status = path.lstat()
    changed = False
    try:
        if (status.st_uid, status.st_gid) != (uid, gid):
            os.chown(path, uid, gid, follow_symlinks=False)
            changed = True
        if stat.S_IMODE(status.st_mode) != mode:
            os.chmod(path, mode)
            changed = True
    except PermissionError as error:
        raise InstallError(
            f"cannot set the owner or mode of {path} ({error.strerror}): it must be on the "
            "node's own file system, not a FAT boot partition"
        ) from None
    return changed


def write_file(path: Path, content: bytes, *, mode: int, uid: int = 0, gid: int = 0) -> bool:
    """``path`` holds ``content`` with this owner and mode; True if anything changed.

    A file that holds ``content`` already only has its owner and mode put right.
    """
    try:
        same = path.is_file() and not path.is_symlink() and path.read_bytes() == content
    except OSError:
        same = False
    if same:
        return fix_owner_mode(path, mode=mode, uid=uid, gid=gid)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.new")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        try:
            os.fchown(fd, uid, gid)
            os.fchmod(fd, mode)
        except PermissionError as error:
            raise InstallError(
                f"cannot set the owner or mode of {path} ({error.strerror}): it must be on "
                "the node's own file system, not a FAT boot partition"
            ) from None
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        temporary.unlink(missing_ok=True)
        raise
    os.close(fd)
    temporary.replace(path)
    return True


def run(command: Sequence[str], doing: str) -> str:
    """Run a system tool (useradd, systemctl); its output, or InstallError saying why not."""
    try:
        done = subprocess.run(  # noqa: S603 - system tools with arguments the installer made
            list(command), capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise InstallError(f"{doing} failed: {error}") from None
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()[-3:] or ["no output"]
        raise InstallError(f"{doing} failed ({command[0]}): {' / '.join(said)}")
    return done.stdout
