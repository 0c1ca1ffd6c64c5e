"""The node's status summary in plain words and as JSON (CLI `edge status`, the local page)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from edge.store import EdgeStore, HealthRecord, StoredReading
from sensors.reading import Quality


@dataclass(frozen=True)
class SensorStatus:
    """The last value of one sensor's metric."""

    sensor_id: str
    metric: str
    value: float
    unit: str
    at: datetime
    quality: Quality


@dataclass(frozen=True)
class NodeStatus:
    """Everything `edge status` shows."""

    hall_name: str
    db_path: str
    store_epoch: int
    readings_stored: int
    last_seq: int | None
    backlog: int
    held_back: int
    oldest_unacknowledged: datetime | None
    acknowledged: int
    rejected: int
    dropped: int
    db_bytes: int
    clock: str
    clock_synchronised: bool
    sensors: list[SensorStatus]
    health: list[HealthRecord]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (times in ISO 8601 UTC, NaN/inf as null)."""
        return {
            "hall_name": self.hall_name,
            "db_path": self.db_path,
            "store_epoch": self.store_epoch,
            "readings_stored": self.readings_stored,
            "last_seq": self.last_seq,
            "backlog": self.backlog,
            "held_back": self.held_back,
            "oldest_unacknowledged": _iso(self.oldest_unacknowledged),
            "acknowledged": self.acknowledged,
            "rejected": self.rejected,
            "dropped": self.dropped,
            "db_bytes": self.db_bytes,
            "clock": {"synchronised": self.clock_synchronised, "description": self.clock},
            "sensors": [
                {
                    "sensor_id": s.sensor_id,
                    "metric": s.metric,
                    "value": s.value if math.isfinite(s.value) else None,
                    "unit": s.unit,
                    "at": _iso(s.at),
                    "quality": quality_words(s.quality),
                }
                for s in self.sensors
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


def quality_words(quality: Quality) -> list[str]:
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
    stats = store.stats()
    latest: list[StoredReading] = store.latest()
    return NodeStatus(
        hall_name=hall_name,
        db_path=str(store.path),
        store_epoch=stats.store_epoch,
        readings_stored=stats.readings_stored,
        last_seq=stats.last_seq,
        backlog=stats.backlog,
        held_back=stats.held_back,
        oldest_unacknowledged=stats.oldest_unacknowledged,
        acknowledged=stats.acknowledged,
        rejected=stats.rejected,
        dropped=stats.dropped,
        db_bytes=stats.db_bytes,
        clock=clock_description,
        clock_synchronised=clock_synchronised,
        sensors=[
            SensorStatus(r.sensor_id, r.metric, r.value, r.unit, r.timestamp, r.quality)
            for r in sorted(latest, key=lambda r: (r.sensor_id, r.metric))
        ],
        health=store.health(),
    )


def format_status(status: NodeStatus, now: datetime) -> str:
    """The status as text for a terminal, in words a parish clerk understands."""
    lines = [
        f"{status.hall_name} — {status.db_path}",
        f"  readings stored:        {status.readings_stored:,}",
        f"  waiting for the hub:    {status.backlog:,}"
        + (f" ({status.held_back:,} held back until the clock is set)" if status.held_back else ""),
        "  oldest waiting:         "
        + (ago(status.oldest_unacknowledged, now) if status.oldest_unacknowledged else "none"),
        f"  acknowledged by hub:    {status.acknowledged:,}",
    ]
    if status.rejected:
        lines.append(f"  rejected by the hub:    {status.rejected:,}")
    if status.dropped:
        lines.append(f"  dropped (size cap):     {status.dropped:,}")
    lines.append(f"  database size:          {status.db_bytes / 1_048_576:.1f} MB")
    lines.append(f"  clock:                  {status.clock}")
    if status.health:
        lines.append("  drivers:")
        for h in status.health:
            detail = f" — {h.last_error}" if h.last_error and h.state != "ok" else ""
            lines.append(f"    {h.driver:<12} {h.state}{detail}")
    if status.sensors:
        lines.append("  latest readings:")
        for s in status.sensors:
            flags = quality_words(s.quality)
            note = f"  [{', '.join(flags)}]" if flags else ""
            value = "not a number" if math.isnan(s.value) else f"{s.value:g}"
            lines.append(
                f"    {s.sensor_id:<22} {s.metric:<18} {value} {s.unit}  ({ago(s.at, now)}){note}"
            )
    return "\n".join(lines)


def ago(moment: datetime, now: datetime) -> str:
    """'12 seconds ago', '3 minutes ago', '2 days ago' — how long ago ``moment`` was."""
    seconds = (now - moment).total_seconds()
    if seconds < 0:
        return "in the future (clock not yet set?)"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    count = int(seconds)
    return f"{count} second{'s' if count != 1 else ''} ago"
