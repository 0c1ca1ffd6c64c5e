"""The SDS011 and PMS5003 drivers against their datasheets, on a fake serial port.

Sources:
- Nova Fitness, "Laser Dust Sensor Control Protocol V1.3": the data frame example
  ``AA C0 D4 04 3A 0A A1 60 1D AB`` (PM2.5 123.6, PM10 261.8 µg/m³) and the command
  examples "set work" ``AA B4 06 01 01 00 … 00 FF FF 06 AB`` and "set sleep"
  ``… 06 01 00 … FF FF 05 AB``.
- Plantower PMS5003 datasheet, appendix I: the frame layout (``42 4D``, length 28,
  thirteen words, 16-bit sum) and the commands with their check words:
  passive ``42 4D E1 00 00 01 70``, read ``42 4D E2 00 00 01 71``,
  sleep ``42 4D E4 00 00 01 73``, wake ``42 4D E4 00 01 01 74``. The datasheet gives no
  example frame, so the frames here are built from the layout.
"""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensors.driver import DriverConfigError, DriverError
from sensors.pms5003 import Pms5003Driver
from sensors.sds011 import Sds011Driver
from tests.support.fake_buses import FakeSerial

SDS_EXAMPLE = bytes.fromhex("AAC0D4043A0AA1601DAB")
SDS_WORK = bytes.fromhex("AA B4 06 01 01 00 00 00 00 00 00 00 00 00 00 FF FF 06 AB")
SDS_SLEEP = bytes.fromhex("AA B4 06 01 00 00 00 00 00 00 00 00 00 00 00 FF FF 05 AB")
PMS_PASSIVE = bytes.fromhex("42 4D E1 00 00 01 70")
PMS_READ = bytes.fromhex("42 4D E2 00 00 01 71")
PMS_SLEEP = bytes.fromhex("42 4D E4 00 00 01 73")
PMS_WAKE = bytes.fromhex("42 4D E4 00 01 01 74")
PMS_MODE_ACK = bytes.fromhex("42 4D 00 04 E1 00 01 74")


def sds_frame(pm25, pm10):
    data = round(pm25 * 10).to_bytes(2, "little") + round(pm10 * 10).to_bytes(2, "little")
    data += b"\xa1\x60"
    return b"\xaa\xc0" + data + bytes([sum(data) & 0xFF, 0xAB])


def pms_frame(pm25, pm10, cf1=(1, 2, 3)):
    words = [*cf1, 4, pm25, pm10, 100, 50, 20, 5, 1, 0, 0]
    body = b"\x42\x4d" + (28).to_bytes(2, "big") + b"".join(w.to_bytes(2, "big") for w in words)
    return body + (sum(body) & 0xFFFF).to_bytes(2, "big")


def nothing(seconds):
    return None


# --- SDS011 ---


def sds_part(frames):
    """A streaming SDS011: after the start-up frame, the queued frames one a second."""
    queue = list(frames)
    return FakeSerial(stream=lambda: queue.pop(0) if queue else b"")


def sds_driver(frames, **options):
    port = sds_part([SDS_EXAMPLE, *frames])
    options.setdefault("sleep", nothing)
    return Sds011Driver(serial=port, **options), port


def test_sds011_decodes_the_protocols_example_frame():
    driver, _ = sds_driver([SDS_EXAMPLE], samples=1)
    values = {r.metric: r.value for r in driver.read()}
    assert values == {"pm2_5": 123.6, "pm10": 261.8}


def test_sds011_commands_are_the_protocols_bytes_and_it_sleeps_between_reads():
    waited = []
    driver, port = sds_driver([sds_frame(5, 9)] * 5, sleep=waited.append, warmup_s=30)
    assert port.written[0] == SDS_WORK  # start-up: wake to find it, then back to sleep
    assert port.written[-1] == SDS_SLEEP
    port.written.clear()
    driver.read()
    assert port.written[0] == SDS_WORK
    assert port.written[-1] == SDS_SLEEP
    assert 30 in waited
    assert port.resets == 1  # what the warm-up measured is dropped


