"""Keeps one bleak scanner running in its own thread, and restarts it when it falls silent.

BlueZ scanners on real Pis stop delivering adverts after hours without any error (a
known bleak/BlueZ problem). The supervisor's watchdog notices silence: no advert for
``silence_s`` restarts the scanner, and each further restart without an advert in
between waits twice as long, up to ``max_backoff_s``. A scanner that cannot start is
retried with the same back-off. Only the factory that makes scanners is replaceable
(tests hand in scanners that replay recorded adverts); the watchdog is the same code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from bleak import BleakScanner
from bleak.assigned_numbers import AdvertisementDataType
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakBluetoothNotAvailableError, BleakError

from sensors.driver import DriverError

log = logging.getLogger(__name__)

ScanMode = Literal["active", "passive"]
DetectionCallback = Callable[[BLEDevice, AdvertisementData], None]
OrPattern = tuple[int, AdvertisementDataType, bytes]

FIRST_RETRY_S = 5.0
STOP_TIMEOUT_S = 5.0


class Scanner(Protocol):
    """What the supervisor needs of a scanner: bleak's ``BleakScanner`` is one."""

    async def start(self) -> None:
        """Begin delivering adverts to the detection callback."""
        ...

    async def stop(self) -> None:
        """Stop delivering adverts."""
        ...


@dataclass(frozen=True)
class ScanRequest:
    """How a scanner is to be made: the callback, the mode, the adapter, the patterns."""

    callback: DetectionCallback
    mode: ScanMode
    adapter: str
    or_patterns: tuple[OrPattern, ...]


ScannerFactory = Callable[[ScanRequest], Scanner]


def bleak_scanner(request: ScanRequest) -> Scanner:
    """A real ``BleakScanner`` for ``request`` (BlueZ on Linux)."""
    bluez: dict[str, Any] = {"adapter": request.adapter}
    if request.mode == "passive":
        bluez["or_patterns"] = list(request.or_patterns)
    return BleakScanner(
        detection_callback=request.callback,
        scanning_mode=request.mode,
        bluez=bluez,  # type: ignore[arg-type]  # a BlueZScannerArgs TypedDict
    )


def describe_start_failure(error: BaseException, adapter: str) -> str:
    """Words for a technician on why the scanner on ``adapter`` could not start."""
    if isinstance(error, FileNotFoundError | ConnectionRefusedError):
        return (
            f"cannot reach BlueZ over the system D-Bus ({type(error).__name__}); install and "
            "start it: apt-get install -y bluez && systemctl enable --now bluetooth"
        )
    if isinstance(error, BleakBluetoothNotAvailableError):
        return (
            f"Bluetooth adapter {adapter} is not available ({error.reason.name.lower()}); "
            f"check `bluetoothctl list` and `rfkill list`"
        )
    if isinstance(error, TimeoutError):
        return f"BlueZ did not start scanning on {adapter} in time"
    text = str(error) or type(error).__name__
    if "org.bluez" in text and "ServiceUnknown" in text:
        return (
            "BlueZ is not running (the system D-Bus has no org.bluez); start it: "
            "systemctl enable --now bluetooth"
        )
    return f"the scanner on Bluetooth adapter {adapter} could not start: {text}"


