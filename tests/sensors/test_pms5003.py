"""The PMS5003 driver against Plantower's datasheet, on a fake serial port.

Source: Plantower PMS5003 (and PMS7003) datasheet, appendix I, "transport protocol".
- Data frame, 32 bytes: ``42 4D``, frame length (big-endian, 2 * 13 + 2 = 28), thirteen
  big-endian data words (PM1.0/PM2.5/PM10 "CF=1, standard particle"; PM1.0/PM2.5/PM10
  "under atmospheric environment"; particles beyond 0.3, 0.5, 1.0, 2.5, 5.0 and 10 µm in
  0.1 L of air; reserved), then a check word = the sum of the 30 bytes before it.
- Commands, 7 bytes: ``42 4D CMD DATAH DATAL LRCH LRCL``, LRC = the sum of the first five
  bytes. Its commands: passive ``42 4D E1 00 00 01 70``, active ``42 4D E1 00 01 01 71``,
  read in passive mode ``42 4D E2 00 00 01 71``, sleep ``42 4D E4 00 00 01 73``, wake
  ``42 4D E4 00 01 01 74``.
- The part answers a mode command with an 8-byte frame, ``42 4D 00 04 E1 00 01 74``.

The datasheet gives no example data frame, so the one here is built from the layout,
its check word worked out by hand (see ``EXAMPLE``).

The fake part below answers like one in passive mode: the 8-byte answer to the mode
command, and one data frame for each read command while it is awake.
"""

import termios
from datetime import UTC, datetime

import pytest
import serial
from hypothesis import given, settings
from hypothesis import strategies as st

from sensors.driver import DriverConfigError, DriverError
from sensors.pms5003 import Pms5003Driver, command, decode_frame
from tests.support.fake_buses import FakeSerial

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)

PASSIVE = bytes.fromhex("42 4D E1 00 00 01 70")
ACTIVE = bytes.fromhex("42 4D E1 00 01 01 71")
READ = bytes.fromhex("42 4D E2 00 00 01 71")
SLEEP = bytes.fromhex("42 4D E4 00 00 01 73")
WAKE = bytes.fromhex("42 4D E4 00 01 01 74")
MODE_ANSWER = bytes.fromhex("42 4D 00 04 E1 00 01 74")
NAMES = {PASSIVE: "passive", ACTIVE: "active", READ: "read", SLEEP: "sleep", WAKE: "wake"}

# CF=1 PM1.0 12, PM2.5 20, PM10 25; atmospheric PM1.0 11, PM2.5 18, PM10 23; counts
# 1500, 430, 80, 10, 2, 1; reserved 0. Check word: 0x42 + 0x4D + 0x1C (length) + the
# words' bytes (12 + 20 + 25 + 11 + 18 + 23 + 0x05 + 0xDC + 0x01 + 0xAE + 80 + 10 + 2 + 1)
# = 66 + 77 + 28 + 109 + 5 + 220 + 1 + 174 + 93 = 773 = 0x0305.
EXAMPLE = bytes.fromhex(
    "42 4D 00 1C 00 0C 00 14 00 19 00 0B 00 12 00 17"
    " 05 DC 01 AE 00 50 00 0A 00 02 00 01 00 00 03 05"
)


def frame(pm25, pm10, cf1=(1, 2, 3)):
    words = [*cf1, 4, pm25, pm10, 100, 50, 20, 5, 1, 0, 0]
    body = b"\x42\x4d" + (28).to_bytes(2, "big") + b"".join(w.to_bytes(2, "big") for w in words)
    return body + (sum(body) & 0xFFFF).to_bytes(2, "big")


class Part:
    """A fake PMS5003 in passive mode: ``frames`` in turn, one for each read command."""

    def __init__(self, frames=(), answers_reads=True):
        self.frames = list(frames)
        self.answers_reads = answers_reads
        self.awake = False
        self.events = []
        self.port = FakeSerial(on_write=self.on_write)

    def on_write(self, port, data):
        self.events.append(NAMES.get(data, data.hex()))
        if data == WAKE:
            self.awake = True
        elif data == SLEEP:
            self.awake = False
        elif data == PASSIVE:
            port.feed(MODE_ANSWER)
        elif data == READ and self.awake and self.answers_reads and self.frames:
            port.feed(self.frames.pop(0))

    def sleep(self, seconds):
        self.events.append(f"warm-up {seconds:g}")


def started(frames=(), **options):
    """A driver past its start-up (which takes EXAMPLE), with ``frames`` still to send."""
    part = Part([EXAMPLE, *frames])
    options.setdefault("sleep", part.sleep)
    driver = Pms5003Driver(serial=part.port, clock=lambda: NOW, **options)
    part.events.clear()
    return driver, part


