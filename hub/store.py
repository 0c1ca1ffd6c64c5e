"""The hub store's interfaces by concern, with the rows and errors they share.

- :class:`HubStore`: ingestion (each batch stored once, refusals, quarantine, quotas);
- :class:`DeviceRecords`: the registry as the hub reads it (devices, the audit trail);
  provisioning changes it through :class:`provisioning.registry.DeviceRegistry`;
- :class:`ReadingQueries`: readings, hourly and daily rollups, gaps and the fleet's state;
- :class:`RolloutRecords`: staged rollouts of a release (:mod:`hub.rollouts` decides).

The configs sent to nodes are :class:`hub.hall_settings.ConfigSource` (read) and
:class:`hub.config_downlink.ConfigRecord` (write); accounts, sessions and tokens
:class:`hub.login_store.LoginStore`. :mod:`hub.store_sql` implements them all, and
:func:`hub.store_factory.open_hub_store` opens it.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple, Protocol
from zoneinfo import ZoneInfo

from hub_sync.acks import Rejection
from hub_sync.batch_codec import Batch, WireReading

IMPLAUSIBLE_TIME = 1 << 11
"""Quality bit the hub sets on a reading stamped far in the future or long before its
device was registered. Stored, flagged, kept out of "latest value"."""

FUTURE_TOLERANCE_US = 24 * 3600 * 1_000_000
PAST_TOLERANCE_US = 365 * 24 * 3600 * 1_000_000


class HubStoreError(Exception):
    """The hub store cannot do what was asked (unavailable, damaged, full)."""


class HubStoreRefused(HubStoreError):
    """The store refused this data and always would (a value its database cannot hold).

    Not an outage: retrying cannot help, so ingestion quarantines the message instead of
    pausing. Validation at the wire should make this unreachable; it is the backstop.
    """


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
    quarantined: int = 0
    """Messages from the node that the hub could not handle and keeps aside."""
    refusals: tuple[Refusal, ...] = ()
    """Why the hub refused messages from the node, one entry per reason."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """Messages of one device the hub refused for one reason: how many, and the latest."""

    reason: str
    """A short fixed phrase: "malformed payload", "over its quota of messages a minute" …"""
    count: int
    first_at_us: int
    last_at_us: int
    detail: str
    """What was wrong with the latest one, in words."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message kept aside because handling it failed: the same payload is kept once."""

    device_id: str
    topic: str
    reason: str
    size: int
    """The payload's length; ``payload`` holds at most DEAD_LETTER_PAYLOAD_BYTES of it."""
    times: int
    first_at_us: int
    last_at_us: int
    payload: bytes


SERIES_QUOTA = 500
"""Distinct (sensor, metric, unit) series one device may use, by default; a hall with
every supported part wired has about 40."""
QUOTA_SERIES = "over its quota of series"
"""The refusal reason of readings on a series past the device's quota."""

QUARANTINED = "quarantined"
"""The refusal reason under which quarantined messages are counted (not as rejected)."""

DEAD_LETTER_PAYLOAD_BYTES = 4096
"""Bytes of a quarantined payload kept: enough to see what it was, not to store a flood."""
DEAD_LETTER_ROWS = 1000
"""Quarantined messages kept in all; the oldest go first."""


class HubStore(Protocol):
    """What ingestion needs of a hub store: store batches, count refusals, keep statuses."""

    series_quota: int
    """Distinct series one device may use; readings on more are refused."""

    def store_batch(self, batch: Batch, received_at_us: int) -> StoreOutcome:
        """Store a batch idempotently on (device_id, store_epoch, seq) and commit.

        Raises:
            UnknownDevice: the device is not registered or is revoked.
            HubStoreRefused: the database cannot hold a value; nothing was committed.
            HubStoreError: the store is unavailable; nothing was committed.
        """
        ...

    def count_refused(
        self, device_id: str, reason: str, detail: str, at_us: int, count: int = 1
    ) -> None:
        """Count ``count`` messages of a device refused for ``reason`` (a fixed phrase).

        ``detail`` says what was wrong with the latest; quota refusals do not count as
        rejected batches, every other reason does.
        """
        ...

    def quarantine(
        self, device_id: str, message_topic: str, payload: bytes, reason: str, at_us: int
    ) -> None:
        """Keep a message that could not be handled, bounded in size, and count it."""
        ...

    def grouped(self) -> AbstractContextManager[None]:
        """Several writes in one transaction and one commit (see hub.store_sql_base)."""
        ...

    def record_status(self, device_id: str, online: bool, status_json: str, at_us: int) -> None:
        """Record a node's status message (birth, heartbeat or will)."""
        ...

    def prune(self, before_us: int) -> int:
        """Delete raw readings taken before ``before_us`` (retention)."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


class DeviceRecords(Protocol):
    """The device registry as the hub's pages, API and commands read it."""

    def device(self, device_id: str) -> Device | None:
        """The registered device, or None."""
        ...

    def registered(self) -> Sequence[RegisteredDevice]:
        """Every registered device, with its site, location and state."""
        ...

    def audit_log(self, device_id: str | None = None) -> Sequence[AuditEntry]:
        """Who did what to which device, and when, oldest first."""
        ...


