"""Drivers that turn hardware or a simulation into Readings, and the checks on their values."""

# The driver classes are deliberately not imported here: driver_class() loads each one on
# first use, so a node that never uses the gpio driver never imports gpiozero.
from presentation.reading_flags import Censor, Quality
from sensors.driver import (
    Driver,
    DriverConfigError,
    DriverError,
    SensorError,
    UnknownDriver,
)
from sensors.reading import Reading, SensorInfo
from sensors.registry import DRIVER_NAMES, driver_class
from sensors.validation import Validator
from sensors.vocabulary import METRICS, Metric

__all__ = [
    "DRIVER_NAMES",
    "METRICS",
    "Censor",
    "Driver",
    "DriverConfigError",
    "DriverError",
    "Metric",
    "Quality",
    "Reading",
    "SensorError",
    "SensorInfo",
    "UnknownDriver",
    "Validator",
    "driver_class",
]
