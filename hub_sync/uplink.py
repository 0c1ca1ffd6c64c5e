"""The node's uplink: send unacknowledged readings in batches, forget them only on the hub's ack."""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hub_sync.acks import ACK_FORMATS_READ, Ack, decode_ack, merge_ranges, seq_runs
from hub_sync.batch_codec import Batch, WireReading, encode_batch
from hub_sync.limits import MAX_BATCH_READINGS, MAX_STATUS_LIST
from hub_sync.metering import LinkMeter
from hub_sync.mqtt import (
    NO_MATCHING_SUBSCRIBERS,
    BrokerSettings,
    Delivery,
    Message,
    MqttClient,
    MqttError,
    NotConnected,
    PublishRefused,
)
from hub_sync.node_config import NodeConfig, decode_config
from hub_sync.node_status import encode_status, status_text
from hub_sync.outbox_view import Outbox, OutboxReading
from hub_sync.rotation import CredentialKeeper
from hub_sync.topics import topic
from hub_sync.wire_errors import ProtocolError

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NO_SUBSCRIBER_RETRY_S = 2.0
"""A batch the broker says nobody subscribed to is sent again after this long; so is one
the hub has been overtaken on: a batch sent this long after it is already acknowledged."""
DRAIN_BATCH_FACTOR = 5
"""While a backlog drains, batches are this many times ``batch_readings`` (at most
MAX_BATCH_READINGS): fewer, larger messages, fewer bytes of headers per reading, and a
drain the hub's per-message work does not hold back (issue #18)."""


@dataclass(frozen=True)
class UplinkSettings:
    """How the node sends: batch size, window, resend timeout, heartbeat interval."""

    device_id: str
    batch_readings: int = 1000
    window: int = 4
    resend_after_s: float = 30.0
    heartbeat_s: float = 60.0
    start_jitter_s: float = 0.0
    batch_window_s: float = 0.0
    """A part batch of live readings waits until its oldest is this old (the link profile's
    batch window, edge/link_profiles.py); a full batch, or a backlog, goes at once."""


StatusSource = Callable[[], dict[str, Any]]
"""The node's own status fields for the heartbeat (hub_sync.node_status.STATUS_FIELDS)."""


@dataclass
class _InFlight:
    ranges: list[tuple[int, int]]
    sent_at: float
    delivery: Delivery


def _covered(block: tuple[int, int], by: list[tuple[int, int]]) -> bool:
    return any(a <= block[0] and block[1] <= b for a, b in by)


