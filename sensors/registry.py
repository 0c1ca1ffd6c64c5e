"""Driver names and their classes, imported only when a driver is used."""

from __future__ import annotations

import importlib

from sensors.driver import Driver, UnknownDriver

_DRIVERS = {
    "counter": "sensors.counter:CounterDriver",
    "faulty": "sensors.faulty:FaultyDriver",
    "gpio": "sensors.gpio:GpioDriver",
    "simulated": "sensors.simulated:SimulatedDriver",
    "system": "sensors.system:SystemDriver",
}

DRIVER_NAMES: tuple[str, ...] = tuple(sorted(_DRIVERS))
"""Every driver a node's settings may name."""


def driver_class(name: str) -> type[Driver]:
    """The driver class registered as ``name``.

    The module is imported on first use, so gpiozero is loaded only on nodes that use
    the gpio driver.

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
