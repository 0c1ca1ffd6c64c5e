"""Recorded BLE adverts fed through the callback bleak calls, and a clock tests move.

The only stand-in is the scanner factory: a ``FakeScanners`` makes scanners that, once
started, deliver ``(BLEDevice, AdvertisementData)`` pairs on the supervisor's own event
loop, exactly as bleak's BlueZ backend calls the detection callback.
"""

from __future__ import annotations

import asyncio
import contextlib

from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from sensors.ble import BleDriver
from sensors.ble_frames import uuid16


def advert(
    address: str,
    *,
    rssi: int = -60,
    name: str | None = None,
    service_data: dict[int, bytes] | None = None,
    manufacturer_data: dict[int, bytes] | None = None,
) -> tuple[BLEDevice, AdvertisementData]:
    """The pair bleak hands its detection callback for one advert."""
    services = {uuid16(short): data for short, data in (service_data or {}).items()}
    data = AdvertisementData(
        local_name=name,
        manufacturer_data=dict(manufacturer_data or {}),
        service_data=services,
        service_uuids=list(services),
        tx_power=None,
        rssi=rssi,
        platform_data=(),
    )
    return BLEDevice(address, name, details=None), data


class FakeMonotonic:
    """A monotonic clock that moves only when told."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeScanner:
    """One scanner: silent until a test sends adverts through it."""

    def __init__(self, factory: FakeScanners, request) -> None:
        self.factory = factory
        self.request = request
        self.running = False
        self.loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        failure = self.factory.next_failure()
        if failure is not None:
            raise failure
        self.loop = asyncio.get_running_loop()
        self.running = True
        self.factory.started.append(self)

    async def stop(self) -> None:
        self.running = False

    def send(self, device: BLEDevice, data: AdvertisementData) -> bool:
        """Deliver one advert on the scanner's loop; False if the scanner is stopped."""
        if not self.running or self.loop is None:
            return False

        async def deliver() -> None:
            self.request.callback(device, data)

        asyncio.run_coroutine_threadsafe(deliver(), self.loop).result(10)
        return True


class FakeScanners:
    """The scanner factory: records every request; can fail the next starts on purpose."""

    def __init__(self, failures: list[BaseException] | None = None) -> None:
        self.requests = []
        self.started: list[FakeScanner] = []
        self.failures = list(failures or [])

    def next_failure(self) -> BaseException | None:
        return self.failures.pop(0) if self.failures else None

    def __call__(self, request) -> FakeScanner:
        self.requests.append(request)
        return FakeScanner(self, request)

    @property
    def current(self) -> FakeScanner:
        running = [s for s in self.started if s.running]
        assert running, "no scanner is running"
        return running[-1]

    def send(self, device: BLEDevice, data: AdvertisementData) -> bool:
        running = [s for s in self.started if s.running]
        return running[-1].send(device, data) if running else False


@contextlib.contextmanager
def ble_driver(**options):
    """A BleDriver on fake scanners and a fake clock; yields (driver, scanners, clock)."""
    scanners = options.pop("scanner_factory", None) or FakeScanners()
    clock = options.pop("monotonic", None) or FakeMonotonic()
    options.setdefault("check_every_s", 3600.0)
    driver = BleDriver(scanner_factory=scanners, monotonic=clock, **options)
    try:
        yield driver, scanners, clock
    finally:
        driver.close()
