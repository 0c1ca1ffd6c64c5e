import sys

import pytest

from sensors.driver import UnknownDriver
from sensors.registry import DRIVER_NAMES, driver_class


def test_every_registered_driver_loads():
    for name in DRIVER_NAMES:
        assert driver_class(name).name == name


def test_an_unknown_driver_lists_the_known_ones():
    with pytest.raises(UnknownDriver) as caught:
        driver_class("teleporter")
    assert str(caught.value) == (
        "unknown driver 'teleporter'; known drivers: counter, faulty, gpio, simulated, system"
    )


def test_gpiozero_is_not_imported_by_the_registry_alone():
    import subprocess

    code = (
        "import sys; from sensors.registry import driver_class; driver_class('simulated'); "
        "print('gpiozero' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
