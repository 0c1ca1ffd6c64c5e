"""PIR occupancy and beam-break door counting on the Pi's GPIO pins, through gpiozero."""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
import math
import threading
import warnings
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

from gpiozero import DigitalInputDevice, MotionSensor
from gpiozero.exc import BadPinFactory, NativePinFactoryFallback, PinFactoryFallback

from sensors.count_journal import CountJournal, JournalError
from sensors.driver import Clock, Driver, DriverConfigError, DriverError
from sensors.gpio_counting import Beam, BeamDebouncer, DirectionTracker
from sensors.gpio_settings import HIGHEST_PIN, LOWEST_PIN
from sensors.reading import Reading, SensorInfo, utc_now

log = logging.getLogger(__name__)

PIN_LIBRARY_HELP = (
    "install gpiozero's pin library: on a Pi 5, lgpio (apt install python3-lgpio, or pip "
    "install lgpio); on a Pi 4, 3 or Zero 2 W, lgpio or RPi.GPIO (apt install "
    "python3-rpi.gpio, or pip install RPi.GPIO)"
)

PIN_FACTORIES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "lgpio": (
            "gpiozero.pins.lgpio:LGPIOFactory",
            "apt install python3-lgpio, or pip install lgpio",
        ),
        "rpigpio": (
            "gpiozero.pins.rpigpio:RPiGPIOFactory",
            "apt install python3-rpi.gpio, or pip install RPi.GPIO",
        ),
        "native": ("gpiozero.pins.native:NativeFactory", "it comes with gpiozero"),
        "mock": ("gpiozero.pins.mock:MockFactory", "it comes with gpiozero"),
    }
)
"""Pin factories a node's settings may name: gpiozero's class, and how to install it."""

PIN_FACTORY_NAMES: tuple[str, ...] = ("auto", *PIN_FACTORIES)


def make_pin_factory(name: str) -> Any:
    """The gpiozero pin factory called ``name``; None for ``"auto"`` (gpiozero chooses).

    Args:
        name: one of :data:`PIN_FACTORY_NAMES`.

    Raises:
        DriverConfigError: ``name`` is not a pin factory this driver knows.
        DriverError: permanent; the pin library is not installed (the message says which
            package provides it) or cannot reach GPIO pins on this machine.
    """
    if name == "auto":
        return None
    try:
        target, install = PIN_FACTORIES[name]
    except KeyError:
        raise DriverConfigError(
            f"gpio driver: pin_factory_name must be one of {', '.join(PIN_FACTORY_NAMES)}, "
            f"got {name!r}"
        ) from None
    module_name, class_name = target.split(":")
    try:
        return getattr(importlib.import_module(module_name), class_name)()
    except ImportError as error:
        raise DriverError(
            f"gpio driver: pin library {name} is not installed ({error}); {install}",
            transient=False,
        ) from error
    except Exception as error:  # each pin library fails in its own way off a Pi
        raise DriverError(
            f"gpio driver: pin library {name} cannot reach GPIO pins here "
            f"({type(error).__name__}: {error}); {PIN_LIBRARY_HELP}",
            transient=False,
        ) from error


def check_pins(
    pir_pin: int | None,
    beam_pin: int | None,
    beam_pair_pins: tuple[int, int] | None,
) -> dict[str, int]:
    """The configured pins by the setting that names them, checked.

    Args:
        pir_pin: BCM pin of the PIR, or None.
        beam_pin: BCM pin of a single beam-break receiver, or None.
        beam_pair_pins: BCM pins of the (outer, inner) beam pair, or None.

    Returns:
        ``{"pir_pin": 17, "beam_pair_pins (outer)": 5, ...}`` for the pins given.

    Raises:
        DriverConfigError: no pin at all, a pin outside 0 to 27, a pair that is not two
            pins, or one pin given twice; the message names the setting and the value.
    """
    pins: dict[str, Any] = {"pir_pin": pir_pin, "beam_pin": beam_pin}
    if beam_pair_pins is not None:
        if not isinstance(beam_pair_pins, tuple | list) or len(beam_pair_pins) != 2:
            raise DriverConfigError(
                f"gpio driver: beam_pair_pins must be two pins (outer, inner), "
                f"got {beam_pair_pins!r}"
            )
        pins["beam_pair_pins (outer)"], pins["beam_pair_pins (inner)"] = beam_pair_pins
    given = {setting: pin for setting, pin in pins.items() if pin is not None}
    if not given:
        raise DriverConfigError(
            "gpio driver: no pins configured; set pir_pin, beam_pin or beam_pair_pins"
        )
    used: dict[int, str] = {}
    for setting, pin in given.items():
        if (
            isinstance(pin, bool)
            or not isinstance(pin, int)
            or not LOWEST_PIN <= pin <= HIGHEST_PIN
        ):
            raise DriverConfigError(
                f"gpio driver: {setting} must be a BCM pin number from {LOWEST_PIN} to "
                f"{HIGHEST_PIN}, got {pin!r}"
            )
        if pin in used:
            raise DriverConfigError(
                f"gpio driver: BCM pin {pin} is given twice ({used[pin]} and {setting})"
            )
        used[pin] = setting
    return given


