"""The PMS5003/PMS7003 (particulates) driver's settings, declared for the node's settings loader."""

from __future__ import annotations

from dataclasses import dataclass

from sensors.settings import DriverSettings, NoChecks, setting


@dataclass(frozen=True)
class Pms5003Settings(NoChecks):
    """``HALLSENSE_PMS5003_*``."""

    interval_s: float = setting(
        300.0, "PMS5003/PMS7003 driver (particulates): seconds between readings.", "s", above=0
    )
    port: str = setting("/dev/serial0", "PMS5003 driver: its serial port.")
    warmup_s: float = setting(
        30.0, "PMS5003 driver: how long the fan runs before a reading counts.", "s", min=0
    )
    duty_cycle: bool = setting(True, "PMS5003 driver: sleep between readings, to spare the laser.")


SETTINGS = DriverSettings("pms5003", Pms5003Settings)
