"""Build the drivers a node's settings name, each with its own settings."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from edge.settings import DRIVER_SETTINGS, EdgeSettings
from sensors.driver import Driver
from sensors.registry import driver_class
from sensors.settings import DriverSettings

log = logging.getLogger(__name__)


DECLARATIONS: Mapping[str, DriverSettings[Any]] = MappingProxyType(
    {declaration.driver: declaration for declaration in DRIVER_SETTINGS}
)
"""Each driver's settings declaration, by driver name."""


def driver_options(settings: EdgeSettings, name: str) -> dict[str, Any]:
    """The constructor arguments of driver ``name``: its own settings and what the node tells it."""
    declaration = DECLARATIONS[name]
    return declaration.arguments(settings.for_driver(declaration), settings.node_facts())


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
