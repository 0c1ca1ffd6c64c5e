"""A driver that emits 1, 2, 3, … so tests and drills know exactly what was produced."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TextIO

from sensors.driver import Clock, Driver, DriverConfigError
from sensors.reading import Reading, SensorInfo, utc_now


def read_tally(path: Path) -> list[tuple[int, int]]:
    """(value, time_ns) of every complete line of a counter's tally file.

    A line torn by a crash (no newline at the end, or not two numbers) is ignored: the
    value on it was never returned to the agent.
    """
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        return []
    tally = []
    for line in text.split("\n")[:-1]:
        parts = line.split()
        if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
            tally.append((int(parts[0]), int(parts[1])))
    return tally


class CounterDriver(Driver):
    """Emits one ``test_counter`` reading per read: 1, 2, 3 and so on.

    With ``tally_path`` it appends every value it produces, with the time it produced
    it, to that file before handing the reading over, and a restarted process carries on
    after the last value in the tally instead of starting again at 1. Crash tests compare
    the tally with the store. Settings: ``HALLSENSE_COUNTER_INTERVAL_S``,
    ``HALLSENSE_COUNTER_TALLY_PATH``.
    """

    name = "counter"

    def __init__(
        self,
        *,
        interval_s: float = 1.0,
        start: int = 1,
        sensor_id: str = "counter",
        tally_path: Path | None = None,
        clock: Clock = utc_now,
    ) -> None:
        super().__init__(interval_s=interval_s, clock=clock)
        if start < 0:
            raise DriverConfigError(f"counter driver: start must be 0 or more, got {start}")
        self.sensor_id = sensor_id
        self.tally_path = tally_path
        self.next_value = start
        self._tally: TextIO | None = None
        if tally_path is not None:
            produced = read_tally(tally_path)
            if produced:
                self.next_value = produced[-1][0] + 1
            tally_path.parent.mkdir(parents=True, exist_ok=True)
            self._tally = tally_path.open("a", encoding="ascii")

    def read(self) -> list[Reading]:
        """The next value."""
        value = self.next_value
        self.next_value += 1
        if self._tally is not None:
            self._tally.write(f"{value} {time.time_ns()}\n")
            self._tally.flush()
        return [Reading(self.sensor_id, "test_counter", float(value), "count", self.clock())]

    def sensors(self) -> list[SensorInfo]:
        """One counting sensor."""
        return [SensorInfo(self.sensor_id, "test_counter", "count", part="counter", resolution=1)]

    def close(self) -> None:
        """Close the tally file."""
        if self._tally is not None:
            self._tally.close()
            self._tally = None
        super().close()
