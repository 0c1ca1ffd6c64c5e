"""The SDS011 driver against Nova Fitness's protocol, on a fake serial port.

Source: Nova Fitness, "Laser Dust Sensor Control Protocol V1.3".
- Data frame, 10 bytes: ``AA C0 PM25_lo PM25_hi PM10_lo PM10_hi ID1 ID2 checksum AB``,
  checksum = sum of the six data bytes & 0xFF, PM = (hi * 256 + lo) / 10 µg/m³. Its
  example ``AA C0 D4 04 3A 0A A1 60 1D AB`` is PM2.5 123.6 and PM10 261.8 µg/m³; the
  checksum checks: D4 + 04 + 3A + 0A + A1 + 60 = 0x21D, & 0xFF = 0x1D.
- Commands, 19 bytes: ``AA B4 cmd data1..data12 FF FF checksum AB``, checksum = sum of
  bytes 2 to 16 & 0xFF. Its examples: set work ``AA B4 06 01 01 00 … 00 FF FF 06 AB``,
  set sleep ``AA B4 06 01 00 00 … 00 FF FF 05 AB``, set active reporting
  ``AA B4 02 01 00 00 … 00 FF FF 01 AB``.
- Replies to commands, 10 bytes: ``AA C5 cmd data… ID1 ID2 checksum AB``.

The fake part below answers like one: a reply to every command, and, while awake, a
data frame each time the driver has read everything sent so far (one a second).
"""

import termios
from datetime import UTC, datetime

import pytest
import serial
from hypothesis import given, settings
from hypothesis import strategies as st

from sensors.driver import DriverConfigError, DriverError
from sensors.sds011 import Sds011Driver, command, decode_frame
from tests.support.fake_buses import FakeSerial

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)

EXAMPLE = bytes.fromhex("AA C0 D4 04 3A 0A A1 60 1D AB")
WORK = bytes.fromhex("AA B4 06 01 01 00 00 00 00 00 00 00 00 00 00 FF FF 06 AB")
SLEEP = bytes.fromhex("AA B4 06 01 00 00 00 00 00 00 00 00 00 00 00 FF FF 05 AB")
ACTIVE = bytes.fromhex("AA B4 02 01 00 00 00 00 00 00 00 00 00 00 00 FF FF 01 AB")
NAMES = {WORK: "work", SLEEP: "sleep", ACTIVE: "active"}


def frame(pm25, pm10, device_id=b"\xa1\x60"):
    data = round(pm25 * 10).to_bytes(2, "little") + round(pm10 * 10).to_bytes(2, "little")
    data += device_id
    return b"\xaa\xc0" + data + bytes([sum(data) & 0xFF, 0xAB])


def reply(written):
    data = written[2:5] + b"\x00\xa1\x60"
    return b"\xaa\xc5" + data + bytes([sum(data) & 0xFF, 0xAB])


class Part:
    """A fake SDS011: replies to commands, streams ``frames`` in turn while awake."""

    def __init__(self, frames=()):
        self.frames = list(frames)
        self.awake = False
        self.events = []
        self.port = FakeSerial(on_write=self.on_write, stream=self.stream)

    def on_write(self, port, data):
        self.events.append(NAMES.get(data, data.hex()))
        if data[2] == 0x06 and data[3] == 1:
            self.awake = data[4] == 1
        port.feed(reply(data))

    def stream(self):
        if not self.awake or not self.frames:
            return b""
        self.events.append("frame")
        return self.frames.pop(0)

    def sleep(self, seconds):
        self.events.append(f"warm-up {seconds:g}")


def started(frames=(), **options):
    """A driver past its start-up (which takes EXAMPLE), with ``frames`` still to stream."""
    part = Part([EXAMPLE, *frames])
    options.setdefault("sleep", part.sleep)
    driver = Sds011Driver(serial=part.port, clock=lambda: NOW, **options)
    part.events.clear()
    return driver, part


def values(readings):
    return {r.metric: r.value for r in readings}


def test_the_protocols_example_frame_decodes_to_its_documented_values():
    assert sum(EXAMPLE[2:8]) & 0xFF == 0x1D
    assert decode_frame(EXAMPLE) == (123.6, 261.8)
    driver, _ = started([EXAMPLE], samples=1)
    assert values(driver.read()) == {"pm2_5": 123.6, "pm10": 261.8}


def test_commands_are_the_protocols_bytes_checksums_included():
    assert command(0x06, 1, 1) == WORK
    assert command(0x06, 1, 0) == SLEEP
    assert command(0x02, 1, 0) == ACTIVE


def test_readings_are_pm2_5_and_pm10_in_micrograms_from_the_sds011_at_the_clocks_time():
    driver, _ = started([frame(4.2, 8.8)] * 5)
    readings = driver.read()
    assert [(r.sensor_id, r.metric, r.unit, r.timestamp) for r in readings] == [
        ("sds011", "pm2_5", "µg/m³", NOW),
        ("sds011", "pm10", "µg/m³", NOW),
    ]
    assert values(readings) == {"pm2_5": 4.2, "pm10": 8.8}