def test_sds011_takes_the_median_of_its_samples():
    frames = [sds_frame(v, v * 2) for v in (10, 12, 50, 11, 13)]
    driver, _ = sds_driver(frames)
    values = {r.metric: r.value for r in driver.read()}
    assert values == {"pm2_5": 12.0, "pm10": 24.0}


def test_sds011_without_duty_cycle_never_sleeps_the_part():
    driver, port = sds_driver([sds_frame(5, 9)] * 5, duty_cycle=False)
    driver.read()
    driver.close()
    assert SDS_SLEEP not in port.written


def test_sds011_skips_noise_and_bad_checksums_and_counts_them():
    bad = bytearray(sds_frame(99, 99))
    bad[8] ^= 0xFF
    frames = [b"\x00\xaa\x13garbage", bytes(bad), *[sds_frame(7, 8)] * 5]
    driver, _ = sds_driver(frames)
    values = {r.metric: r.value for r in driver.read()}
    assert values == {"pm2_5": 7.0, "pm10": 8.0}
    assert driver.checksum_failures == 1


def test_sds011_too_few_good_frames_is_a_transient_error():
    driver, _ = sds_driver([sds_frame(7, 8)] * 2)
    with pytest.raises(DriverError, match="2 good frames of 5") as raised:
        driver.read()
    assert raised.value.transient


def test_sds011_port_error_is_transient_and_names_the_port():
    driver, port = sds_driver([])
    port.fail_next = OSError(5, "Input/output error")
    with pytest.raises(DriverError, match="/dev/ttyUSB0 failed while reading") as raised:
        driver.read()
    assert raised.value.transient


def test_sds011_silence_at_start_is_a_permanent_error_naming_part_and_port():
    port = FakeSerial()
    with pytest.raises(DriverError) as raised:
        Sds011Driver(serial=port, port="/dev/ttyUSB3", sleep=nothing)
    assert not raised.value.transient
    assert "no Nova SDS011 answers on /dev/ttyUSB3" in str(raised.value)
    assert port.closed


# --- PMS5003 ---


def pms_part(frames, ack=True):
    """A PMS5003 in passive mode: a mode command is acknowledged, a read answered."""
    queue = list(frames)

    def answer(port, data):
        if data == PMS_PASSIVE and ack:
            port.feed(PMS_MODE_ACK)
        elif data == PMS_READ and queue:
            port.feed(queue.pop(0))

    return FakeSerial(on_write=answer)


def pms_driver(frames, **options):
    port = pms_part([pms_frame(1, 2), *frames])
    options.setdefault("sleep", nothing)
    return Pms5003Driver(serial=port, **options), port


def test_pms5003_commands_are_the_datasheets_bytes_and_it_reads_atmospheric_values():
    driver, port = pms_driver([pms_frame(12, 20, cf1=(99, 98, 97))] * 5)
    assert port.written[:3] == [PMS_WAKE, PMS_PASSIVE, PMS_READ]
    assert port.written[-1] == PMS_SLEEP
    port.written.clear()
    values = {r.metric: r.value for r in driver.read()}
    assert values == {"pm2_5": 12.0, "pm10": 20.0}  # not the CF=1 words
    assert port.written == [PMS_WAKE, PMS_PASSIVE, *[PMS_READ] * 5, PMS_SLEEP]


def test_pms5003_median_and_a_bad_checksum_counted():
    bad = bytearray(pms_frame(500, 500))
    bad[31] ^= 0x01
    frames = [pms_frame(v, v + 5) for v in (8, 9, 40, 7)]
    driver, _ = pms_driver([bytes(bad), *frames, pms_frame(10, 15)])
    values = {r.metric: r.value for r in driver.read()}
    assert values == {"pm2_5": 9.0, "pm10": 14.0}
    assert driver.checksum_failures >= 1


