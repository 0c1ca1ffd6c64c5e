"""The BME680 driver's settings, declared for the node's settings loader."""

from __future__ import annotations

from dataclasses import dataclass

from sensors.buses import i2c_bus_setting
from sensors.settings import DriverSettings, NoChecks, setting


@dataclass(frozen=True)
class Bme680Settings(NoChecks):
    """``HALLSENSE_BME680_*`` and the shared ``HALLSENSE_I2C_BUS``."""

    i2c_bus: int = i2c_bus_setting()
    interval_s: float = setting(60.0, "BME680 driver: seconds between measurements.", "s", above=0)
    address: int = setting(0x77, "BME680 driver: its I2C address (0x76 or 0x77).", "I2C address")
    iir_filter: int = setting(
        3, "BME680 driver: IIR filter coefficient (0, 1, 3, 7, 15, 31, 63 or 127)."
    )
    heater_temperature_c: int = setting(
        320, "BME680 driver: gas heater temperature (200 to 400).", "°C"
    )
    heater_duration_ms: int = setting(
        150, "BME680 driver: how long the gas heater heats before the reading.", "ms"
    )


SETTINGS = DriverSettings("bme680", Bme680Settings)