class ReadingQueries(Protocol):
    """Readings, their rollups and the fleet's state, as the hub reads them back."""

    def readings(self, device_id: str) -> list[tuple[int, WireReading]]:
        """Every stored reading of a device as (store_epoch, reading), in key order."""
        ...

    def readings_between(
        self,
        device_ids: Sequence[str],
        start_us: int,
        end_us: int,
        metrics: Sequence[str] = (),
        *,
        limit: int | None = None,
    ) -> list[StoredReading]:
        """Some devices' readings taken in [start_us, end_us), oldest first, at most ``limit``."""
        ...

    def latest(self, device_id: str) -> dict[tuple[str, str], tuple[int, float | None]]:
        """(sensor_id, metric) → (ts_us, value) of the newest plausible reading."""
        ...

    def hourly(
        self, device_ids: Sequence[str], start_us: int, end_us: int, metrics: Sequence[str] = ()
    ) -> list[HourlyRollup]:
        """The hourly rollups of some devices' hours starting in [start_us, end_us)."""
        ...

    def daily(
        self,
        device_ids: Sequence[str],
        start_us: int,
        end_us: int,
        zone: ZoneInfo,
        metrics: Sequence[str] = (),
    ) -> list[DailyRollup]:
        """The rollups of some devices' local days (in ``zone``)."""
        ...

    def missing(self, device_id: str) -> tuple[tuple[int, int, int], ...]:
        """(store_epoch, first, last) gaps between the ranges received so far."""
        ...

    def fleet(self) -> Sequence[DeviceState]:
        """Every device's state."""
        ...

    def refusals(self, device_id: str | None = None) -> dict[str, tuple[Refusal, ...]]:
        """Each device's refusals by reason (one device's, or every one's)."""
        ...

    def dead_letters(self, device_id: str | None = None, limit: int = 50) -> list[DeadLetter]:
        """Quarantined messages, newest first (one device's, or every one's)."""
        ...


ROLLOUT_STATES = ("running", "stopped", "completed")
"""A rollout's states: at most one is running; stopped ones say why."""


@dataclass(frozen=True, slots=True)
class Rollout:
    """A staged rollout of one release: which halls it reaches, and how it ended.

    :mod:`hub.rollouts` works out from it (and the fleet) which devices it targets.
    """

    rollout_id: int
    version: str
    halls: tuple[str, ...]
    """Devices named first, in the order given."""
    percent: int
    """How much of the rest of the fleet it reaches, 0 to 100."""
    stop_share: float
    """It stops by itself when failed / (updated + failed) reaches this (0 < share <= 1)."""
    state: str
    """One of :data:`ROLLOUT_STATES`."""
    reason: str
    """Why it stopped ("" unless stopped)."""
    started_by: str
    started_at_us: int
    ended_by: str = ""
    ended_at_us: int | None = None


class RolloutNotRunning(HubStoreError):
    """The rollout asked for is not running (it stopped, completed or never was)."""


class RolloutRecords(Protocol):
    """Staged rollouts as the hub store keeps them, with their history and audit trail.

    Who does what to a rollout is in the audit trail under the device id ""
    (the whole fleet), as ``rollout started``, ``widened``, ``stopped``, ``completed``.
    """

    def start_rollout(
        self, version: str, halls: Sequence[str], percent: int, stop_share: float, *, actor: str
    ) -> tuple[Rollout, Rollout | None]:
        """Start a rollout; a running one is stopped, replaced by it.

        Returns the new rollout and the one it replaced (None if none was running).
        """
        ...

    def widen_rollout(
        self, rollout_id: int, halls: Sequence[str], percent: int, *, actor: str
    ) -> Rollout:
        """Add named halls and set a percentage (never smaller) of a running rollout.

        Raises:
            RolloutNotRunning: it is not running.
        """
        ...

    def stop_rollout(
        self, rollout_id: int, reason: str, *, actor: str, alert_json: str = ""
    ) -> bool:
        """Stop a running rollout, saying why; False if it was not running.

        ``alert_json`` is a notice still to be delivered (the hub's own stops).
        """
        ...

    def complete_rollout(self, rollout_id: int, *, actor: str) -> bool:
        """Mark a running rollout completed; False if it was not running."""
        ...

    def rollout(self, rollout_id: int) -> Rollout | None:
        """One rollout, or None."""
        ...

    def running_rollout(self) -> Rollout | None:
        """The rollout running now, or None."""
        ...

    def latest_rollout(self) -> Rollout | None:
        """The running rollout, else the last one started, else None."""
        ...

    def rollouts(self, limit: int = 20) -> list[Rollout]:
        """Rollouts, newest first (the history is kept)."""
        ...

    def sent_releases(self) -> dict[str, str]:
        """Each device's release in the config the hub last sent it ("" for none)."""
        ...

    def unsettled_rollouts(self) -> list[Rollout]:
        """Stopped rollouts whose halls that had not started are not yet told to hold."""
        ...

    def settle_rollout(self, rollout_id: int) -> None:
        """Record that a stopped rollout's halls that had not started were told to hold."""
        ...

    def rollout_alerts(self) -> list[tuple[int, str]]:
        """(rollout id, alert JSON) of every rollout alert not yet delivered."""
        ...

    def keep_rollout_alert(self, rollout_id: int, alert_json: str) -> None:
        """Replace a rollout's undelivered alert ("" once delivered everywhere)."""
        ...

    def claim_rollout_lease(self, holder: str, until_us: int, at_us: int) -> bool:
        """Be the one worker acting on rollouts until ``until_us``; False if another is."""
        ...

    def release_rollout_lease(self, holder: str) -> None:
        """Give the lease up (a worker that stops), so another takes it at once."""
        ...