def test_pms5003_a_wrong_length_field_is_refused():
    wrong = bytearray(pms_frame(5, 5))
    wrong[3] = 20
    wrong[30:32] = (sum(wrong[:30]) & 0xFFFF).to_bytes(2, "big")
    driver, _ = pms_driver([bytes(wrong), *[pms_frame(6, 7)] * 5])
    assert {r.metric: r.value for r in driver.read()} == {"pm2_5": 6.0, "pm10": 7.0}


def test_pms5003_silence_at_start_is_a_permanent_error_naming_part_and_port():
    port = FakeSerial()
    with pytest.raises(DriverError) as raised:
        Pms5003Driver(serial=port, sleep=nothing)
    assert not raised.value.transient
    assert "no Plantower PMS5003 answers on /dev/serial0" in str(raised.value)
    assert "GPIO15" in str(raised.value)


def test_pms5003_a_part_that_stops_answering_is_a_transient_error():
    driver, _ = pms_driver([])
    with pytest.raises(DriverError, match="0 good frames of 5") as raised:
        driver.read()
    assert raised.value.transient


@pytest.mark.parametrize("driver_class", [Sds011Driver, Pms5003Driver])
@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"warmup_s": 200}, "warmup_s must be 0 to 120"),
        ({"samples": 0}, "samples must be 1 to 30"),
        ({"interval_s": 20, "warmup_s": 30}, "must be longer than the warm-up"),
    ],
)
def test_bad_settings_are_named(driver_class, options, words):
    with pytest.raises(DriverConfigError, match=words):
        driver_class(serial=FakeSerial(), sleep=nothing, **options)


def test_close_lets_the_part_rest_once_and_releases_the_port():
    driver, port = pms_driver([])
    port.written.clear()
    driver.close()
    driver.close()
    assert port.written == [PMS_SLEEP]
    assert port.closed


@pytest.mark.parametrize("make", ["sds011", "pms5003"])
def test_random_and_all_ff_bytes_never_become_a_reading(make):
    if make == "sds011":
        driver, port = sds_driver([], samples=1)
    else:
        driver, port = pms_driver([], samples=1)
    stream = []
    port.stream = lambda: stream.pop(0) if stream else b""
    port.on_write = None

    @settings(max_examples=200, deadline=None)
    @given(st.one_of(st.binary(max_size=200), st.integers(1, 200).map(lambda n: b"\xff" * n)))
    def feed(data):
        stream[:] = [data]
        with pytest.raises(DriverError):
            driver.read()

    feed()


def test_a_part_that_babbles_noise_for_ever_does_not_hold_the_read():
    driver, port = sds_driver([])
    port.stream = lambda: b"\x55" * 10
    with pytest.raises(DriverError, match="0 good frames"):
        driver.read()


def test_a_part_that_sends_only_bad_frames_for_ever_does_not_hold_the_read():
    bad = bytearray(sds_frame(5, 5))
    bad[8] ^= 0xFF
    driver, port = sds_driver([])
    port.stream = lambda: bytes(bad)
    with pytest.raises(DriverError, match="0 good frames"):
        driver.read()
    assert driver.checksum_failures == 15  # samples x 3 frames looked at, no more


def test_frames_waiting_since_the_last_read_are_dropped_without_duty_cycle_too():
    driver, port = sds_driver([], duty_cycle=False)
    port.feed(sds_frame(99, 99) * 300)  # five minutes of frames nobody read
    fresh = [sds_frame(4, 6)] * 5
    port.stream = lambda: fresh.pop(0) if fresh else b""
    assert {r.metric: r.value for r in driver.read()} == {"pm2_5": 4.0, "pm10": 6.0}


def test_an_unplugged_adapter_is_a_transient_error_whatever_the_port_raises():
    import termios

    driver, port = sds_driver([])
    port.fail_next = termios.error(5, "Input/output error")
    with pytest.raises(DriverError, match="error") as raised:
        driver.read()
    assert raised.value.transient
