"""The edge store's errors, and SQLite's failures translated into them."""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

SQLITE_FULL = 13
SQLITE_READONLY = 8
SQLITE_CANTOPEN = 14
SQLITE_CORRUPT = 11
SQLITE_NOTADB = 26
SQLITE_IOERR = 10


class StoreError(Exception):
    """Base of every error of the edge store."""


class StoreCorrupt(StoreError):
    """The database file is damaged or is not a hallsense database."""


class StoreTooNew(StoreError):
    """The database was written by a newer hallsense than this one."""


class StoreReadOnly(StoreError, OSError):
    """The database cannot be written (a read-only disk or directory)."""


class StoreFull(StoreError, OSError):
    """The disk is full: nothing was written, the database is intact."""


def sqlite_code(error: sqlite3.Error) -> int:
    """SQLite's primary result code of ``error`` (0 when it has none)."""
    return int(getattr(error, "sqlite_errorcode", 0)) & 0xFF


def translate(error: sqlite3.Error, path: Path, doing: str) -> StoreError:
    """The store error that says what ``error`` means for the database at ``path``."""
    code = sqlite_code(error)
    if code == SQLITE_FULL or (code == SQLITE_IOERR and _disk_free(path.parent) == 0):
        return StoreFull(f"the disk holding {path} is full ({doing}): {error}")
    if code == SQLITE_READONLY:
        return StoreReadOnly(f"cannot write the database {path}: it is read-only")
    if code == SQLITE_CANTOPEN:
        return StoreError(f"cannot open the database {path}: {error}")
    if code in (SQLITE_CORRUPT, SQLITE_NOTADB):
        return StoreCorrupt(f"{path} is damaged: {error}")
    return StoreError(f"database {path}: {error} ({doing})")


def _disk_free(directory: Path) -> int:
    try:
        stat = os.statvfs(directory)
    except OSError as error:
        return 0 if error.errno == errno.ENOSPC else -1
    return stat.f_bavail * stat.f_frsize
