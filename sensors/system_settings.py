"""The system driver's settings (the Pi's own health), declared for the node's settings loader."""

from __future__ import annotations

from dataclasses import dataclass

from sensors.settings import DriverSettings, NoChecks, setting


@dataclass(frozen=True)
class SystemSettings(NoChecks):
    """``HALLSENSE_SYSTEM_*``."""

    interval_s: float = setting(
        60.0, "System driver (the Pi's own health): seconds between readings.", "s", above=0
    )


SETTINGS = DriverSettings(
    "system",
    SystemSettings,
    # The disk whose free space it reports is the one the node keeps its data on.
    from_node=lambda node: {"disk_path": node.data_dir},
)
