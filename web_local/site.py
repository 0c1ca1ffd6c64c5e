"""What the community page knows of its node: the store's path and the page's settings.

The page is read-only. What the parish clerk may change (hall name, opening hours,
contact, sensor labels, which metrics are public) comes from the node's settings file,
overridden by the last validated settings the hub sent down (kept in the node's data
directory across restarts); each value remembers where it came from, and the status
page shows it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Literal
from zoneinfo import ZoneInfo

from presentation.vocabulary import DEFAULT_PUBLIC_METRICS, METRICS

Source = Literal["default", "settings file", "hub"]

PAGE_KEYS = ("hall_name", "opening_hours", "contact", "public_metrics", "sensor_labels")
"""The settings the hub's config downlink may change for the page."""


def _frozen(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class PageSettings:
    """The page's own settings, each with where it came from."""

    hall_name: str = "Village hall"
    timezone: str = "Europe/London"
    opening_hours: str = ""
    contact: str = ""
    public_metrics: tuple[str, ...] = DEFAULT_PUBLIC_METRICS
    sensor_labels: Mapping[str, str] = field(default_factory=lambda: _frozen({}))
    sources: Mapping[str, Source] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def zone(self) -> ZoneInfo:
        """The hall's time zone."""
        return ZoneInfo(self.timezone)

    def source(self, key: str) -> Source:
        """Where the value of ``key`` came from."""
        return self.sources.get(key, "default")

    def known_public_metrics(self) -> list[str]:
        """The public metrics that the vocabulary knows, in the settings' order."""
        return [m for m in self.public_metrics if m in METRICS]

    def label(self, sensor_id: str, metric: str) -> str:
        """What visitors call a sensor's metric: a label from the settings or the vocabulary's."""
        own = self.sensor_labels.get(sensor_id)
        if own:
            return own
        known = METRICS.get(metric)
        return known.description if known else metric


class PageConfigError(ValueError):
    """Page settings that fail validation, naming the key and what was wrong."""


def validate_page_config(values: Mapping[str, object]) -> dict[str, object]:
    """Check page settings from the hub or a file; returns them normalised.

    Raises:
        PageConfigError: naming the first bad key.
    """
    out: dict[str, object] = {}
    for key, value in values.items():
        if key not in PAGE_KEYS:
            raise PageConfigError(f"{key}: not a page setting (known: {', '.join(PAGE_KEYS)})")
        if key in ("hall_name", "opening_hours", "contact"):
            if not isinstance(value, str) or len(value) > 200:
                raise PageConfigError(f"{key}: must be text of at most 200 characters")
            if key == "hall_name" and not value.strip():
                raise PageConfigError("hall_name: must not be empty")
            out[key] = value.strip()
        elif key == "public_metrics":
            if not isinstance(value, list | tuple) or not all(isinstance(m, str) for m in value):
                raise PageConfigError("public_metrics: must be a list of metric names")
            unknown = [m for m in value if m not in METRICS]
            if unknown:
                raise PageConfigError(f"public_metrics: unknown metrics {', '.join(unknown)}")
            out[key] = tuple(value)
        else:  # sensor_labels
            if not isinstance(value, dict) or not all(
                isinstance(k, str) and isinstance(v, str) and len(v) <= 80 for k, v in value.items()
            ):
                raise PageConfigError(
                    "sensor_labels: must map sensor ids to labels of at most 80 characters"
                )
            out[key] = _frozen(value)
    return out


def resolve_page_settings(
    from_file: Mapping[str, object], downlink_file: Path | None
) -> PageSettings:
    """The page's settings: the file's values over the defaults, the hub's over both.

    ``from_file`` holds the keys the node's settings file set (already validated by the
    settings loader). A downlink file that cannot be read or fails validation is ignored
    (the agent validated it before writing it; a damaged one must not take the page down).
    """
    values: dict[str, object] = {}
    sources: dict[str, Source] = {}
    for key, value in from_file.items():
        values[key] = value
        sources[key] = "settings file"
    if downlink_file is not None and downlink_file.exists():
        try:
            from_hub = validate_page_config(json.loads(downlink_file.read_text("utf-8")))
        except (OSError, ValueError):
            from_hub = {}
        for key, value in from_hub.items():
            values[key] = value
            sources[key] = "hub"
    return PageSettings(**values, sources=MappingProxyType(sources))  # type: ignore[arg-type]


def utc_now() -> datetime:
    """Now, as an aware UTC datetime."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Site:
    """Everything the Flask app needs: where the store is and the page's settings.

    ``page_settings`` is called per request, so a downlink applied by the agent shows
    without restarting the page.
    """

    store_path: Path
    page_settings: Callable[[], PageSettings] = PageSettings
    now: Callable[[], datetime] = utc_now
    max_download_days: int = 366
    """The longest date range one download may ask for."""
    freshness: str = ""
    """How fresh the hub's copy can be under the node's link profile, in words
    (edge.link_profiles); empty says nothing."""
