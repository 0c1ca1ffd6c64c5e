"""One driver's schedule, health and back-off, and the thread that keeps it reading."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from edge.clock import ClockSample
from sensors.driver import Driver, DriverError
from sensors.reading import Reading
from sensors.validation import Validator

log = logging.getLogger(__name__)

HealthState = Literal["starting", "ok", "failing", "hung", "stopped"]


@dataclass(frozen=True, slots=True)
class Health:
    """A driver's health as a person would describe it."""

    state: HealthState
    failures: int
    last_error: str


Sink = Callable[[ClockSample, list[Reading]], None]


class DriverRunner:
    """Calls one driver on its interval, validates what it returns, and backs off on failure.

    A driver that raises is retried after ``interval * 2^failures`` seconds, capped at
    ``max_backoff_s``; one whose read takes longer than ``timeout_s`` is reported as hung
    (its thread stays blocked inside the driver, so the others never notice). State changes
    are logged once, not on every attempt.

    ``poll(now)`` is the single testable step: it reads if the driver is due and returns
    the validated readings. ``monotonic`` is an advanced injection point for tests.
    """

    def __init__(
        self,
        driver: Driver,
        *,
        timeout_s: float,
        max_backoff_s: float,
        stuck_repeats: int = 100,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.driver = driver
        self.timeout_s = timeout_s
        self.max_backoff_s = max_backoff_s
        self.validator = Validator(stuck_repeats=stuck_repeats)
        self.monotonic = monotonic
        self.next_due = monotonic()
        self.failures = 0
        self.last_error = ""
        self.state: HealthState = "starting"
        self.read_started: float | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        """The driver's registry name."""
        return self.driver.name

    def health(self) -> Health:
        """A consistent snapshot of this driver's health."""
        with self._lock:
            return Health(self.state, self.failures, self.last_error)

    def seconds_until_due(self, now: float) -> float:
        """How long until the next read is due (0 if it is due now)."""
        return max(0.0, self.next_due - now)

    def poll(self, now: float) -> list[Reading]:
        """Read the driver if it is due; never raises for a driver's failure."""
        if now < self.next_due:
            return []
        with self._lock:
            self.read_started = now
        try:
            readings = self.driver.read()
            if not isinstance(readings, list) or not all(
                isinstance(reading, Reading) for reading in readings
            ):
                raise DriverError(
                    f"{self.name} driver returned {type(readings).__name__}, "
                    "not a list of Readings",
                    transient=False,
                )
            readings = self.validator(readings)
        except Exception as error:  # a driver must never stop the agent
            self._failed(error)
            return []
        self._succeeded()
        return readings

    def _succeeded(self) -> None:
        finished = self.monotonic()
        with self._lock:
            previous = self.state
            self.read_started = None
            self.failures = 0
            self.last_error = ""
            self.state = "ok"
            interval = self.driver.interval_s
            self.next_due = max(self.next_due + interval, finished)
            if self.next_due - finished > interval:
                self.next_due = finished + interval
        if previous in ("failing", "hung"):
            log.warning("driver %s recovered", self.name)

    def _failed(self, error: Exception) -> None:
        finished = self.monotonic()
        message = str(error) or type(error).__name__
        with self._lock:
            previous = self.state
            self.read_started = None
            self.failures += 1
            self.last_error = message
            self.state = "failing"
            base = max(self.driver.interval_s, 1.0)
            delay = min(base * 2 ** min(self.failures - 1, 16), self.max_backoff_s)
            self.next_due = finished + max(delay, self.driver.interval_s)
        if previous != "failing":
            transient = getattr(error, "transient", True)
            if isinstance(error, DriverError):
                log.warning(
                    "driver %s failing (%s): %s; retrying with back-off",
                    self.name,
                    "transient" if transient else "permanent",
                    message,
                )
            else:
                log.error(
                    "driver %s failing with an unexpected %s: %s; retrying with back-off",
                    self.name,
                    type(error).__name__,
                    message,
                    exc_info=error,
                )

    def check_hung(self, now: float) -> bool:
        """Mark the driver hung if its current read has taken longer than the timeout."""
        with self._lock:
            started = self.read_started
            if started is None or now - started <= self.timeout_s or self.state == "hung":
                return self.state == "hung"
            self.state = "hung"
            self.last_error = f"a read has not returned after {now - started:.0f} s"
        log.warning("driver %s hung: %s", self.name, self.last_error)
        return True


class RunnerThread(threading.Thread):
    """The thread that polls one runner and hands its readings to the agent."""

    def __init__(
        self,
        runner: DriverRunner,
        sink: Sink,
        sample_clock: Callable[[], ClockSample],
        stop: threading.Event,
    ) -> None:
        super().__init__(name=f"driver-{runner.name}", daemon=True)
        self.runner = runner
        self.sink = sink
        self.sample_clock = sample_clock
        self.stop = stop

    def run(self) -> None:
        """Poll until told to stop; a hung driver blocks only this thread."""
        runner = self.runner
        while not self.stop.is_set():
            readings = runner.poll(runner.monotonic())
            if readings:
                # The clock is sampled with the readings, so a clock step between the
                # read and the commit cannot bend their monotonic times.
                self.sink(self.sample_clock(), readings)
            wait = runner.seconds_until_due(runner.monotonic())
            if wait > 0:
                self.stop.wait(wait)
