"""How much of a metered link an update's download may take, so live readings go first.

A hall on a 4G router with a daily data budget and a bandwidth cap
(``hub_sync/metering.py``) carries two things: its readings, and now and then a release.
The release is the one that waits. Its download may use at most :data:`UPDATE_SHARE` of
the bandwidth cap, paced chunk by chunk, and of each local day's budget; the rest is kept
for the readings, which also count the download's bytes against the same budget
(``LinkMeter``'s ``shared``), so that together they never go over it. A day's share
spent stops the download (the fetcher keeps what came); the next day's pass resumes it
with a range request. The day's count is kept by the caller (the updater's state file),
so a restart does not hand out the day's share again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from hub_sync.metering import MeteringSettings, local_day

UPDATE_SHARE = 0.5
"""The part of the bandwidth cap and of each day's budget an update may take."""
KEEP_EVERY_BYTES = 64 * 1024
"""How often the day's count is written down: what a crash could hand out twice."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class UpdateAllowance:
    """Answers the release fetcher's ``allow(nbytes)`` for one updater pass.

    ``day`` and ``used`` are the local day and the bytes the updater already took on it;
    ``keep(day, used)`` writes them down.
    """

    def __init__(
        self,
        settings: MeteringSettings,
        *,
        day: str,
        used: int,
        keep: Callable[[str, int], None],
        wall: Callable[[], datetime] = _utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.wall = wall
        self.monotonic = monotonic
        self.sleep = sleep
        self.keep = keep
        self.day, self.used = day, used
        self._unkept = 0
        self._next_at = monotonic()
        self.stopped_for = ""
        """Why the last ``allow`` said no, in words; "" while it says yes."""

    def _today(self) -> str:
        return local_day(self.wall(), self.settings.timezone)

    def day_share(self) -> int | None:
        """Bytes an update may take per local day, or None without a budget."""
        budget = self.settings.daily_budget_bytes
        return int(budget * UPDATE_SHARE) if budget else None

    def allow(self, nbytes: int) -> bool:
        """Whether ``nbytes`` more may be downloaded now; waits to keep to the pace."""
        today = self._today()
        if today != self.day:
            self.day, self.used = today, 0
        share = self.day_share()
        if share is not None and self.used + nbytes > share:
            self.stopped_for = (
                f"today's share of the data budget for updates ({share:,} bytes) is used; "
                "the download resumes tomorrow"
            )
            self.flush()
            return False
        rate = self.settings.max_bytes_per_s * UPDATE_SHARE
        if rate:
            now = self.monotonic()
            if self._next_at > now:
                self.sleep(self._next_at - now)
            self._next_at = max(now, self._next_at) + nbytes / rate
        self.used += nbytes
        self._unkept += nbytes
        if self._unkept >= KEEP_EVERY_BYTES:
            self.flush()
        self.stopped_for = ""
        return True

    def flush(self) -> None:
        """Write down the day's count."""
        self._unkept = 0
        self.keep(self.day, self.used)
