import importlib.util
import time
from datetime import UTC, datetime

import pytest
from gpiozero import Device, DigitalInputDevice, MotionSensor
from gpiozero.pins.mock import MockFactory

from sensors.driver import DriverConfigError, DriverError
from sensors.gpio import (
    PIN_LIBRARY_HELP,
    BeamDebouncer,
    DirectionTracker,
    GpioDriver,
    check_pins,
    make_pin_factory,
)

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
OCCUPANCY = ("gpio-pir", "occupancy")
MOTION = ("gpio-pir", "motion_events")
BEAM = ("gpio-door", "footfall")
ENTRIES = ("gpio-door-pair", "entries")
EXITS = ("gpio-door-pair", "exits")
PAIR_FOOTFALL = ("gpio-door-pair", "footfall")


def by_series(readings):
    return {(r.sensor_id, r.metric): r.value for r in readings}


def read_until(driver, done, timeout=3.0):
    """Read until ``done(seen)`` holds: counts summed over the reads, states as last read.

    The PIR is sampled by gpiozero's own thread (10 times a second), so its readings
    follow the pin a little later; this waits for that, and no longer.
    """
    seen = {}
    deadline = time.monotonic() + timeout
    while True:
        for r in driver.read():
            key = (r.sensor_id, r.metric)
            seen[key] = seen.get(key, 0) + r.value if r.unit == "count" else r.value
        if done(seen) or time.monotonic() > deadline:
            return seen
        time.sleep(0.01)


def chatter(pin, factory, edges, gap_s=0.005):
    """A beam breaking with contact bounce: ``edges`` alternating edges, low first."""
    for edge in range(edges):
        pin.drive_low() if edge % 2 == 0 else pin.drive_high()
        factory.advance(gap_s)


# --- PIR ---


def test_pir_reports_occupancy_now_and_activations_since_the_last_read(factory):
    with GpioDriver(pir_pin=17, pin_factory=factory, clock=lambda: NOW) as driver:
        pin = factory.pin(17)
        quiet = driver.read()
        assert by_series(quiet) == {OCCUPANCY: 0, MOTION: 0}
        assert [(r.unit, r.timestamp) for r in quiet] == [("bool", NOW), ("count", NOW)]

        pin.drive_high()
        seen = read_until(driver, lambda s: s[OCCUPANCY] == 1 and s[MOTION] >= 1)
        assert seen == {OCCUPANCY: 1, MOTION: 1}

        pin.drive_low()
        seen = read_until(driver, lambda s: s[OCCUPANCY] == 0)
        assert seen == {OCCUPANCY: 0, MOTION: 0}

        pin.drive_high()
        seen = read_until(driver, lambda s: s[MOTION] >= 1)
        assert seen[MOTION] == 1


# --- one beam ---


def test_a_bouncing_beam_counts_each_person_once(stepped_factory):
    with GpioDriver(beam_pin=27, debounce_ms=50, pin_factory=stepped_factory) as driver:
        pin = stepped_factory.pin(27)
        for _person in range(3):
            stepped_factory.advance(2.0)
            chatter(pin, stepped_factory, edges=5)  # ends broken
            stepped_factory.advance(0.4)  # walking through the beam
            pin.drive_high()  # the beam clears, flickering as a coat tail passes
            stepped_factory.advance(0.003)
            pin.drive_low()
            stepped_factory.advance(0.003)
            pin.drive_high()
        assert by_series(driver.read()) == {BEAM: 3}
        assert by_series(driver.read()) == {BEAM: 0}


def test_without_debounce_every_break_counts(stepped_factory):
    with GpioDriver(beam_pin=27, debounce_ms=0, pin_factory=stepped_factory) as driver:
        chatter(stepped_factory.pin(27), stepped_factory, edges=5)
        assert by_series(driver.read()) == {BEAM: 3}


def test_breaks_further_apart_than_the_debounce_time_are_different_people(stepped_factory):
    with GpioDriver(beam_pin=27, debounce_ms=50, pin_factory=stepped_factory) as driver:
        pin = stepped_factory.pin(27)
        for _ in range(4):
            pin.drive_low()
            stepped_factory.advance(0.06)
            pin.drive_high()
            stepped_factory.advance(0.06)
        assert by_series(driver.read()) == {BEAM: 4}


def test_gpiozero_is_given_the_debounce_time_too(factory):
    with GpioDriver(beam_pin=27, debounce_ms=50, pin_factory=factory):
        assert factory.pin(27).bounce == 0.05
        assert factory.pin(27).pull == "up"


# --- a pair of beams ---


def walk(factory, first, second):
    """Someone walks through the door, breaking ``first`` and then ``second``."""
    factory.advance(5)
    first.drive_low()
    factory.advance(0.3)
    second.drive_low()
    factory.advance(0.3)
    first.drive_high()
    factory.advance(0.3)
    second.drive_high()


