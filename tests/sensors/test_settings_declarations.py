"""Each driver's settings declaration: complete, and every field a real constructor argument."""

import dataclasses
import inspect
from pathlib import Path

import pytest

from sensors.registry import DRIVER_NAMES, driver_class, driver_settings
from sensors.settings import NodeFacts

DECLARATIONS = {declaration.driver: declaration for declaration in driver_settings()}


def test_every_driver_declares_its_settings_once():
    assert sorted(DECLARATIONS) == list(DRIVER_NAMES)
    assert len(driver_settings()) == len(DRIVER_NAMES)


@pytest.mark.parametrize("name", DRIVER_NAMES)
def test_every_field_has_help_and_is_an_argument_of_the_driver(name):
    declaration = DECLARATIONS[name]
    parameters = inspect.signature(driver_class(name)).parameters
    values = declaration.fields()
    node = NodeFacts(timezone="Europe/London", data_dir=Path("/var/lib/hallsense"))
    for f in dataclasses.fields(values):
        assert f.metadata["help"], f.name
    for argument in declaration.arguments(values, node):
        assert argument in parameters, f"{name} driver has no argument {argument!r}"


@pytest.mark.parametrize("name", DRIVER_NAMES)
def test_the_declared_defaults_pass_their_own_checks(name):
    assert DECLARATIONS[name].fields().check() == []


def test_a_key_several_drivers_share_is_declared_the_same_by_each():
    shared: dict[str, dict] = {}
    for declaration in DECLARATIONS.values():
        for f in dataclasses.fields(declaration.fields):
            if f.metadata.get("key"):
                metadata = {**f.metadata, "default": f.default}
                assert shared.setdefault(f.metadata["key"], metadata) == metadata
    assert list(shared) == ["I2C_BUS"]
