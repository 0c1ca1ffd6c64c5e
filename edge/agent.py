"""The node's agent: runs every driver on its interval and commits their readings in batches."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

from edge.clock import ClockSample
from edge.count_recovery import recover_counts
from edge.runner import DriverRunner, Health, RunnerThread
from edge.settings import EdgeSettings
from edge.store import EdgeStore
from edge.store_errors import StoreError, StoreFull
from sensors.driver import Driver
from sensors.reading import Reading

log = logging.getLogger(__name__)

MAX_BUFFERED_READINGS = 50_000
"""Readings kept in memory while the disk is full (over an hour for ten sensors at one
reading a second, about 10 MB); beyond this the oldest are lost, counted and logged."""

CLOCK_STEP_MIN = timedelta(seconds=60)
"""A wall-clock step at least this big moves the health records' times with it."""
CLOCK_CHECK_INTERVAL_S = 10.0


class Companion(Protocol):
    """Something that runs a step in the agent's thread after each commit (the uplink)."""

    def start(self) -> None:
        """Begin (e.g. connect in the background)."""
        ...

    def sync_once(self) -> int:
        """One step; returns how much work it did."""
        ...

    def close(self) -> None:
        """Stop."""
        ...


class Wakeable(Protocol):
    """A companion that can wake the agent's loop when it has work (the uplink, on an ack)."""

    def attach_wake(self, wake: Callable[[], None]) -> None:
        """Call ``wake`` from any thread when :meth:`Companion.sync_once` has work to do."""
        ...


