"""A fault-injection driver for drills and tests: it raises, hangs, or fails every other read."""

from __future__ import annotations

import math
import threading
from typing import get_args

from sensors.driver import Clock, Driver, DriverConfigError, DriverError
from sensors.faulty_settings import FaultMode
from sensors.reading import Reading, SensorInfo, utc_now

MODES: tuple[str, ...] = get_args(FaultMode)
SENSOR_ID = "faulty"


class FaultyDriver(Driver):
    """A sensor that misbehaves on purpose, so the IoT team can see how a node copes.

    Nothing is wired: it is for drills and tests of the agent's isolation, back-off and
    health reporting. ``mode`` chooses the fault: ``"raise"`` raises
    :class:`~sensors.driver.DriverError` on every read; ``"hang"`` blocks every read for
    ``hang_s`` seconds (``close()`` releases it at once) and then raises; ``"flaky"``
    alternates a failure and one good ``test_counter`` reading (1, 2, 3, … over the good
    reads). Settings: ``HALLSENSE_FAULTY_MODE``, ``HALLSENSE_FAULTY_INTERVAL_S``.
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
        if mode not in MODES:
            raise DriverConfigError(
                f"faulty driver: mode must be one of {', '.join(MODES)}, got {mode!r}"
            )
        if (
            isinstance(hang_s, bool)
            or not isinstance(hang_s, int | float)
            or not (math.isfinite(hang_s) and hang_s >= 0)
        ):
            raise DriverConfigError(
                f"faulty driver: hang_s must be a number of seconds, 0 or more, got {hang_s!r}"
            )
        self.mode = mode
        self.hang_s = float(hang_s)
        self.reads = 0
        self.good_reads = 0
        self._released = threading.Event()

    def read(self) -> list[Reading]:
        """Fail in the configured way (or, every other time when flaky, succeed).

        Raises:
            DriverError: transient, saying which read failed and how.
        """
        self.reads += 1
        if self.mode == "hang":
            if self._released.wait(self.hang_s):
                raise DriverError(
                    f"faulty driver: read {self.reads} released from a hang by close()"
                )
            raise DriverError(f"faulty driver: read {self.reads} hung for {self.hang_s:g} s")
        if self.mode == "flaky" and self.reads % 2 == 0:
            self.good_reads += 1
            return [
                Reading(SENSOR_ID, "test_counter", float(self.good_reads), "count", self.clock())
            ]
        raise DriverError(f"faulty driver: simulated failure of read {self.reads}")

    def sensors(self) -> list[SensorInfo]:
        """The one make-believe sensor (it reports only in flaky mode)."""
        return [
            SensorInfo(
                SENSOR_ID,
                "test_counter",
                "count",
                part="fault injection",
                resolution=1,
                description=f"Fails on purpose ({self.mode})",
            )
        ]

    def close(self) -> None:
        """Release a read that is hanging; safe to call more than once."""
        self._released.set()
        super().close()
