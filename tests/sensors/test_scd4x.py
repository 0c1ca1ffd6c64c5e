"""The SCD4x driver against the Sensirion SCD4x datasheet, on a fake bus that answers as the part.

Sources (Sensirion, "Datasheet SCD4x"):
- section 3.11 (checksum calculation): CRC-8, polynomial 0x31, initial 0xFF; the worked
  example CRC(0xBEEF) = 0x92;
- section 3.5.2 (read_measurement): the example answer 0x01F4 0x33, 0x6667 0xA2,
  0x5EB9 0x3C is CO2 500 ppm, temperature 25 °C and relative humidity 37 %;
- sections 3.5-3.9: the command codes, their arguments (word + CRC) and waiting times.
"""

import errno

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensors.driver import DriverConfigError, DriverError
from sensors.scd4x import (
    GET_DATA_READY_STATUS,
    GET_SERIAL_NUMBER,
    READ_MEASUREMENT,
    SET_AMBIENT_PRESSURE,
    SET_AUTOMATIC_SELF_CALIBRATION_ENABLED,
    SET_SENSOR_ALTITUDE,
    START_PERIODIC_MEASUREMENT,
    STOP_PERIODIC_MEASUREMENT,
    Scd4xDriver,
    crc8,
)
from tests.support.fake_buses import CommandDevice, FakeI2C

EXAMPLE = bytes.fromhex("01F433 6667A2 5EB93C".replace(" ", ""))
SERIAL = bytes.fromhex("F896 31 9F07 C2 3BBE 89".replace(" ", ""))
NOT_READY = bytes.fromhex("8000A2")  # none of the low 11 bits set: nothing ready yet


def with_crc(*values):
    out = b""
    for value in values:
        data = value.to_bytes(2, "big")
        out += data + bytes([crc8(data)])
    return out


def scd4x(measurements=(EXAMPLE,), ready=None):
    answers = list(measurements)
    readiness = list(ready) if ready is not None else []
    return CommandDevice(
        {
            GET_SERIAL_NUMBER: SERIAL,
            GET_DATA_READY_STATUS: lambda data: readiness.pop(0) if readiness else with_crc(0x8006),
            READ_MEASUREMENT: lambda data: answers.pop(0) if answers else EXAMPLE,
        }
    )


def driver_on(device, **options):
    bus = FakeI2C({0x62: device})
    return Scd4xDriver(bus=bus, sleep=lambda s: None, **options), bus


def commands(device):
    return [int.from_bytes(c[:2], "big") for c in device.commands]


def test_the_datasheets_crc_example():
    assert crc8(bytes.fromhex("BEEF")) == 0x92
    assert [crc8(EXAMPLE[i : i + 2]) for i in (0, 3, 6)] == [0x33, 0xA2, 0x3C]


def test_the_datasheets_measurement_example_to_its_resolution():
    driver, _ = driver_on(scd4x())
    values = {r.metric: r.value for r in driver.read()}
    assert values["co2"] == 500.0
    assert values["temperature"] == pytest.approx(25.0, abs=175 / 65535)
    assert values["relative_humidity"] == pytest.approx(37.0, abs=100 / 65535)
    assert {r.sensor_id for r in driver.read()} == {"scd4x"}


def test_start_up_stops_reads_the_serial_sets_altitude_and_calibration_then_starts():
    device = scd4x()
    driver, _ = driver_on(device, altitude_m=250, self_calibration=False)
    assert commands(device) == [
        STOP_PERIODIC_MEASUREMENT,
        GET_SERIAL_NUMBER,
        SET_SENSOR_ALTITUDE,
        SET_AUTOMATIC_SELF_CALIBRATION_ENABLED,
        START_PERIODIC_MEASUREMENT,
    ]
    assert device.commands[2] == bytes.fromhex("2427") + with_crc(250)
    assert device.commands[3] == bytes.fromhex("2416") + with_crc(0)
    assert driver.serial_number == (0xF896 << 32) | (0x9F07 << 16) | 0x3BBE


