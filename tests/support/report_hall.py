"""Halls for the monthly report's tests: real stores filled through EdgeStore.append.

``clean_hall``: the simulated hall every 30 minutes from 14 September to 2 December 2026,
so October and November are whole months and September is its first, partial month.
``troubled_hall``: the same November with two days missing (10 and 11 November), door
counts published only as "fewer than 3" and a few readings taken before the clock was
set, corrected once it was. The readings themselves are kept too (``HallData.readings``),
so tests can work out the expected figures independently of the report's code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from edge.clock import ClockSample
from edge.store import EdgeStore
from presentation.reading_flags import Censor, Quality
from sensors.reading import Reading
from tests.web_local.conftest import hall_readings

ZONE = ZoneInfo("Europe/London")
START = datetime(2026, 9, 14, 9, tzinfo=UTC)
END = datetime(2026, 12, 2, tzinfo=UTC)
HALL = "Askrigg Village Hall"
STEP = timedelta(minutes=30)
UNREPORTED = ("relative_humidity", "pm10")
"""Metrics the report says nothing of, left out of the clean hall to keep its set-up quick."""
GAP = (datetime(2026, 11, 10, tzinfo=ZONE), datetime(2026, 11, 12, tzinfo=ZONE))
CENSORED_AT = [datetime(2026, 11, 20, 8, 0, tzinfo=UTC) + timedelta(hours=i) for i in range(3)]
TRUE_TIME = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)
CORRECTED = 4
WRONG_TIME = datetime(2025, 1, 1, tzinfo=UTC)  # fake-hwclock's restored time


@dataclass(frozen=True)
class HallData:
    """A store file and the readings that went into it (kept readings only)."""

    path: Path
    readings: list[Reading]


def _fill(path: Path, readings: list[Reading]) -> None:
    with EdgeStore(path) as store:
        for i in range(0, len(readings), 5000):
            store.append(readings[i : i + 5000], ClockSample(END, 10**12, True, "boot-a"))


def clean_hall(path: Path) -> HallData:
    """The simulated hall, 14 September to 2 December 2026."""
    weeks = math.ceil((END - START) / timedelta(weeks=1))
    readings = [
        r
        for r in hall_readings(END, weeks=weeks, step=STEP)
        if r.timestamp >= START and r.metric not in UNREPORTED
    ]
    _fill(path, readings)
    return HallData(path, readings)


def troubled_hall(path: Path) -> HallData:
    """November only, with a two-day gap, censored door counts and corrected clock times."""
    first = datetime(2026, 11, 1, tzinfo=ZONE).astimezone(UTC)
    readings = [
        r
        for r in hall_readings(END, weeks=5, step=STEP)
        if r.timestamp >= first and not GAP[0] <= r.timestamp < GAP[1]
    ]
    censored = [
        Reading("sim-footfall", "footfall", 3.0, "count", at, Quality.CENSORED, Censor.LESS_THAN)
        for at in CENSORED_AT
    ]
    readings = [r for r in readings if not (r.metric == "footfall" and r.timestamp in CENSORED_AT)]
    _fill(path, sorted(readings + censored, key=lambda r: r.timestamp))
    with EdgeStore(path) as store:
        # Taken 100 to 103 s into a boot whose clock still said 2025, then corrected.
        late = [
            Reading("sim-temperature", "temperature", 19.0, "°C", WRONG_TIME + timedelta(seconds=i))
            for i in range(CORRECTED)
        ]
        store.append(
            late, ClockSample(WRONG_TIME + timedelta(seconds=104), 104 * 10**9, False, "b")
        )
        now = ClockSample(TRUE_TIME, 200 * 10**9, True, "b")
        assert store.correct_clock(now, hold_max_s=3600) == (CORRECTED, 0)
    return HallData(path, readings)
