"""Real small and read-only filesystems for full-disk and read-only tests (needs root)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _run(*args: str) -> None:
    subprocess.run(list(args), check=True, capture_output=True)


def _unmount(path: Path) -> None:
    result = subprocess.run(["umount", str(path)], capture_output=True)
    if result.returncode != 0:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


@contextmanager
def tmpfs_mount(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (e.g. "400k") mounted on the existing directory ``path``."""
    _run("mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path))
    try:
        yield path
    finally:
        _unmount(path)


@contextmanager
def read_only_mount(path: Path) -> Iterator[Path]:
    """``path`` bind-mounted onto itself read-only: even root cannot write there."""
    _run("mount", "--bind", str(path), str(path))
    try:
        _run("mount", "-o", "remount,bind,ro", str(path))
        yield path
    finally:
        _unmount(path)
