"""The one interface every driver implements, and the sensor error tree."""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from datetime import datetime
from types import TracebackType

from sensors.reading import Reading, SensorInfo, utc_now


class SensorError(Exception):
    """Base of every error raised by the sensors package."""


class DriverError(SensorError):
    """A driver could not read its hardware.

    ``transient`` says whether trying again later may help (a bus glitch, a CRC failure)
    or not (a part that is not wired): the agent retries both with back-off, but reports a
    permanent failure more loudly.
    """

    def __init__(self, message: str, *, transient: bool = True) -> None:
        super().__init__(message)
        self.transient = transient


class DriverConfigError(SensorError, ValueError):
    """A driver was given settings it cannot work with (a bad pin, a negative interval)."""


class UnknownDriver(SensorError, KeyError):
    """A driver name that is not in the registry."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown driver"


Clock = Callable[[], datetime]
"""A callable returning the current aware UTC time; drivers take one so tests can move time."""


class Driver(abc.ABC):
    """A source of readings: hardware, the Pi itself, or a simulation.

    Subclasses set ``name`` (the registry name, also the default sensor-id prefix), take
    ``interval_s`` (how often the agent calls :meth:`read`) and a ``clock`` (advanced: an
    injection point for tests; most users leave it as the real UTC clock).

    ``read`` returns the readings taken now and may raise :class:`DriverError`; the agent
    isolates a driver that raises or hangs, so a driver never needs to protect the others.
    A driver is a context manager and :meth:`close` is idempotent.
    """

    name: str = "driver"

    def __init__(self, *, interval_s: float, clock: Clock = utc_now) -> None:
        if not interval_s > 0:
            raise DriverConfigError(
                f"{self.name} driver: interval_s must be a positive number of seconds, "
                f"got {interval_s!r}"
            )
        self.interval_s = float(interval_s)
        self.clock = clock
        self.closed = False

    @abc.abstractmethod
    def read(self) -> list[Reading]:
        """Take the readings due now."""

    def sensors(self) -> Sequence[SensorInfo]:
        """What this driver's sensors are (part, accuracy, resolution), for status pages."""
        return ()

    def close(self) -> None:
        """Release pins, files and threads; safe to call more than once."""
        self.closed = True

    def __enter__(self) -> Driver:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} every {self.interval_s:g} s>"
