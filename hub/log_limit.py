"""Rate-limited logging: one line per device and reason a minute, however hard it is flooded."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

MAX_KEYS = 10_000
"""Keys remembered at most; past that, the memory starts again (a line may repeat)."""


class LogLimiter:
    """Logs the first line of each key, then at most one a period, saying how many were held.

    Args:
        logger: where the lines go.
        period_s: at most one line per key in this many seconds.
        clock: seconds, monotonic (an advanced feature for tests).
    """

    def __init__(
        self,
        logger: logging.Logger,
        period_s: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.period_s = period_s
        self.clock = clock
        self._lock = threading.Lock()
        self._last: dict[Hashable, float] = {}
        self._held: dict[Hashable, int] = {}

    def log(
        self,
        key: Hashable,
        level: int,
        message: str,
        *args: Any,
        exc_info: BaseException | None = None,
    ) -> bool:
        """Log ``message % args`` unless ``key`` was logged within the period; True if logged."""
        now = self.clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.period_s:
                self._held[key] = self._held.get(key, 0) + 1
                return False
            if len(self._last) >= MAX_KEYS:
                self._last.clear()
                self._held.clear()
            self._last[key] = now
            held = self._held.pop(key, 0)
        if held:
            message += " (and %d more like it since the last such line)"
            args = (*args, held)
        self.logger.log(level, message, *args, exc_info=exc_info)
        return True
