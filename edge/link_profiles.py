"""Link profiles: how a node uses its link to the hub, chosen by name (``HALLSENSE_LINK_PROFILE``).

A profile sets together what decides a link's cost and the data's freshness: the batch
window (how long live readings wait to go together), the MQTT keepalive and the status
heartbeat. The node's explicit settings (``HALLSENSE_UPLINK_BATCH_WINDOW_S``,
``HALLSENSE_UPLINK_KEEPALIVE_S``, ``HALLSENSE_UPLINK_HEARTBEAT_S``) override the profile
one by one: the profile gives the defaults.

Acks need no setting of their own: the hub acks each batch, so a profile's batch window
coalesces them too (one batch, one ack, per window), and the compact binary ack
(docs/protocol.md) is used with every node that says it reads it. The batch codec always
compresses at zlib's level 9: on a Pi it costs well under a millisecond per batch of a
window's readings, so no profile trades bytes for CPU.

The table lives beside the node's settings (``edge/``) so that the node's wiring and its
community page (``web_local``) can both read it; the hub learns a node's profile from its
status.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edge.settings import EdgeSettings


@dataclass(frozen=True)
class LinkProfile:
    """One named way of using the link."""

    name: str
    batch_window_s: float
    """Live readings wait up to this long to go together (a full batch goes at once)."""
    keepalive_s: int
    """MQTT keepalive: with no other traffic, a PINGREQ/PINGRESP this often."""
    heartbeat_s: float
    """The node's status (backlog, clock, health) this often."""
    means: str
    """The kind of link, in words."""

    @property
    def freshness(self) -> str:
        """How fresh the data at the hub can be, in words for a page."""
        return f"{self.means}: readings reach the hub within {_duration(self.batch_window_s)}"


PROFILES: dict[str, LinkProfile] = {
    profile.name: profile
    for profile in (
        LinkProfile("live", 120.0, 300, 600.0, "live link"),
        LinkProfile("metered", 1800.0, 2700, 7200.0, "metered link"),
        LinkProfile("satellite", 3600.0, 5400, 10800.0, "satellite link"),
    )
}
"""Every profile by name; ``live`` is the default."""
DEFAULT_PROFILE = "live"
MAX_BATCH_WINDOW_S = 86400.0
"""A batch window longer than a day would leave readings only on the node too long."""
MAX_KEEPALIVE_S = 65535
"""MQTT's keepalive is two bytes of seconds."""


def link_profile(name: str) -> LinkProfile:
    """The profile called ``name``.

    Raises:
        ValueError: an unknown name, listing the known ones.
    """
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(PROFILES)
        raise ValueError(f"unknown link profile {name!r}; known profiles: {known}") from None


def resolve(
    name: str,
    *,
    batch_window_s: float | None = None,
    keepalive_s: int | None = None,
    heartbeat_s: float | None = None,
) -> LinkProfile:
    """The profile ``name`` with each setting given explicitly (not None) in its place."""
    profile = link_profile(name)
    if batch_window_s is not None:
        profile = replace(profile, batch_window_s=batch_window_s)
    if keepalive_s is not None:
        profile = replace(profile, keepalive_s=keepalive_s)
    if heartbeat_s is not None:
        profile = replace(profile, heartbeat_s=heartbeat_s)
    return profile


def for_settings(settings: EdgeSettings) -> LinkProfile:
    """The node's profile, with its explicit uplink settings in the profile's place.

    Raises:
        ValueError: an unknown profile name, listing the known ones.
    """
    return resolve(
        settings.link_profile,
        batch_window_s=settings.uplink_batch_window_s,
        keepalive_s=settings.uplink_keepalive_s,
        heartbeat_s=settings.uplink_heartbeat_s,
    )


def _duration(seconds: float) -> str:
    if seconds < 1:
        return "a second"
    if seconds < 120:
        return f"{seconds:g} seconds"
    if seconds < 3600:
        return f"{seconds / 60:g} minutes"
    hours = seconds / 3600
    return f"{hours:g} hour" + ("" if hours == 1 else "s")