class Agent:
    """Schedules the drivers, batches their readings and writes them to the store.

    Each driver runs in its own thread (a driver that hangs blocks only itself); readings
    reach the agent with the clock sampled at the moment they were read, wait in memory
    for at most ``commit_interval_s`` (or until ``commit_max_readings`` are waiting) and
    are then committed in one transaction — the durability window. Every step is a
    method that tests call directly (``tick``, ``flush``, ``maintain``); ``run`` loops
    them until ``stop`` is set, then flushes what is waiting.

    ``sample_clock`` and ``monotonic`` are advanced injection points for tests.
    """

    def __init__(
        self,
        settings: EdgeSettings,
        store: EdgeStore,
        drivers: Sequence[Driver],
        sample_clock: Callable[[], ClockSample],
        *,
        companions: Sequence[Companion] = (),
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.wall = wall
        self.companions = list(companions)
        self.store = store
        self.sample_clock = sample_clock
        self.monotonic = monotonic
        self.runners = [
            DriverRunner(
                driver,
                timeout_s=settings.driver_timeout_s,
                max_backoff_s=settings.driver_max_backoff_s,
                stuck_repeats=settings.stuck_repeats,
                monotonic=monotonic,
            )
            for driver in drivers
        ]
        self.stop_event = threading.Event()
        self._wake = threading.Event()
        for companion in self.companions:
            attach = getattr(companion, "attach_wake", None)
            if attach is not None:  # an ack wakes the loop to send the next batch at once
                attach(self.wake)
        self._lock = threading.Lock()
        self._buffer: list[tuple[ClockSample, list[Reading]]] = []
        self._buffered = 0
        self._threads: list[RunnerThread] = []
        self._recorded_health: dict[str, Health] = {}
        now = monotonic()
        self._clock_anchor = (wall(), now)
        self._last_flush = now
        self._last_clock_check = now - CLOCK_CHECK_INTERVAL_S
        self._last_maintenance = now - settings.maintenance_interval_s
        self._disk_full = False
        self.lost_in_memory = 0
        self.committed = 0
        self._described: dict[str, int] = {}
        for driver in drivers:
            try:
                infos = list(driver.sensors())
                store.register_sensors(infos)
                self._described[driver.name] = len(infos)
            except StoreFull as error:
                log.error("cannot record sensor details, the disk is full: %s", error)
            except StoreError:
                raise
            except Exception as error:  # a driver's metadata must not stop the node
                log.warning("driver %s could not describe its sensors: %s", driver.name, error)
        try:  # counts a crash kept from the store go in now, once (docs/sensors.md)
            recover_counts(store, drivers, sample_clock)
        except StoreFull as error:
            log.error("cannot store the counts a crash left, the disk is full: %s", error)

    def report_unavailable(self, driver: str, reason: str) -> None:
        """Record a driver that could not start, so status and the page show it."""
        with contextlib.suppress(StoreFull):
            self.store.record_health(driver, "unavailable", reason, 0, datetime.now(UTC))

    def apply_intervals(self, intervals: dict[str, float]) -> str:
        """Change drivers' sample intervals; "" when applied, else why nothing was.

        All or nothing: one unknown driver name rejects the whole change.
        """
        by_name = {runner.name: runner for runner in self.runners}
        unknown = sorted(set(intervals) - set(by_name))
        if unknown:
            return f"no driver named {', '.join(unknown)} on this node"
        for name, seconds in intervals.items():
            by_name[name].driver.interval_s = seconds
            by_name[name].next_due = min(by_name[name].next_due, self.monotonic() + seconds)
        return ""

    def stop(self) -> None:
        """Have :meth:`run` stop now (thread-safe; a signal handler may call it)."""
        self.stop_event.set()
        self._wake.set()  # not after the loop's wait of up to a second

    def wake(self) -> None:
        """Run the loop's next pass now (thread-safe): a companion has work, such as an ack."""
        self._wake.set()

    # --- what the driver threads call ---

    def accept(self, sample: ClockSample, readings: list[Reading]) -> None:
        """Take readings from a driver thread (thread-safe)."""
        with self._lock:
            self._buffer.append((sample, readings))
            self._buffered += len(readings)
            full = self._buffered >= self.settings.commit_max_readings
            if self._buffered > MAX_BUFFERED_READINGS:
                self._drop_oldest_in_memory()
        if full:
            self._wake.set()

    def _drop_oldest_in_memory(self) -> None:
        while self._buffered > MAX_BUFFERED_READINGS and self._buffer:
            _, dropped = self._buffer.pop(0)
            self._buffered -= len(dropped)
            self.lost_in_memory += len(dropped)
        log.error(
            "the disk has been full for too long: %d readings held in memory were lost",
            self.lost_in_memory,
        )

    @property
    def buffered(self) -> int:
        """Readings waiting in memory for the next commit."""
        with self._lock:
            return self._buffered

    # --- single steps ---

    def poll_all(self) -> int:
        """Poll every due driver in this thread (no driver threads); returns readings taken."""
        taken = 0
        for runner in self.runners:
            readings = runner.poll(self.monotonic())
            if readings:
                self.accept(self.sample_clock(), readings)
                taken += len(readings)
        return taken

    def flush(self) -> int:
        """Commit what is waiting; returns how many readings were committed.

        On a full disk the readings stay in memory and the next flush tries again; the
        database itself is left intact by the store.
        """
        with self._lock:
            batch, self._buffer = self._buffer, []
            self._buffered = 0
        self._last_flush = self.monotonic()
        if not batch:
            return 0
        committed = 0
        try:
            for sample, readings in _runs_on_one_clock(batch):
                self.store.append(readings, sample)
                committed += len(readings)
        except StoreFull as error:
            self._keep_uncommitted(batch, committed)
            if not self._disk_full:
                log.error("cannot write readings, the disk is full: %s", error)
                self.store_health("failing", f"disk full: {error}")
            self._disk_full = True
            return committed
        if self._disk_full:
            log.warning("writing readings again: the disk has room")
            self._disk_full = False
            self.store_health("ok", "")
        self.committed += committed
        return committed

    def _keep_uncommitted(self, batch: list[tuple[ClockSample, list[Reading]]], done: int) -> None:
        """Put the part of ``batch`` not yet committed back at the front of the buffer."""
        remaining: list[tuple[ClockSample, list[Reading]]] = []
        skip = done
        for sample, readings in batch:
            if skip >= len(readings):
                skip -= len(readings)
                continue
            remaining.append((sample, readings[skip:]))
            skip = 0
        with self._lock:
            self._buffer = remaining + self._buffer
            self._buffered = sum(len(readings) for _, readings in self._buffer)
            if self._buffered > MAX_BUFFERED_READINGS:
                self._drop_oldest_in_memory()

    def store_health(self, state: str, error: str) -> None:
        """Record the store's own health where status and the page can see it."""
        # On a full disk this fails too; the log has already said so.
        with contextlib.suppress(StoreError):
            self.store.record_health("store", state, error, 0, datetime.now(UTC))

    def follow_clock_steps(self) -> None:
        """Move the health records' times when the wall clock steps (NTP, a fixed RTC).

        The step is the wall clock's change less the monotonic clock's since the last tick.
        """
        wall, monotonic = self.wall(), self.monotonic()
        last_wall, last_monotonic = self._clock_anchor
        self._clock_anchor = (wall, monotonic)
        step = (wall - last_wall) - timedelta(seconds=monotonic - last_monotonic)
        if abs(step) >= CLOCK_STEP_MIN:
            log.info("the wall clock stepped by %s; health times moved with it", step)
            self.store.shift_health_times(step)

    def record_health(self) -> None:
        """Write each driver's health to the store when it has changed."""
        now = self.wall()
        for runner in self.runners:
            health = runner.health()
            if self._recorded_health.get(runner.name) == health:
                continue
            try:
                self.store.record_health(
                    runner.name, health.state, health.last_error, health.failures, now
                )
            except StoreFull:
                return
            self._recorded_health[runner.name] = health

    def describe_new_sensors(self) -> None:
        """Record sensors a driver has come to know since it started.

        A BLE sensor is described only once its first advert says what it measures.
        """
        for runner in self.runners:
            try:
                infos = list(runner.driver.sensors())
            except Exception as error:  # a driver's metadata must not stop the node
                log.debug("driver %s could not describe its sensors: %s", runner.name, error)
                continue
            if len(infos) > self._described.get(runner.name, 0):
                self.store.register_sensors(infos)
                self._described[runner.name] = len(infos)

    def correct_clock(self) -> None:
        """Correct or release readings held back for an unsynchronised clock."""
        self._last_clock_check = self.monotonic()
        corrected, uncorrectable = self.store.correct_clock(
            self.sample_clock(), hold_max_s=self.settings.clock_hold_max_s
        )
        if corrected:
            log.info("clock synchronised: corrected the time of %d readings", corrected)
        if uncorrectable:
            log.warning(
                "%d readings were taken on an unsynchronised clock and cannot be corrected; "
                "they are kept, flagged",
                uncorrectable,
            )

    def maintain(self) -> None:
        """Enforce retention and the size cap."""
        self._last_maintenance = self.monotonic()
        report = self.store.enforce_retention(
            datetime.now(UTC),
            raw_retention_days=self.settings.raw_retention_days,
            minute_rollup_days=self.settings.minute_rollup_days,
            rollup_days=self.settings.rollup_days,
            max_bytes=self.settings.max_db_bytes,
        )
        dropped = getattr(report, "dropped_unacknowledged", 0)
        if dropped:
            log.warning(
                "size cap of %.0f MB reached: dropped %d unacknowledged readings (reported "
                "as a dropped range)",
                self.settings.max_db_mb,
                dropped,
            )

    def tick(self) -> None:
        """One pass of the main loop: hung checks, commit when due, health, clock, upkeep."""
        now = self.monotonic()
        for runner in self.runners:
            runner.check_hung(now)
        if (
            self.buffered >= self.settings.commit_max_readings
            or now - self._last_flush >= self.settings.commit_interval_s
        ):
            self.flush()
        if self._disk_full:
            return
        for companion in self.companions:
            try:
                companion.sync_once()
            except StoreError:
                raise
            except Exception:  # the uplink must never stop the node from keeping readings
                log.exception("the uplink step failed; retrying next tick")
        try:
            self.follow_clock_steps()
            self.record_health()
            if now - self._last_clock_check >= CLOCK_CHECK_INTERVAL_S:
                self.describe_new_sensors()
                self.correct_clock()
            if now - self._last_maintenance >= self.settings.maintenance_interval_s:
                self.maintain()
        except StoreFull as error:
            log.error("store upkeep skipped, the disk is full: %s", error)

    # --- the long-running loop ---

    def start(self) -> None:
        """Start one thread per driver, and the companions (the uplink)."""
        for companion in self.companions:
            companion.start()
        for runner in self.runners:
            thread = RunnerThread(runner, self.accept, self.sample_clock, self.stop_event)
            thread.start()
            self._threads.append(thread)
        log.info(
            "agent started: %d drivers (%s), committing every %g s",
            len(self.runners),
            ", ".join(runner.name for runner in self.runners),
            self.settings.commit_interval_s,
        )

    def run(self) -> None:
        """Run until ``stop_event`` is set, then flush what is waiting and stop the drivers."""
        self.start()
        try:
            while not self.stop_event.is_set():
                self.tick()
                wait = self.settings.commit_interval_s - (self.monotonic() - self._last_flush)
                self._wake.wait(timeout=min(max(wait, 0.01), 1.0))
                self._wake.clear()
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        """Stop the driver threads, close the drivers and commit everything waiting."""
        self.stop_event.set()
        for runner in self.runners:
            try:
                runner.driver.close()
            except Exception as error:
                log.warning("driver %s did not close cleanly: %s", runner.name, error)
        for thread in self._threads:
            thread.join(timeout=2.0)
            if thread.is_alive():
                log.warning("driver %s is still hung at shutdown; leaving it", thread.runner.name)
        committed = self.flush()
        for companion in self.companions:
            try:
                companion.close()
            except Exception as error:
                log.warning("the uplink did not close cleanly: %s", error)
        if self.buffered:
            log.error("%d readings could not be written before exit", self.buffered)
        self.record_health_stopped()
        log.info("agent stopped; committed %d readings at shutdown", committed)

    def record_health_stopped(self) -> None:
        """Record that every driver stopped with the agent."""
        now = datetime.now(UTC)
        for runner in self.runners:
            try:
                self.store.record_health(runner.name, "stopped", "", 0, now)
            except StoreError:
                return


def _runs_on_one_clock(
    batch: list[tuple[ClockSample, list[Reading]]],
) -> list[tuple[ClockSample, list[Reading]]]:
    """Group consecutive readings taken on the same clock.

    The same clock: the same boot, the same sync state and the same correction from the
    hub's time.
    Normally the whole batch is one run and one transaction; the clock synchronising in
    the middle of a batch splits it, so no reading's monotonic time is computed across a
    clock step, and so does a new sample of the hub's time, so each reading is moved by
    the correction that held when it was read.
    """
    runs: list[tuple[ClockSample, list[Reading]]] = []
    for sample, readings in batch:
        if runs:
            last_sample, last_readings = runs[-1]
            if (
                last_sample.synchronised == sample.synchronised
                and last_sample.boot_id == sample.boot_id
                and last_sample.correction_us == sample.correction_us
            ):
                last_readings.extend(readings)
                runs[-1] = (sample, last_readings)
                continue
        runs.append((sample, list(readings)))
    return runs
