"""A synthetic crowd of phones: people inside and outside, devices rotating random addresses."""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class _Device:
    inside: bool
    rssi: float
    phase: float
    epoch: int = -1
    address: str = ""


@dataclass
class Crowd:
    """``people`` inside (near the Pi) and ``outside`` passers-by, each with ``devices``.

    Every device advertises about every ``advert_every_s`` (jittered) and takes a new
    random address every ``rotate_s``, each at its own phase, as phones do. Inside, the
    signal is -72 to -50 dBm; outside, -95 to -82 dBm; each advert adds noise (sd 4 dB).
    ``addresses`` keeps every address any device used, for the privacy scans.
    """

    people: int
    devices: int = 1
    outside: int = 0
    rotate_s: float = 900.0
    advert_every_s: float = 1.0
    seed: int = 1
    addresses: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._devices: list[_Device] = []
        self._queue: list[tuple[float, int]] = []
        for person in range(self.people + self.outside):
            inside = person < self.people
            for _ in range(self.devices):
                rssi = self._rng.uniform(-72, -50) if inside else self._rng.uniform(-95, -82)
                self._devices.append(_Device(inside, rssi, self._rng.uniform(0, self.rotate_s)))
                first = self._rng.uniform(0, self.advert_every_s)
                heapq.heappush(self._queue, (first, len(self._devices) - 1))

    def _address(self, device: _Device, at: float) -> str:
        epoch = int((at + device.phase) // self.rotate_s)
        if epoch != device.epoch:
            device.epoch = epoch
            # A resolvable private address: random, top two bits 01.
            first = (self._rng.randrange(256) & 0x3F) | 0x40
            rest = [self._rng.randrange(256) for _ in range(5)]
            device.address = ":".join(f"{b:02X}" for b in [first, *rest])
            self.addresses.add(device.address)
        return device.address

    def adverts_until(self, until: float) -> Iterator[tuple[float, str, int]]:
        """Every advert up to ``until`` seconds, in time order: (time, address, rssi)."""
        while self._queue and self._queue[0][0] <= until:
            at, index = heapq.heappop(self._queue)
            device = self._devices[index]
            rssi = round(device.rssi + self._rng.gauss(0, 4))
            yield at, self._address(device, at), rssi
            gap = self.advert_every_s * self._rng.uniform(0.5, 1.5)
            heapq.heappush(self._queue, (at + gap, index))
