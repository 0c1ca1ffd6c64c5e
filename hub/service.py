"""The ingestion worker process: a shared MQTT subscription feeding an IngestWorker.

With ``HALLSENSE_OTHER_BROKERS`` the worker holds the subscription on every broker, each
connection acknowledging its own messages in order, and sends what the nodes need (acks,
configs) on every one (:mod:`hub.every_broker`).

Beside ingestion, each worker keeps the staged rollouts of releases going
(:class:`hub.rollout_keeper.RolloutKeeper`, in a thread with a store connection of its
own; one worker at a time acts, by a lease in the hub store).
"""

from __future__ import annotations

import functools
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from hub.alerting import Notifier
from hub.every_broker import EveryBroker
from hub.ingest import AckFormats, IngestCounters, IngestWorker
from hub.notifiers import EmailNotifier, WebhookNotifier
from hub.quotas import DeviceQuotas, RefusalTally
from hub.rollout_keeper import KeeperStore, RolloutKeeper
from hub.settings import HubSettings
from hub.store import HubStore, HubStoreError
from hub_sync.brokers import parse_brokers
from hub_sync.mqtt import BrokerSettings, Message, MqttClient
from hub_sync.topics import TOPIC_PREFIX
from provisioning.log_limit import LogLimiter

log = logging.getLogger(__name__)

RETENTION_EVERY_S = 3600.0
REFUSALS_EVERY_S = 5.0
"""How often quota refusals counted in memory are written to the hub store."""
STORE_RETRY_PAUSE_S = 1.0
"""Pause after a failed commit, so a store that is down does not make a busy loop."""


class ServiceStore(HubStore, KeeperStore, Protocol):
    """A hub store connection as a worker uses it: ingestion, and the rollouts."""


def alert_notifiers(settings: HubSettings) -> list[Notifier]:
    """The notifiers the alert settings ask for (email, webhook, both or none).

    A mail server without ``HALLSENSE_ALERT_EMAIL_TO`` e-mails no alert: it is there for
    the clerks' monthly report e-mails only (:mod:`hub.report_sender`).

    Raises:
        ValueError: naming the alert setting that is wrong.
    """
    notifiers: list[Notifier] = []
    recipients = tuple(a.strip() for a in settings.alert_email_to.split(",") if a.strip())
    if settings.alert_smtp_host and not settings.alert_email_from:
        raise ValueError(
            "mail from the hub needs HALLSENSE_ALERT_EMAIL_FROM beside HALLSENSE_ALERT_SMTP_HOST"
        )
    if settings.alert_smtp_host and recipients:  # without them, the server mails reports only
        notifiers.append(
            EmailNotifier(
                settings.alert_smtp_host,
                settings.alert_smtp_port,
                settings.alert_email_from,
                recipients,
                settings.alert_smtp_security,
                settings.alert_smtp_username,
                settings.alert_smtp_password,
            )
        )
    if settings.alert_webhook_url:
        notifiers.append(WebhookNotifier(settings.alert_webhook_url, settings.alert_webhook_secret))
    return notifiers


def broker_settings(settings: HubSettings) -> BrokerSettings:
    """How the workers reach the broker."""
    return BrokerSettings(
        settings.broker_host,
        settings.broker_port,
        settings.broker_username,
        settings.broker_password,
        settings.broker_ca_file,
    )


def every_broker_settings(settings: HubSettings) -> list[BrokerSettings]:
    """How the workers reach each broker: the broker, then ``HALLSENSE_OTHER_BROKERS``.

    Raises:
        ValueError: naming the setting, when one of the others is not host[:port].
    """
    first = broker_settings(settings)
    try:
        others = parse_brokers(settings.other_brokers, settings.broker_port)
    except ValueError as error:
        raise ValueError(f"HALLSENSE_OTHER_BROKERS: {error}") from None
    return [first, *(replace(first, host=host, port=port) for host, port in others)]


GROUP_MOST = 32
"""Messages one writer stores in one commit at most (group commit); also how many wait
for the writers at most, beyond which the MQTT client's thread waits too. The broker's
window (``max_inflight_messages``, 20) keeps fewer than this in flight anyway."""


@dataclass(frozen=True)
class Queued:
    """A message waiting for a writer: the broker it came from and its place in order."""

    broker: int
    ticket: int
    connection: int
    message: Message


class InOrderAcks:
    """Acknowledges received messages to the broker in the order they arrived.

    MQTT 5 (4.6) asks a receiver to send PUBACKs in the order the PUBLISHes came, while
    several writers finish messages out of order. A message from an earlier connection
    is not acknowledged at all: its packet id means nothing on the new one, and a broker
    that kept the session sends it again.
    """

    def __init__(self, send: Callable[[Message], None]) -> None:
        self._send = send
        self._lock = threading.Lock()
        self._issued = 0
        self._next = 0
        self._finished: dict[int, Message | None] = {}

    def ticket(self) -> int:
        """A number for the next message, in arrival order."""
        with self._lock:
            self._issued += 1
            return self._issued - 1

    def finish(self, ticket: int, message: Message | None) -> None:
        """Ticket ``ticket`` is handled; None means: do not acknowledge it."""
        with self._lock:
            self._finished[ticket] = message
            while self._next in self._finished:
                ready = self._finished.pop(self._next)
                self._next += 1
                if ready is not None:
                    self._send(ready)


