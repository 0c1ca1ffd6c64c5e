"""The simulated hall the question corpus is asked about: a year of readings in a real store.

From 1 December 2025 to the corpus's fixed "now" (Friday 27 November 2026, 15:00 UTC):
a reading of every simulated metric every hour, and every 15 minutes over the last six
weeks, written through ``EdgeStore.append`` so the store's own rollups answer.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from edge.clock import ClockSample
from edge.store import EdgeStore
from presentation.vocabulary import METRICS
from sensors.reading import Reading
from sensors.simulated import METRIC_NAMES, simulate

NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
"""The corpus's "now": a Friday afternoon in late November."""
ZONE = ZoneInfo("Europe/London")
FIRST = datetime(2025, 12, 1, tzinfo=UTC)
FINE_FROM = NOW - timedelta(weeks=6)
OPENING_HOURS = "Mon to Sat, 9:00 to 22:00"
"""The hall's opening hours as its clerk wrote them in the settings."""


def hall_readings(first: datetime = FIRST, end: datetime = NOW) -> list[Reading]:
    """Every simulated reading from ``first`` up to ``end`` (hourly, then every 15 minutes)."""
    out = []
    moment = first
    while moment <= end:
        step = timedelta(minutes=15) if moment >= FINE_FROM else timedelta(hours=1)
        values = simulate(moment, seed=1, zone=ZONE, window_s=step.total_seconds())
        for name in METRIC_NAMES:
            sensor = f"sim-{name.replace('_', '-')}"
            out.append(Reading(sensor, name, values[name], METRICS[name].unit, moment))
        moment += step
    return out


def build_hall_store(path: Path, first: datetime = FIRST, end: datetime = NOW) -> int:
    """Write the simulated hall into a new store at ``path``; returns the readings written."""
    readings = hall_readings(first, end)
    store = EdgeStore(path, timezone=ZONE.key)
    try:
        sample = ClockSample(end, 10**12, True, "boot-a")
        for i in range(0, len(readings), 5000):
            store.append(readings[i : i + 5000], sample)
    finally:
        store.close()
    return len(readings)
