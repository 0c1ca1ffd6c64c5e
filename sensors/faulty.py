"""A fault-injection driver for drills and tests: it raises, hangs, or fails every other read."""

from __future__ import annotations

import threading
from typing import Literal

from sensors.driver import Clock, Driver, DriverConfigError, DriverError
from sensors.reading import Reading, utc_now

FaultMode = Literal["raise", "hang", "flaky"]


class FaultyDriver(Driver):
    """Misbehaves on purpose, so the IoT team can see how a node reports a broken sensor.

    ``mode`` "raise": every read raises DriverError; "hang": every read blocks for
    ``hang_s`` seconds (released by close()); "flaky": reads alternate between a failure
    and one good ``test_counter`` reading. Settings: ``HALLSENSE_FAULTY_MODE``,
    ``HALLSENSE_FAULTY_INTERVAL_S``.
    """

    name = "faulty"

    def __init__(
        self,
        *,
        interval_s: float = 1.0,
        mode: FaultMode = "raise",
        hang_s: float = 3600.0,
        clock: Clock = utc_now,
    ) -> None:
        super().__init__(interval_s=interval_s, clock=clock)
        if mode not in ("raise", "hang", "flaky"):
            raise DriverConfigError(
                f"faulty driver: mode must be raise, hang or flaky, got {mode!r}"
            )
        self.mode = mode
        self.hang_s = hang_s
        self.reads = 0
        self._released = threading.Event()

    def read(self) -> list[Reading]:
        """Fail in the configured way."""
        self.reads += 1
        if self.mode == "hang":
            self._released.wait(self.hang_s)
            raise DriverError("faulty driver: released from a hang", transient=True)
        if self.mode == "flaky" and self.reads % 2 == 0:
            return [Reading("faulty", "test_counter", float(self.reads), "count", self.clock())]
        raise DriverError(f"faulty driver: simulated failure of read {self.reads}")

    def close(self) -> None:
        """Release a hanging read."""
        self._released.set()
        super().close()
