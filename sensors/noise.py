"""How loud the hall is, in dBA, from a USB microphone, without recording anything.

Each read listens for ``window_s`` seconds through ALSA (``arecord`` from alsa-utils
writes raw samples to a pipe; nothing touches the disk), A-weights the samples with
the IEC 61672 filter (its analogue poles, by the bilinear transform, as three biquad
sections), and turns their mean square into one number: the equivalent continuous
level L_Aeq over the window. The samples are dropped as soon as that number exists.
A microphone's level in dB full scale becomes dB SPL only with its own calibration
offset (``calibration_db``), which a council sets once against a sound level meter.
"""

from __future__ import annotations

import array
import cmath
import math
import shutil
import subprocess
import sys
from collections.abc import Sequence
from typing import Protocol

from presentation.reading_flags import Censor
from sensors.driver import Clock, Driver, DriverConfigError, DriverError
from sensors.reading import Reading, SensorInfo, utc_now

A_POLES_HZ = (20.598997, 20.598997, 107.65265, 737.86223, 12194.217, 12194.217)
"""The A-weighting filter's analogue poles (IEC 61672-1, annex E)."""
FULL_SCALE_MEAN_SQUARE = 32768.0**2 / 2
"""A full-scale sine is 0 dB full scale (AES17)."""
SETTLE_S = 0.1
"""Filter output dropped at the start of a window, while the 20 Hz poles settle."""
CLIPPED_SHARE = 0.01
QUIETEST_DBFS = -120.0

Section = tuple[float, float, float, float, float]
"""One biquad: b0, b1, b2, a1, a2 (a0 = 1)."""


class AudioSource(Protocol):
    """Where samples come from: ``arecord`` on a node, generated tones in tests."""

    sample_rate: int

    def record(self, seconds: float) -> array.array[int]:
        """``seconds`` of mono signed 16-bit samples."""
        ...


def a_weighting(sample_rate: int) -> list[Section]:
    """The A-weighting filter for ``sample_rate`` as biquads, 0 dB at 1 kHz."""
    k = 2.0 * sample_rate
    poles = [(k - 2 * math.pi * f) / (k + 2 * math.pi * f) for f in A_POLES_HZ]
    # Four zeros at s = 0 map to z = 1; the two more poles than zeros map to z = -1.
    pairs = (((1.0, 1.0), poles[0:2]), ((1.0, 1.0), poles[2:4]), ((-1.0, -1.0), poles[4:6]))
    sections: list[Section] = []
    for (z1, z2), (p1, p2) in pairs:
        sections.append((1.0, -(z1 + z2), z1 * z2, -(p1 + p2), p1 * p2))
    gain = 1.0 / abs(_response(sections, 1000.0, sample_rate))
    b0, b1, b2, a1, a2 = sections[0]
    sections[0] = (b0 * gain, b1 * gain, b2 * gain, a1, a2)
    return sections


def _response(sections: Sequence[Section], frequency: float, sample_rate: int) -> complex:
    z = cmath.exp(-2j * math.pi * frequency / sample_rate)  # z^-1
    h = complex(1.0)
    for b0, b1, b2, a1, a2 in sections:
        h *= (b0 + b1 * z + b2 * z * z) / (1 + a1 * z + a2 * z * z)
    return h


def response_db(frequency: float, sample_rate: int) -> float:
    """The digital filter's gain at ``frequency``, in dB (for the tests and docs)."""
    return 20 * math.log10(abs(_response(a_weighting(sample_rate), frequency, sample_rate)))


def a_weighted_mean_square(samples: Sequence[int], sample_rate: int) -> float:
    """The mean square of the A-weighted signal, after the filter has settled."""
    signal = [float(v) for v in samples]
    for b0, b1, b2, a1, a2 in a_weighting(sample_rate):
        z1 = z2 = 0.0
        out = [0.0] * len(signal)
        for i, x in enumerate(signal):
            y = b0 * x + z1
            z1 = b1 * x - a1 * y + z2
            z2 = b2 * x - a2 * y
            out[i] = y
        signal = out
    settled = signal[int(SETTLE_S * sample_rate) :]
    if not settled:
        return 0.0
    return math.fsum(y * y for y in settled) / len(settled)


