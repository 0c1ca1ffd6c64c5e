"""The GPIO driver's settings, declared without importing gpiozero."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sensors.settings import DriverSettings, setting

LOWEST_PIN = 0
HIGHEST_PIN = 27


@dataclass(frozen=True)
class GpioSettings:
    """``HALLSENSE_GPIO_*``."""

    interval_s: float = setting(
        60.0, "GPIO driver: seconds between occupancy and count readings.", "s", above=0
    )
    pir_pin: int | None = setting(
        None,
        "GPIO driver: BCM pin of the PIR motion sensor.",
        "BCM pin",
        min=LOWEST_PIN,
        max=HIGHEST_PIN,
    )
    beam_pin: int | None = setting(
        None,
        "GPIO driver: BCM pin of a single beam-break door counter.",
        "BCM pin",
        min=LOWEST_PIN,
        max=HIGHEST_PIN,
    )
    beam_pair_pins: tuple[int, int] | None = setting(
        None,
        "GPIO driver: BCM pins of an outer,inner beam pair that tells entries from exits.",
        "BCM pins",
    )
    debounce_ms: float = setting(
        50.0, "GPIO driver: edges closer together than this count once.", "ms", min=0
    )
    pin_factory: Literal["auto", "lgpio", "rpigpio", "native", "mock"] = setting(
        "auto",
        "GPIO driver: gpiozero pin factory (auto picks lgpio on a Pi 5).",
        argument="pin_factory_name",
    )

    def check(self) -> list[tuple[str, str]]:
        """Each pin of the beam pair is a BCM pin."""
        return [
            ("beam_pair_pins", f"BCM pins are {LOWEST_PIN} to {HIGHEST_PIN}, got {pin}")
            for pin in self.beam_pair_pins or ()
            if not LOWEST_PIN <= pin <= HIGHEST_PIN
        ]

    def unusable(self) -> str | None:
        """Without a pin there is nothing to read."""
        if (self.pir_pin, self.beam_pin, self.beam_pair_pins) == (None, None, None):
            return (
                "the gpio driver needs at least one of HALLSENSE_GPIO_PIR_PIN, "
                "HALLSENSE_GPIO_BEAM_PIN, HALLSENSE_GPIO_BEAM_PAIR_PINS"
            )
        return None


SETTINGS = DriverSettings("gpio", GpioSettings)