def test_start_up_wakes_the_part_sets_active_reporting_waits_for_a_frame_and_sleeps_it():
    part = Part([EXAMPLE])
    Sds011Driver(serial=part.port, sleep=part.sleep)
    assert part.events == ["work", "active", "frame", "sleep"]
    assert not part.awake


def test_start_up_without_duty_cycle_leaves_the_part_running():
    part = Part([EXAMPLE])
    Sds011Driver(serial=part.port, sleep=part.sleep, duty_cycle=False)
    assert part.events == ["work", "active", "frame"]
    assert part.awake


def test_a_read_wakes_the_part_warms_up_takes_its_samples_then_sleeps_it():
    driver, part = started([frame(5, 9)] * 5, warmup_s=45, interval_s=600)
    driver.read()
    assert part.events == ["work", "active", "warm-up 45", *["frame"] * 5, "sleep"]
    assert not part.awake


def test_frames_sent_during_the_warm_up_do_not_count():
    driver, part = started([frame(5, 9)] * 5)

    def warm_up(seconds):
        part.port.feed(frame(900, 900) * 3)  # stale air in the chamber

    driver.sleep = warm_up
    assert values(driver.read()) == {"pm2_5": 5.0, "pm10": 9.0}


def test_without_duty_cycle_no_sleep_command_is_ever_sent_and_no_warm_up_waited():
    driver, part = started([frame(5, 9)] * 10, duty_cycle=False)
    driver.read()
    driver.read()
    driver.close()
    assert SLEEP not in part.port.written
    assert part.events == ["frame"] * 10
    assert part.awake


def test_without_duty_cycle_frames_buffered_since_the_last_read_are_dropped():
    driver, part = started([frame(5, 9)] * 5, duty_cycle=False)
    part.port.feed(frame(700, 800) * 2)  # streamed while nobody was reading
    assert values(driver.read()) == {"pm2_5": 5.0, "pm10": 9.0}


def test_the_median_of_the_samples_is_kept():
    frames = [frame(v, v * 2) for v in (10, 12, 50, 11, 13)]
    driver, _ = started(frames)
    assert values(driver.read()) == {"pm2_5": 12.0, "pm10": 24.0}


def test_an_even_number_of_samples_keeps_the_mean_of_the_middle_two():
    driver, _ = started([frame(v, v) for v in (10, 30, 20, 99)], samples=4)
    assert values(driver.read()) == {"pm2_5": 25.0, "pm10": 25.0}


@pytest.mark.parametrize(
    ("where", "flip"),
    [(8, 0x01), (9, 0x10), (2, 0x04)],
    ids=["checksum", "tail", "data byte"],
)
def test_a_corrupted_frame_is_counted_and_skipped_and_good_frames_still_used(where, flip):
    bad = bytearray(frame(99, 99))
    bad[where] ^= flip
    driver, _ = started([bytes(bad), *[frame(7, 8)] * 5])
    assert values(driver.read()) == {"pm2_5": 7.0, "pm10": 8.0}
    assert driver.checksum_failures == 1


def test_garbage_and_command_replies_before_a_frame_are_skipped():
    garbage = b"\x00\xaa\x13\xff\xab\xc0noise" + reply(WORK)
    driver, _ = started([garbage + frame(7, 8), *[frame(7, 8)] * 4])
    assert values(driver.read()) == {"pm2_5": 7.0, "pm10": 8.0}
    assert driver.checksum_failures == 0


def test_a_frame_inside_a_false_start_is_still_found():
    driver, _ = started([b"\xaa\xc0\x01" + frame(7, 8), *[frame(7, 8)] * 4])
    assert values(driver.read()) == {"pm2_5": 7.0, "pm10": 8.0}
    assert driver.checksum_failures == 1


def test_frames_split_across_port_reads_are_put_back_together():
    blob = b"\x55\xaa" + b"".join(frame(v, v + 1) for v in (3, 4, 5, 6, 7))
    pieces = [blob[i : i + 3] for i in range(0, len(blob), 3)]
    driver, part = started()
    part.frames = pieces
    assert values(driver.read()) == {"pm2_5": 5.0, "pm10": 6.0}


def test_too_few_good_frames_is_a_transient_error_saying_how_many_were_bad():
    bad = bytearray(frame(1, 1))
    bad[8] ^= 0xFF
    driver, _ = started([frame(7, 8), bytes(bad), frame(7, 8)])
    with pytest.raises(DriverError, match=r"2 good frames of 5 \(1 bad") as raised:
        driver.read()
    assert raised.value.transient
    assert "stopped answering" in str(raised.value)
    assert driver.checksum_failures == 1