class GpioDriver(Driver):
    """Footfall and occupancy from sensors wired to the Pi's 40-pin GPIO header.

    - A PIR motion sensor (HC-SR501, AM312) with its output on ``pir_pin``:
      ``occupancy`` (1 while it sees movement now) and ``motion_events`` (activations
      since the previous read).
    - An infrared beam-break door counter whose receiver output (open collector, pulled
      up by the Pi, low while the beam is broken) is on ``beam_pin``: ``footfall``, one
      per break, in either direction.
    - Or a pair of beams a few centimetres apart across the doorway, receivers on
      ``beam_pair_pins`` = (outer, inner): ``entries`` and ``exits``, told apart by which
      beam breaks first, and ``footfall`` = entries (people who came in).

    Pins are BCM numbers (GPIO17 is header pin 11) and all inputs are 3.3 V logic: see
    docs/sensors.md for wiring. Edges closer together than ``debounce_ms`` are one
    break: gpiozero's ``bounce_time`` is set too, but each pin library honours it in its
    own way (gpiozero's MockFactory not at all), so the driver applies the rule itself
    and counts the same on every Pi. Settings: ``HALLSENSE_GPIO_PIR_PIN``,
    ``HALLSENSE_GPIO_BEAM_PIN``, ``HALLSENSE_GPIO_BEAM_PAIR_PINS``,
    ``HALLSENSE_GPIO_DEBOUNCE_MS``, ``HALLSENSE_GPIO_INTERVAL_S``,
    ``HALLSENSE_GPIO_PIN_FACTORY`` (``pin_factory_name``: ``auto`` lets gpiozero choose).

    ``pin_factory`` is an advanced feature which most users can ignore: a gpiozero pin
    factory passed to every device (tests pass ``MockFactory()``); its ``ticks()`` is
    also the clock the debounce and pairing windows are measured on.

    Counts survive a crash or a power cut through a :class:`CountJournal` the agent
    opens beside the store (:meth:`open_journal`, then :meth:`settle_journal` once it
    has put any lost hand-over back into the store): docs/sensors.md.
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
        clock: Clock = utc_now,
    ) -> None:
        super().__init__(interval_s=interval_s, clock=clock)
        self._devices: list[Any] = []
        self._owned_factory: Any = None
        pins = check_pins(pir_pin, beam_pin, beam_pair_pins)
        if (
            isinstance(debounce_ms, bool)
            or not isinstance(debounce_ms, int | float)
            or not (math.isfinite(debounce_ms) and debounce_ms >= 0)
        ):
            raise DriverConfigError(
                f"gpio driver: debounce_ms must be a number of milliseconds, 0 or more, "
                f"got {debounce_ms!r}"
            )
        if pin_factory is not None and pin_factory_name != "auto":
            raise DriverConfigError(
                f"gpio driver: give pin_factory or pin_factory_name, not both "
                f"(pin_factory_name={pin_factory_name!r})"
            )
        self.sensor_prefix = sensor_prefix
        self.debounce_s = debounce_ms / 1000
        self.pins: Mapping[str, int] = MappingProxyType(pins)
        self._pir: Any = None
        self._lock = threading.Lock()
        self._motion_events = 0
        self._counts = {"beam": 0, "entry": 0, "exit": 0}
        self._debouncers: dict[Beam, BeamDebouncer] = {}
        self._direction = DirectionTracker() if beam_pair_pins is not None else None
        self._ticks_factory: Any = None
        self._last_ticks: Any = None
        self._elapsed_s = 0.0
        self._journal: CountJournal | None = None
        try:
            if pin_factory is None:
                pin_factory = self._owned_factory = make_pin_factory(pin_factory_name)
            self._open_devices(pin_factory)
        except BaseException:
            self.close()
            raise

    def _open_devices(self, factory: Any) -> None:
        # gpiozero warns (PinFactoryFallback) for each pin library it fails to load while
        # choosing one; what the operator needs is the outcome, logged, or our one clear
        # error listing the reasons. catch_warnings is process-wide, which is fine here:
        # drivers are built once, at start-up, before the driver threads run.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", PinFactoryFallback)
            warnings.simplefilter("always", NativePinFactoryFallback)
            try:
                self._open_each(factory)
            except BadPinFactory as error:
                reasons = "; ".join(str(w.message) for w in caught) or str(error)
                raise DriverError(
                    f"gpio driver: no GPIO pin library could be loaded ({reasons}); "
                    f"{PIN_LIBRARY_HELP}",
                    transient=False,
                ) from error
        for warning in caught:
            if issubclass(warning.category, NativePinFactoryFallback):
                log.warning("gpio driver: %s", warning.message)
            elif issubclass(warning.category, PinFactoryFallback):
                log.info("gpio driver: %s", warning.message)
            else:
                warnings.warn_explicit(
                    warning.message, warning.category, warning.filename, warning.lineno
                )

    def _open_each(self, factory: Any) -> None:
        for setting, pin in self.pins.items():
            if setting == "pir_pin":
                # queue_len=1: a PIR module smooths its own output (its hold time), so
                # the level it reports is taken as it is, sampled 10 times a second.
                self._pir = self._device(
                    setting,
                    pin,
                    functools.partial(
                        MotionSensor, pin, queue_len=1, sample_rate=10, pin_factory=factory
                    ),
                )
                self._pir.when_motion = self._on_motion
                continue
            beam: Beam = (
                "beam"
                if setting == "beam_pin"
                else ("outer" if setting.endswith("(outer)") else "inner")
            )
            # pull_up=True: the receiver's open-collector output is pulled up by the Pi
            # and goes low while the beam is broken, so "active" means broken.
            device = self._device(
                setting,
                pin,
                functools.partial(
                    DigitalInputDevice,
                    pin,
                    pull_up=True,
                    bounce_time=self.debounce_s or None,
                    pin_factory=factory,
                ),
            )
            if self._ticks_factory is None:
                self._ticks_factory = device.pin_factory
            self._debouncers[beam] = BeamDebouncer(self.debounce_s)
            device.when_activated = functools.partial(self._on_edge, beam, True)
            device.when_deactivated = functools.partial(self._on_edge, beam, False)

    def _device(self, setting: str, pin: int, make: Callable[[], Any]) -> Any:
        try:
            device = make()
        except BadPinFactory:
            raise
        except Exception as error:  # each pin library raises its own errors
            raise DriverError(
                f"gpio driver: cannot use BCM pin {pin} for {setting} "
                f"({type(error).__name__}: {error})",
                transient=False,
            ) from error
        self._devices.append(device)
        return device

    def _seconds(self) -> float:
        """Seconds since the first edge, from the pin factory's ticks (call with the lock).

        Ticks are opaque and may wrap (pigpio's do), so only differences between
        successive ticks are used, through the factory's own ``ticks_diff``.
        """
        factory = self._ticks_factory
        now = factory.ticks()
        if self._last_ticks is not None:
            self._elapsed_s += factory.ticks_diff(now, self._last_ticks)
        self._last_ticks = now
        return self._elapsed_s

    def _on_motion(self) -> None:
        # Called in gpiozero's sampling thread.
        with self._lock:
            self._motion_events += 1
            self._journal_count("motion")

    def _journal_count(self, kind: str) -> None:
        if self._journal is not None:  # the count stands even if journalling fails
            try:
                self._journal.counted(kind)
            except JournalError as error:
                log.error("gpio driver: a count is not journalled: %s", error)

    def _on_edge(self, beam: Beam, broken: bool) -> None:
        # Called in the pin library's thread (in the caller's for MockFactory pins).
        with self._lock:
            at = self._seconds()
            if not self._debouncers[beam].edge(at, broken):
                return
            if beam == "beam":
                self._counts["beam"] += 1
                self._journal_count("beam")
            elif self._direction is not None:
                passage = self._direction.broken(beam, at)
                if passage is not None:
                    self._counts[passage] += 1
                    self._journal_count(passage)

    def open_journal(self, path: Path) -> list[Reading]:
        """Journal counts at ``path``; returns the readings of the journal's hand-overs.

        Counts the journal holds that no read handed over (the process ended first) are
        taken back into this driver's counts, and go out with its next read. The
        readings returned are those earlier reads handed over; the agent appends the
        ones its store does not have, then calls :meth:`settle_journal`.

        Raises:
            DriverError: permanent; the journal cannot be opened or read.
        """
        try:
            journal = CountJournal(path)
            open_counts, handovers = journal.replay()
        except (OSError, UnicodeError) as error:
            raise DriverError(
                f"gpio driver: cannot use the count journal {path}: {error}", transient=False
            ) from error
        with self._lock:
            self._journal = journal
            taken = {**self._counts, "motion": self._motion_events}
            for kind, n in taken.items():  # counted before the journal was open
                if n:
                    journal.counted(kind, n)
            self._motion_events += open_counts.get("motion", 0)
            for kind in self._counts:
                self._counts[kind] += open_counts.get(kind, 0)
        return [
            reading
            for handover in handovers
            for reading in self._count_readings(
                handover.at,
                handover.counts.get("motion", 0),
                {kind: handover.counts.get(kind, 0) for kind in ("beam", "entry", "exit")},
            )
        ]

    def settle_journal(self) -> None:
        """The store has every hand-over (edge/count_recovery.py): keep the open counts."""
        with self._lock:
            if self._journal is not None:
                self._journal.settle({**self._counts, "motion": self._motion_events})

    def read(self) -> list[Reading]:
        """Occupancy now, and the counts since the previous read (which start again at 0).

        Raises:
            DriverError: permanent, if the driver has been closed.
        """
        if self.closed:
            raise DriverError("gpio driver: read after close()", transient=False)
        moment = self.clock()
        occupied = bool(self._pir.motion_detected) if self._pir is not None else False
        with self._lock:
            motion_events, counts = self._motion_events, dict(self._counts)
            if self._journal is not None:
                try:  # on the disk before the counts leave the driver
                    self._journal.handed_over(moment, {**counts, "motion": motion_events})
                    self._journal.compact_if_large({}, moment)
                except JournalError as error:
                    raise DriverError(f"gpio driver: {error}") from error
            self._motion_events = 0
            self._counts = {"beam": 0, "entry": 0, "exit": 0}
        readings = []
        if self._pir is not None:
            prefix = self.sensor_prefix
            readings.append(Reading(f"{prefix}-pir", "occupancy", float(occupied), "bool", moment))
        return readings + self._count_readings(moment, motion_events, counts)

    def _count_readings(
        self, moment: datetime, motion_events: int, counts: Mapping[str, int]
    ) -> list[Reading]:
        """The count readings of one read: PIR activations, footfall, entries and exits."""
        prefix = self.sensor_prefix
        readings = []
        if self._pir is not None:
            readings.append(
                Reading(f"{prefix}-pir", "motion_events", float(motion_events), "count", moment)
            )
        if "beam_pin" in self.pins:
            readings.append(
                Reading(f"{prefix}-door", "footfall", float(counts["beam"]), "count", moment)
            )
        if self._direction is not None:
            sensor = f"{prefix}-door-pair"
            readings += [
                Reading(sensor, "entries", float(counts["entry"]), "count", moment),
                Reading(sensor, "exits", float(counts["exit"]), "count", moment),
                Reading(sensor, "footfall", float(counts["entry"]), "count", moment),
            ]
        return readings

    def sensors(self) -> list[SensorInfo]:
        """The PIR and beam sensors this driver reads."""
        prefix = self.sensor_prefix
        infos = []
        if "pir_pin" in self.pins:
            pir = f"PIR motion sensor on GPIO{self.pins['pir_pin']}"
            infos += [
                SensorInfo(f"{prefix}-pir", "occupancy", "bool", part="PIR", description=pir),
                SensorInfo(
                    f"{prefix}-pir",
                    "motion_events",
                    "count",
                    part="PIR",
                    resolution=1,
                    description=pir,
                ),
            ]
        if "beam_pin" in self.pins:
            infos.append(
                SensorInfo(
                    f"{prefix}-door",
                    "footfall",
                    "count",
                    part="IR beam-break",
                    resolution=1,
                    description=f"Door beam on GPIO{self.pins['beam_pin']}: every passage",
                )
            )
        if self._direction is not None:
            pair = (
                f"Door beam pair on GPIO{self.pins['beam_pair_pins (outer)']} (outer) and "
                f"GPIO{self.pins['beam_pair_pins (inner)']} (inner)"
            )
            infos += [
                SensorInfo(
                    f"{prefix}-door-pair",
                    metric,
                    "count",
                    part="IR beam-break pair",
                    resolution=1,
                    description=pair,
                )
                for metric in ("entries", "exits", "footfall")
            ]
        return infos

    def close(self) -> None:
        """Release every pin (and a pin factory this driver made); safe to call twice."""
        devices, self._devices = self._devices, []
        for device in reversed(devices):
            # One device failing to close must not keep the others' pins reserved.
            with contextlib.suppress(Exception):
                device.close()
        factory, self._owned_factory = self._owned_factory, None
        if factory is not None:
            with contextlib.suppress(Exception):
                factory.close()
        journal, self._journal = getattr(self, "_journal", None), None
        if journal is not None:
            with contextlib.suppress(OSError):
                journal.close()
        super().close()