def values(readings):
    return {r.metric: r.value for r in readings}


def test_a_frame_built_from_the_layout_decodes_to_its_atmospheric_values():
    assert sum(EXAMPLE[:30]) == 0x0305
    assert decode_frame(EXAMPLE) == (18.0, 23.0)  # not the CF=1 20 and 25
    driver, _ = started([EXAMPLE], samples=1)
    assert values(driver.read()) == {"pm2_5": 18.0, "pm10": 23.0}


def test_commands_are_the_datasheets_bytes_checksums_included():
    assert command(0xE1, 0) == PASSIVE
    assert command(0xE1, 1) == ACTIVE
    assert command(0xE2) == READ
    assert command(0xE4, 0) == SLEEP
    assert command(0xE4, 1) == WAKE


def test_readings_are_pm2_5_and_pm10_in_micrograms_from_the_pms5003_at_the_clocks_time():
    driver, _ = started([frame(4, 9)] * 5)
    readings = driver.read()
    assert [(r.sensor_id, r.metric, r.unit, r.timestamp) for r in readings] == [
        ("pms5003", "pm2_5", "µg/m³", NOW),
        ("pms5003", "pm10", "µg/m³", NOW),
    ]
    assert values(readings) == {"pm2_5": 4.0, "pm10": 9.0}


def test_start_up_wakes_sets_passive_asks_for_a_frame_and_sleeps_the_part():
    part = Part([EXAMPLE])
    driver = Pms5003Driver(serial=part.port, sleep=part.sleep)
    assert part.events == ["wake", "passive", "read", "sleep"]
    assert not part.awake
    assert driver.checksum_failures == 0  # the mode command's answer is skipped, not counted


def test_start_up_without_duty_cycle_leaves_the_part_running():
    part = Part([EXAMPLE])
    Pms5003Driver(serial=part.port, sleep=part.sleep, duty_cycle=False)
    assert part.events == ["wake", "passive", "read"]
    assert part.awake


def test_a_read_wakes_the_part_warms_up_asks_for_its_samples_then_sleeps_it():
    driver, part = started([frame(5, 9)] * 5, warmup_s=45, interval_s=600)
    driver.read()
    assert part.events == ["wake", "passive", "warm-up 45", *["read"] * 5, "sleep"]
    assert not part.awake


def test_frames_sent_during_the_warm_up_do_not_count():
    driver, part = started([frame(5, 9)] * 5)

    def warm_up(seconds):
        part.port.feed(frame(900, 900) * 2)  # sent in active mode before the mode command

    driver.sleep = warm_up
    assert values(driver.read()) == {"pm2_5": 5.0, "pm10": 9.0}


def test_without_duty_cycle_no_sleep_command_is_ever_sent():
    driver, part = started([frame(5, 9)] * 10, duty_cycle=False)
    driver.read()
    driver.read()
    driver.close()
    assert SLEEP not in part.port.written
    assert part.events == ["read"] * 10
    assert part.awake


def test_without_duty_cycle_frames_buffered_since_the_last_read_are_dropped():
    driver, part = started([frame(5, 9)] * 5, duty_cycle=False)
    part.port.feed(frame(700, 800))
    assert values(driver.read()) == {"pm2_5": 5.0, "pm10": 9.0}


def test_the_median_of_the_samples_is_kept():
    frames = [frame(v, v + 5) for v in (8, 9, 40, 7, 10)]
    driver, _ = started(frames)
    assert values(driver.read()) == {"pm2_5": 9.0, "pm10": 14.0}


def test_an_even_number_of_samples_keeps_the_mean_of_the_middle_two():
    driver, _ = started([frame(v, v) for v in (10, 30, 20, 99)], samples=4)
    assert values(driver.read()) == {"pm2_5": 25.0, "pm10": 25.0}


def with_length(data, length):
    wrong = bytearray(data)
    wrong[2:4] = length.to_bytes(2, "big")
    wrong[30:32] = (sum(wrong[:30]) & 0xFFFF).to_bytes(2, "big")  # a right sum: only the length
    return bytes(wrong)


def flipped(data, where):
    bad = bytearray(data)
    bad[where] ^= 0x01
    return bytes(bad)


@pytest.mark.parametrize(
    "bad",
    [
        flipped(frame(99, 99), 31),
        flipped(frame(99, 99), 13),
        with_length(frame(99, 99), 20),
    ],
    ids=["check word", "data word", "length field"],
)
def test_a_corrupted_frame_is_counted_and_skipped_and_the_part_asked_again(bad):
    driver, part = started([bad, *[frame(7, 8)] * 5])
    assert values(driver.read()) == {"pm2_5": 7.0, "pm10": 8.0}
    assert driver.checksum_failures == 1
    assert part.events.count("read") == 6


