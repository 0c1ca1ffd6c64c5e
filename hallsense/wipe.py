"""Wipe a node (ETSI EN 303 645 provision 5.11): its readings, its state and its credentials.

What goes: the store (with its WAL and shared-memory files), the page settings the hub
sent, the counter driver's tally, every file a ``HALLSENSE_*_FILE`` setting names (the
broker password), any enrolment credentials in the data directory, and secret values
written inline in the settings file (their lines are removed; the rest of the file
stays, so the node can be set up again). A node whose agent is still running is refused:
the store must not be deleted under a writer.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

from edge.lock import AgentLock
from edge.settings import EdgeSettings
from edge.store import EdgeStore
from edge.store_errors import StoreError
from sensors.counter_settings import SETTINGS as COUNTER

SECRET_KEYS = ("HALLSENSE_BROKER_PASSWORD",)
"""Settings whose value is a secret when written inline."""


@dataclass
class WipeReport:
    """What a wipe deleted, for the operator to read."""

    readings: int = 0
    deleted: list[Path] = field(default_factory=list)
    cleaned_settings: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The report in words."""
        out = [f"deleted {self.readings:,} readings"]
        out += [f"deleted {path}" for path in self.deleted]
        out += [f"removed {key} from the settings file" for key in self.cleaned_settings]
        return out


def _readings_in(db: Path) -> int:
    """The store's own count of the readings it holds (0 for a store it cannot read)."""
    try:
        store = EdgeStore(db, readonly=True)
    except StoreError:
        return 0  # damaged or not ours: it goes all the same
    try:
        return store.stats().readings_stored
    finally:
        store.close()


class WipeFailed(Exception):
    """A file that had to go could not be deleted (a read-only disk, say)."""


def _remove(path: Path, report: WipeReport) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        return
    except OSError as error:
        raise WipeFailed(f"could not delete {path}: {error.strerror or error}") from error
    report.deleted.append(path)


def wipe_node(settings: EdgeSettings, env_file: Path | None) -> WipeReport:
    """Delete the node's readings, state and credentials; returns what went.

    Raises:
        AgentRunning: the agent is running.
    """
    # Held for the whole wipe, so no agent can start on the store while it goes.
    with AgentLock(settings.data_dir):
        return _wipe(settings, env_file)


def _wipe(settings: EdgeSettings, env_file: Path | None) -> WipeReport:
    report = WipeReport()
    layout = settings.layout
    if layout.db.exists():
        report.readings = _readings_in(layout.db)
    for path in (*layout.wiped, *layout.count_journals(), *layout.credential_leftovers()):
        _remove(path, report)
    tally_path = settings.for_driver(COUNTER).tally_path
    if tally_path is not None:
        _remove(tally_path, report)
    if env_file is not None and env_file.exists():
        values = dotenv_values(env_file)
        for key, value in values.items():
            if key.startswith("HALLSENSE_") and key.endswith("_FILE") and value:
                _remove(Path(value), report)
        inline = [key for key in SECRET_KEYS if values.get(key)]
        if inline:
            _drop_lines(env_file, inline)
            report.cleaned_settings.extend(inline)
    return report


def _drop_lines(env_file: Path, keys: list[str]) -> None:
    """Rewrite ``env_file`` without the lines setting ``keys`` (atomically, same mode)."""
    kept = [
        line
        for line in env_file.read_text(encoding="utf-8").splitlines(keepends=True)
        if not any(line.lstrip().removeprefix("export ").startswith(key + "=") for key in keys)
    ]
    fresh = env_file.with_name(env_file.name + ".wiping")
    descriptor = os.open(
        fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, env_file.stat().st_mode & 0o777
    )
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.writelines(kept)
        out.flush()
        os.fsync(out.fileno())
    fresh.replace(env_file)
