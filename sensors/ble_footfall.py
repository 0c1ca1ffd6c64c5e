"""People present, estimated from the Bluetooth devices nearby, without keeping who they are.

The method (docs/ble.md, "Footfall from phones"):

1. Each advert heard at or above the RSSI threshold marks its sender present. The
   sender's address is never kept: it is replaced at once by a keyed BLAKE2s hash whose
   random key lives only in this object's memory and is replaced at least daily and at
   every start, so no identifier survives a rotation, a restart or the process.
2. Every ``sample_s`` the counter takes a snapshot: how many senders were heard within
   the last ``presence_s``.
3. At the end of each interval the estimate is the median snapshot divided by
   ``devices_per_person`` (calibrated against a door counter). An estimate below
   ``min_count`` is given as "fewer than min_count", never as the number.

Only the counts leave this object; the table of hashes is cleared at every rotation.
"""

from __future__ import annotations

import hashlib
import secrets
import statistics
from dataclasses import dataclass

KEY_BYTES = 32
MAX_KEY_AGE_S = 86_400.0
MAX_DEVICES = 20_000
"""More senders than a village hall and its street can hold; past this the newest are
ignored, so a flood of spoofed addresses cannot exhaust a Pi Zero's memory."""


@dataclass(frozen=True, slots=True)
class Estimate:
    """One interval's estimate of people present.

    When the estimate is below the minimum, ``censored`` is True and ``people`` is the
    minimum itself: the value means "fewer than ``people``", and the number below it is
    not kept even here.
    """

    people: int
    censored: bool
    samples: int


class FootfallCounter:
    """Counts distinct nearby senders per interval, keyed and forgetful.

    Time is any steadily increasing number of seconds (``time.monotonic`` in the
    driver, a test's own clock in tests). Not thread-safe: the driver holds a lock.
    """

    def __init__(
        self,
        *,
        rssi_threshold_dbm: float,
        min_count: int,
        devices_per_person: float,
        presence_s: float,
        sample_s: float,
        key_rotation_s: float,
        now: float,
    ) -> None:
        if not 0 < key_rotation_s <= MAX_KEY_AGE_S:
            raise ValueError(
                f"key_rotation_s must be more than 0 and at most {MAX_KEY_AGE_S:g} s (a day)"
            )
        if devices_per_person <= 0:
            raise ValueError("devices_per_person must be more than 0")
        self.rssi_threshold_dbm = rssi_threshold_dbm
        self.min_count = min_count
        self.devices_per_person = devices_per_person
        self.presence_s = presence_s
        self.sample_s = sample_s
        self.key_rotation_s = key_rotation_s
        self.rotations = 0
        self.ignored_weak = 0
        self.ignored_full = 0
        self._last_seen: dict[bytes, float] = {}
        self._heard_twice: set[bytes] = set()
        self._samples: list[int] = []
        self._next_sample = now
        self._rotate(now)

    def _rotate(self, now: float) -> None:
        self._key = secrets.token_bytes(KEY_BYTES)
        self._key_born = now
        self._last_seen.clear()
        self._heard_twice.clear()
        # Senders heard under the old key are forgotten with it: snapshots wait until
        # every present sender has had presence_s to be heard again.
        self._next_sample = max(self._next_sample, now + self.presence_s)
        self.rotations += 1

    @property
    def key(self) -> bytes:
        """The live key (for the privacy tests, which look for hashes made with it)."""
        return self._key

    def token(self, address: str) -> bytes:
        """The keyed hash that stands for ``address`` under the live key."""
        return hashlib.blake2s(address.upper().encode(), key=self._key, digest_size=16).digest()

    def heard(self, address: str, rssi: float, now: float) -> None:
        """An advert from ``address`` at ``rssi`` dBm: mark it present if it is near."""
        if rssi < self.rssi_threshold_dbm:
            self.ignored_weak += 1
            return
        token = self.token(address)
        if token not in self._last_seen and len(self._last_seen) >= MAX_DEVICES:
            self.ignored_full += 1
            return
        if token in self._last_seen:
            self._heard_twice.add(token)
        self._last_seen[token] = now

    def tick(self, now: float) -> None:
        """Take the snapshots due by ``now`` (call at least every ``sample_s``)."""
        if now < self._next_sample:
            return
        horizon = now - self.presence_s
        for token in [t for t, seen in self._last_seen.items() if seen < horizon]:
            del self._last_seen[token]
            self._heard_twice.discard(token)
        self._samples.append(len(self._heard_twice))
        self._next_sample = now + self.sample_s

    def close_interval(self, now: float, expected_samples: int) -> Estimate | None:
        """The estimate for the interval ending now, or None if too little was heard.

        Args:
            now: the end of the interval.
            expected_samples: snapshots a full interval has; with fewer than half of them
                (the scanner was down) the interval has no estimate rather than a low one.
        """
        samples, self._samples = self._samples, []
        if now - self._key_born >= self.key_rotation_s:
            self._rotate(now)
        if not samples or len(samples) * 2 < expected_samples:
            return None
        people = round(statistics.median(samples) / self.devices_per_person)
        if people < self.min_count:
            return Estimate(self.min_count, True, len(samples))
        return Estimate(people, False, len(samples))
