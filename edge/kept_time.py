"""The last good sample of a reference time (the hub's), kept on disk for this boot.

A sample pins the reference's time to an instant of this boot's monotonic clock, so it
stays good, its error bound growing with the clock's drift, until the machine restarts.
Kept in the data directory (``hub-time.json``, edge/layout.py), it lets a restarted agent
(after an update, say) stamp readings at once instead of holding them back until the hub
answers again, and lets ``hallsense edge status`` say what the agent's clock says. A file
from another boot, or one that cannot be read, is ignored: the reference is asked again.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class KeptTime:
    """A reference's time at one instant of this boot's monotonic clock (a ReferenceTime)."""

    unix_ns: int
    monotonic_ns: int
    error_s: float


def read_kept_time(path: Path, boot_id: str) -> KeptTime | None:
    """The sample kept at ``path`` during boot ``boot_id``; None if none is usable."""
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        if body["boot_id"] != boot_id:
            return None
        kept = KeptTime(int(body["unix_ns"]), int(body["monotonic_ns"]), float(body["error_s"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as error:
        log.warning("ignoring the kept reference time in %s: %s", path, error)
        return None
    if kept.error_s < 0 or kept.monotonic_ns < 0:
        log.warning("ignoring the kept reference time in %s: its figures are impossible", path)
        return None
    return kept


def write_kept_time(path: Path, boot_id: str, kept: KeptTime) -> None:
    """Keep ``kept`` for this boot, replacing the last (written whole, then renamed)."""
    body = {
        "boot_id": boot_id,
        "unix_ns": kept.unix_ns,
        "monotonic_ns": kept.monotonic_ns,
        "error_s": kept.error_s,
    }
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(json.dumps(body) + "\n", encoding="utf-8")
        os.replace(temporary, path)
    except OSError as error:  # a read-only or full disk: the time is only not kept
        log.warning("cannot keep the reference time in %s: %s", path, error)
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
