import subprocess
import sys

import pytest

import sensors
from sensors.driver import Driver, SensorError, UnknownDriver
from sensors.registry import DRIVER_NAMES, driver_class


def test_the_known_drivers_are_listed_sorted():
    assert DRIVER_NAMES == (
        "ble",
        "bme280",
        "bme680",
        "counter",
        "faulty",
        "gpio",
        "noise",
        "pms5003",
        "scd4x",
        "sds011",
        "simulated",
        "system",
    )


@pytest.mark.parametrize("name", DRIVER_NAMES)
def test_each_name_loads_a_driver_class_of_that_name(name):
    cls = driver_class(name)
    assert issubclass(cls, Driver)
    assert cls.name == name


def test_an_unknown_driver_lists_the_known_ones():
    with pytest.raises(UnknownDriver) as caught:
        driver_class("foo")
    assert str(caught.value) == (
        "unknown driver 'foo'; known drivers: ble, bme280, bme680, counter, faulty, gpio, noise, "
        "pms5003, scd4x, sds011, simulated, system"
    )
    assert isinstance(caught.value, KeyError)
    assert isinstance(caught.value, SensorError)


def test_the_package_re_exports_its_public_surface_only():
    assert sorted(sensors.__all__) == [
        "Censor",
        "DRIVER_NAMES",
        "Driver",
        "DriverConfigError",
        "DriverError",
        "METRICS",
        "Metric",
        "Quality",
        "Reading",
        "SensorError",
        "SensorInfo",
        "UnknownDriver",
        "Validator",
        "driver_class",
    ]
    for name in sensors.__all__:
        assert getattr(sensors, name) is not None


def imported_after(code):
    """Which of gpiozero and the driver modules a fresh interpreter has loaded after code."""
    probe = (
        f"{code}\nimport sys\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'gpiozero' "
        "or m.startswith('sensors.')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=30
    )
    return done.stdout.strip()


def test_importing_the_package_loads_no_driver_and_not_gpiozero():
    assert imported_after("import sensors") == (
        "['sensors.driver', 'sensors.reading', 'sensors.registry', 'sensors.validation', "
        "'sensors.vocabulary']"
    )


def test_using_another_driver_never_imports_gpiozero():
    loaded = imported_after(
        "from sensors import driver_class\n"
        "for name in ('counter', 'faulty', 'simulated', 'system'):\n"
        "    driver_class(name)"
    )
    assert "gpiozero" not in loaded
    assert "sensors.simulated" in loaded


def test_the_gpio_driver_imports_gpiozero_when_it_is_asked_for():
    assert "'gpiozero'" in imported_after("from sensors import driver_class; driver_class('gpio')")