class ArecordSource:
    """Samples from an ALSA capture device through ``arecord``, over a pipe."""

    def __init__(self, device: str, sample_rate: int) -> None:
        self.device = device
        self.sample_rate = sample_rate
        self.command = shutil.which("arecord")
        if self.command is None:
            raise DriverError(
                "noise driver: arecord is not installed; apt-get install -y alsa-utils",
                transient=False,
            )

    def record(self, seconds: float) -> array.array[int]:
        """Capture ``seconds`` of audio into memory; raise DriverError if ALSA cannot."""
        frames = max(1, int(seconds * self.sample_rate))
        try:
            done = subprocess.run(  # noqa: S603 - a fixed command, no shell
                [
                    str(self.command),
                    *("-D", self.device, "-f", "S16_LE", "-c", "1"),
                    *("-r", str(self.sample_rate), "-t", "raw", "-q", "-s", str(frames)),
                ],
                capture_output=True,
                timeout=seconds + 10,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise DriverError(f"noise driver: {self.device} did not deliver audio") from error
        if done.returncode != 0:
            reason = done.stderr.decode(errors="replace").strip().splitlines()
            raise DriverError(
                f"noise driver: cannot capture from ALSA device {self.device}: "
                f"{reason[-1] if reason else f'arecord exit status {done.returncode}'}"
            )
        samples = array.array("h")
        samples.frombytes(done.stdout[: len(done.stdout) // 2 * 2])
        if sys.byteorder == "big":
            samples.byteswap()
        return samples


class NoiseDriver(Driver):
    """The A-weighted equivalent sound level (L_Aeq) over a window of each interval, in dBA.

    A level where over 1 % of samples hit full scale is given as "more than" it (the
    microphone was saturated); pure digital silence as "less than" the quietest level
    the microphone can tell.
    """

    name = "noise"

    def __init__(
        self,
        *,
        interval_s: float = 60.0,
        clock: Clock = utc_now,
        device: str = "default",
        sample_rate: int = 48_000,
        window_s: float = 5.0,
        calibration_db: float = 120.0,
        source: AudioSource | None = None,
    ) -> None:
        super().__init__(interval_s=interval_s, clock=clock)
        if not 1 <= window_s <= 30:
            raise DriverConfigError(
                f"noise driver: window_s must be 1 to 30 seconds, got {window_s!r}"
            )
        if window_s >= interval_s:
            raise DriverConfigError(
                f"noise driver: window_s ({window_s:g} s) must be shorter than the interval "
                f"({interval_s:g} s)"
            )
        if sample_rate not in (16_000, 22_050, 32_000, 44_100, 48_000):
            raise DriverConfigError(
                "noise driver: sample_rate must be 16000, 22050, 32000, 44100 or 48000, "
                f"got {sample_rate!r}"
            )
        self.window_s = window_s
        self.calibration_db = calibration_db
        self.source = source if source is not None else ArecordSource(device, sample_rate)
        self.device = device
        try:
            self.source.record(0.2)
        except DriverError as error:
            raise DriverError(
                f"noise driver: no microphone answers on ALSA device {device} ({error}); "
                "plug in the USB microphone and check `arecord -l`",
                transient=False,
            ) from error

    def read(self) -> list[Reading]:
        """Listen for ``window_s`` and give the level; the audio itself is not kept."""
        samples = self.source.record(self.window_s)
        rate = self.source.sample_rate
        if len(samples) < (self.window_s / 2) * rate:
            raise DriverError(
                f"noise driver: {self.device} gave {len(samples) / rate:.1f} s of the "
                f"{self.window_s:g} s asked for"
            )
        clipped = sum(1 for v in samples if v >= 32767 or v <= -32768)
        mean_square = a_weighted_mean_square(samples, rate)
        del samples
        censor = None
        if mean_square <= 0:
            dbfs = QUIETEST_DBFS
            censor = Censor.LESS_THAN
        else:
            dbfs = max(QUIETEST_DBFS, 10 * math.log10(mean_square / FULL_SCALE_MEAN_SQUARE))
        if clipped > CLIPPED_SHARE * (self.window_s * rate):
            censor = Censor.MORE_THAN
        level = round(dbfs + self.calibration_db, 1)
        return [Reading(self.name, "noise", level, "dBA", self.clock(), censor=censor)]

    def sensors(self) -> Sequence[SensorInfo]:
        """A USB microphone: its accuracy is the council's calibration, not a datasheet's."""
        return [
            SensorInfo(
                self.name,
                "noise",
                "dBA",
                part=f"USB microphone ({self.device})",
                resolution=0.1,
                description=(
                    f"L_Aeq over {self.window_s:g} s of each interval; no audio is recorded or kept"
                ),
            )
        ]
