"""Build the community page (`hallsense edge web`) from the node's settings."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from edge.link_profiles import for_settings
from edge.settings import EdgeSettings
from web_local.site import PageSettings, Site, resolve_page_settings


def page_settings_from(settings: EdgeSettings) -> dict[str, object]:
    """The page settings the node's settings file set (those left at their defaults are not)."""
    defaults = {f.name: f.default for f in dataclasses.fields(EdgeSettings)}
    chosen: dict[str, object] = {}
    for key in ("hall_name", "timezone", "opening_hours", "contact", "public_metrics"):
        value = getattr(settings, key)
        if value != defaults[key]:
            chosen[key] = value
    labels = settings.labels()
    if labels:
        chosen["sensor_labels"] = labels
    return chosen


def downlink_page_settings_path(settings: EdgeSettings) -> Path:
    """Where the agent keeps the hub's last validated page settings."""
    return settings.layout.page_settings


def build_site(settings: EdgeSettings) -> Site:
    """The Site the page app serves: the node's store and its page settings.

    The page settings are resolved per request, so settings the hub sends show at once.
    """
    from_file = page_settings_from(settings)
    downlink = downlink_page_settings_path(settings)

    def current() -> PageSettings:
        return resolve_page_settings(from_file, downlink)

    try:  # the node's uplink refuses a wrong profile; the page need not
        freshness = for_settings(settings).freshness if settings.broker_host else ""
    except ValueError:
        freshness = ""
    return Site(store_path=settings.db_path, page_settings=current, freshness=freshness)