def test_a_part_streaming_only_corrupted_frames_ends_the_read():
    bad = bytearray(frame(1, 1))
    bad[9] = 0x00
    driver, part = started()
    part.port.stream = lambda: bytes(bad)  # for ever
    with pytest.raises(DriverError, match="0 good frames of 5") as raised:
        driver.read()
    assert raised.value.transient
    assert driver.checksum_failures == 15  # samples * 3 frames looked at, no more


def test_the_part_sleeps_after_a_failed_read():
    driver, part = started([])
    with pytest.raises(DriverError):
        driver.read()
    assert part.events[-1] == "sleep"


@pytest.mark.parametrize(
    "error",
    [
        OSError(5, "Input/output error"),
        serial.SerialException("device reports readiness to read but returned no data"),
        termios.error(5, "Input/output error"),
    ],
    ids=["OSError", "SerialException", "termios.error"],
)
def test_a_port_error_is_a_transient_error_naming_the_part_and_the_port(error):
    driver, part = started([frame(1, 1)] * 5, port="/dev/ttyUSB1")
    part.port.fail_next = error
    with pytest.raises(DriverError) as raised:
        driver.read()
    assert raised.value.transient
    message = str(raised.value)
    assert message.startswith("sds011 driver: /dev/ttyUSB1 failed while reading the Nova SDS011")


def test_no_answer_at_start_is_a_permanent_error_naming_the_part_the_port_and_what_to_check():
    part = Part([])  # it replies to commands but sends no data frame
    with pytest.raises(DriverError) as raised:
        Sds011Driver(serial=part.port, port="/dev/ttyUSB3", sleep=part.sleep)
    assert not raised.value.transient
    message = str(raised.value)
    assert message.startswith("sds011 driver: no Nova SDS011 answers on /dev/ttyUSB3")
    assert "USB adapter" in message
    assert "5 V" in message
    assert "TXD" in message
    assert part.port.closed


def test_a_port_that_is_not_there_is_a_permanent_error_naming_it():
    with pytest.raises(DriverError, match="/dev/ttyNOSUCHPORT") as raised:
        Sds011Driver(port="/dev/ttyNOSUCHPORT", sleep=lambda s: None)
    assert not raised.value.transient


def test_the_defaults_are_the_documented_ones():
    driver, _ = started()
    assert driver.name == "sds011"
    assert driver.port_name == "/dev/ttyUSB0"
    assert (driver.interval_s, driver.warmup_s, driver.samples, driver.duty_cycle) == (
        300.0,
        30.0,
        5,
        True,
    )


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_never_become_a_reading(data):
    driver, part = started(samples=1)
    part.frames = [data]
    with pytest.raises(DriverError) as raised:
        driver.read()
    assert raised.value.transient


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_at_start_never_find_a_part(data):
    part = Part([data])
    with pytest.raises(DriverError) as raised:
        Sds011Driver(serial=part.port, sleep=part.sleep)
    assert not raised.value.transient


def test_all_ff_bytes_never_become_a_reading():
    driver, part = started(samples=1)
    part.port.stream = lambda: b"\xff" * 10  # for ever
    with pytest.raises(DriverError, match="0 good frames"):
        driver.read()


@pytest.mark.parametrize(
    ("options", "setting"),
    [
        ({"warmup_s": -1}, "warmup_s"),
        ({"warmup_s": 121}, "warmup_s"),
        ({"samples": 0}, "samples"),
        ({"samples": 31}, "samples"),
        ({"interval_s": 35, "warmup_s": 30, "samples": 5}, "interval_s"),
        ({"interval_s": 0}, "interval_s"),
    ],
)
def test_bad_settings_are_a_config_error_naming_the_setting(options, setting):
    port = FakeSerial()
    with pytest.raises(DriverConfigError, match=setting):
        Sds011Driver(serial=port, sleep=lambda s: None, **options)
    assert port.written == []  # refused before talking to the part


def test_a_short_interval_is_fine_when_the_part_runs_continuously():
    driver, _ = started(interval_s=10, warmup_s=30, duty_cycle=False)
    assert driver.interval_s == 10


def test_close_sleeps_the_part_once_and_releases_the_port():
    driver, part = started()
    driver.close()
    driver.close()
    assert part.events == ["sleep"]
    assert part.port.closed


def test_close_releases_the_port_even_if_the_sleep_command_fails():
    driver, part = started()
    part.port.fail_next = OSError(5, "Input/output error")
    driver.close()
    assert part.port.closed


def test_sensors_give_the_datasheets_accuracy_and_resolution():
    driver, _ = started()
    infos = driver.sensors()
    assert [(i.sensor_id, i.metric, i.unit) for i in infos] == [
        ("sds011", "pm2_5", "µg/m³"),
        ("sds011", "pm10", "µg/m³"),
    ]
    for info in infos:
        assert (info.part, info.accuracy, info.resolution) == ("Nova SDS011", 10.0, 0.3)
        assert "±15 % and ±10 µg/m³" in info.description