class IngestService:
    """Ingestion workers: a shared subscription to every node's readings and status.

    Several processes run side by side on the same shared subscription, and each runs
    ``writers`` threads with a hub store connection of its own: while one waits on the
    database, another decodes and builds rows. Each message is acknowledged to the
    broker only once handled (after the commit), in arrival order; when the store is
    unavailable it is acknowledged without an ack to the node, so the broker's window
    stays open and the node resends later.
    """

    def __init__(
        self,
        settings: HubSettings,
        open_store: Callable[[], ServiceStore],
        *,
        rollouts_every_s: float | None = None,
    ) -> None:
        self.settings = settings
        self.stop_event = threading.Event()
        self.subscribed = threading.Event()
        """Set once the broker has granted this connection's subscription to readings."""
        self._open_store = open_store
        self.rollouts_every_s = (
            settings.rollout_check_s if rollouts_every_s is None else rollouts_every_s
        )
        # One connection per broker, each with its own session and its own order of acks.
        self.clients = [
            MqttClient(
                broker,
                # "_" cannot start a device id, so no device can take a worker's session.
                client_id=f"_hub-{settings.worker_id}",
                on_message=functools.partial(self._on_message, n),
                on_connect=functools.partial(self._connected, n),
                session_expiry_s=settings.session_expiry_s,
                manual_ack=True,
            )
            for n, broker in enumerate(every_broker_settings(settings))
        ]
        self.client = self.clients[0]
        self._granted = [False] * len(self.clients)
        # What the hub sends the nodes (acks, configs) goes on every broker.
        publisher = self.client if len(self.clients) == 1 else EveryBroker(self.clients)
        # One connection per writer, and one more for status messages.
        self.stores: list[HubStore] = [open_store() for _ in range(settings.writers + 1)]
        self.store = self.stores[0]
        for store in self.stores:
            store.series_quota = settings.quota_series
        # Shared by the writers: a device's quota holds across them, and refusals are
        # counted in memory until written (quota ones, and any the store was away for).
        self.refusals = RefusalTally()
        self.quotas = DeviceQuotas(
            settings.quota_messages_per_minute,
            settings.quota_bytes_per_minute,
            settings.quota_readings_per_minute,
            tally=self.refusals,
        )
        log_limit = LogLimiter(logging.getLogger("hub.ingest"))
        ack_formats = AckFormats()  # statuses come to one writer, acks go from all
        self.workers = [
            IngestWorker(
                store,
                publisher,
                fault_point=settings.fault_point,
                quotas=self.quotas,
                log_limit=log_limit,
                refusals=self.refusals,
                ack_formats=ack_formats,
            )
            for store in self.stores
        ]
        self.status_worker = self.workers[-1]
        self.publisher = publisher
        self._acks = [
            InOrderAcks(functools.partial(self._ack_to_broker, client)) for client in self.clients
        ]
        self._connection = [0] * len(self.clients)
        # Bounded: a full queue holds the MQTT client's thread, so the broker's window does
        # the rest. Batches go to whichever writer is free; statuses to one writer of
        # their own, so that each device's land in the order they came.
        self._queue: queue.Queue[Queued | None] = queue.Queue(maxsize=GROUP_MOST)
        self._statuses: queue.Queue[Queued | None] = queue.Queue(maxsize=GROUP_MOST)
        self._threads = [
            threading.Thread(target=self._write, args=(worker, self._queue), name=f"hub-writer-{n}")
            for n, worker in enumerate(self.workers[:-1], 1)
        ]
        self._threads.append(
            threading.Thread(
                target=self._write, args=(self.status_worker, self._statuses), name="hub-statuses"
            )
        )

    def _ack_to_broker(self, client: MqttClient, message: Message) -> None:
        try:
            client.ack(message)
        except OSError as error:
            # The connection went (or is being closed at a stop): the broker sends the
            # message again on the next one, and the store takes it idempotently.
            log.debug("could not acknowledge a message to the broker: %s", error)

    def _connected(self, n: int, client: MqttClient) -> None:
        self._connection[n] += 1
        group = self.settings.share_group
        self._granted[n] = False
        self.subscribed.clear()

        def granted() -> None:
            self._granted[n] = True
            if all(self._granted):
                self.subscribed.set()

        client.subscribe_nowait(f"$share/{group}/{TOPIC_PREFIX}/+/readings", on_granted=granted)
        # Retain as published: a malformed status the broker keeps is cleared at once.
        client.subscribe_nowait(f"$share/{group}/{TOPIC_PREFIX}/+/status", retain_as_published=True)

    def _on_message(self, n: int, message: Message) -> None:
        ticket = self._acks[n].ticket()
        # Birth, heartbeat and will must land in the order they came: an "offline"
        # overtaken by the "online" before it would show a gone node as up. One writer
        # takes them all, in order, many to a commit.
        to = self._statuses if message.topic.endswith("/status") else self._queue
        to.put(Queued(n, ticket, self._connection[n], message))

    def _handle(self, worker: IngestWorker, items: list[Queued]) -> None:
        # Every ticket is finished, whatever happens: one left open would hold back the
        # broker acks of every message after it, and the broker's window would close.
        outcomes: list[str] = []
        try:
            outcomes = list(worker.handle_group([item.message for item in items]))
        finally:
            for item in items:
                current = item.connection == self._connection[item.broker]
                self._acks[item.broker].finish(item.ticket, item.message if current else None)
        if "store-unavailable" in outcomes:
            time.sleep(STORE_RETRY_PAUSE_S)

    def _write(self, worker: IngestWorker, waiting: queue.Queue[Queued | None]) -> None:
        stopping = False
        while not stopping:
            first = waiting.get()
            if first is None:
                return
            # Group commit: whatever else waits goes in the same commit.
            items = [first]
            while len(items) < GROUP_MOST:
                try:
                    item = waiting.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                items.append(item)
            try:
                self._handle(worker, items)
            except Exception:
                # A writer must never die: the queue would fill and hold the MQTT client's thread.
                log.exception("a writer failed; it goes on with the next message")

    @property
    def counters(self) -> IngestCounters:
        """What this process's writers have done, summed."""
        total = IngestCounters()
        for worker in self.workers:
            for name, value in vars(worker.counters).items():
                setattr(total, name, getattr(total, name) + value)
        return total

    def record_refusals(self) -> int:
        """Write the refusals counted in memory since the last call to the hub store.

        Returns how many messages they cover; kept for the next call if the store is away.
        """
        refusals = self.refusals.take()
        if not refusals:
            return 0
        at_us = time.time_ns() // 1000
        recorded = 0
        for key, refused in list(refusals.items()):
            device_id, quota = key
            try:
                self.store.count_refused(device_id, quota, refused.detail, at_us, refused.count)
            except HubStoreError as error:
                log.error("refusals not recorded yet: %s", error)
                self.refusals.give_back(refusals)  # only those not recorded: none counts twice
                return recorded
            del refusals[key]
            recorded += refused.count
        return recorded

    def keep_rollouts(self) -> None:
        """Keep the staged rollouts going until stopped (a thread of :meth:`run`)."""
        try:
            notifiers = alert_notifiers(self.settings)
        except ValueError as error:
            log.error("rollout alerts cannot be sent: %s", error)
            notifiers = []
        while not self.publisher.wait_connected(1.0):
            if self.stop_event.is_set():
                return
        try:
            store = self._open_store()
        except HubStoreError as error:
            log.error("staged rollouts are not kept by this worker: %s", error)
            return
        keeper = RolloutKeeper(
            store,
            self.publisher,
            notifiers,
            holder=f"{self.settings.worker_id}-{os.getpid()}-{id(self):x}",
            lease_s=max(60.0, 4 * self.rollouts_every_s),
        )
        try:
            keeper.run(self.stop_event, self.rollouts_every_s)
        finally:
            store.close()

    def apply_retention(self) -> int:
        """Delete raw readings past the retention window; returns how many."""
        days = self.settings.raw_retention_days
        if not days:
            return 0
        try:
            deleted = self.store.prune(time.time_ns() // 1000 - int(days * 86_400_000_000))
        except HubStoreError as error:
            log.error("retention skipped: %s", error)
            return 0
        if deleted:
            log.info("retention: deleted %d raw readings older than %g days", deleted, days)
        return deleted

    def run(self) -> None:
        """Connect (retrying while the broker is away) and handle messages until stopped."""
        for thread in self._threads:
            thread.start()
        for client in self.clients:
            client.start_background()
        rollouts = threading.Thread(target=self.keep_rollouts, name="hub-rollouts", daemon=True)
        rollouts.start()
        log.info(
            "ingestion worker %s started with %d writers",
            self.settings.worker_id,
            len(self._threads) - 1,
        )
        next_retention = time.monotonic() + RETENTION_EVERY_S
        try:
            while not self.stop_event.wait(REFUSALS_EVERY_S):
                self.record_refusals()
                if time.monotonic() >= next_retention:
                    next_retention = time.monotonic() + RETENTION_EVERY_S
                    self.apply_retention()
        finally:
            self.stop_event.set()
            rollouts.join(30)  # a round under way may wait on the broker's answers
            for client in self.clients:
                client.close()
            for _ in self._threads[:-1]:
                self._queue.put(None)
            self._statuses.put(None)
            for thread in self._threads:
                thread.join()
            self.record_refusals()
            for store in self.stores:
                store.close()
            counters = self.counters
            log.info(
                "ingestion worker %s stopped: %d batches stored, %d rejected",
                self.settings.worker_id,
                counters.stored_batches,
                counters.rejected_batches,
            )
