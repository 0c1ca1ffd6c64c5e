"""The hub's open data in the community page's own words and charts.

Turns the hub's hourly rollups into the :class:`presentation.rollup.Rollup` that the
shared insights and charts take, so a hall's week in words and its charts read the same
on the county's open data as on the hall's own page.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hub.store import HourlyRollup
from presentation.line_chart import line_chart
from presentation.numbers import format_value
from presentation.rollup import Resolution, Rollup
from presentation.tables import trend_table
from presentation.ventilation import ventilation_advice
from presentation.weekly_summary import weekly_summary

DAILY_AFTER = timedelta(days=8)
"""Charts longer than this are drawn from local days, as the hall's page draws them."""


def as_rollups(rollups: Sequence[HourlyRollup]) -> list[Rollup]:
    """The hub's hourly rollups as the presentation's (what the hall's page draws)."""
    return [
        Rollup(
            r.sensor_id,
            r.metric,
            r.unit,
            datetime.fromtimestamp(r.hour_us / 1e6, UTC),
            r.readings,
            r.low,
            r.high,
            r.mean,
        )
        for r in rollups
    ]


def _daily(rollups: Sequence[HourlyRollup], zone: ZoneInfo) -> list[Rollup]:
    days: dict[tuple[str, str, str, date], list[float]] = {}
    for r in rollups:
        day = datetime.fromtimestamp(r.hour_us / 1e6, zone).date()
        found = days.setdefault((r.sensor_id, r.metric, r.unit, day), [0, 0.0, r.low, r.high])
        found[0] += r.readings
        found[1] += r.mean * r.readings
        found[2] = min(found[2], r.low)
        found[3] = max(found[3], r.high)
    return [
        Rollup(
            sensor, metric, unit, datetime.combine(day, time(), zone), int(n), low, high, total / n
        )
        for (sensor, metric, unit, day), (n, total, low, high) in days.items()
    ]


class NodePresenter:
    """:class:`hub.open_data.Presenter` made of the community page's own parts."""

    def summary(self, rollups: Sequence[HourlyRollup], now: datetime, zone: ZoneInfo) -> list[str]:
        """The last seven days in plain English, as the hall's home page says it."""
        return weekly_summary(as_rollups(rollups), now, zone)

    def figure(self, metric: str, value: float, unit: str) -> tuple[str, str]:
        """The value as the hall's page writes it, and ventilation advice for CO2."""
        advice = ventilation_advice(value).words if metric == "co2" else ""
        return format_value(value, unit), advice

    def chart(
        self,
        rollups: Sequence[HourlyRollup],
        *,
        title: str,
        unit: str,
        zone: ZoneInfo,
        start: datetime,
        end: datetime,
        id_prefix: str,
    ) -> tuple[str, str]:
        """The chart and its table, from hours or (for a month or more) local days."""
        daily = end - start > DAILY_AFTER
        points = _daily(rollups, zone) if daily else as_rollups(rollups)
        resolution: Resolution = "day" if daily else "hour"
        svg = line_chart(
            points,
            title=title,
            unit=unit,
            zone=zone,
            id_prefix=id_prefix,
            resolution=resolution,
            start=start,
            end=end,
        )
        table = trend_table(
            points,
            title=title,
            unit=unit,
            zone=zone,
            resolution=resolution,
            start=start,
            end=end,
            table_id=f"{id_prefix}-table",
        )
        return svg, table
