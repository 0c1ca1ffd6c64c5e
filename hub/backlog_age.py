"""How long a node's oldest waiting reading has waited, measured by the hub's own clock.

A node's heartbeat names the time of its oldest unacknowledged reading, stamped by the
node's clock, which may be wrong by a year. So the hub notes when it first heard of that
reading (:func:`stamp_waiting_since`, as each status is stored) and judges "behind" by
how long it has heard of the same oldest reading since (:func:`waited_s`): minutes-old
readings from a Pi whose clock was a year slow are not "365 days" behind, and a backlog
the node sends newest first keeps its oldest reading waiting until it has all gone.

The hub keeps the time in the stored status under :data:`WAITING_SINCE`, a key no node
can send (a status with unknown fields is refused at the boundary).
"""

from __future__ import annotations

import json
from typing import Any

WAITING_SINCE = "hub_waiting_since_us"
"""The stored status's key for when (hub time, µs) the hub first heard of its oldest reading."""


def _load(status_json: str) -> dict[str, Any]:
    try:
        status = json.loads(status_json) if status_json else {}
    except ValueError:
        return {}
    return status if isinstance(status, dict) else {}


def stamp_waiting_since(status_json: str, previous_json: str, at_us: int) -> str:
    """``status_json`` as the hub stores it: with when the hub first heard of its oldest reading.

    The same oldest reading as the previous status keeps the previous time; a new one (or
    a backlog where there was none) starts at ``at_us``; no waiting reading, no time.
    """
    status = _load(status_json)
    oldest = status.get("oldest_unacknowledged")
    if not status or not isinstance(oldest, str) or not status.get("backlog"):
        return status_json
    previous = _load(previous_json)
    since = previous.get(WAITING_SINCE)
    if previous.get("oldest_unacknowledged") != oldest or not isinstance(since, int):
        since = at_us
    status[WAITING_SINCE] = since
    return json.dumps(status, separators=(",", ":"))


def waiting_since_us(status: dict[str, Any]) -> int | None:
    """When the hub first heard of the node's oldest waiting reading, or None."""
    since = status.get(WAITING_SINCE)
    return since if isinstance(since, int) and not isinstance(since, bool) else None


def waited_s(status: dict[str, Any], now_us: int) -> float:
    """Seconds the node's oldest waiting reading has waited by the hub's clock (0 if none)."""
    since = waiting_since_us(status)
    return max(0.0, (now_us - since) / 1e6) if since is not None else 0.0
