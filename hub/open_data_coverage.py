"""The first and last published hour of a hall, found through the store's hourly rollups.

The open data is hourly means, so a hall's temporal coverage is the span of its hourly
rollups of the metrics it publishes. The store answers rollups for a range of hours
(:meth:`~hub.store.ReadingQueries.hourly`) but not "the first one": scanning a hall's
whole history for it would read a year of rows to keep one. So the ends are found with
probes that read little: the year before the hall's first device was registered (earlier
readings are implausible and not rolled up) in one window, then windows that double in
size from the registration forwards, and from now backwards; a window holding rollups
ends the search, so at most one window's rows are read each way. A hall's readings
usually start within days of its registration, so that is a few small queries per hall.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from hub.store import FUTURE_TOLERANCE_US, PAST_TOLERANCE_US, HourlyRollup

HOUR_US = 3_600_000_000
FIRST_WINDOW_US = 24 * HOUR_US


class HourlySource(Protocol):
    """What the coverage reads of the hub store."""

    def hourly(
        self, device_ids: Sequence[str], start_us: int, end_us: int, metrics: Sequence[str] = ()
    ) -> list[HourlyRollup]:
        """Hourly rollups of hours starting in [start_us, end_us)."""
        ...


def published_span(
    store: HourlySource,
    device_ids: Sequence[str],
    metrics: Sequence[str],
    *,
    registered_us: int,
    now_us: int,
) -> tuple[int, int] | None:
    """(start of the first hour, end of the last hour) of these rollups, in UTC µs.

    Args:
        store: the hub store.
        device_ids: the hall's devices.
        metrics: the metrics it publishes (none: None).
        registered_us: when its first device was registered.
        now_us: now.

    Returns:
        None when there is no rollup of those metrics at all.
    """
    if not device_ids or not metrics:
        return None
    low = registered_us - PAST_TOLERANCE_US
    high = now_us + FUTURE_TOLERANCE_US + HOUR_US
    # Readings from before registration are rare (a node that recorded before it was
    # enrolled): one window for that year, then doubling windows from registration on.
    before = store.hourly(device_ids, low, min(registered_us, high), metrics)
    first = (
        min(r.hour_us for r in before)
        if before
        else _edge(store, device_ids, metrics, registered_us, high, forwards=True)
    )
    if first is None:
        return None
    last = _edge(store, device_ids, metrics, first, high, forwards=False)
    return first, (last if last is not None else first) + HOUR_US


def _edge(
    store: HourlySource,
    device_ids: Sequence[str],
    metrics: Sequence[str],
    low: int,
    high: int,
    *,
    forwards: bool,
) -> int | None:
    """The earliest (forwards) or latest hour with a rollup in [low, high), or None."""
    size = FIRST_WINDOW_US
    done = low if forwards else high
    while (done < high) if forwards else (done > low):
        if forwards:
            start, end = done, min(high, done + size)
        else:
            start, end = max(low, done - size), done
        rows = store.hourly(device_ids, start, end, metrics)
        if rows:
            hours = [r.hour_us for r in rows]
            return min(hours) if forwards else max(hours)
        done = end if forwards else start
        size *= 2
    return None
