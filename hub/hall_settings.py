"""A hall's settings as its parish clerk edits them at the hub, sent over the config downlink.

What a clerk may change: the hall's name, its opening hours, the sensors' labels and
which metrics are public (on the hall's page and in the hub's open data). The hub keeps
the config it last sent each node (:meth:`node_config`); an edit starts from that, so a
clerk changing the opening hours keeps the labels and sample intervals sent before, and
everything else the node falls back to its own settings file for. The release a staged
rollout allows the node (:mod:`hub.rollouts`) is kept too: a clerk's edit never holds
back or lets through an update.

:func:`apply_edit` checks the new settings exactly as the node will (the config's own
decoder), sends them (the caller's ``send``, which publishes the retained config and
records it), and returns the config; nothing is recorded when sending fails. Whether the
node has applied it shows later in :class:`HallSettings` (``applied_at_us``, ``error``),
from the node's status.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from hub.config_downlink import build_config, next_revision
from hub.store import SentConfig
from hub_sync.node_config import PAGE_LABEL_MAX, PAGE_TEXT_MAX
from hub_sync.untrusted_text import CONTROL_CHARACTER
from hub_sync.wire_errors import ProtocolError
from presentation.vocabulary import (
    DEFAULT_PUBLIC_METRICS,
    METRICS,
    PUBLISHABLE_METRICS,
    metric_words,
)

EDITABLE = ("hall_name", "opening_hours", "public_metrics", "sensor_labels")
"""The page settings a clerk may change (``contact`` stays with the IoT team)."""


class HallSettingsError(ValueError):
    """An edit that cannot be sent, naming the field and what to write instead."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


class ConfigSource(Protocol):
    """The hub store's record of configs sent."""

    def node_config(self, device_id: str) -> SentConfig | None:
        """The config last sent, or None."""
        ...


@dataclass(frozen=True)
class HallSettings:
    """What the hub last told a node to show, and what became of it."""

    device_id: str
    intervals: dict[str, float] = field(default_factory=dict)
    page: dict[str, Any] = field(default_factory=dict)
    revision: int | None = None
    sent_at_us: int | None = None
    sent_by: str = ""
    applied_at_us: int | None = None
    error: str = ""
    release: str = ""
    """The release the config allows the node ("" holds it where it is)."""

    @property
    def state(self) -> str:
        """``none`` (never sent), ``waiting`` (not yet confirmed), ``applied`` or ``refused``."""
        if self.revision is None:
            return "none"
        if self.applied_at_us is not None:
            return "applied"
        return "refused" if self.error else "waiting"


def hall_settings(source: ConfigSource, device_id: str) -> HallSettings:
    """The hall's settings as the hub last sent them (empty when it never has)."""
    sent = source.node_config(device_id)
    if sent is None:
        return HallSettings(device_id)
    body = json.loads(sent.config_json)
    return HallSettings(
        device_id,
        dict(body.get("intervals", {})),
        dict(body.get("page", {})),
        sent.revision,
        sent.sent_at_us,
        sent.sent_by,
        sent.applied_at_us,
        sent.error,
        str(body.get("release", "")),
    )


def in_effect_public_metrics(current: HallSettings) -> tuple[str, ...]:
    """What visitors see now: the public metrics the hub sent, or the node's defaults.

    A node the hub never sent public metrics shows :data:`DEFAULT_PUBLIC_METRICS` (unless
    its own settings file says otherwise, which the hub cannot see), so the form starts
    from those rather than from nothing: a clerk who changes only the opening hours must
    not send an empty selection and blank the hall's page.
    """
    sent = current.page.get("public_metrics")
    if isinstance(sent, list):
        return tuple(m for m in sent if isinstance(m, str))
    return DEFAULT_PUBLIC_METRICS


def offered_metrics(current: HallSettings) -> tuple[str, ...]:
    """The metrics the form offers: the publishable ones and any already public."""
    extra = [m for m in in_effect_public_metrics(current) if m not in PUBLISHABLE_METRICS]
    return (*PUBLISHABLE_METRICS, *(m for m in extra if m in METRICS))


def sensor_words(sensor_id: str, metrics: set[str]) -> str:
    """A sensor as a clerk can find it: what it measures, then its own name."""
    if not metrics:
        return f"sensor {sensor_id}"
    measured = ", ".join(metric_words(m).lower() for m in sorted(metrics)[:3])
    more = ", …" if len(metrics) > 3 else ""
    return f"the sensor measuring {measured}{more} ({sensor_id})"


def _printable(name: str, value: str) -> str:
    """``value`` with its white space made single spaces, if it holds no control character."""
    value = " ".join(value.split())
    found = CONTROL_CHARACTER.search(value)
    if found:
        raise HallSettingsError(
            name, f"remove the control character U+{ord(found.group()):04X}; it cannot be shown"
        )
    return value


def _text(name: str, value: str, *, required: bool = False) -> str:
    value = _printable(name, value)
    if required and not value:
        raise HallSettingsError(name, "must not be empty")
    if len(value) > PAGE_TEXT_MAX:
        raise HallSettingsError(name, f"at most {PAGE_TEXT_MAX} characters, please")
    return value


def checked_edit(
    form: Mapping[str, str],
    sensors: Sequence[str],
    metrics: Sequence[str],
) -> dict[str, Any]:
    """The page settings in a submitted form, checked; raises naming the first bad field.

    ``form`` has ``hall_name``, ``opening_hours``, ``label:<sensor>`` for each of
    ``sensors`` and ``public:<metric>`` (present when ticked) for each of ``metrics``.
    An empty label means "no label" (the node shows the sensor's own name).
    """
    page: dict[str, Any] = {
        "hall_name": _text("hall_name", form.get("hall_name", ""), required=True),
        "opening_hours": _text("opening_hours", form.get("opening_hours", "")),
        "public_metrics": [m for m in metrics if form.get(f"public:{m}")],
    }
    labels = {}
    for sensor in sensors:
        label = _printable(f"label:{sensor}", form.get(f"label:{sensor}", ""))
        if len(label) > PAGE_LABEL_MAX:
            raise HallSettingsError(
                f"label:{sensor}", f"a label is at most {PAGE_LABEL_MAX} characters"
            )
        if label:
            labels[sensor] = label
    page["sensor_labels"] = labels
    if not page["public_metrics"]:
        raise HallSettingsError(
            f"public:{metrics[0]}" if metrics else "public_metrics",
            "tick at least one measurement: with none, the hall's page shows no readings",
        )
    return page


def apply_edit(
    current: HallSettings,
    changes: Mapping[str, Any],
    send: Callable[[str, bytes], None],
    *,
    now_s: float | None = None,
) -> int:
    """Send the hall's settings with ``changes`` made; returns the new revision.

    Raises:
        HallSettingsError: a change is not one a clerk may make, or the node would refuse it.
        Whatever ``send`` raises when the broker cannot be reached (nothing is recorded).
    """
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise HallSettingsError(sorted(unknown)[0], "not a setting a clerk can change here")
    page = {**current.page, **changes}
    if not page.get("sensor_labels"):
        page.pop("sensor_labels", None)
    revision = next_revision(current.revision, now_s)
    try:
        _, payload = build_config(revision, current.intervals, page, current.release)
    except ProtocolError as error:
        raise HallSettingsError("settings", str(error)) from None
    send(current.device_id, payload)
    return revision
