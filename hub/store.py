"""The hub store's interface: devices, readings stored once, gaps, rejections and fleet state."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import NamedTuple, Protocol

from hub_sync.protocol import Batch, Rejection, WireReading

IMPLAUSIBLE_TIME = 1 << 11
"""Quality bit the hub sets on a reading stamped far in the future or long before its
device was registered. Stored, flagged, kept out of "latest value"."""

FUTURE_TOLERANCE_US = 24 * 3600 * 1_000_000
PAST_TOLERANCE_US = 365 * 24 * 3600 * 1_000_000


class HubStoreError(Exception):
    """The hub store cannot do what was asked (unavailable, damaged, full)."""


class UnknownDevice(HubStoreError, KeyError):
    """A device id that is not registered, or has been revoked."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown device"


@dataclass(frozen=True, slots=True)
class Device:
    """A registered node."""

    device_id: str
    name: str
    added_at_us: int
    revoked: bool = False
    rotation_requested: bool = False
    """``provision rotate`` asked for a new broker password; cleared when the node confirms."""


@dataclass(frozen=True, slots=True)
class RegisteredDevice:
    """A device as the registry holds it (provisioning's view)."""

    device_id: str
    site: str
    location: str
    added_at_us: int
    revoked: bool
    revoked_at_us: int | None
    last_seen_us: int | None
    rotation_requested_us: int | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One thing someone did to a device, and when (UTC microseconds)."""

    at_us: int
    actor: str
    action: str
    device_id: str
    detail: str


@dataclass(frozen=True, slots=True)
class StoreOutcome:
    """What storing one batch did: ranges now durably held, ranges refused and why."""

    acked: tuple[tuple[int, int], ...]
    rejected: tuple[Rejection, ...]
    inserted: int
    duplicates: int
    rotate: bool = False
    """The device is to fetch a new broker password (its ack says so)."""


class StoredReading(NamedTuple):
    """A reading as the hub holds it, for the data API and exports."""

    device_id: str
    sensor_id: str
    metric: str
    unit: str
    ts_us: int
    value: float
    quality: int
    censor: str | None
    seq: int


class DailyRollup(NamedTuple):
    """One series' readings in one local day of the hub's time zone."""

    device_id: str
    sensor_id: str
    metric: str
    unit: str
    day: date
    readings: int
    mean: float
    low: float
    high: float


class HourlyRollup(NamedTuple):
    """One series' readings in one UTC hour: how many, their mean, lowest and highest.

    A named tuple rather than a dataclass: a year of a hall's rollups is nearly 90,000 of
    them, made in a third of the time.
    """

    device_id: str
    sensor_id: str
    metric: str
    unit: str
    hour_us: int
    readings: int
    mean: float
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class SentConfig:
    """The config the hub last sent a node, and what became of it."""

    device_id: str
    revision: int
    config_json: str
    sent_at_us: int
    sent_by: str
    applied_at_us: int | None
    """When the node's status first named this revision (or a later one) as in force."""
    error: str
    """Why the node refused it, from its status; "" when it did not (yet)."""


@dataclass(frozen=True, slots=True)
class DeviceState:
    """One node as the fleet pages and `hub status` see it."""

    device_id: str
    name: str
    online: bool
    last_seen_us: int | None
    readings: int
    missing: tuple[tuple[int, int, int], ...]
    """(store_epoch, first, last) ranges not yet received between ones that were."""
    rejected_batches: int
    status: str
    """The node's last status message (JSON text), or "" before the first."""


class HubStore(Protocol):
    """What ingestion, `hub status` and the hub's pages need of a hub store."""

    def add_device(self, device_id: str, name: str) -> Device:
        """Register a device (idempotent for the same name)."""
        ...

    def device(self, device_id: str) -> Device | None:
        """The registered device, or None."""
        ...

    def store_batch(self, batch: Batch, received_at_us: int) -> StoreOutcome:
        """Store a batch idempotently on (device_id, store_epoch, seq) and commit.

        Raises:
            UnknownDevice: the device is not registered or is revoked.
            HubStoreError: the store is unavailable; nothing was committed.
        """
        ...

    def count_rejected_batch(self, device_id: str, reason: str, at_us: int) -> None:
        """Count a batch refused before storage (malformed, spoofed), per device."""
        ...

    def record_status(self, device_id: str, online: bool, status_json: str, at_us: int) -> None:
        """Record a node's status message (birth, heartbeat or will)."""
        ...

    def fleet(self) -> Sequence[DeviceState]:
        """Every device's state."""
        ...

    def readings(self, device_id: str) -> list[tuple[int, WireReading]]:
        """Every stored reading of a device as (store_epoch, reading), in key order."""
        ...

    def prune(self, before_us: int) -> int:
        """Delete raw readings taken before ``before_us`` (retention)."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


def open_hub_store(location: str) -> HubStore:
    """The hub store at ``location``: a ``postgresql://`` URL, or else a SQLite file path."""
    if location.startswith(("postgresql://", "postgres://")):
        from hub.store_postgres import PostgresHubStore

        return PostgresHubStore(location)
    from hub.store_sqlite import SqliteHubStore

    return SqliteHubStore(Path(location))


def plausibility_flags(ts_us: int, now_us: int, registered_us: int) -> int:
    """IMPLAUSIBLE_TIME for a timestamp a day ahead of the hub or a year before registration."""
    if ts_us > now_us + FUTURE_TOLERANCE_US or ts_us < registered_us - PAST_TOLERANCE_US:
        return IMPLAUSIBLE_TIME
    return 0