def test_garbage_before_a_frame_is_skipped():
    garbage = b"\x00\xff\x42\x13\x4d noise"
    driver, part = started([garbage + frame(7, 8), *[frame(7, 8)] * 4])
    assert values(driver.read()) == {"pm2_5": 7.0, "pm10": 8.0}
    assert driver.checksum_failures == 0
    assert part.events.count("read") == 5


def test_a_frame_inside_a_false_start_is_used_without_asking_again():
    driver, part = started([b"\x42\x4d\x01" + frame(7, 8), *[frame(7, 8)] * 4])
    assert values(driver.read()) == {"pm2_5": 7.0, "pm10": 8.0}
    assert driver.checksum_failures == 1
    assert part.events.count("read") == 5


def test_a_mode_answer_in_the_stream_is_skipped_without_being_counted():
    driver, _ = started([MODE_ANSWER + frame(7, 8), *[frame(7, 8)] * 4], warmup_s=0)
    assert values(driver.read()) == {"pm2_5": 7.0, "pm10": 8.0}
    assert driver.checksum_failures == 0


def test_too_few_good_frames_is_a_transient_error_saying_how_many_were_bad():
    driver, _ = started([frame(7, 8), flipped(frame(1, 1), 31), frame(7, 8)])
    with pytest.raises(DriverError, match=r"2 good frames of 5 \(1 bad") as raised:
        driver.read()
    assert raised.value.transient
    assert "stopped answering" in str(raised.value)


def test_a_part_answering_only_corrupted_frames_ends_the_read():
    bad = flipped(frame(1, 1), 31)
    driver, part = started([bad] * 100)
    with pytest.raises(DriverError, match="0 good frames of 5") as raised:
        driver.read()
    assert raised.value.transient
    assert driver.checksum_failures == 15  # samples * 3 frames asked for, no more
    assert part.events.count("read") == 15


def test_the_part_sleeps_after_a_failed_read():
    driver, part = started([])
    with pytest.raises(DriverError):
        driver.read()
    assert part.events[-1] == "sleep"


@pytest.mark.parametrize(
    "error",
    [
        OSError(5, "Input/output error"),
        serial.SerialException("write failed: [Errno 5] Input/output error"),
        termios.error(5, "Input/output error"),
    ],
    ids=["OSError", "SerialException", "termios.error"],
)
def test_a_port_error_is_a_transient_error_naming_the_part_and_the_port(error):
    driver, part = started([frame(1, 1)] * 5, port="/dev/ttyAMA0")
    part.port.fail_next = error
    with pytest.raises(DriverError) as raised:
        driver.read()
    assert raised.value.transient
    message = str(raised.value)
    assert message.startswith(
        "pms5003 driver: /dev/ttyAMA0 failed while reading the Plantower PMS5003"
    )


def test_no_answer_at_start_is_a_permanent_error_naming_the_part_the_port_and_what_to_check():
    part = Part([EXAMPLE], answers_reads=False)  # it answers the mode command only
    with pytest.raises(DriverError) as raised:
        Pms5003Driver(serial=part.port, sleep=part.sleep)
    assert not raised.value.transient
    message = str(raised.value)
    assert message.startswith("pms5003 driver: no Plantower PMS5003 answers on /dev/serial0")
    assert "5 V" in message
    assert "RXD (GPIO15" in message
    assert part.port.closed


def test_a_port_that_is_not_there_is_a_permanent_error_naming_it():
    with pytest.raises(DriverError, match="/dev/ttyNOSUCHPORT") as raised:
        Pms5003Driver(port="/dev/ttyNOSUCHPORT", sleep=lambda s: None)
    assert not raised.value.transient


def test_the_defaults_are_the_documented_ones():
    driver, _ = started()
    assert driver.name == "pms5003"
    assert driver.port_name == "/dev/serial0"
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
        Pms5003Driver(serial=part.port, sleep=part.sleep)
    assert not raised.value.transient


def test_all_ff_bytes_never_become_a_reading():
    driver, part = started([b"\xff" * 32] * 100, samples=1)
    with pytest.raises(DriverError, match="0 good frames"):
        driver.read()
    part.port.stream = lambda: b"\xff" * 32  # for ever
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
        Pms5003Driver(serial=port, sleep=lambda s: None, **options)
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
        ("pms5003", "pm2_5", "µg/m³"),
        ("pms5003", "pm10", "µg/m³"),
    ]
    for info in infos:
        assert (info.part, info.accuracy, info.resolution) == ("Plantower PMS5003", 10.0, 1.0)
        assert "±10 µg/m³" in info.description
        assert "±10 %" in info.description
