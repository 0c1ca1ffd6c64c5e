"""The node's status summary in plain words and as JSON (CLI `edge status`, the local page)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from edge.layout import DataDir
from edge.store import EdgeStore
from edge.store_records import HealthRecord, StoredReading, StoreStats
from edge.update_files import UpdateState, read_update_state
from presentation.reading_flags import Quality, flag_words
from presentation.words import ago


@dataclass(frozen=True)
class NodeStatus:
    """Everything `edge status` shows: the store's counts, the clock, drivers and sensors."""

    hall_name: str
    db_path: str
    stats: StoreStats
    clock: str
    clock_synchronised: bool
    latest: list[StoredReading]
    health: list[HealthRecord]
    update: UpdateState = field(default_factory=UpdateState)
    """What the updater is doing or last did (``hallsense edge update``)."""

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (times in ISO 8601 UTC, NaN and infinities as null)."""
        stats = self.stats
        return {
            "hall_name": self.hall_name,
            "db_path": self.db_path,
            "store_epoch": stats.store_epoch,
            "readings_stored": stats.readings_stored,
            "last_seq": stats.last_seq,
            "backlog": stats.backlog,
            "held_back": stats.held_back,
            "oldest_unacknowledged": _iso(stats.oldest_unacknowledged),
            "acknowledged": stats.acknowledged,
            "last_acknowledged_at": _iso(stats.last_acknowledged_at),
            "rejected": stats.rejected,
            "dropped": stats.dropped,
            "db_bytes": stats.db_bytes,
            "clock": {"synchronised": self.clock_synchronised, "description": self.clock},
            "update": {
                "state": self.update.state,
                "version": self.update.version,
                "error": self.update.error,
                "at": self.update.at or None,
            },
            "sensors": [
                {
                    "sensor_id": r.sensor_id,
                    "metric": r.metric,
                    "value": r.value if math.isfinite(r.value) else None,
                    "unit": r.unit,
                    "at": _iso(r.timestamp),
                    "quality": quality_names(r.quality),
                }
                for r in self.latest
            ],
            "drivers": [
                {
                    "driver": h.driver,
                    "state": h.state,
                    "since": _iso(h.since),
                    "last_error": h.last_error,
                    "failures": h.failures,
                }
                for h in self.health
            ],
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def quality_names(quality: Quality) -> list[str]:
    """The names of the flags set in ``quality`` (empty when the reading is good)."""
    return [flag.name.lower() for flag in Quality if flag and flag in quality and flag.name]


def node_status(
    store: EdgeStore,
    *,
    hall_name: str,
    clock_synchronised: bool,
    clock_description: str,
) -> NodeStatus:
    """Gather the status of the node whose store is ``store``."""
    return NodeStatus(
        hall_name=hall_name,
        db_path=str(store.path),
        stats=store.stats(),
        clock=clock_description,
        clock_synchronised=clock_synchronised,
        latest=store.latest(),
        health=store.health(),
        update=read_update_state(DataDir(store.path.parent).update_state),
    )


def value_words(value: float, unit: str) -> str:
    """A value as a person reads it: "yes"/"no" for states, no unit for plain numbers."""
    if math.isnan(value):
        return "not a number"
    if unit == "bool":
        return "yes" if value else "no"
    text = f"{value:,.0f}" if unit == "count" else f"{value:g}"
    return text if unit in ("1", "count") else f"{text} {unit}"


def format_status(status: NodeStatus, now: datetime) -> str:
    """The status as text for a terminal, in words a parish clerk understands."""
    stats = status.stats
    held = f" ({stats.held_back:,} held back until the clock is set)" if stats.held_back else ""
    oldest = stats.oldest_unacknowledged
    lines = [
        f"{status.hall_name} — {status.db_path}",
        f"  readings stored:        {stats.readings_stored:,}",
        f"  waiting for the hub:    {stats.backlog:,}{held}",
        f"  oldest waiting:         {ago(oldest, now) if oldest else 'none'}",
        f"  acknowledged by hub:    {stats.acknowledged:,}",
    ]
    if stats.rejected:
        lines.append(f"  rejected by the hub:    {stats.rejected:,}")
    if stats.dropped:
        lines.append(f"  dropped (size cap):     {stats.dropped:,}")
    lines.append(f"  database size:          {stats.db_bytes / 1_048_576:.1f} MB")
    lines.append(f"  clock:                  {status.clock}")
    update = status.update
    if update.state != "idle" or update.version:
        said = f"{update.state} {update.version}".strip() + (
            f": {update.error}" if update.error else ""
        )
        lines.append(f"  software update:        {said}")
    if status.health:
        lines.append("  drivers:")
        for h in status.health:
            detail = f" — {h.last_error}" if h.last_error else ""
            lines.append(f"    {h.driver:<12} {h.state} since {ago(h.since, now)}{detail}")
    if status.latest:
        lines.append("  latest readings:")
        for r in status.latest:
            flags = flag_words(r.quality)
            note = f"  [{'; '.join(flags)}]" if flags else ""
            lines.append(
                f"    {r.sensor_id:<22} {r.metric:<18} {value_words(r.value, r.unit):<14} "
                f"({ago(r.timestamp, now)}){note}"
            )
    return "\n".join(lines)
