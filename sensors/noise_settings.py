"""The noise driver's settings (a USB microphone), declared for the node's settings loader."""

from __future__ import annotations

from dataclasses import dataclass

from sensors.settings import DriverSettings, NoChecks, setting


@dataclass(frozen=True)
class NoiseSettings(NoChecks):
    """``HALLSENSE_NOISE_*``."""

    interval_s: float = setting(
        60.0, "Noise driver (USB microphone): seconds between levels.", "s", above=0
    )
    device: str = setting(
        "default", "Noise driver: the ALSA capture device (see `arecord -L`), e.g. plughw:1."
    )
    window_s: float = setting(
        5.0, "Noise driver: how long it listens in each interval (no audio is kept).", "s"
    )
    sample_rate: int = setting(48000, "Noise driver: samples per second.", "Hz")
    calibration_db: float = setting(
        120.0,
        "Noise driver: dB SPL of a full-scale signal for this microphone, set once against a "
        "sound level meter.",
        "dB",
    )


SETTINGS = DriverSettings("noise", NoiseSettings)