class ScannerSupervisor:
    """Runs scanners made by ``factory`` on an event loop in a daemon thread.

    ``on_advert`` is called (on the loop's thread) for every advert; ``on_tick`` about
    every ``check_every_s`` with the supervisor's time, for work that must happen on a
    schedule while scanning (footfall snapshots). ``monotonic`` is the watchdog's clock,
    an injection point for tests.
    """

    def __init__(
        self,
        factory: ScannerFactory,
        *,
        adapter: str,
        mode: Literal["auto", "active", "passive"],
        or_patterns: tuple[OrPattern, ...],
        on_advert: DetectionCallback,
        on_tick: Callable[[float], None] = lambda now: None,
        silence_s: float = 90.0,
        max_backoff_s: float = 300.0,
        check_every_s: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.factory = factory
        self.adapter = adapter
        self.wanted_mode = mode
        self.mode: ScanMode = "active" if mode == "active" else "passive"
        self.or_patterns = or_patterns
        self.on_advert = on_advert
        self.on_tick = on_tick
        self.silence_s = silence_s
        self.max_backoff_s = max(max_backoff_s, silence_s)
        self.check_every_s = check_every_s
        self.monotonic = monotonic
        self.restarts = 0
        """Restarts of a silent scanner since the start."""
        self.start_failures = 0
        self.problem = ""
        """Why the scanner is not running now ("" while it runs)."""
        self._quiet_restarts = 0
        self._failures_in_row = 0
        self._scanner: Scanner | None = None
        self._last_heard = 0.0
        self._retry_at = 0.0
        self._loop = asyncio.new_event_loop()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._checking: asyncio.Lock | None = None

    @property
    def running(self) -> bool:
        """Whether a scanner is running now."""
        return self._scanner is not None

    def silence_limit(self) -> float:
        """Seconds without an advert after which the running scanner is restarted."""
        return float(min(self.silence_s * 2**self._quiet_restarts, self.max_backoff_s))

    def start(self, timeout_s: float = 15.0) -> None:
        """Start scanning in the background; raise if the first scanner cannot start.

        Raises:
            DriverError: permanent; the adapter is missing or BlueZ cannot be reached
                (the message says which and what to check).
        """
        self._thread = threading.Thread(target=self._run, name="ble-scanner", daemon=True)
        self._thread.start()
        first = asyncio.run_coroutine_threadsafe(self._first_start(), self._loop)
        try:
            first.result(timeout=timeout_s)
        except Exception as error:
            self.close()
            if isinstance(error, TimeoutError | asyncio.TimeoutError):
                reason = describe_start_failure(TimeoutError(), self.adapter)
            else:
                reason = describe_start_failure(error, self.adapter)
            raise DriverError(f"ble driver: {reason}", transient=False) from error
        asyncio.run_coroutine_threadsafe(self._begin_watching(), self._loop).result(timeout_s)

    def check_now(self, timeout_s: float = 10.0) -> None:
        """Run one watchdog step now and wait for it (tests move their clock, then call this)."""
        asyncio.run_coroutine_threadsafe(self.check(), self._loop).result(timeout_s)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    def _callback(self, device: BLEDevice, advert: AdvertisementData) -> None:
        self._last_heard = self.monotonic()
        self._quiet_restarts = 0
        try:
            self.on_advert(device, advert)
        except Exception:  # a bad advert must never stop the scanner's loop
            log.exception("ble driver: an advert could not be handled")

    async def _first_start(self) -> None:
        try:
            await self._start_scanner()
        except Exception as error:
            # Only BlueZ refusing passive scanning is worth trying active for; no D-Bus,
            # no BlueZ or no adapter fails the same either way and is said as it is.
            passive_refused = (
                isinstance(error, BleakError)
                and not isinstance(error, BleakBluetoothNotAvailableError)
                and "ServiceUnknown" not in str(error)
            )
            if self.wanted_mode != "auto" or not passive_refused:
                raise
            log.warning(
                "ble driver: passive scanning is not available (%s); scanning actively. "
                "Passive scanning needs BlueZ 5.56 or later started with --experimental "
                "(docs/ble.md)",
                error,
            )
            self.mode = "active"
            await self._start_scanner()

    async def _start_scanner(self) -> None:
        request = ScanRequest(self._callback, self.mode, self.adapter, self.or_patterns)
        scanner = self.factory(request)
        await scanner.start()
        self._scanner = scanner
        self._last_heard = self.monotonic()
        self.problem = ""
        self._failures_in_row = 0

    async def _stop_scanner(self) -> None:
        scanner, self._scanner = self._scanner, None
        if scanner is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(scanner.stop(), STOP_TIMEOUT_S)

    async def _begin_watching(self) -> None:
        self._checking = asyncio.Lock()
        self._watcher = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        while not self._stop.is_set():
            await self.check()
            await asyncio.sleep(self.check_every_s)

    async def check(self) -> None:
        """One watchdog step: restart a silent scanner, retry a failed one, then tick."""
        if self._checking is None:
            self._checking = asyncio.Lock()
        async with self._checking:
            await self._check()

    async def _check(self) -> None:
        now = self.monotonic()
        if self._scanner is not None and now - self._last_heard >= self.silence_limit():
            silent_for = now - self._last_heard
            await self._stop_scanner()
            self.restarts += 1
            self._quiet_restarts += 1
            # An empty hall at night is silent too: say it loudly once per quiet spell.
            log.log(
                logging.WARNING if self._quiet_restarts == 1 else logging.INFO,
                "ble driver: no advert for %.0f s; restarting the scanner (restart %d)",
                silent_for,
                self.restarts,
            )
            await self._try_start(now)
        elif self._scanner is None and now >= self._retry_at:
            await self._try_start(now)
        if self._scanner is not None:
            try:
                self.on_tick(now)
            except Exception:
                log.exception("ble driver: scheduled work failed")

    async def _try_start(self, now: float) -> None:
        try:
            await self._start_scanner()
        except Exception as error:
            self.start_failures += 1
            self._failures_in_row += 1
            wait = min(FIRST_RETRY_S * 2 ** (self._failures_in_row - 1), self.max_backoff_s)
            self._retry_at = now + wait
            problem = describe_start_failure(error, self.adapter)
            if problem != self.problem:
                log.error("ble driver: %s; retrying in %.0f s", problem, wait)
            self.problem = problem

    async def _shut_down(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._watcher
        await self._stop_scanner()

    def close(self) -> None:
        """Stop the scanner and the thread; safe to call more than once."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread is not None and self._thread.is_alive():
            stopping = asyncio.run_coroutine_threadsafe(self._shut_down(), self._loop)
            with contextlib.suppress(Exception):
                stopping.result(timeout=STOP_TIMEOUT_S + 1)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=STOP_TIMEOUT_S)
        if not self._loop.is_running():
            with contextlib.suppress(Exception):
                self._loop.close()
