"""The SDS011 (particulates) driver's settings, declared for the node's settings loader."""

from __future__ import annotations

from dataclasses import dataclass

from sensors.settings import DriverSettings, NoChecks, setting


@dataclass(frozen=True)
class Sds011Settings(NoChecks):
    """``HALLSENSE_SDS011_*``."""

    interval_s: float = setting(
        300.0, "SDS011 driver (particulates): seconds between readings.", "s", above=0
    )
    port: str = setting("/dev/ttyUSB0", "SDS011 driver: its serial port.")
    warmup_s: float = setting(
        30.0, "SDS011 driver: how long the fan runs before a reading counts.", "s", min=0
    )
    duty_cycle: bool = setting(
        True, "SDS011 driver: sleep between readings, to spare the laser (8,000 hours' life)."
    )


SETTINGS = DriverSettings("sds011", Sds011Settings)
