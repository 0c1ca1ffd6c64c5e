"""The noise driver: IEC 61672 A-weighting, levels of known tones, and no audio kept.

The reference values are IEC 61672-1:2013 table 3 (A-weighting at the nominal
frequencies) and its class 1 acceptance limits; a sine of amplitude A is
20·log10(A / 32768) dB full scale (AES17).
"""

import array
import math
import os
import stat
import sys
import textwrap

import pytest

from presentation.reading_flags import Censor
from sensors.driver import DriverConfigError, DriverError
from sensors.noise import ArecordSource, NoiseDriver, response_db

# (frequency Hz, A-weighting dB, class 1 limit below, class 1 limit above)
IEC_61672 = [
    (31.5, -39.4, 1.5, 1.5),
    (63, -26.2, 1.0, 1.0),
    (125, -16.1, 1.0, 1.0),
    (250, -8.6, 1.0, 1.0),
    (500, -3.2, 1.0, 1.0),
    (1000, 0.0, 0.7, 0.7),
    (2000, 1.2, 1.0, 1.0),
    (4000, 1.0, 1.0, 1.0),
    (8000, -1.1, 3.1, 2.1),
    (16000, -6.6, 17.0, 3.5),
]


@pytest.mark.parametrize(("frequency", "weight", "below", "above"), IEC_61672)
def test_the_digital_filter_meets_iec_61672_class_1_at_48_khz(frequency, weight, below, above):
    assert weight - below <= response_db(frequency, 48_000) <= weight + above
    if frequency <= 4000:
        assert response_db(frequency, 48_000) == pytest.approx(weight, abs=0.2)


def tone(frequency, dbfs, seconds, rate=48_000):
    amplitude = 32768 * 10 ** (dbfs / 20)
    return array.array(
        "h",
        (
            max(-32768, min(32767, round(amplitude * math.sin(2 * math.pi * frequency * i / rate))))
            for i in range(int(seconds * rate))
        ),
    )


class Tones:
    """An audio source that plays what the test queued, and says what was asked of it."""

    sample_rate = 48_000

    def __init__(self, *recordings):
        self.recordings = list(recordings)
        self.asked = []

    def record(self, seconds):
        self.asked.append(seconds)
        if seconds < 1:  # the start-up check
            return array.array("h", [0] * int(seconds * self.sample_rate))
        return self.recordings.pop(0)


def driver(*recordings, **options):
    options.setdefault("window_s", 1.0)
    options.setdefault("calibration_db", 100.0)
    return NoiseDriver(source=Tones(*recordings), **options)


def test_a_1_khz_tone_reads_its_level_plus_the_calibration():
    [reading] = driver(tone(1000, -20, 1.0)).read()
    assert (reading.metric, reading.unit, reading.censor) == ("noise", "dBA", None)
    assert reading.value == pytest.approx(80.0, abs=0.1)


def test_a_100_hz_tone_is_weighted_down_as_the_ear_hears_it():
    [reading] = driver(tone(100, -20, 1.0)).read()
    assert reading.value == pytest.approx(80.0 - 19.1, abs=0.2)


def test_two_tones_add_as_energy():
    both = array.array(
        "h", (a + b for a, b in zip(tone(1000, -26, 1.0), tone(2000, -26, 1.0), strict=True))
    )
    [reading] = driver(both).read()
    expected = 10 * math.log10(10 ** (-2.6) + 10 ** ((-26 + 1.2) / 10)) + 100
    assert reading.value == pytest.approx(expected, abs=0.2)


def test_silence_is_less_than_the_quietest_level_and_a_saturated_microphone_more_than():
    [quiet] = driver(array.array("h", [0] * 48_000)).read()
    assert quiet.censor is Censor.LESS_THAN
    [loud] = driver(tone(1000, 3, 1.0)).read()  # clipped
    assert loud.censor is Censor.MORE_THAN


def test_it_listens_for_the_window_it_is_given():
    source = Tones(tone(1000, -30, 5.0))
    NoiseDriver(source=source, window_s=5.0).read()
    assert source.asked == [0.2, 5.0]


def test_a_short_capture_is_a_transient_error():
    with pytest.raises(DriverError, match=r"0\.3 s of the 1 s") as raised:
        driver(tone(1000, -20, 0.3)).read()
    assert raised.value.transient


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"window_s": 0.5}, "window_s must be 1 to 30"),
        ({"window_s": 10, "interval_s": 10}, "must be shorter than the interval"),
        ({"sample_rate": 8000}, "sample_rate must be"),
    ],
)
def test_bad_settings_are_named(options, words):
    with pytest.raises(DriverConfigError, match=words):
        NoiseDriver(source=Tones(), **options)


def test_without_arecord_the_error_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DriverError, match="apt-get install -y alsa-utils") as raised:
        NoiseDriver()
    assert not raised.value.transient


def fake_arecord(directory, body):
    """An ``arecord`` on PATH, as a stand-in for ALSA and a microphone this machine lacks."""
    script = directory / "arecord"
    script.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_audio_comes_through_a_pipe_from_arecord_and_nothing_is_written(monkeypatch, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    fake_arecord(
        bin_dir,
        """
        import math, struct, sys
        args = sys.argv[1:]
        assert args[args.index("-t") + 1] == "raw" and args[-1].isdigit(), args  # to stdout
        rate, frames = int(args[args.index("-r") + 1]), int(args[args.index("-s") + 1])
        amplitude = 32768 * 10 ** (-20 / 20)
        sys.stdout.buffer.write(b"".join(
            struct.pack("<h", round(amplitude * math.sin(2 * math.pi * 1000 * i / rate)))
            for i in range(frames)))
        """,
    )
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.chdir(work)
    noise = NoiseDriver(device="plughw:1", window_s=1.0, calibration_db=100.0)
    [reading] = noise.read()
    assert reading.value == pytest.approx(80.0, abs=0.1)
    assert list(work.iterdir()) == []


def test_a_microphone_that_is_not_there_is_a_permanent_error_naming_the_device(
    monkeypatch, tmp_path
):
    fake_arecord(
        tmp_path,
        """
        import sys
        sys.stderr.write("arecord: main:831: audio open error: No such file or directory\\n")
        sys.exit(1)
        """,
    )
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(DriverError) as raised:
        NoiseDriver(device="plughw:1")
    assert not raised.value.transient
    assert "plughw:1" in str(raised.value)
    assert "audio open error" in str(raised.value)
    assert "arecord -l" in str(raised.value)


def test_the_source_reports_a_device_that_went_away(monkeypatch, tmp_path):
    fake_arecord(tmp_path, "import sys\nsys.exit(1)\n")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(DriverError, match="arecord exit status 1"):
        ArecordSource("plughw:1", 48_000).record(1.0)
