"""PIR occupancy and beam-break door counting on the Pi's GPIO pins, through gpiozero."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any

from gpiozero import DigitalInputDevice, MotionSensor
from gpiozero.exc import BadPinFactory, GPIOZeroError, PinFactoryFallback

from sensors.driver import Clock, Driver, DriverConfigError, DriverError
from sensors.reading import Reading, SensorInfo, utc_now

log = logging.getLogger(__name__)

FACTORY_PACKAGES = (
    "install gpiozero's pin library: on a Pi 5, Debian/Raspberry Pi OS package python3-lgpio "
    "(or pip install lgpio); on earlier Pis lgpio or RPi.GPIO (python3-rpi.gpio)"
)


def make_pin_factory(name: str) -> Any:
    """The gpiozero pin factory called ``name`` (auto: None, gpiozero's own choice).

    Raises:
        DriverError: permanent, saying which package provides the factory.
    """
    if name == "auto":
        return None
    try:
        if name == "lgpio":
            from gpiozero.pins.lgpio import LGPIOFactory

            return LGPIOFactory()
        if name == "rpigpio":
            from gpiozero.pins.rpigpio import RPiGPIOFactory

            return RPiGPIOFactory()
        if name == "native":
            from gpiozero.pins.native import NativeFactory

            return NativeFactory()
        if name == "mock":
            from gpiozero.pins.mock import MockFactory

            return MockFactory()
    except (ImportError, OSError, RuntimeError, GPIOZeroError) as error:
        raise DriverError(
            f"gpio driver: pin factory {name} is not available here ({error}); {FACTORY_PACKAGES}",
            transient=False,
        ) from error
    raise DriverConfigError(
        f"gpio driver: unknown pin factory {name!r}; choose auto, lgpio, rpigpio, native, mock"
    )


class DirectionTracker:
    """Tells entries from exits on a pair of beams, outer (street side) and inner.

    Someone coming in breaks the outer beam, then the inner one, within ``window_s``;
    someone leaving breaks them the other way round. A break with no partner in the
    window is kept until one arrives or the window passes (a pet, a hand, a bag).
    """

    def __init__(self, window_s: float = 2.0) -> None:
        self.window_s = window_s
        self.entries = 0
        self.exits = 0
        self._pending: tuple[str, float] | None = None

    def broken(self, beam: str, at: float) -> None:
        """Beam ``beam`` ("outer" or "inner") was broken at monotonic time ``at``."""
        pending = self._pending
        if pending is not None and pending[0] != beam and at - pending[1] <= self.window_s:
            if pending[0] == "outer":
                self.entries += 1
            else:
                self.exits += 1
            self._pending = None
        else:
            self._pending = (beam, at)


class GpioDriver(Driver):
    """Footfall and occupancy from sensors wired to the Pi's GPIO header.

    - a PIR motion sensor (e.g. HC-SR501, output to ``pir_pin``): occupancy (1 while it
      sees movement) and motion_events (activations since the last reading);
    - a beam-break door counter (receiver output to ``beam_pin``, active low with the
      Pi's pull-up): footfall, one per broken beam;
    - or a pair of beams ``beam_pair_pins`` = (outer, inner) a few centimetres apart:
      entries and exits, told apart by which beam breaks first, and footfall.

    Breaks closer together than ``debounce_ms`` count once (done here in software, so
    it is the same on every pin library). Pins are BCM numbers. Settings:
    ``HALLSENSE_GPIO_PIR_PIN``, ``HALLSENSE_GPIO_BEAM_PIN``,
    ``HALLSENSE_GPIO_BEAM_PAIR_PINS``, ``HALLSENSE_GPIO_DEBOUNCE_MS``,
    ``HALLSENSE_GPIO_INTERVAL_S``, ``HALLSENSE_GPIO_PIN_FACTORY``. ``pin_factory`` and
    ``monotonic`` are advanced injection points (tests pass gpiozero's MockFactory).
    """

    name = "gpio"

    def __init__(
        self,
        *,
        interval_s: float = 60.0,
        pir_pin: int | None = None,
        beam_pin: int | None = None,
        beam_pair_pins: tuple[int, int] | None = None,
        debounce_ms: float = 50.0,
        sensor_prefix: str = "gpio",
        pin_factory: Any = None,
        pin_factory_name: str = "auto",
        monotonic: Callable[[], float] = time.monotonic,
        clock: Clock = utc_now,
    ) -> None:
        super().__init__(interval_s=interval_s, clock=clock)
        pins = [("pir_pin", pir_pin), ("beam_pin", beam_pin)]
        if beam_pair_pins is not None:
            if len(beam_pair_pins) != 2:
                raise DriverConfigError(
                    f"gpio driver: beam_pair_pins needs two pins (outer, inner), "
                    f"got {beam_pair_pins!r}"
                )
            pins += [("beam_pair_pins", beam_pair_pins[0]), ("beam_pair_pins", beam_pair_pins[1])]
        used: dict[int, str] = {}
        for argument, pin in pins:
            if pin is None:
                continue
            if not 0 <= pin <= 27:
                raise DriverConfigError(
                    f"gpio driver: {argument} must be a BCM pin from 0 to 27, got {pin}"
                )
            if pin in used:
                raise DriverConfigError(
                    f"gpio driver: pin {pin} is used twice ({used[pin]} and {argument})"
                )
            used[pin] = argument
        if not used:
            raise DriverConfigError(
                "gpio driver: no pins configured; set pir_pin, beam_pin or beam_pair_pins"
            )
        if debounce_ms < 0:
            raise DriverConfigError(
                f"gpio driver: debounce_ms must be 0 or more, got {debounce_ms}"
            )
        self.prefix = sensor_prefix
        self.debounce_s = debounce_ms / 1000
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._devices: list[Any] = []
        self._motion_events = 0
        self._footfall = 0
        self._last_break: dict[str, float] = {}
        self._direction = DirectionTracker() if beam_pair_pins is not None else None
        self.pir: Any = None
        self._beam_names: set[str] = set()
        try:
            factory = pin_factory if pin_factory is not None else make_pin_factory(pin_factory_name)
            with warnings.catch_warnings(record=True) as fallbacks:
                # gpiozero warns once per pin library it cannot load while it picks one;
                # the outcome (a library, or our one clear error) is what a user needs.
                warnings.simplefilter("always", PinFactoryFallback)
                self._make_devices(pir_pin, beam_pin, beam_pair_pins, factory)
            for fallback in fallbacks:
                log.debug("gpio driver: %s", fallback.message)
        except BaseException as error:
            self.close()
            if isinstance(error, BadPinFactory):
                raise DriverError(
                    f"gpio driver: no GPIO pins on this machine ({error}); {FACTORY_PACKAGES}",
                    transient=False,
                ) from error
            if isinstance(error, GPIOZeroError):
                raise DriverError(f"gpio driver: {error}", transient=False) from error
            raise

    def _make_devices(
        self,
        pir_pin: int | None,
        beam_pin: int | None,
        beam_pair_pins: tuple[int, int] | None,
        factory: Any,
    ) -> None:
        if pir_pin is not None:
            self.pir = MotionSensor(pir_pin, queue_len=1, sample_rate=4, pin_factory=factory)
            self._devices.append(self.pir)
            self.pir.when_motion = self._on_motion
        if beam_pin is not None:
            self._beam("door", beam_pin, factory)
        if beam_pair_pins is not None:
            self._beam("outer", beam_pair_pins[0], factory)
            self._beam("inner", beam_pair_pins[1], factory)

    def _beam(self, beam: str, pin: int, factory: Any) -> None:
        # Beam receivers pull their output low while the beam is broken.
        device = DigitalInputDevice(pin, pull_up=True, pin_factory=factory)
        self._devices.append(device)
        self._beam_names.add(beam)
        device.when_activated = lambda: self._on_break(beam)

    def _on_motion(self) -> None:
        with self._lock:
            self._motion_events += 1

    def _on_break(self, beam: str) -> None:
        now = self.monotonic()
        with self._lock:
            last = self._last_break.get(beam)
            if last is not None and now - last < self.debounce_s:
                return  # contact bounce or a flickering beam: one person, one count
            self._last_break[beam] = now
            if self._direction is None:
                self._footfall += 1
            else:
                self._direction.broken(beam, now)

    def read(self) -> list[Reading]:
        """Occupancy now and the counts since the last read (which starts them again)."""
        moment = self.clock()
        readings = []
        with self._lock:
            motion, self._motion_events = self._motion_events, 0
            footfall, self._footfall = self._footfall, 0
            entries = exits = 0
            if self._direction is not None:
                entries, self._direction.entries = self._direction.entries, 0
                exits, self._direction.exits = self._direction.exits, 0
        if self.pir is not None:
            occupied = 1.0 if self.pir.motion_detected else 0.0
            readings.append(Reading(f"{self.prefix}-pir", "occupancy", occupied, "bool", moment))
            readings.append(
                Reading(f"{self.prefix}-pir", "motion_events", float(motion), "count", moment)
            )
        if "door" in self._beam_names:
            readings.append(
                Reading(f"{self.prefix}-door", "footfall", float(footfall), "count", moment)
            )
        if self._direction is not None:
            sensor = f"{self.prefix}-door-pair"
            readings.append(Reading(sensor, "entries", float(entries), "count", moment))
            readings.append(Reading(sensor, "exits", float(exits), "count", moment))
            readings.append(Reading(sensor, "footfall", float(entries + exits), "count", moment))
        return readings

    def sensors(self) -> list[SensorInfo]:
        """The PIR and beam sensors this driver reads."""
        infos = []
        if self.pir is not None:
            infos.append(SensorInfo(f"{self.prefix}-pir", "occupancy", "bool", part="PIR"))
            infos.append(SensorInfo(f"{self.prefix}-pir", "motion_events", "count", part="PIR"))
        if "door" in self._beam_names:
            infos.append(SensorInfo(f"{self.prefix}-door", "footfall", "count", part="beam-break"))
        if self._direction is not None:
            for metric in ("entries", "exits", "footfall"):
                infos.append(
                    SensorInfo(f"{self.prefix}-door-pair", metric, "count", part="beam pair")
                )
        return infos

    def close(self) -> None:
        """Release every pin; safe to call more than once."""
        for device in getattr(self, "_devices", []):
            # Closing must go on for the other pins whatever one of them does.
            with contextlib.suppress(Exception):
                device.close()
        self._devices = []
        super().close()
