"""The hub's hand on staged rollouts: it sends the configs, stops, completes and alerts.

Every ingestion worker (``hallsense hub run``, :class:`hub.service.IngestService`) runs a
:class:`RolloutKeeper` in a thread of its own, over a hub store connection of its own; a
lease in the hub store lets one at a time act, so several workers never send a config or
an alert twice. Each round, when there is anything to do, it reads the fleet and:

1. tells the halls of each stopped rollout that had not started to hold (their config's
   release cleared), then records the rollout as settled;
2. for the running rollout, does what :func:`hub.rollouts.next_step` says: stop it (the
   rule was met: an alert is queued and the halls not started hold), mark it completed,
   or send the release to the targeted halls whose config does not yet allow it;
3. delivers the rollout alerts not yet delivered, by each notifier that has not taken
   them (email, webhook: :mod:`hub.notifiers`), keeping the rest for the next round.

A config is the one last sent with only its release changed, at a new revision
(:func:`hub.config_downlink.with_release`), published retained on the worker's own
connection to the broker and recorded, as hall settings are. Every decision is
:mod:`hub.rollouts`'s; this module only carries them out. If the broker or the store is
away, the round stops and the next one starts again from what the store says.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Protocol

from hub.alerting import Notice, Notifier, rollout_notice
from hub.config_downlink import ConfigPublisher, ConfigRecord, publish_config, with_release
from hub.hall_settings import ConfigSource
from hub.rollouts import Node, alert_words, fleet_nodes, holds, next_step, targets
from hub.store import DeviceState, HubStoreError, RegisteredDevice, Rollout, RolloutRecords
from hub_sync.mqtt import MqttError
from hub_sync.wire_errors import ProtocolError

log = logging.getLogger(__name__)

KEEPER = "hallsense"
"""Who the audit trail says stopped or completed a rollout by the rule."""


class KeeperStore(ConfigSource, ConfigRecord, RolloutRecords, Protocol):
    """What the keeper uses of the hub store: the fleet, the configs sent, the rollouts."""

    def fleet(self) -> Sequence[DeviceState]: ...  # noqa: D102
    def registered(self) -> Sequence[RegisteredDevice]: ...  # noqa: D102


def now_us() -> int:
    """The hub's time in UTC microseconds."""
    return time.time_ns() // 1000


class RolloutKeeper:
    """Rounds of rollout work over one store connection and one broker connection."""

    def __init__(
        self,
        store: KeeperStore,
        client: ConfigPublisher,
        notifiers: Sequence[Notifier] = (),
        *,
        holder: str = "",
        lease_s: float = 60.0,
        clock: Callable[[], int] = now_us,
    ) -> None:
        self.store = store
        self.client = client
        self.notifiers = list(notifiers)
        self.holder = holder or f"keeper-{uuid.uuid4().hex[:12]}"
        self.lease_us = int(lease_s * 1_000_000)
        self.clock = clock

    def round(self) -> bool:
        """Do what the rollouts need now; False if there was nothing, or another worker acts.

        Raises:
            HubStoreError, MqttError: the store or the broker is away (the next round
                picks up from what the store says).
        """
        running = self.store.running_rollout()
        unsettled = self.store.unsettled_rollouts()
        if running is None and not unsettled and not self.store.rollout_alerts():
            return False
        at_us = self.clock()
        if not self.store.claim_rollout_lease(self.holder, at_us + self.lease_us, at_us):
            return False
        nodes = fleet_nodes(self.store.fleet(), self.store.registered(), self.store.sent_releases())
        keep = targets(running, (n.device_id for n in nodes)) if running is not None else ()
        for stopped in unsettled:
            self._hold(stopped, nodes, keep)
        if running is not None:
            self._advance(running, nodes)
        self._deliver()
        return True

    def _advance(self, rollout: Rollout, nodes: Sequence[Node]) -> None:
        step = next_step(rollout, nodes)
        if step.stop_reason:
            notice = rollout_notice(
                rollout.version, alert_words(rollout, step.progress, step.stop_reason), self.clock()
            )
            to = [notifier.name for notifier in self.notifiers]
            alert = json.dumps({"notice": asdict(notice), "to": to}) if to else ""
            if self.store.stop_rollout(
                rollout.rollout_id, step.stop_reason, actor=KEEPER, alert_json=alert
            ):
                log.warning(
                    "rollout %d of release %s stopped by itself: %s%s",
                    rollout.rollout_id,
                    rollout.version,
                    step.stop_reason,
                    "" if to else " (no alert: no HALLSENSE_ALERT_* notifier is set)",
                )
                self._hold(rollout, nodes, ())
        elif step.complete:
            if self.store.complete_rollout(rollout.rollout_id, actor=KEEPER):
                log.info("rollout %d of release %s completed", rollout.rollout_id, rollout.version)
        else:
            for device_id in step.send:
                self._send(device_id, rollout.version, f"rollout {rollout.rollout_id}")

    def _hold(self, stopped: Rollout, nodes: Sequence[Node], keep: Sequence[str]) -> None:
        for device_id in holds(stopped, nodes, keep):
            self._send(device_id, "", f"rollout {stopped.rollout_id} stopped")
        self.store.settle_rollout(stopped.rollout_id)

    def _send(self, device_id: str, release: str, actor: str) -> None:
        sent = self.store.node_config(device_id)
        try:
            _, payload = with_release(
                None if sent is None else (sent.revision, sent.config_json), release
            )
        except ProtocolError as error:
            # One hall's unusable record must not hold up the rollout for every other.
            log.error("cannot send %s its release config: %s", device_id, error)
            return
        publish_config(self.client, device_id, payload, record=self.store, actor=actor)

    def _deliver(self) -> None:
        by_name = {notifier.name: notifier for notifier in self.notifiers}
        for rollout_id, alert_json in self.store.rollout_alerts():
            try:
                item = json.loads(alert_json)
                notice = Notice(**item["notice"])
                names = [str(name) for name in item["to"]]
            except (ValueError, KeyError, TypeError) as error:
                log.error("rollout %d's alert is unreadable, dropped: %s", rollout_id, error)
                self.store.keep_rollout_alert(rollout_id, "")
                continue
            still = []
            for name in names:
                notifier = by_name.get(name)
                if notifier is None:
                    continue  # that notifier is no longer configured
                try:
                    notifier.send(notice)
                except (OSError, ValueError) as error:
                    still.append(name)
                    log.warning("rollout alert to %s not delivered, will retry: %s", name, error)
            kept = json.dumps({"notice": item["notice"], "to": still}) if still else ""
            self.store.keep_rollout_alert(rollout_id, kept)

    def run(self, stop: threading.Event, interval_s: float) -> None:
        """A round now and every ``interval_s`` until ``stop``; never raises."""
        try:
            while True:
                try:
                    self.round()
                except (HubStoreError, MqttError) as error:
                    log.error("rollout round not finished, trying again later: %s", error)
                except Exception:
                    log.exception("rollout round failed; trying again later")
                if stop.wait(interval_s):
                    return
        finally:
            try:
                self.store.release_rollout_lease(self.holder)
            except Exception as error:  # stopping: the lease expires anyway
                log.debug("rollout lease not given up: %s", error)
