"""Per-device rate quotas: messages, bytes and readings a minute.

Messages and bytes are checked before a payload is decoded: a device over either has its
message turned away at the cost of a dictionary look-up, unread, unstored and unanswered,
so an honest node sends it again after its resend timeout and a hostile one gains
nothing by flooding. Readings are charged once a batch is decoded, before it is stored:
a batch over the quota is turned away with an ack that names it and says when to send it
again, so storage, the hub's costliest work, is what no device can take from the others.
Each quota is a token bucket holding a minute's worth, refilled continuously, so a node
that was offline can still send its backlog in bursts up to the quota.

Quotas are kept in each ingestion process's memory: with several ``hub run`` processes
on one shared subscription, each sees its share of a device's messages and holds it to
the whole quota, so a device may get up to N times the quota through N processes.
Refusals are counted in a :class:`RefusalTally` and written to the hub store in
batches, never one database write per refused message; the ingestion worker keeps in the
same tally the refusals it could not write while the store was away.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

QUOTA_MESSAGES = "over its quota of messages a minute"
QUOTA_BYTES = "over its quota of bytes a minute"
QUOTA_READINGS = "over its quota of readings a minute"

MAX_TRACKED_DEVICES = 100_000
"""Buckets kept at most; full ones (idle devices) are forgotten first."""


@dataclass
class _Bucket:
    messages: float
    octets: float
    readings: float
    updated: float


@dataclass
class Refused:
    """Messages of one device refused for one reason since the last report."""

    count: int
    detail: str


class RefusalTally:
    """Refused messages counted in memory by (device, reason) until written; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._refused: dict[tuple[str, str], Refused] = {}

    def count(self, device_id: str, reason: str, detail: str, n: int = 1) -> None:
        """Count ``n`` messages of ``device_id`` refused for ``reason``; the last detail wins."""
        with self._lock:
            refused = self._refused.get((device_id, reason))
            if refused is None:
                self._refused[(device_id, reason)] = Refused(n, detail)
            else:
                refused.count += n
                refused.detail = detail

    def take(self) -> dict[tuple[str, str], Refused]:
        """The refusals counted since the last call, by (device, reason); counting restarts."""
        with self._lock:
            taken, self._refused = self._refused, {}
            return taken

    def give_back(self, refusals: dict[tuple[str, str], Refused]) -> None:
        """Return refusals that could not be recorded, to be reported with the next ones."""
        for (device_id, reason), refused in refusals.items():
            self.count(device_id, reason, refused.detail, refused.count)


class DeviceQuotas:
    """Messages and bytes a minute per device; thread-safe.

    Args:
        messages_per_minute: messages one device may send a minute (0: no limit).
        bytes_per_minute: payload bytes one device may send a minute (0: no limit).
        readings_per_minute: readings one device may have stored a minute, charged once a
            batch is decoded (0: no limit).
        clock: seconds, monotonic (an advanced feature for tests).
        max_devices: buckets kept at most (likewise).
        tally: where refusals are counted (a new one if not given).
    """

    def __init__(
        self,
        messages_per_minute: int,
        bytes_per_minute: int,
        readings_per_minute: int = 0,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_devices: int = MAX_TRACKED_DEVICES,
        tally: RefusalTally | None = None,
    ) -> None:
        self.messages_per_minute = messages_per_minute
        self.bytes_per_minute = bytes_per_minute
        self.readings_per_minute = readings_per_minute
        self.clock = clock
        self.max_devices = max_devices
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}
        self.tally = tally if tally is not None else RefusalTally()

    def admit(self, device_id: str, size: int) -> str | None:
        """None if ``device_id`` may send a message of ``size`` bytes now, else the quota.

        An admitted message takes its share of both quotas; a refused one takes none.
        """
        now = self.clock()
        with self._lock:
            bucket = self._refilled(device_id, now)
            quota = None
            if self.messages_per_minute and bucket.messages < 1:
                quota = QUOTA_MESSAGES
                detail = f"more than {self.messages_per_minute:,} messages a minute"
            elif self.bytes_per_minute and bucket.octets < size:
                quota = QUOTA_BYTES
                detail = f"more than {self.bytes_per_minute:,} bytes a minute"
            if quota is None:
                bucket.messages -= 1
                bucket.octets -= size
                return None
            self.tally.count(device_id, quota, detail)
            return quota

    def take_readings(self, device_id: str, count: int) -> int | None:
        """None if ``count`` readings of ``device_id`` may be stored now, else seconds to wait.

        A batch larger than a minute's worth goes in once the bucket is full, leaving it in
        debt, so no quota can hold a batch back for ever.
        """
        if not self.readings_per_minute:
            return None
        now = self.clock()
        with self._lock:
            bucket = self._refilled(device_id, now)
            needed = min(float(count), float(self.readings_per_minute))
            if bucket.readings >= needed:
                bucket.readings -= count
                return None
            self.tally.count(
                device_id,
                QUOTA_READINGS,
                f"more than {self.readings_per_minute:,} readings a minute",
            )
            missing = needed - bucket.readings
            return max(1, math.ceil(missing * 60 / self.readings_per_minute))

    def _refilled(self, device_id: str, now: float) -> _Bucket:
        bucket = self._buckets.get(device_id)
        if bucket is None:
            if len(self._buckets) >= self.max_devices:
                self._forget_idle(now)
            bucket = self._buckets[device_id] = _Bucket(
                float(self.messages_per_minute),
                float(self.bytes_per_minute),
                float(self.readings_per_minute),
                now,
            )
        elapsed = max(0.0, now - bucket.updated)
        bucket.updated = now
        for name, per_minute in (
            ("messages", self.messages_per_minute),
            ("octets", self.bytes_per_minute),
            ("readings", self.readings_per_minute),
        ):
            if per_minute:
                level = getattr(bucket, name) + elapsed * per_minute / 60
                setattr(bucket, name, min(float(per_minute), level))
        return bucket

    def _forget_idle(self, now: float) -> None:
        # Buckets that have refilled are the same as new ones: forgetting them is free.
        full = [device for device, bucket in self._buckets.items() if now - bucket.updated >= 60]
        for device in full or list(self._buckets)[: len(self._buckets) // 2]:
            del self._buckets[device]

    def tracked(self) -> int:
        """How many devices' buckets are held in memory."""
        with self._lock:
            return len(self._buckets)

    def take_refusals(self) -> dict[tuple[str, str], Refused]:
        """The refusals counted since the last call, by (device, quota); counting restarts."""
        return self.tally.take()

    def give_back(self, refusals: dict[tuple[str, str], Refused]) -> None:
        """Return refusals that could not be recorded, to be reported with the next ones."""
        self.tally.give_back(refusals)
