"""Build the drivers a node's settings name, each with its own settings."""

from __future__ import annotations

import logging
from typing import Any

from edge.settings import EdgeSettings
from sensors.driver import Driver
from sensors.registry import driver_class

log = logging.getLogger(__name__)


def driver_options(settings: EdgeSettings, name: str) -> dict[str, Any]:
    """The constructor arguments of driver ``name`` taken from ``settings``."""
    if name == "simulated":
        return {
            "interval_s": settings.simulated_interval_s,
            "seed": settings.simulated_seed,
            "timezone": settings.timezone,
        }
    if name == "system":
        return {"interval_s": settings.system_interval_s, "disk_path": settings.data_dir}
    if name == "gpio":
        return {
            "interval_s": settings.gpio_interval_s,
            "pir_pin": settings.gpio_pir_pin,
            "beam_pin": settings.gpio_beam_pin,
            "beam_pair_pins": settings.gpio_beam_pair_pins,
            "debounce_ms": settings.gpio_debounce_ms,
            "pin_factory_name": settings.gpio_pin_factory,
        }
    if name == "ble":
        return {
            "interval_s": settings.ble_interval_s,
            "sensors": settings.ble_sensors,
            "bind_keys": settings.ble_bind_keys,
            "adapter": settings.ble_adapter,
            "scan_mode": settings.ble_scan_mode,
            "silence_s": settings.ble_silence_s,
            "max_backoff_s": settings.ble_max_backoff_s,
            "footfall": settings.ble_footfall,
            "footfall_interval_s": settings.ble_footfall_interval_s,
            "footfall_rssi_dbm": settings.ble_footfall_rssi_dbm,
            "footfall_min_count": settings.ble_footfall_min_count,
            "footfall_devices_per_person": settings.ble_footfall_devices_per_person,
            "footfall_presence_s": settings.ble_footfall_presence_s,
            "footfall_key_rotation_s": settings.ble_footfall_key_rotation_s,
        }
    if name == "bme280":
        return {
            "interval_s": settings.bme280_interval_s,
            "bus_number": settings.i2c_bus,
            "address": settings.bme280_address,
            "temperature_oversampling": settings.bme280_temperature_oversampling,
            "pressure_oversampling": settings.bme280_pressure_oversampling,
            "humidity_oversampling": settings.bme280_humidity_oversampling,
            "iir_filter": settings.bme280_iir_filter,
        }
    if name == "bme680":
        return {
            "interval_s": settings.bme680_interval_s,
            "bus_number": settings.i2c_bus,
            "address": settings.bme680_address,
            "iir_filter": settings.bme680_iir_filter,
            "heater_temperature_c": settings.bme680_heater_temperature_c,
            "heater_duration_ms": settings.bme680_heater_duration_ms,
        }
    if name == "scd4x":
        return {
            "interval_s": settings.scd4x_interval_s,
            "bus_number": settings.i2c_bus,
            "altitude_m": settings.scd4x_altitude_m,
            "ambient_pressure_hpa": settings.scd4x_pressure_hpa,
            "self_calibration": settings.scd4x_self_calibration,
        }
    if name in ("sds011", "pms5003"):
        return {
            "interval_s": getattr(settings, f"{name}_interval_s"),
            "port": getattr(settings, f"{name}_port"),
            "warmup_s": getattr(settings, f"{name}_warmup_s"),
            "duty_cycle": getattr(settings, f"{name}_duty_cycle"),
        }
    if name == "noise":
        return {
            "interval_s": settings.noise_interval_s,
            "device": settings.noise_device,
            "sample_rate": settings.noise_sample_rate,
            "window_s": settings.noise_window_s,
            "calibration_db": settings.noise_calibration_db,
        }
    if name == "counter":
        return {
            "interval_s": settings.counter_interval_s,
            "tally_path": settings.counter_tally_path,
        }
    if name == "faulty":
        return {"interval_s": settings.faulty_interval_s, "mode": settings.faulty_mode}
    return {}


class DriverStartError(Exception):
    """A driver could not be started; the message names the driver and the reason."""

    def __init__(self, driver: str, message: str) -> None:
        super().__init__(message)
        self.driver = driver


def build_drivers(settings: EdgeSettings) -> tuple[list[Driver], list[DriverStartError]]:
    """Make every driver the settings name.

    A driver that cannot start (a missing part, no GPIO on this machine) is left out and
    reported, so one bad sensor never stops the others; the caller decides whether a node
    with no working driver at all should run.
    """
    drivers: list[Driver] = []
    failures: list[DriverStartError] = []
    for name in settings.drivers:
        try:
            drivers.append(driver_class(name)(**driver_options(settings, name)))
        except Exception as error:
            failure = DriverStartError(name, f"driver {name} could not start: {error}")
            log.error("%s", failure)
            failures.append(failure)
    return drivers, failures
