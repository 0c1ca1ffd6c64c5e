"""Metered rural links: a bandwidth cap, a daily data budget and a window for draining backlog."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from datetime import time as clock_time
from zoneinfo import ZoneInfo

MQTT_OVERHEAD_BYTES = 40
"""Bytes a QoS 1 publish costs beyond its payload: fixed header, topic, PUBACK."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


def local_day(moment: datetime, timezone: str) -> str:
    """The local date of ``moment`` in ``timezone`` (ISO), the unit of a daily budget."""
    return moment.astimezone(ZoneInfo(timezone)).date().isoformat()


def parse_window(text: str) -> tuple[clock_time, clock_time] | None:
    """``"01:00-06:00"`` as (start, end) local times; empty means any time.

    Raises:
        ValueError: naming the text and the expected form.
    """
    if not text.strip():
        return None
    try:
        start, end = (clock_time.fromisoformat(part.strip()) for part in text.split("-"))
    except ValueError:
        raise ValueError(f"expected a window like 01:00-06:00 (local time), got {text!r}") from None
    if start == end:
        raise ValueError(f"the window {text!r} starts and ends at the same time")
    return start, end


@dataclass(frozen=True)
class MeteringSettings:
    """Limits for a metered link; zero or None means no limit."""

    max_bytes_per_s: int = 0
    daily_budget_bytes: int = 0
    drain_window: tuple[clock_time, clock_time] | None = None
    timezone: str = "Europe/London"
    live_age_s: float = 900.0
    """Readings younger than this are live: they go first and ignore the drain window."""


class LinkMeter:
    """Decides whether a batch may go now, and keeps count of what went.

    The bandwidth cap is a token bucket of one second's worth of bytes (a larger batch
    waits for a full bucket). The daily budget counts bytes per local day, in memory: a
    restart forgets today's count, so it errs on the side of sending. Live batches may
    use the budget at any hour; backlog only inside the drain window. ``shared(day)``
    is what others took of the same link on that local day (an update's download,
    ``hub_sync/release_allowance.py``), counted against the same budget.
    """

    def __init__(
        self,
        settings: MeteringSettings,
        *,
        wall: Callable[[], datetime] = _utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        shared: Callable[[str], int] | None = None,
    ) -> None:
        self.settings = settings
        self.zone = ZoneInfo(settings.timezone)
        self.wall = wall
        self.monotonic = monotonic
        self.shared = shared
        self._tokens = float(settings.max_bytes_per_s)
        self._filled_at = monotonic()
        self._day = self._today()
        self.used_today = 0

    def _today(self) -> str:
        return local_day(self.wall(), self.settings.timezone)

    def _refill(self) -> None:
        rate = self.settings.max_bytes_per_s
        now = self.monotonic()
        self._tokens = min(float(rate), self._tokens + (now - self._filled_at) * rate)
        self._filled_at = now

    def in_drain_window(self) -> bool:
        """Whether backlog may drain now."""
        window = self.settings.drain_window
        if window is None:
            return True
        start, end = window
        now = self.wall().astimezone(self.zone).time()
        return start <= now < end if start < end else (now >= start or now < end)

    def budget_left(self) -> int | None:
        """Bytes left in today's budget, or None without a budget."""
        if self._today() != self._day:
            self._day, self.used_today = self._today(), 0
        budget = self.settings.daily_budget_bytes
        if not budget:
            return None
        others = self.shared(self._day) if self.shared is not None else 0
        return max(0, budget - self.used_today - others)

    def may_send(self, payload_bytes: int, *, live: bool) -> bool:
        """Whether a batch of ``payload_bytes`` may be sent now."""
        cost = payload_bytes + MQTT_OVERHEAD_BYTES
        left = self.budget_left()
        if left is not None and cost > left:
            return False
        if not live and not self.in_drain_window():
            return False
        rate = self.settings.max_bytes_per_s
        if rate:
            self._refill()
            if self._tokens < min(cost, rate):
                return False
        return True

    def record(self, payload_bytes: int) -> None:
        """Count a batch that was sent."""
        cost = payload_bytes + MQTT_OVERHEAD_BYTES
        self.budget_left()
        self.used_today += cost
        if self.settings.max_bytes_per_s:
            self._tokens -= cost
