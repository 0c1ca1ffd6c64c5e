"""Devices per person for the BLE footfall estimate, from a door counter's entries and exits.

A beam pair at the door counts people; the BLE driver counts devices. Over intervals
when both ran and the door says enough people were in, devices divided by people is
the hall's own devices-per-person figure (docs/ble.md, "Calibrating with a door counter").
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from edge.store_records import StoredReading

MIN_PEOPLE = 10
"""Intervals with fewer people at the door are left out: small counts are noisy, and the
estimate below its minimum is censored anyway."""
MIN_INTERVALS = 6
DOOR_METRICS = ("entries", "exits")
ESTIMATE_METRIC = "people_estimate"


@dataclass(frozen=True)
class Calibration:
    """The outcome: how many intervals were usable and, if enough, the suggested figure."""

    intervals: int
    """Estimates taken while the door said at least ``MIN_PEOPLE`` were in."""
    devices_per_person: float | None
    """The median ratio, to 2 places; None with fewer than ``MIN_INTERVALS`` intervals."""
    low: float | None
    high: float | None
    """The middle half of the ratios (lower and upper quartile), to show the spread."""
    door_readings: int
    estimates: int


def calibrate(
    readings: Iterable[StoredReading],
    *,
    current_devices_per_person: float,
    timezone: str,
    min_people: int = MIN_PEOPLE,
) -> Calibration:
    """Compare ``people_estimate`` with the people the door counter says were in.

    Args:
        readings: the node's ``entries``, ``exits`` and ``people_estimate`` readings of a
            period, in any order (other metrics are ignored).
        current_devices_per_person: the figure the estimates were made with (their value
            times it is the number of devices).
        timezone: the hall's zone: the count of people in starts from zero each local day.
        min_people: leave out intervals with fewer people than this at the door.
    """
    zone = ZoneInfo(timezone)
    door: list[tuple[datetime, float]] = []
    estimates: list[tuple[datetime, float]] = []
    for reading in readings:
        if reading.censor is not None or reading.value != reading.value:
            continue
        if reading.metric == "entries":
            door.append((reading.timestamp, reading.value))
        elif reading.metric == "exits":
            door.append((reading.timestamp, -reading.value))
        elif reading.metric == ESTIMATE_METRIC:
            estimates.append((reading.timestamp, reading.value))
    door.sort(key=lambda item: item[0])
    estimates.sort(key=lambda item: item[0])
    inside_by_day: dict[date, float] = defaultdict(float)
    ratios: list[float] = []
    next_door = 0
    for at, estimate in estimates:
        while next_door < len(door) and door[next_door][0] <= at:
            moment, change = door[next_door]
            day = moment.astimezone(zone).date()
            # A missed exit must not leave the hall "occupied" below zero or for ever.
            inside_by_day[day] = max(0.0, inside_by_day[day] + change)
            next_door += 1
        people = inside_by_day[at.astimezone(zone).date()]
        if people >= min_people:
            ratios.append(estimate * current_devices_per_person / people)
    if len(ratios) < MIN_INTERVALS:
        return Calibration(len(ratios), None, None, None, len(door), len(estimates))
    quartiles = statistics.quantiles(ratios, n=4)
    return Calibration(
        len(ratios),
        round(statistics.median(ratios), 2),
        round(quartiles[0], 2),
        round(quartiles[2], 2),
        len(door),
        len(estimates),
    )