class Uplink:
    """Sends the outbox's readings to the hub and records the hub's acks in it.

    The newest readings go first, so live values are not stuck behind a long backlog;
    the backlog drains behind them, in batches :data:`DRAIN_BATCH_FACTOR` times larger
    once a full batch shows that more wait. At most ``window`` batches are in flight; one not
    acknowledged by the hub within ``resend_after_s`` is sent again (the hub stores
    idempotently). A PUBACK only means the broker has a batch: the outbox forgets
    nothing until the hub's ack says it is committed.

    :meth:`sync_once` is the single step, called from the agent's thread (the only
    thread that writes the store); acks arrive on the MQTT client's thread and wait in a queue.
    """

    def __init__(
        self,
        outbox: Outbox,
        client_factory: Callable[..., MqttClient],
        settings: UplinkSettings,
        *,
        status: StatusSource | None = None,
        meter: LinkMeter | None = None,
        report: Callable[[str, str], None] | None = None,
        apply_config: Callable[[NodeConfig], str] | None = None,
        keeper: CredentialKeeper | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.outbox = outbox
        self.keeper = keeper
        self.status = status
        self.meter = meter
        self.report = report
        self.apply_config = apply_config
        self._configs: queue.SimpleQueue[NodeConfig | str] = queue.SimpleQueue()
        self.config_revision: int | None = None
        self.config_error = ""
        self._acked_history: deque[tuple[float, int]] = deque(maxlen=64)
        self._acked_total = 0
        self._bytes_sent = 0
        self._readings_sent = 0
        self._next_report = 0.0
        self._last_report: tuple[str, str] | None = None
        self._birth_due = threading.Event()
        self._next_heartbeat = 0.0
        self.settings = settings
        self.monotonic = monotonic
        self.wall = wall
        self._acks: queue.SimpleQueue[Ack] = queue.SimpleQueue()
        self._wake: Callable[[], None] = _nothing
        self._in_flight: dict[int, _InFlight] = {}
        self.hub_subscribed = True
        self.last_error = ""
        self.sent_batches = 0
        self.resent_batches = 0
        self.throttled_batches = 0
        self._paused_until = 0.0
        self._draining = False
        self._newest_settled_sent_at = float("-inf")
        device = settings.device_id
        self.client = client_factory(
            client_id=device,
            on_message=self._on_message,
            on_connect=self._on_connect,
            on_refused=keeper.refused if keeper is not None else None,
            will=(topic(device, "status"), _status("offline"), 1, True),
        )
        if keeper is not None:
            keeper.attach(self.client)

    # --- the MQTT client's thread ---

    def _on_connect(self, client: MqttClient) -> None:
        client.subscribe_nowait(topic(self.settings.device_id, "ack"))
        if self.apply_config is not None:
            # An uplink that cannot apply a config (`edge drain`) leaves it on the broker
            # for the agent's next start rather than tell the hub it refused it.
            client.subscribe_nowait(topic(self.settings.device_id, "config"))
        # The birth message carries the store's figures, read in the agent's thread.
        self._birth_due.set()
        if self.keeper is not None:
            self.keeper.connected()

    def _on_message(self, message: Message) -> None:
        if message.topic.endswith("/config"):
            try:
                self._configs.put(decode_config(message.payload))
            except ProtocolError as error:
                self._configs.put(str(error))
            return
        try:
            ack = decode_ack(message.payload)
        except ProtocolError as error:
            log.warning("ignored a malformed ack: %s", error)
            return
        self._acks.put(ack)
        self._wake()  # the window has room again: the agent sends the next batch now
        if ack.rotate and self.keeper is not None:
            self.keeper.requested()

    def apply_configs(self) -> None:
        """Apply config received from the hub (the newest wins); answer on status."""
        while True:
            try:
                item = self._configs.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, str):
                reason = item
            elif self.apply_config is None:  # not subscribed: a config cannot arrive
                continue
            else:
                reason = self.apply_config(item)
                if not reason:
                    self.config_revision = item.revision
                    log.info("applied config revision %d from the hub", item.revision)
            if reason:
                log.warning("rejected config from the hub, keeping the old one: %s", reason)
            self.config_error = reason
            self._birth_due.set()  # answer on status at once

    # --- the agent's thread ---

    def attach_wake(self, wake: Callable[[], None]) -> None:
        """Have each ack call ``wake`` (the agent's loop), so a backlog drains ack by ack.

        Without it the next batch waits for the agent's next pass (up to a second).
        """
        self._wake = wake

    def start(self) -> None:
        """Start connecting in the background (the broker may be away).

        ``start_jitter_s`` delays the first attempt by a random part of itself, so a
        county's nodes powering up together do not all knock at once.
        """
        if self.keeper is not None:
            self.keeper.start()
        jitter_s = self.settings.start_jitter_s
        if jitter_s <= 0:
            self.client.start_background()
            return
        delay = random.uniform(0, jitter_s)  # noqa: S311 - spreading load, not a secret
        timer = threading.Timer(delay, self.client.start_background)
        timer.daemon = True
        timer.start()

    def close(self) -> None:
        """Say "offline" (a clean disconnect sends no last will), then disconnect."""
        if self.client.connected:
            try:
                self.client.publish(
                    topic(self.settings.device_id, "status"), _status("offline"), retain=True
                ).wait(2)
            except MqttError as error:
                log.debug("offline status not sent: %s", error)
        self.client.close()
        if self.keeper is not None:
            self.keeper.close()

    @property
    def in_flight(self) -> int:
        """Batches sent and not yet acknowledged."""
        return len(self._in_flight)

    def apply_acks(self) -> int:
        """Record every ack received so far in the outbox; returns readings acknowledged."""
        done = 0
        while True:
            try:
                ack = self._acks.get_nowait()
            except queue.Empty:
                return done
            if ack.store_epoch != self.outbox.store_epoch:
                log.warning("ignored an ack for another store epoch (%d)", ack.store_epoch)
                continue
            if ack.acked:
                newly = self.outbox.acknowledge(list(ack.acked))
                done += newly
                self._acked_total += newly
            for rejection in ack.rejected:
                count = self.outbox.reject([(rejection.first, rejection.last)], rejection.reason)
                log.warning(
                    "the hub rejected %d readings (%d..%d): %s",
                    count,
                    rejection.first,
                    rejection.last,
                    rejection.reason,
                )
            settled = merge_ranges([*ack.acked, *((r.first, r.last) for r in ack.rejected)])
            if ack.throttled:
                self._throttled(ack)
            for key, flight in list(self._in_flight.items()):
                if all(_covered(block, settled) for block in flight.ranges):
                    del self._in_flight[key]
                    self._newest_settled_sent_at = max(self._newest_settled_sent_at, flight.sent_at)

    def _throttled(self, ack: Ack) -> None:
        # The hub turned these away for the device's quota: they go again, with anything
        # new, once the wait it asked for is over, rather than after the resend timeout.
        pause = self.monotonic() + ack.retry_after_s
        if pause > self._paused_until:
            if self._paused_until <= self.monotonic():
                log.info("the hub asks this node to wait %d s (its quota)", ack.retry_after_s)
            self._paused_until = pause
        throttled = merge_ranges(ack.throttled)
        for key, flight in list(self._in_flight.items()):
            if all(_covered(block, throttled) for block in flight.ranges):
                del self._in_flight[key]
                self.throttled_batches += 1

    def sync_once(self) -> int:
        """Apply acks, give up on stale batches, and send while the window has room.

        Returns the number of readings sent in this step.
        """
        self.apply_acks()
        self.apply_configs()
        now = self.monotonic()
        if now >= self._next_report:
            self._report_progress(now)
        for key, flight in list(self._in_flight.items()):
            if now - flight.sent_at > self.settings.resend_after_s:
                del self._in_flight[key]  # picked up again below: the hub stores idempotently
                self.resent_batches += 1
            elif flight.delivery.done:
                self._check_delivery(flight.delivery)
                if now - flight.sent_at > NO_SUBSCRIBER_RETRY_S and (
                    flight.delivery.reason == NO_MATCHING_SUBSCRIBERS
                    or flight.sent_at + NO_SUBSCRIBER_RETRY_S <= self._newest_settled_sent_at
                ):
                    # The hub was away (e.g. reconnecting after the broker restarted): the
                    # broker said nobody had it, or, when another subscriber (the Home
                    # Assistant bridge) took it, the hub has since acknowledged a batch
                    # sent well after it. Send it again now, not after the full timeout.
                    del self._in_flight[key]
                    self.resent_batches += 1
        if not self.client.connected:
            return 0
        if self._birth_due.is_set() or now >= self._next_heartbeat:
            self._birth_due.clear()
            self.publish_status(now)
        if now < self._paused_until:
            return 0
        sent = 0
        while len(self._in_flight) < self.settings.window:
            busy = merge_ranges(block for f in self._in_flight.values() for block in f.ranges)
            limit = self.batch_limit()
            chosen = list(self.outbox.outbox_rows(limit, newest_first=True, skip=busy))
            if not chosen:
                self._draining = False
                break
            if self._held_for_window(chosen, limit):
                break
            live = self._is_live(chosen[0].ts_us)
            chosen.reverse()  # newest first from the store; a batch goes in seq order
            readings = tuple(
                WireReading(
                    row.seq,
                    row.sensor_id,
                    row.metric,
                    row.unit,
                    row.ts_us,
                    row.value,
                    row.quality,
                    row.censor,
                )
                for row in chosen
            )
            payload = encode_batch(
                Batch(self.settings.device_id, self.outbox.store_epoch, readings)
            )
            if self.meter is not None and not self.meter.may_send(len(payload), live=live):
                break
            try:
                delivery = self.client.publish(
                    topic(self.settings.device_id, "readings"), payload, qos=1
                )
            except NotConnected:
                break
            if self.meter is not None:
                self.meter.record(len(payload))
            self._bytes_sent += len(payload)
            self._readings_sent += len(chosen)
            self._in_flight[chosen[0].seq] = _InFlight(
                seq_runs([row.seq for row in chosen]), now, delivery
            )
            self.sent_batches += 1
            sent += len(chosen)
            self._draining = len(chosen) == limit  # a full batch: more are waiting
        return sent

    def _held_for_window(self, chosen: Sequence[OutboxReading], limit: int) -> bool:
        """Whether a part batch of live readings waits for more (the batch window)."""
        window = self.settings.batch_window_s
        if window <= 0 or self._draining or len(chosen) >= limit:
            return False
        age_s = self.wall() - chosen[-1].ts_us / 1e6  # newest first: the last is the oldest
        return 0 <= age_s < window

    def batch_limit(self) -> int:
        """Readings in the next batch: ``batch_readings``, larger while a backlog drains."""
        size = self.settings.batch_readings
        if self._draining:
            return max(size, min(size * DRAIN_BATCH_FACTOR, MAX_BATCH_READINGS))
        return size

    def _is_live(self, newest_ts_us: int) -> bool:
        if self.meter is None:
            return True
        age = (self.meter.wall() - _EPOCH).total_seconds() - newest_ts_us / 1e6
        return age < self.meter.settings.live_age_s

    def progress(self, backlog: int, now: float) -> tuple[str, str]:
        """(state, words) about the backlog: how much waits and how long it should take."""
        self._acked_history.append((now, self._acked_total))
        if backlog == 0:
            return "ok", "every reading is at the hub"
        per_reading = self._bytes_sent / self._readings_sent if self._readings_sent else 1.0
        waiting = f"{backlog:,} readings (about {backlog * per_reading / 1024:,.0f} KB) wait"
        if not self.client.connected:
            return "waiting", f"{waiting}; no link to the hub's broker"
        if self.meter is not None:
            left = self.meter.budget_left()
            if left is not None and left < 1024:
                return "waiting", f"{waiting}; today's data budget is used up"
            if not self.meter.in_drain_window():
                return "waiting", f"{waiting}; backlog drains in the set window"
        first_time, first_total = self._acked_history[0]
        rate = (self._acked_total - first_total) / (now - first_time) if now > first_time else 0
        if rate <= 0:
            return "sending", f"{waiting}; sending"
        minutes = backlog / rate / 60
        eta = f"{minutes:,.0f} minutes" if minutes >= 1 else "under a minute"
        return "sending", f"{waiting}; about {eta} to go at {rate * 60:,.0f} readings a minute"

    def _report_progress(self, now: float) -> None:
        self._next_report = now + 10.0
        if self.report is None or self.status is None:
            return
        backlog = int(self.status().get("backlog", 0))
        state, words = self.progress(backlog, now)
        if (state, words) != self._last_report:
            self._last_report = (state, words)
            self.report(state, words)

    def publish_status(self, now: float) -> None:
        """Publish the retained status: online, with the heartbeat's figures."""
        self._next_heartbeat = now + self.settings.heartbeat_s
        fields: dict[str, Any] = dict(self.status()) if self.status is not None else {}
        fields.update(
            acks=ACK_FORMATS_READ,
            hub_subscribed=self.hub_subscribed,
            last_error=self.last_error or str(fields.get("last_error", "")),
        )
        if self.config_error:
            fields["config_error"] = self.config_error
        if self.config_revision is not None:
            fields["config_revision"] = self.config_revision
        for name, value in fields.items():
            if isinstance(value, str):
                fields[name] = status_text(value)
        if isinstance(fields.get("dropped"), list):
            fields["dropped"] = fields["dropped"][-MAX_STATUS_LIST:]
        try:
            self.client.publish(
                topic(self.settings.device_id, "status"),
                encode_status("online", **fields),
                retain=True,
            )
        except MqttError as error:
            log.debug("status not sent: %s", error)

    def _check_delivery(self, delivery: Delivery) -> None:
        try:
            reason = delivery.wait(0)
        except PublishRefused as error:
            if self.last_error != str(error):
                log.error("%s", error)
            self.last_error = str(error)
            return
        except MqttError:
            return
        subscribed = reason != NO_MATCHING_SUBSCRIBERS
        if subscribed != self.hub_subscribed:
            if subscribed:
                log.info("the hub is subscribed again")
            else:
                log.warning("the broker has the readings but the hub is not subscribed")
        self.hub_subscribed = subscribed


def _nothing() -> None:
    return None


def _status(state: str) -> bytes:
    return encode_status(state)


def client_factory(broker: BrokerSettings) -> Callable[..., MqttClient]:
    """A factory of uplink clients to ``broker`` (reconnecting quickly when it returns)."""

    def make(**kwargs: object) -> MqttClient:
        return MqttClient(broker, reconnect_min_s=0.5, reconnect_max_s=3.0, **kwargs)  # type: ignore[arg-type]

    return make
