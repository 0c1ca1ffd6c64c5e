"""The UK Daily Air Quality Index for PM2.5, always labelled indoor and indicative."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from presentation.insight_basics import HOUR, require_aware, round_half_up, total_of, usable
from presentation.rollup import Rollup

# DEFRA, "Daily Air Quality Index" (https://uk-air.defra.gov.uk/air-pollution/daqi,
# "more info" view), from COMEAP's 2011 review of the UK air quality index: PM2.5 is
# banded on its 24-hour running mean, in µg/m³:
#   1: 0-11, 2: 12-23, 3: 24-35 (Low); 4: 36-41, 5: 42-47, 6: 48-53 (Moderate);
#   7: 54-58, 8: 59-64, 9: 65-70 (High); 10: 71 or more (Very High).
# The published bounds are whole numbers, so the mean is rounded to a whole µg/m³ (halves
# up) first: 11.49 → 11 → index 1, 11.5 → 12 → index 2.
DAQI_PM25_UPPER = (11, 23, 35, 41, 47, 53, 58, 64, 70)
"""The highest rounded 24-hour mean (µg/m³) of indices 1 to 9; 71 or more is index 10."""

DAQI_BANDS = ("Low", "Low", "Low", "Moderate", "Moderate", "Moderate", "High", "High", "High")
DAQI_TOP_BAND = "Very High"

DAQI_HOURS = 24
DAQI_HOURS_NEEDED = 18
"""Hours of the 24 that must hold PM2.5 readings for a mean: 75 %, the usual data-capture
rule for a daily mean (the one air-quality networks apply to 24-hour means)."""

DAQI_LABEL = (
    "Indoor and indicative: the Daily Air Quality Index is defined for outdoor air "
    "measured by official monitoring stations. This is the hall's own sensor, indoors, "
    "so treat it as a guide only."
)
"""The label the page shows beside every DAQI figure."""

NOT_ENOUGH_HEADLINE = "No air quality band yet: not enough readings"
"""The headline of :class:`AirQualityIndex` when too few hours have PM2.5 readings."""


@dataclass(frozen=True, slots=True)
class AirQualityIndex:
    """The DAQI for PM2.5 on the last 24 hours, or why there is none.

    ``index`` (1 to 10) and ``band`` ("Low", "Moderate", "High", "Very High") are None
    when fewer than ``hours_needed`` of the 24 hours have data; ``mean`` is the 24-hour
    running mean in µg/m³ (None with no data at all); ``words`` reads either way;
    ``label`` is ``DAQI_LABEL``.
    """

    index: int | None
    band: str | None
    mean: float | None
    hours_covered: int
    hours_needed: int
    words: str
    label: str = DAQI_LABEL

    @property
    def headline(self) -> str:
        """What a visitor needs first, in bold on the page: the band, or that there is none.

        "Air pollution: Low (index 1 out of 10)", or "No air quality band yet: not enough
        readings" (the numbers are in :attr:`detail`, in normal weight).
        """
        if self.index is None:
            return NOT_ENOUGH_HEADLINE
        return f"Air pollution: {self.words}"

    @property
    def detail(self) -> str:
        """Why there is no band, with the numbers; empty when there is one."""
        if self.index is not None:
            return ""
        covered = "none" if self.hours_covered == 0 else f"{self.hours_covered}"
        return (
            f"A band needs PM2.5 readings in {self.hours_needed} of the last {DAQI_HOURS} "
            f"hours; so far {covered} {'has' if self.hours_covered == 1 else 'have'} them."
        )


def daqi_index(mean: float) -> int:
    """The DAQI index (1-10) of a PM2.5 24-hour mean in µg/m³, rounded halves up first."""
    rounded = round_half_up(mean)
    for index, upper in enumerate(DAQI_PM25_UPPER, start=1):
        if rounded <= upper:
            return index
    return 10


def daqi_band(index: int) -> str:
    """The band name of a DAQI index: "Low" (1-3) to "Very High" (10)."""
    if not 1 <= index <= 10:
        raise ValueError(f"a DAQI index runs from 1 to 10, got {index}")
    return DAQI_BANDS[index - 1] if index < 10 else DAQI_TOP_BAND


def daqi_window(now: datetime) -> tuple[datetime, datetime]:
    """The span [start, end) of rollups ``pm25_daqi`` reads: the 24 whole hours before now."""
    require_aware(now)
    end_s = math.floor(now.timestamp()) // 3600 * 3600
    end = datetime.fromtimestamp(end_s, UTC)
    return end - DAQI_HOURS * HOUR, end


def pm25_daqi(rollups: Iterable[Rollup], now: datetime) -> AirQualityIndex:
    """The DAQI for PM2.5 on its 24-hour running mean, from minute or hourly rollups.

    Rules:
    - The 24 hours are the 24 whole clock hours before the hour ``now`` is in (at 10:05
      that is 10:00 yesterday to 10:00 today), as a running mean of hourly means is made.
    - Only ``pm2_5`` rollups count; others are ignored. Within an hour, the rollups (any
      resolution, any number of PM2.5 sensors) are combined weighted by their counts.
    - The running mean is the mean of the hourly means.
    - It needs readings in at least 18 of the 24 hours; otherwise ``index`` is None and
      ``words`` say "Not enough data …".
    - The band follows ``daqi_index``: the mean rounded to a whole µg/m³, halves up.
    """
    start, end = daqi_window(now)
    start_s, end_s = start.timestamp(), end.timestamp()
    hours: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for rollup in rollups:
        if rollup.metric != "pm2_5" or not usable(rollup):
            continue
        at = rollup.start.timestamp()
        if start_s <= at < end_s:
            acc = hours[math.floor(at) // 3600]
            acc[0] += total_of(rollup)
            acc[1] += rollup.count
    covered = len(hours)
    mean = statistics.fmean(total / count for total, count in hours.values()) if hours else None
    if mean is None or covered < DAQI_HOURS_NEEDED:
        return AirQualityIndex(
            None,
            None,
            mean,
            covered,
            DAQI_HOURS_NEEDED,
            f"Not enough data: PM2.5 readings for {covered} of the last {DAQI_HOURS} hours "
            f"({DAQI_HOURS_NEEDED} needed)",
        )
    index = daqi_index(mean)
    band = daqi_band(index)
    return AirQualityIndex(
        index, band, mean, covered, DAQI_HOURS_NEEDED, f"{band} (index {index} out of 10)"
    )
