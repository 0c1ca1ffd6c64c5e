"""Alerts for the council IoT team: once per incident, and once when it is over.

A node that needs attention (:mod:`hub.attention`: offline, behind, a failing sensor, an
unsynchronised clock; not "never connected", see :data:`NOT_ALERTED`) for longer than
``after_s`` opens an incident, and the team is told once, by every configured notifier
(email, webhook). While the incident lasts nothing more is sent; when it clears a
recovery notice goes out. The offline rule already waits its own threshold before it
calls a node offline, so ``after_s`` comes on top of that.

Nothing is lost and nothing is sent twice across a restart, nor by several ``hub web``
processes watching one fleet: the open incidents and the notices not yet delivered live
in the hub store (or a JSON file: :mod:`hub.alert_state`). A notice that cannot be
delivered (mail server down, webhook answering 500) stays there and is tried again at the
next check, by the notifier that failed only.

A staged rollout that stops by itself (:mod:`hub.rollouts`) is told once too, by the same
notifiers, as a :func:`rollout_notice`: the ingestion worker acting on rollouts keeps it in
the hub store until every notifier has taken it (:mod:`hub.rollout_keeper`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from hub.alert_state import AlertState, FileAlertState
from hub.attention import DEFAULT_RULES, AttentionRules, concerns
from hub.store import DeviceState

log = logging.getLogger(__name__)

ROLLOUT_STOPPED = "rollout stopped"
"""The kind of the notice that a staged rollout stopped by itself."""

NOT_ALERTED = frozenset({"never"})
"""Concerns the fleet page lists but nobody is alerted to: a device registered and not yet
installed is work in hand, not an outage (it once alerted the team the moment it was
added)."""


@dataclass(frozen=True)
class Notice:
    """One thing to tell the team: an incident opened, or over."""

    device_id: str
    site: str
    kind: str
    words: str
    recovered: bool
    at_us: int

    @property
    def subject(self) -> str:
        """A mail subject a person can triage from their inbox."""
        state = "recovered" if self.recovered else self.kind
        if not self.device_id:  # about the whole fleet, such as a rollout
            return f"[hallsense] {self.site}: {state}"
        return f"[hallsense] {self.site} ({self.device_id}): {state}"

    @property
    def text(self) -> str:
        """The message in plain English."""
        if self.kind == ROLLOUT_STOPPED:
            return (
                f"{self.words}\n\nThe fleet page shows the rollout's progress, as does "
                "`hallsense hub rollout status`.\n"
            )
        if self.recovered:
            return (
                f"{self.site} ({self.device_id}) is well again: the problem below has cleared.\n\n"
                f"It was: {self.words}\n"
            )
        return (
            f"{self.site} ({self.device_id}) needs attention.\n\n{self.words}\n\n"
            "You will hear once more, when it has cleared. The fleet page shows the node's "
            "figures and events.\n"
        )


def rollout_notice(version: str, words: str, at_us: int) -> Notice:
    """The notice that the rollout of ``version`` stopped by itself, saying why in ``words``."""
    return Notice("", f"release {version}", ROLLOUT_STOPPED, words, False, at_us)


class Notifier(Protocol):
    """A way to tell the team; raises (OSError or ValueError) when it could not."""

    @property
    def name(self) -> str:
        """Which notifier: "email" or "webhook" (undelivered notices remember it)."""
        ...

    def send(self, notice: Notice) -> None:
        """Deliver one notice."""
        ...


class AlertMonitor:
    """Incidents from fleet snapshots, and the notices that tell of them."""

    def __init__(
        self,
        state: Path | AlertState,
        notifiers: Sequence[Notifier],
        *,
        after_s: float = 600.0,
        rules: AttentionRules = DEFAULT_RULES,
    ) -> None:
        if not notifiers:
            raise ValueError("alerts need at least one notifier (email or webhook)")
        self.rules = rules
        self.state = FileAlertState(state) if isinstance(state, Path) else state
        self.notifiers = list(notifiers)
        self.after_us = int(after_s * 1_000_000)
        self._state = self._load()

    def _load(self) -> dict[str, Any]:
        return {"seen": {}, "open": {}, "outbox": [], **self.state.load()}

    def _save(self) -> None:
        self.state.save(self._state)

    def check(self, fleet: Sequence[DeviceState], now_us: int) -> list[Notice]:
        """Open and close incidents for this snapshot; returns the notices it queued."""
        seen: dict[str, int] = self._state["seen"]
        open_: dict[str, dict[str, Any]] = self._state["open"]
        current: dict[str, tuple[DeviceState, str, str]] = {}
        for state in fleet:
            for concern in concerns(state, now_us, self.rules):
                if concern.kind in NOT_ALERTED:
                    continue
                current[f"{state.device_id}|{concern.kind}"] = (state, concern.kind, concern.words)
        queued: list[Notice] = []
        for key, (state, kind, words) in current.items():
            first = seen.setdefault(key, now_us)
            if key not in open_ and now_us - first >= self.after_us:
                open_[key] = {"site": state.name, "words": words, "at_us": now_us}
                queued.append(Notice(state.device_id, state.name, kind, words, False, now_us))
        for key in [k for k in seen if k not in current]:
            del seen[key]
        for key in [k for k in open_ if k not in current]:
            incident = open_.pop(key)
            device_id, kind = key.split("|", 1)
            queued.append(
                Notice(device_id, incident["site"], kind, incident["words"], True, now_us)
            )
        for notice in queued:
            self._state["outbox"].append(
                {"notice": asdict(notice), "to": [n.name for n in self.notifiers]}
            )
        self._save()
        return queued

    def deliver(self) -> int:
        """Send what waits; returns how many deliveries failed (they wait for next time)."""
        failed = 0
        remaining = []
        by_name = {notifier.name: notifier for notifier in self.notifiers}
        for item in self._state["outbox"]:
            notice = Notice(**item["notice"])
            still = []
            for name in item["to"]:
                notifier = by_name.get(name)
                if notifier is None:
                    continue  # that notifier is no longer configured
                try:
                    notifier.send(notice)
                except (OSError, ValueError) as error:
                    failed += 1
                    still.append(name)
                    log.warning("alert to %s not delivered, will retry: %s", name, error)
            if still:
                remaining.append({"notice": item["notice"], "to": still})
        self._state["outbox"] = remaining
        self._save()
        return failed

    def round(self, fleet: Sequence[DeviceState], now_us: int) -> None:
        """One check and delivery, by whichever process holds the state (:mod:`hub.alert_state`).

        Several ``hub web`` processes may watch one fleet: each round starts from a fresh
        read of the state, so each incident alerts once; a process that finds another
        acting skips its round.
        """
        with self.state.held() as mine:
            if not mine:
                return
            self._state = self._load()
            self.check(fleet, now_us)
            self.deliver()

    def run(
        self,
        fetch_fleet: Callable[[], Sequence[DeviceState]],
        now_us: Callable[[], int],
        stop: threading.Event,
        interval_s: float = 60.0,
    ) -> None:
        """Check and deliver every ``interval_s`` until ``stop``; never raises."""
        while not stop.is_set():
            try:
                self.round(fetch_fleet(), now_us())
            except Exception:
                log.exception("checking the fleet for alerts failed; trying again later")
            stop.wait(interval_s)
