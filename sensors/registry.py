"""Driver names and their classes, each imported only when a node uses that driver."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import MappingProxyType

from sensors.driver import Driver, UnknownDriver

# "module:Class" strings, not imports: importing sensors.gpio loads gpiozero and what it
# pulls in (9 MB more resident memory, measured on x86-64), which a node without GPIO
# sensors never needs and a Pi Zero 2 W (512 MB) can ill afford.
_DRIVERS: Mapping[str, str] = MappingProxyType(
    {
        "ble": "sensors.ble:BleDriver",
        "bme280": "sensors.bme280:Bme280Driver",
        "bme680": "sensors.bme680:Bme680Driver",
        "noise": "sensors.noise:NoiseDriver",
        "pms5003": "sensors.pms5003:Pms5003Driver",
        "scd4x": "sensors.scd4x:Scd4xDriver",
        "sds011": "sensors.sds011:Sds011Driver",
        "counter": "sensors.counter:CounterDriver",
        "faulty": "sensors.faulty:FaultyDriver",
        "gpio": "sensors.gpio:GpioDriver",
        "simulated": "sensors.simulated:SimulatedDriver",
        "system": "sensors.system:SystemDriver",
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
        target = _DRIVERS[name]
    except KeyError:
        raise UnknownDriver(
            f"unknown driver {name!r}; known drivers: {', '.join(DRIVER_NAMES)}"
        ) from None
    module_name, class_name = target.split(":")
    cls: type[Driver] = getattr(importlib.import_module(module_name), class_name)
    return cls