def test_a_beam_pair_tells_entries_from_exits(stepped_factory):
    with GpioDriver(beam_pair_pins=(5, 6), pin_factory=stepped_factory) as driver:
        outer, inner = stepped_factory.pin(5), stepped_factory.pin(6)
        walk(stepped_factory, outer, inner)
        walk(stepped_factory, outer, inner)
        walk(stepped_factory, inner, outer)
        assert by_series(driver.read()) == {ENTRIES: 2, EXITS: 1, PAIR_FOOTFALL: 2}
        assert by_series(driver.read()) == {ENTRIES: 0, EXITS: 0, PAIR_FOOTFALL: 0}


def test_a_lone_break_on_a_pair_is_no_one(stepped_factory):
    with GpioDriver(beam_pair_pins=(5, 6), pin_factory=stepped_factory) as driver:
        outer, inner = stepped_factory.pin(5), stepped_factory.pin(6)
        outer.drive_low()
        outer.drive_high()
        stepped_factory.advance(5)  # far too late to be the same person
        inner.drive_low()
        inner.drive_high()
        assert by_series(driver.read()) == {ENTRIES: 0, EXITS: 0, PAIR_FOOTFALL: 0}


def test_bounce_on_a_pair_does_not_invent_people(stepped_factory):
    with GpioDriver(beam_pair_pins=(5, 6), debounce_ms=50, pin_factory=stepped_factory) as d:
        outer, inner = stepped_factory.pin(5), stepped_factory.pin(6)
        chatter(outer, stepped_factory, edges=5)
        stepped_factory.advance(0.3)
        chatter(inner, stepped_factory, edges=5)
        stepped_factory.advance(0.3)
        outer.drive_high()
        inner.drive_high()
        assert by_series(d.read()) == {ENTRIES: 1, EXITS: 0, PAIR_FOOTFALL: 1}


def test_all_three_sensors_together(stepped_factory):
    with GpioDriver(
        pir_pin=17, beam_pin=27, beam_pair_pins=(5, 6), pin_factory=stepped_factory
    ) as driver:
        assert [(r.sensor_id, r.metric) for r in driver.read()] == [
            OCCUPANCY,
            MOTION,
            BEAM,
            ENTRIES,
            EXITS,
            PAIR_FOOTFALL,
        ]
        assert [(i.sensor_id, i.metric, i.part) for i in driver.sensors()] == [
            ("gpio-pir", "occupancy", "PIR"),
            ("gpio-pir", "motion_events", "PIR"),
            ("gpio-door", "footfall", "IR beam-break"),
            ("gpio-door-pair", "entries", "IR beam-break pair"),
            ("gpio-door-pair", "exits", "IR beam-break pair"),
            ("gpio-door-pair", "footfall", "IR beam-break pair"),
        ]


# --- settings ---


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "gpio driver: no pins configured; set pir_pin, beam_pin or beam_pair_pins"),
        ({"pir_pin": 40}, "gpio driver: pir_pin must be a BCM pin number from 0 to 27, got 40"),
        ({"beam_pin": -1}, "gpio driver: beam_pin must be a BCM pin number from 0 to 27, got -1"),
        ({"pir_pin": "17"}, "gpio driver: pir_pin must be a BCM pin number from 0 to 27, got '17'"),
        (
            {"beam_pair_pins": (5, 28)},
            "gpio driver: beam_pair_pins (inner) must be a BCM pin number from 0 to 27, got 28",
        ),
        (
            {"beam_pair_pins": (5,)},
            "gpio driver: beam_pair_pins must be two pins (outer, inner), got (5,)",
        ),
        (
            {"pir_pin": 17, "beam_pin": 17},
            "gpio driver: BCM pin 17 is given twice (pir_pin and beam_pin)",
        ),
        (
            {"beam_pin": 5, "beam_pair_pins": (5, 6)},
            "gpio driver: BCM pin 5 is given twice (beam_pin and beam_pair_pins (outer))",
        ),
        (
            {"beam_pair_pins": (6, 6)},
            "gpio driver: BCM pin 6 is given twice "
            "(beam_pair_pins (outer) and beam_pair_pins (inner))",
        ),
        (
            {"beam_pin": 27, "debounce_ms": -5},
            "gpio driver: debounce_ms must be a number of milliseconds, 0 or more, got -5",
        ),
        (
            {"beam_pin": 27, "interval_s": 0},
            "gpio driver: interval_s must be a positive number of seconds, got 0",
        ),
    ],
)
def test_bad_wiring_settings_are_named(factory, kwargs, message):
    with pytest.raises(DriverConfigError) as caught:
        GpioDriver(pin_factory=factory, **kwargs)
    assert str(caught.value) == message


def test_an_unknown_pin_factory_name_lists_the_known_ones():
    with pytest.raises(DriverConfigError) as caught:
        GpioDriver(beam_pin=27, pin_factory_name="wiringpi")
    assert str(caught.value) == (
        "gpio driver: pin_factory_name must be one of auto, lgpio, rpigpio, native, mock, "
        "got 'wiringpi'"
    )


def test_a_factory_and_a_factory_name_together_are_refused(factory):
    with pytest.raises(DriverConfigError) as caught:
        GpioDriver(beam_pin=27, pin_factory=factory, pin_factory_name="mock")
    assert str(caught.value) == (
        "gpio driver: give pin_factory or pin_factory_name, not both (pin_factory_name='mock')"
    )


