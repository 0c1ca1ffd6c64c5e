import time

import pytest
from gpiozero.pins.mock import MockFactory

from sensors.driver import DriverConfigError
from sensors.gpio import DirectionTracker, GpioDriver


class FakeTime:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


@pytest.fixture
def factory():
    factory = MockFactory()
    yield factory
    factory.reset()


def by_metric(readings):
    return {(r.sensor_id, r.metric): r.value for r in readings}


def wait_until(predicate, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_pir_reports_occupancy_and_counts_motion(factory):
    with GpioDriver(pir_pin=17, pin_factory=factory) as driver:
        pin = factory.pin(17)
        assert by_metric(driver.read())[("gpio-pir", "occupancy")] == 0
        pin.drive_high()
        assert wait_until(lambda: driver.pir.motion_detected)
        got = by_metric(driver.read())
        assert got[("gpio-pir", "occupancy")] == 1
        assert got[("gpio-pir", "motion_events")] == 1
        pin.drive_low()
        assert wait_until(lambda: not driver.pir.motion_detected)
        got = by_metric(driver.read())
        assert got[("gpio-pir", "occupancy")] == 0
        assert got[("gpio-pir", "motion_events")] == 0


def test_beam_counts_each_break_once_despite_bounce(factory):
    clock = FakeTime()
    with GpioDriver(beam_pin=27, debounce_ms=50, pin_factory=factory, monotonic=clock) as driver:
        pin = factory.pin(27)
        for _person in range(3):
            clock.now += 2.0
            for _bounce in range(4):  # contacts chatter within 15 ms
                pin.drive_low()
                pin.drive_high()
                clock.now += 0.005
        assert by_metric(driver.read())[("gpio-door", "footfall")] == 3
        assert by_metric(driver.read())[("gpio-door", "footfall")] == 0


def test_beam_pair_tells_entries_from_exits(factory):
    clock = FakeTime()
    with GpioDriver(
        beam_pair_pins=(5, 6), pin_factory=factory, monotonic=clock, debounce_ms=20
    ) as driver:
        outer, inner = factory.pin(5), factory.pin(6)

        def walk(first, second):
            clock.now += 5
            first.drive_low()
            first.drive_high()
            clock.now += 0.3
            second.drive_low()
            second.drive_high()

        walk(outer, inner)
        walk(outer, inner)
        walk(inner, outer)
        got = by_metric(driver.read())
        assert got[("gpio-door-pair", "entries")] == 2
        assert got[("gpio-door-pair", "exits")] == 1
        assert got[("gpio-door-pair", "footfall")] == 3


def test_a_lone_break_is_no_one():
    tracker = DirectionTracker(window_s=2)
    tracker.broken("outer", 0)
    tracker.broken("inner", 5)  # too late to pair with the outer break
    assert (tracker.entries, tracker.exits) == (0, 0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "gpio driver: no pins configured; set pir_pin, beam_pin or beam_pair_pins"),
        ({"pir_pin": 40}, "gpio driver: pir_pin must be a BCM pin from 0 to 27, got 40"),
        (
            {"pir_pin": 17, "beam_pin": 17},
            "gpio driver: pin 17 is used twice (pir_pin and beam_pin)",
        ),
        (
            {"beam_pin": 5, "beam_pair_pins": (5, 6)},
            "gpio driver: pin 5 is used twice (beam_pin and beam_pair_pins)",
        ),
    ],
)
def test_bad_wiring_settings_are_named(factory, kwargs, message):
    with pytest.raises(DriverConfigError) as caught:
        GpioDriver(pin_factory=factory, **kwargs)
    assert str(caught.value) == message


def test_close_releases_the_pins(factory):
    driver = GpioDriver(pir_pin=17, beam_pin=27, pin_factory=factory)
    driver.close()
    driver.close()
    again = GpioDriver(pir_pin=17, beam_pin=27, pin_factory=factory)
    again.close()


def test_a_pin_library_that_is_not_installed_names_the_package():
    from sensors.driver import DriverError
    from sensors.gpio import make_pin_factory

    with pytest.raises(DriverError) as caught:
        make_pin_factory("lgpio")
    assert caught.value.transient is False
    assert "python3-lgpio" in str(caught.value)
    assert make_pin_factory("auto") is None
    with pytest.raises(DriverConfigError, match="unknown pin factory 'wiringpi'"):
        make_pin_factory("wiringpi")
