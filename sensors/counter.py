"""A driver that emits 1, 2, 3, … and can keep a tally, so crash tests know what was produced."""

from __future__ import annotations

import contextlib
import errno
import os
import time
from pathlib import Path

from sensors.driver import Clock, Driver, DriverConfigError, DriverError
from sensors.reading import Reading, SensorInfo, utc_now

METRIC = "test_counter"
UNIT = "count"


def _complete_lines(data: bytes) -> list[bytes]:
    """The lines of ``data`` that end in a newline; a torn last line is left out."""
    return data.split(b"\n")[:-1]


def _parse_line(path: Path, number: int, line: bytes) -> tuple[int, int]:
    parts = line.split(b" ")
    if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
        return int(parts[0]), int(parts[1])
    text = line.decode("ascii", "replace")
    raise ValueError(f"{path} line {number}: expected '<value> <time_ns>', got {text!r}")


def read_tally(path: Path) -> list[tuple[int, int]]:
    """``(value, time_ns)`` for every value a counter driver handed over, in order.

    Each complete line of the tally is one value the driver returned to its caller
    (written and flushed before the reading was returned). A last line without its
    newline was torn by a crash mid-write: its value was never returned, so it is
    ignored. A missing file is an empty tally.

    Args:
        path: the counter's ``tally_path``.

    Raises:
        ValueError: a complete line is not ``"<value> <time_ns>"`` (the file is not a
            tally, or it was damaged), naming the line.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    return [
        _parse_line(path, number, line)
        for number, line in enumerate(_complete_lines(data), start=1)
    ]


class CounterDriver(Driver):
    """Emits one ``test_counter`` reading per read, valued 1, 2, 3 and so on.

    It measures nothing: it exists so that crash and delivery tests, the demo and drills
    know exactly which values were produced, and can check that each reached the hub
    exactly once. With ``tally_path`` it appends ``"<value> <time_ns>"`` for every value
    to that file, written through to the kernel before the reading is returned (no
    fsync: a killed process's writes survive in the page cache), and a restarted process
    carries on after the last complete line instead of repeating values. ``start`` is the
    first value when there is no tally yet. Settings: ``HALLSENSE_COUNTER_INTERVAL_S``,
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
        if isinstance(start, bool) or not isinstance(start, int) or start < 0:
            raise DriverConfigError(
                f"counter driver: start must be a whole number, 0 or more, got {start!r}"
            )
        if not sensor_id:
            raise DriverConfigError(
                f"counter driver: sensor_id must not be empty, got {sensor_id!r}"
            )
        self.sensor_id = sensor_id
        self.tally_path = tally_path
        self.next_value = start
        self._tally_fd: int | None = None
        self._tally_size = 0
        if tally_path is not None:
            self.next_value = self._resume(tally_path, start)

    def _resume(self, path: Path, start: int) -> int:
        """Open the tally for appending and return the value to produce next."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as error:
            raise DriverConfigError(
                f"counter driver: cannot open tally_path {str(path)!r}: {error.strerror}"
            ) from error
        try:
            data = path.read_bytes()
            lines = _complete_lines(data)
            produced = [_parse_line(path, n, line) for n, line in enumerate(lines, start=1)]
            self._tally_size = sum(len(line) + 1 for line in lines)
            if self._tally_size < len(data):
                # Cut the torn line off, or the next value would be appended to it and
                # both would be lost to read_tally.
                os.ftruncate(fd, self._tally_size)
        except (OSError, ValueError) as error:
            os.close(fd)
            raise DriverConfigError(f"counter driver: cannot resume tally_path: {error}") from error
        self._tally_fd = fd
        return produced[-1][0] + 1 if produced else start

    def _record(self, fd: int, value: int) -> None:
        """Append ``value``'s line to the tally with one write(): in the page cache on return."""
        line = b"%d %d\n" % (value, time.time_ns())
        try:
            if os.write(fd, line) != len(line):
                raise OSError(errno.ENOSPC, "short write")
        except OSError as error:
            # Leave no half line behind: the value is not handed over, so the next read
            # tries the same value again.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, self._tally_size)
            raise DriverError(
                f"counter driver: cannot append to tally_path {str(self.tally_path)!r}: "
                f"{error.strerror or error}"
            ) from error
        self._tally_size += len(line)

    def read(self) -> list[Reading]:
        """The next value, recorded in the tally (if any) before it is returned.

        Raises:
            DriverError: the tally could not be written; the value is not used up.
        """
        value = self.next_value
        if self._tally_fd is not None:
            self._record(self._tally_fd, value)
        self.next_value = value + 1
        return [Reading(self.sensor_id, METRIC, float(value), UNIT, self.clock())]

    def sensors(self) -> list[SensorInfo]:
        """The one counting sensor."""
        return [
            SensorInfo(
                self.sensor_id,
                METRIC,
                UNIT,
                part="counter",
                resolution=1,
                description="Counts 1, 2, 3, … for tests and drills",
            )
        ]

    def close(self) -> None:
        """Close the tally file; safe to call more than once."""
        if self._tally_fd is not None:
            os.close(self._tally_fd)
            self._tally_fd = None
        super().close()
