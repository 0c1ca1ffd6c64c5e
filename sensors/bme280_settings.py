"""The BME280 driver's settings, declared for the node's settings loader."""

from __future__ import annotations

from dataclasses import dataclass

from sensors.buses import i2c_bus_setting
from sensors.settings import DriverSettings, NoChecks, setting


@dataclass(frozen=True)
class Bme280Settings(NoChecks):
    """``HALLSENSE_BME280_*`` and the shared ``HALLSENSE_I2C_BUS``."""

    i2c_bus: int = i2c_bus_setting()
    interval_s: float = setting(60.0, "BME280 driver: seconds between measurements.", "s", above=0)
    address: int = setting(
        0x76, "BME280 driver: its I2C address (0x76 with SDO to GND, 0x77 to 3.3 V).", "I2C address"
    )
    temperature_oversampling: int = setting(
        2, "BME280 driver: temperature oversampling (1, 2, 4, 8 or 16).", "times"
    )
    pressure_oversampling: int = setting(
        16, "BME280 driver: pressure oversampling (0 to skip, 1, 2, 4, 8 or 16).", "times"
    )
    humidity_oversampling: int = setting(
        1, "BME280 driver: humidity oversampling (0 to skip, 1, 2, 4, 8 or 16).", "times"
    )
    iir_filter: int = setting(4, "BME280 driver: IIR filter coefficient (0 off, 2, 4, 8 or 16).")


SETTINGS = DriverSettings("bme280", Bme280Settings)
