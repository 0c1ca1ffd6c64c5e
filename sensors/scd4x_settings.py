"""The SCD4x (CO2) driver's settings, declared for the node's settings loader."""

from __future__ import annotations

from dataclasses import dataclass

from sensors.buses import i2c_bus_setting
from sensors.settings import DriverSettings, NoChecks, setting


@dataclass(frozen=True)
class Scd4xSettings(NoChecks):
    """``HALLSENSE_SCD4X_*`` and the shared ``HALLSENSE_I2C_BUS``."""

    i2c_bus: int = i2c_bus_setting()
    interval_s: float = setting(60.0, "SCD4x driver (CO2): seconds between readings.", "s", above=0)
    altitude_m: float = setting(
        0.0, "SCD4x driver: the hall's height above sea level, for pressure compensation.", "m"
    )
    pressure_hpa: float | None = setting(
        None,
        "SCD4x driver: a fixed air pressure to compensate with, instead of the altitude.",
        "hPa",
        argument="ambient_pressure_hpa",
    )
    self_calibration: bool = setting(
        True,
        "SCD4x driver: automatic self-calibration (needs fresh air, 400 ppm, at least an hour "
        "a week; switch off in a hall that is never aired).",
    )


SETTINGS = DriverSettings("scd4x", Scd4xSettings)
