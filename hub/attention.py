"""Which nodes need the council IoT team's attention, and why, in words.

One set of rules for the fleet page's "needs attention" filter, its per-node words, and
(later) the alerts: a node is a concern when it has been offline longer than
:data:`OFFLINE_AFTER_S`, when it is behind (more than :data:`BEHIND_READINGS` readings
waiting, or its oldest waiting reading has waited longer than :data:`BEHIND_AFTER_S` by
the hub's clock: :mod:`hub.backlog_age`), when a sensor is failing, when another part of
the node reports a fault (its password rotation, say), when its clock is not
synchronised, or when the hub has lately refused its messages (malformed, over a quota)
or kept some aside that it could not handle. A backlog is never a failing sensor: the
node sends only its parts' failures as ``last_error``, and a few readings waiting for the
next batch are how a healthy node works. Pure
functions of a :class:`hub.store.DeviceState` and the time: fast enough for a thousand
nodes a request.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.backlog_age import waited_s
from hub.metrics import node_status
from hub.quotas import QUOTA_READINGS
from hub.store import QUARANTINED, DeviceState
from presentation.words import duration_words

OFFLINE_AFTER_S = 15 * 60
"""Longer than a missed heartbeat or two and a broker restart: a real outage."""
BEHIND_READINGS = 50_000
"""About a day of a busy hall's readings waiting."""
BEHIND_AFTER_S = 6 * 3600
"""The oldest reading still waiting after this long by the hub's clock: the link is not
keeping up."""
NODE_PARTS = {
    "credentials": "its broker password",
    "enrolment": "enrolment",
    "store": "its store",
    "uplink": "its link to the hub",
}
"""Parts of the node that report faults as drivers do, but are not sensors."""
QUOTA_RECENT_S = 3600
"""A quota exceeded within this long is a concern; an honest node never exceeds one."""
REFUSED_RECENT_S = 24 * 3600
"""Refused or quarantined messages within this long are a concern."""


@dataclass(frozen=True)
class AttentionRules:
    """The thresholds of the rules, settable at the hub (``HALLSENSE_OFFLINE_AFTER_S`` …)."""

    offline_after_s: float = OFFLINE_AFTER_S
    behind_readings: int = BEHIND_READINGS
    behind_after_s: float = BEHIND_AFTER_S


DEFAULT_RULES = AttentionRules()


@dataclass(frozen=True)
class Concern:
    """One reason a node needs attention."""

    kind: str
    """``offline``, ``never``, ``behind``, ``sensor``, ``node``, ``clock``, ``refused``,
    ``quota`` or ``quarantined``."""
    words: str


def concerns(
    state: DeviceState, now_us: int, rules: AttentionRules = DEFAULT_RULES
) -> list[Concern]:
    """Why ``state``'s node needs attention (empty when it does not)."""
    found: list[Concern] = []
    if state.last_seen_us is None:
        return [Concern("never", "Has never connected: check it is installed and enrolled")]
    quiet_s = (now_us - state.last_seen_us) / 1e6
    if not state.online and quiet_s > rules.offline_after_s:
        found.append(Concern("offline", f"Offline for {duration_words(quiet_s)}"))
    status = node_status(state)
    backlog = status.get("backlog")
    waiting_s = waited_s(status, now_us)
    # Only a node still connected is judged behind: the figures of one that has gone are
    # its last words, and "offline" says what is wrong with it.
    if state.online and (
        (isinstance(backlog, int) and backlog > rules.behind_readings)
        or waiting_s > rules.behind_after_s
    ):
        count = (
            f"{backlog:,} reading{'s' if backlog != 1 else ''} waiting"
            if isinstance(backlog, int)
            else "readings waiting"
        )
        found.append(
            Concern("behind", f"Behind: {count}, the oldest for {duration_words(waiting_s)}")
        )
    last_error = status.get("last_error")
    if isinstance(last_error, str) and last_error:
        part, _, what = last_error.partition(": ")
        if part in NODE_PARTS and what:
            found.append(Concern("node", f"Node problem ({NODE_PARTS[part]}): {what[:160]}"))
        else:
            found.append(Concern("sensor", f"Sensor failing: {last_error[:160]}"))
    if status.get("clock_synchronised") is False:
        found.append(Concern("clock", "Clock not synchronised: readings are held back"))
    found.extend(refusal_concerns(state, now_us))
    return found


def refusal_concerns(state: DeviceState, now_us: int) -> list[Concern]:
    """Concerns from what the hub refused or kept aside of the node's messages lately."""
    found: list[Concern] = []
    for refusal in state.refusals:
        since_s = (now_us - refusal.last_at_us) / 1e6
        if refusal.reason == QUOTA_READINGS:
            continue  # a node catching up after days offline: told to wait, not a concern
        if refusal.reason.startswith("over its quota"):
            if since_s <= QUOTA_RECENT_S:
                found.append(
                    Concern(
                        "quota",
                        f"{refusal.reason[0].upper()}{refusal.reason[1:]}: "
                        f"{refusal.count:,} turned away, the latest {duration_words(since_s)} ago",
                    )
                )
        elif refusal.reason == QUARANTINED:
            if since_s <= REFUSED_RECENT_S:
                found.append(
                    Concern(
                        "quarantined",
                        f"{refusal.count:,} message{'s' if refusal.count != 1 else ''} the hub "
                        f"could not handle kept aside, the latest {duration_words(since_s)} ago",
                    )
                )
        elif since_s <= REFUSED_RECENT_S:
            found.append(
                Concern(
                    "refused",
                    f"Sends messages the hub refuses ({refusal.reason}): {refusal.count:,}, "
                    f"the latest {duration_words(since_s)} ago: {refusal.detail[:120]}",
                )
            )
    return found
