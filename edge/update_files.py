"""The two small files that join the node's agent and its updater, in the data directory.

The agent writes ``release-allowed.json`` when the hub's config says which version a
staged rollout lets this node take; the updater (``hallsense edge update``, a separate
process run by a timer, as root) reads it. The updater writes ``update-state.json``,
what it is doing or last did; the agent's heartbeat reads it and tells the hub, and
``edge status`` shows it. Each is written whole to a temporary name, flushed, and renamed
into place, so a reader or a power cut never sees half of one. A file that is missing or
unreadable reads as "nothing known": the updater holds, the heartbeat says idle.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

READABLE_MODE = 0o644
"""The updater runs as root and the agent as the service user: both must read both."""


def _write_json(path: Path, body: dict[str, Any]) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with temporary.open("w", encoding="utf-8") as out:
        json.dump(body, out, sort_keys=True)
        out.flush()
        os.fsync(out.fileno())
    temporary.chmod(READABLE_MODE)
    temporary.replace(path)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}


def write_release_allowed(path: Path, version: str) -> None:
    """Keep the version the hub allows ("" holds the node where it is)."""
    if read_release_allowed(path) != version or not path.exists():
        _write_json(path, {"release": version})


def read_release_allowed(path: Path) -> str:
    """The version the hub last allowed, or "" (hold) when none is known."""
    value = _read_json(path).get("release", "")
    return value if isinstance(value, str) else ""


@dataclass(frozen=True)
class UpdateState:
    """What the updater is doing or last did (``hub_sync.release_contract.UPDATE_STATES``)."""

    state: str = "idle"
    version: str = ""
    """The version the update is about."""
    error: str = ""
    """Why it stopped, failed or went back, in words; "" when all is well."""
    at: str = ""
    """When the state last changed (ISO 8601, UTC)."""
    from_version: str = ""
    """The version that ran before the switch, to go back to."""
    switched_at: str = ""
    """When the switch to ``version`` was made: the health check's start."""
    seq_at_switch: int = 0
    """The store's last sequence number at the switch: readings after it prove storing."""
    schema_before: int = 0
    """The store's schema version before the switch: going back past a migration is refused."""
    download_day: str = ""
    downloaded_today: int = 0
    """Bytes the updater took from the link on ``download_day`` (local date)."""

    def with_changes(self, **changes: Any) -> UpdateState:
        """A copy with ``changes``."""
        return replace(self, **changes)

    def status_fields(self) -> dict[str, str]:
        """The fields the heartbeat carries (``hub_sync.node_status``)."""
        return {
            "update_state": self.state,
            "update_version": self.version,
            "update_error": self.error,
        }


def read_update_state(path: Path) -> UpdateState:
    """The updater's state; idle when there is none or it cannot be read."""
    body = _read_json(path)
    known = {f.name: f.type for f in fields(UpdateState)}
    values: dict[str, Any] = {}
    for name, value in body.items():
        if name in known and isinstance(value, int if name in _NUMBERS else str):
            values[name] = value
    return UpdateState(**values)


_NUMBERS = {"seq_at_switch", "schema_before", "downloaded_today"}


def write_update_state(path: Path, state: UpdateState) -> None:
    """Keep the updater's state (whole, or not at all)."""
    _write_json(path, asdict(state))
