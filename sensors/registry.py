"""Driver names, their classes and their settings declarations, each imported only when used."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from sensors.driver import Driver, UnknownDriver

if TYPE_CHECKING:
    from sensors.settings import DriverSettings

# "module:Class" strings, not imports: importing sensors.gpio loads gpiozero and what it
# pulls in (9 MB more resident memory, measured on x86-64), which a node without GPIO
# sensors never needs and a Pi Zero 2 W (512 MB) can ill afford. Each driver's settings
# are declared in a light module of their own, so reading settings loads no driver either.
# In the order docs/configuration.md lists their settings.
_DRIVERS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "simulated": ("sensors.simulated:SimulatedDriver", "sensors.simulated_settings"),
        "system": ("sensors.system:SystemDriver", "sensors.system_settings"),
        "gpio": ("sensors.gpio:GpioDriver", "sensors.gpio_settings"),
        "ble": ("sensors.ble:BleDriver", "sensors.ble_settings"),
        "bme280": ("sensors.bme280:Bme280Driver", "sensors.bme280_settings"),
        "bme680": ("sensors.bme680:Bme680Driver", "sensors.bme680_settings"),
        "scd4x": ("sensors.scd4x:Scd4xDriver", "sensors.scd4x_settings"),
        "sds011": ("sensors.sds011:Sds011Driver", "sensors.sds011_settings"),
        "pms5003": ("sensors.pms5003:Pms5003Driver", "sensors.pms5003_settings"),
        "noise": ("sensors.noise:NoiseDriver", "sensors.noise_settings"),
        "counter": ("sensors.counter:CounterDriver", "sensors.counter_settings"),
        "faulty": ("sensors.faulty:FaultyDriver", "sensors.faulty_settings"),
    }
)

DRIVER_NAMES: tuple[str, ...] = tuple(sorted(_DRIVERS))
"""Every driver name a node's settings may list, sorted."""


def driver_class(name: str) -> type[Driver]:
    """The driver class registered as ``name``, importing its module on first use.

    Args:
        name: a registry name, one of :data:`DRIVER_NAMES`.

    Raises:
        UnknownDriver: naming the driver and listing the known ones.
    """
    try:
        target, _ = _DRIVERS[name]
    except KeyError:
        raise UnknownDriver(
            f"unknown driver {name!r}; known drivers: {', '.join(DRIVER_NAMES)}"
        ) from None
    module_name, class_name = target.split(":")
    cls: type[Driver] = getattr(importlib.import_module(module_name), class_name)
    return cls


def driver_settings() -> tuple[DriverSettings[Any], ...]:
    """Every driver's settings declaration (a module's ``SETTINGS``), in the docs' order."""
    return tuple(
        importlib.import_module(module_name).SETTINGS for _, module_name in _DRIVERS.values()
    )