def test_a_fixed_pressure_replaces_the_altitude_and_is_sent_after_the_start():
    device = scd4x()
    driver_on(device, ambient_pressure_hpa=987)
    assert commands(device)[-2:] == [START_PERIODIC_MEASUREMENT, SET_AMBIENT_PRESSURE]
    assert SET_SENSOR_ALTITUDE not in commands(device)
    assert device.commands[-1] == bytes.fromhex("E000") + with_crc(987)


def test_nothing_ready_is_no_reading_and_no_error():
    driver, _ = driver_on(scd4x(ready=[NOT_READY]))
    assert driver.read() == []


def test_the_first_zero_ppm_is_not_stored():
    driver, _ = driver_on(scd4x([with_crc(0, 0x6667, 0x5EB9)]))
    assert driver.read() == []


def test_a_wrong_crc_is_counted_retried_and_nothing_wrong_is_stored():
    corrupted = EXAMPLE[:2] + b"\x00" + EXAMPLE[3:]
    driver, _ = driver_on(scd4x([corrupted]))
    values = {r.metric: r.value for r in driver.read()}
    assert driver.crc_failures == 1
    assert values["co2"] == 500.0


def test_three_bad_answers_are_a_transient_error_and_nothing_is_returned():
    corrupted = EXAMPLE[:8] + b"\x00"
    driver, _ = driver_on(scd4x([corrupted] * 3))
    with pytest.raises(DriverError, match="3 bad answers") as raised:
        driver.read()
    assert raised.value.transient
    assert driver.crc_failures == 3


@pytest.mark.parametrize("fault", ["short", "ff"])
def test_short_reads_and_all_ff_are_counted_like_crc_failures(fault):
    driver, bus = driver_on(scd4x())
    bus.faults.append(fault)  # the data-ready answer comes back broken
    assert len(driver.read()) == 3
    assert driver.crc_failures == 1


def test_a_part_that_stops_answering_is_a_transient_error_naming_it():
    driver, bus = driver_on(scd4x())
    bus.faults.append(OSError(errno.EREMOTEIO, "Remote I/O error"))
    with pytest.raises(DriverError, match="scd4x driver: the SCD4x at 0x62") as raised:
        driver.read()
    assert raised.value.transient
    assert len(driver.read()) == 3


def test_no_part_is_a_permanent_error_naming_address_and_bus():
    bus = FakeI2C({})
    with pytest.raises(DriverError) as raised:
        Scd4xDriver(bus=bus, sleep=lambda s: None)
    assert not raised.value.transient
    assert "no SCD4x answers at 0x62 on I2C bus 1" in str(raised.value)
    assert bus.closed


def test_a_part_that_answers_garbage_is_not_taken_for_an_scd4x():
    device = CommandDevice({GET_SERIAL_NUMBER: b"\x12" * 9})
    with pytest.raises(DriverError, match="does not answer as an SCD4x") as raised:
        driver_on(device)
    assert not raised.value.transient


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"altitude_m": 4000}, "altitude_m must be 0 to 3000"),
        ({"ambient_pressure_hpa": 500}, "ambient_pressure_hpa must be 700 to 1200"),
        ({"address": 0x80}, "address must be"),
    ],
)
def test_bad_settings_are_named(options, words):
    with pytest.raises(DriverConfigError, match=words):
        Scd4xDriver(bus=FakeI2C({}), sleep=lambda s: None, **options)


def test_close_stops_the_measurement_once():
    device = scd4x()
    driver, bus = driver_on(device)
    driver.close()
    driver.close()
    assert commands(device)[-1] == STOP_PERIODIC_MEASUREMENT
    assert commands(device).count(STOP_PERIODIC_MEASUREMENT) == 2  # at start, at close
    assert bus.closed


def test_random_answers_never_raise_anything_but_a_driver_error():
    answers = []
    device = CommandDevice(
        {
            GET_SERIAL_NUMBER: SERIAL,
            GET_DATA_READY_STATUS: with_crc(0x8006),
            READ_MEASUREMENT: lambda data: answers.pop(0),
        }
    )
    driver, _ = driver_on(device)

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.binary(max_size=12), min_size=3, max_size=3))
    def measure(replies):
        answers[:] = replies
        try:
            readings = driver.read()
        except DriverError:
            return
        for reading in readings:
            assert reading.metric in {"co2", "temperature", "relative_humidity"}

    measure()
