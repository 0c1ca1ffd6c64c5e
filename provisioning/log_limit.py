"""Rate-limited logging: at most one line per key a period, however hard a client floods.

Every part that logs what a client sent wrong uses it (ingestion per device and reason,
enrolment and rotation per address, log-ins per address), so a device or a visitor
failing in a loop costs one line a minute, and the next line says how many it held back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

MAX_KEYS = 10_000
"""Keys remembered at most; the longest quiet are forgotten first."""


class LogLimiter:
    """Logs the first line of each key, then at most one a period, saying how many were held.

    Args:
        logger: where the lines go.
        period_s: at most one line per key in this many seconds.
        clock: seconds, monotonic (an advanced feature for tests).
        max_keys: keys remembered at most (likewise).
    """

    def __init__(
        self,
        logger: logging.Logger,
        period_s: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.logger = logger
        self.period_s = period_s
        self.clock = clock
        self.max_keys = max_keys
        self._lock = threading.Lock()
        self._seen: OrderedDict[Hashable, tuple[float, int]] = OrderedDict()

    def log(
        self,
        key: Hashable,
        level: int,
        message: str,
        *args: Any,
        exc_info: BaseException | None = None,
    ) -> bool:
        """Log ``message % args`` unless ``key`` was logged within the period; True if logged.

        ``message`` and ``args`` must be the caller's own words or checked values: they go
        into the log as they are.
        """
        with self._lock:
            now = self.clock()
            last, held = self._seen.get(key, (float("-inf"), 0))
            if now - last < self.period_s:
                self._seen[key] = (last, held + 1)
                return False
            self._seen[key] = (now, 0)
            self._seen.move_to_end(key)
            while len(self._seen) > self.max_keys:
                self._seen.popitem(last=False)
        if held:
            message += " (and %d more since the last line)"
            args = (*args, held)
        self.logger.log(level, message, *args, exc_info=exc_info)
        return True

    def remembered(self) -> int:
        """How many keys are held in memory."""
        with self._lock:
            return len(self._seen)
