"""How old the newest reading is, in words ("Updated 2 minutes ago")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from presentation.insight_basics import HOUR, require_aware
from presentation.words import ago

FreshnessLevel = Literal["fresh", "late", "stale", "none", "future"]

FUTURE_TOLERANCE = timedelta(minutes=1)
"""A newest reading this far ahead of ``now`` is clock jitter between processes, not a
wrong clock."""


@dataclass(frozen=True, slots=True)
class Freshness:
    """How fresh the data is: a stable ``level`` key and ``words`` for the page."""

    level: FreshnessLevel
    words: str


def freshness(
    latest: datetime | None,
    now: datetime,
    *,
    late_after: timedelta = timedelta(minutes=15),
    stale_after: timedelta = HOUR,
) -> Freshness:
    """How long ago the newest reading (``latest``, None if there is none) was taken.

    Under a minute: "Updated just now"; under ``late_after``: "Updated 2 minutes ago";
    under ``stale_after``: "Updated 20 minutes ago; new readings are overdue"; from then
    on: "No new readings for 3 hours — the sensors may be off". More than a minute in the
    future: the node's clock is not right yet. Durations are ``presentation.words.ago``'s words.
    """
    require_aware(now)
    if latest is None:
        return Freshness("none", "No readings yet")
    require_aware(latest, "latest")
    age = timedelta(seconds=now.timestamp() - latest.timestamp())
    if age < -FUTURE_TOLERANCE:
        return Freshness(
            "future", "The newest reading is dated in the future — the clock may not be set yet"
        )
    if age < timedelta(seconds=5):
        return Freshness("fresh", "Updated just now")
    when = ago(latest.astimezone(UTC), now.astimezone(UTC))
    if age < late_after:
        return Freshness("fresh", f"Updated {when}")
    if age < stale_after:
        return Freshness("late", f"Updated {when}; new readings are overdue")
    return Freshness(
        "stale", f"No new readings for {when.removesuffix(' ago')} — the sensors may be off"
    )