def test_check_pins_names_each_pin_by_its_setting():
    assert check_pins(17, None, (5, 6)) == {
        "pir_pin": 17,
        "beam_pair_pins (outer)": 5,
        "beam_pair_pins (inner)": 6,
    }


# --- pin factories and failures ---


def test_no_pin_library_is_a_permanent_error_naming_the_package(monkeypatch):
    # gpiozero's own choice, asked for a factory that does not exist: BadPinFactory,
    # without falling back to any real pin library.
    monkeypatch.setattr(Device, "pin_factory", None)
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "nonesuch")
    with pytest.raises(DriverError) as caught:
        GpioDriver(pir_pin=17)
    assert caught.value.transient is False
    assert str(caught.value) == (
        "gpio driver: no GPIO pin library could be loaded (Unable to find pin factory "
        "'nonesuch'); install gpiozero's pin library: on a Pi 5, lgpio (apt install "
        "python3-lgpio, or pip install lgpio); on a Pi 4, 3 or Zero 2 W, lgpio or RPi.GPIO "
        "(apt install python3-rpi.gpio, or pip install RPi.GPIO)"
    )
    assert "python3-lgpio" in PIN_LIBRARY_HELP


@pytest.mark.parametrize(
    ("name", "module", "message"),
    [
        (
            "lgpio",
            "lgpio",
            "gpio driver: pin library lgpio is not installed (No module named 'lgpio'); "
            "apt install python3-lgpio, or pip install lgpio",
        ),
        (
            "rpigpio",
            "RPi",
            "gpio driver: pin library rpigpio is not installed (No module named 'RPi'); "
            "apt install python3-rpi.gpio, or pip install RPi.GPIO",
        ),
    ],
)
def test_a_named_pin_library_that_is_not_installed_says_how_to_install_it(name, module, message):
    if importlib.util.find_spec(module) is not None:
        pytest.skip(f"{module} is installed on this machine")
    with pytest.raises(DriverError) as caught:
        make_pin_factory(name)
    assert caught.value.transient is False
    assert str(caught.value) == message
    with pytest.raises(DriverError) as from_driver:
        GpioDriver(beam_pin=27, pin_factory_name=name)
    assert str(from_driver.value) == message


def test_auto_leaves_the_choice_to_gpiozero_and_mock_makes_a_mock_factory():
    assert make_pin_factory("auto") is None
    made = make_pin_factory("mock")
    assert isinstance(made, MockFactory)
    made.close()


def test_auto_uses_gpiozeros_default_factory(mock_factory):
    with GpioDriver(beam_pin=27, debounce_ms=0) as driver:
        mock_factory.pin(27).drive_low()
        assert by_series(driver.read()) == {BEAM: 1}


def test_a_pin_already_in_use_fails_and_releases_the_pins_taken_before_it(factory):
    blocker = DigitalInputDevice(27, pin_factory=factory)
    with pytest.raises(DriverError) as caught:
        GpioDriver(pir_pin=17, beam_pin=27, pin_factory=factory)
    assert caught.value.transient is False
    assert str(caught.value) == (
        "gpio driver: cannot use BCM pin 27 for beam_pin (GPIOPinInUse: pin GPIO27 is already "
        "in use by <gpiozero.DigitalInputDevice object on pin GPIO27, pull_up=False, "
        "is_active=False>)"
    )
    blocker.close()
    MotionSensor(17, pin_factory=factory).close()  # 17 was released on the way out


def test_close_releases_every_pin_and_is_idempotent(factory):
    driver = GpioDriver(pir_pin=17, beam_pin=27, beam_pair_pins=(5, 6), pin_factory=factory)
    driver.close()
    driver.close()
    with pytest.raises(DriverError) as caught:
        driver.read()
    assert str(caught.value) == "gpio driver: read after close()"
    GpioDriver(pir_pin=17, beam_pin=27, beam_pair_pins=(5, 6), pin_factory=factory).close()


# --- the pure parts ---


def test_a_break_counts_only_after_a_steady_beam():
    debouncer = BeamDebouncer(window_s=0.05)
    assert debouncer.edge(0.0, broken=True)
    assert not debouncer.edge(0.01, broken=False)
    assert not debouncer.edge(0.02, broken=True)  # bounce
    assert not debouncer.edge(0.5, broken=False)  # clearing is never a count
    assert not debouncer.edge(0.51, broken=True)  # flicker as it clears
    assert not debouncer.edge(0.6, broken=False)
    assert debouncer.edge(2.0, broken=True)


def test_direction_is_which_beam_breaks_first_within_the_window():
    tracker = DirectionTracker(window_s=2)
    assert tracker.broken("outer", 0) is None
    assert tracker.broken("inner", 0.4) == "entry"
    assert tracker.broken("inner", 10) is None
    assert tracker.broken("outer", 10.5) == "exit"
    assert tracker.broken("outer", 20) is None
    assert tracker.broken("outer", 20.5) is None  # the same beam again: still waiting
    assert tracker.broken("inner", 21) == "entry"
    assert tracker.broken("outer", 30) is None
    assert tracker.broken("inner", 33) is None  # too late: a new, unpaired break
