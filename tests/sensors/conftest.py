"""Fixtures for the sensors tests: gpiozero's MockFactory, and a clock for its ticks."""

import os

# Before gpiozero is imported anywhere: no test may ever fall back to a real pin factory.
os.environ["GPIOZERO_PIN_FACTORY"] = "mock"

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory


class SteppedMockFactory(MockFactory):
    """gpiozero's MockFactory whose clock (``ticks()``) moves only when a test moves it.

    The gpio driver measures its debounce and pairing windows on the pin factory's
    ticks, so with this factory a test drives pins and time together, exactly.
    """

    def __init__(self):
        super().__init__()
        self.now = 1000.0

    def ticks(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


@pytest.fixture
def mock_factory():
    """A fresh MockFactory as gpiozero's default factory (as gpiozero's own tests do).

    For code that builds devices without a ``pin_factory`` argument; the previous default
    comes back afterwards.
    """
    saved = Device.pin_factory
    Device.pin_factory = MockFactory()
    try:
        yield Device.pin_factory
    finally:
        if Device.pin_factory is not None:
            Device.pin_factory.reset()
        Device.pin_factory = saved


@pytest.fixture
def factory():
    """A MockFactory to pass as ``pin_factory``, reset after the test."""
    made = MockFactory()
    yield made
    made.reset()


@pytest.fixture
def stepped_factory():
    """A SteppedMockFactory to pass as ``pin_factory``, reset after the test."""
    made = SteppedMockFactory()
    yield made
    made.reset()
