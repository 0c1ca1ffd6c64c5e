"""The BME280/BMP280 driver against the Bosch datasheets, on a fake bus that replays registers.

Sources:
- BMP280 datasheet (BST-BMP280-DS001), section 3.11.3, the worked example: trimming
  values dig_T1 = 27504 … dig_P9 = 6000 with adc_T = 519888 and adc_P = 415148 give
  t_fine = 128422, T = 25.08 °C and p = 100653.27 Pa. The BME280's temperature and
  pressure compensation is the same formula (BST-BME280-DS002, section 4.2.3).
- BME280 datasheet, section 4.2.3 and appendix 8.1: the humidity formula. The datasheet
  gives no worked example for humidity, so the integer formula is checked against the
  datasheet's own floating-point formula (appendix 8.1) over the whole input range.
- Register map and layouts: BME280 datasheet section 5 (0x88 to 0xA1, 0xE1 to 0xE7, 0xF2 to 0xFE).
"""

import errno

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensors.bme280 import (
    Bme280Driver,
    Calibration,
    compensate_humidity,
    compensate_pressure,
    compensate_temperature,
)
from sensors.driver import DriverConfigError, DriverError
from tests.support.fake_buses import FakeI2C, RegisterDevice

EXAMPLE = Calibration(27504, 26435, -1000, 36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000)
ADC_T, ADC_P = 519888, 415148
# Humidity trimming values of the kind real BME280s carry (dig_H1 … dig_H6).
HUMIDITY = {"h1": 75, "h2": 362, "h3": 0, "h4": 313, "h5": 50, "h6": 30}


def with_humidity():
    """The datasheet example's trimming values, with humidity ones added."""
    pressure = [getattr(EXAMPLE, f"p{i}") for i in range(1, 10)]
    return Calibration(EXAMPLE.t1, EXAMPLE.t2, EXAMPLE.t3, *pressure, **HUMIDITY)


def test_the_datasheet_example_temperature():
    centi, t_fine = compensate_temperature(ADC_T, EXAMPLE)
    assert t_fine == 128422
    assert centi == 2508  # 25.08 °C


def test_the_datasheet_example_pressure_to_its_resolution():
    _, t_fine = compensate_temperature(ADC_T, EXAMPLE)
    pascals = compensate_pressure(ADC_P, t_fine, EXAMPLE) / 256
    assert pascals == pytest.approx(100653.27, abs=0.18)  # the part's resolution, 0.18 Pa


def float_humidity(adc_h, t_fine, c):
    """The datasheet's double-precision humidity formula (BME280 appendix 8.1)."""
    h = t_fine - 76800.0
    h = (adc_h - (c.h4 * 64.0 + c.h5 / 16384.0 * h)) * (
        c.h2 / 65536.0 * (1.0 + c.h6 / 67108864.0 * h * (1.0 + c.h3 / 67108864.0 * h))
    )
    h = h * (1.0 - c.h1 * h / 524288.0)
    return min(max(h, 0.0), 100.0)


@settings(max_examples=300, deadline=None)
@given(adc_h=st.integers(0, 0xFFFF), adc_t=st.integers(400_000, 600_000))
def test_the_integer_humidity_formula_agrees_with_the_datasheets_floating_point_one(adc_h, adc_t):
    c = with_humidity()
    _, t_fine = compensate_temperature(adc_t, c)
    assert compensate_humidity(adc_h, t_fine, c) / 1024 == pytest.approx(
        float_humidity(adc_h, t_fine, c), abs=0.05
    )


def registers(chip_id=0x60, adc_t=ADC_T, adc_p=ADC_P, adc_h=30_000, status=0x00):
    """A BME280's registers holding the example's trimming values and raw readings."""
    c = with_humidity()
    block = c.t1.to_bytes(2, "little") + c.t2.to_bytes(2, "little", signed=True)
    block += c.t3.to_bytes(2, "little", signed=True) + c.p1.to_bytes(2, "little")
    for i in range(2, 10):
        block += getattr(c, f"p{i}").to_bytes(2, "little", signed=True)
    block += bytes([0, c.h1])  # 0xA0 is unused; dig_H1 at 0xA1
    humidity = c.h2.to_bytes(2, "little", signed=True) + bytes(
        [c.h3, c.h4 >> 4, (c.h4 & 0x0F) | ((c.h5 & 0x0F) << 4), c.h5 >> 4, c.h6 & 0xFF]
    )
    data = bytes(
        [
            *(adc_p >> 12, (adc_p >> 4) & 0xFF, (adc_p & 0x0F) << 4),
            *(adc_t >> 12, (adc_t >> 4) & 0xFF, (adc_t & 0x0F) << 4),
            *(adc_h >> 8, adc_h & 0xFF),
        ]
    )
    regs = {0xD0: chip_id, 0xF3: status}
    regs |= {0x88 + i: b for i, b in enumerate(block)}
    regs |= {0xE1 + i: b for i, b in enumerate(humidity)}
    regs |= {0xF7 + i: b for i, b in enumerate(data)}
    return regs


def driver_on(device, address=0x76, **options):
    bus = FakeI2C({address: device})
    return Bme280Driver(bus=bus, address=address, sleep=lambda s: None, **options), bus


def test_a_measurement_through_the_bus_gives_the_examples_values():
    device = RegisterDevice(registers())
    driver, _ = driver_on(device)
    values = {r.metric: r.value for r in driver.read()}
    assert values["temperature"] == 25.08
    assert values["pressure"] == pytest.approx(1006.53, abs=0.01)
    assert values["relative_humidity"] == pytest.approx(
        float_humidity(30_000, 128422, with_humidity()), abs=0.05
    )
    assert {(i.metric, i.part) for i in driver.sensors()} == {
        ("temperature", "Bosch BME280"),
        ("pressure", "Bosch BME280"),
        ("relative_humidity", "Bosch BME280"),
    }


def test_oversampling_and_the_filter_are_written_as_the_datasheet_codes_them():
    device = RegisterDevice(registers())
    driver, _ = driver_on(
        device,
        temperature_oversampling=1,
        pressure_oversampling=4,
        humidity_oversampling=16,
        iir_filter=8,
    )
    driver.read()
    writes = [w for w in device.writes if len(w) == 2]
    assert writes[0] == bytes([0xE0, 0xB6])  # soft reset
    assert bytes([0xF5, 0b011 << 2]) in writes  # filter 8
    # ctrl_hum (x16 = 0b101) before ctrl_meas (T x1 = 001, P x4 = 011, forced = 01)
    assert writes[-2:] == [bytes([0xF2, 0b101]), bytes([0xF4, 0b001_011_01])]


def test_a_bmp280_gives_temperature_and_pressure_only():
    driver, _ = driver_on(RegisterDevice(registers(chip_id=0x58)))
    assert {r.metric for r in driver.read()} == {"temperature", "pressure"}
    assert driver.sensors()[0].part == "Bosch BMP280"


class FlakyData(RegisterDevice):
    """A BME280 whose next data reads come back wrong, one answer each."""

    def __init__(self, registers, bad_answers):
        super().__init__(registers)
        self.bad_answers = list(bad_answers)

    def read(self, length):
        data = super().read(length)
        if length == 8 and self.bad_answers:
            return self.bad_answers.pop(0)
        return data


def test_a_short_read_or_all_ff_is_counted_and_retried():
    driver, _ = driver_on(FlakyData(registers(), [b"\x00" * 7, b"\xff" * 8]))
    readings = driver.read()
    assert driver.read_failures == 2
    assert {r.metric for r in readings} == {"temperature", "pressure", "relative_humidity"}


def test_three_bad_measurements_are_a_transient_error_and_nothing_is_returned():
    device = RegisterDevice(registers())
    driver, _ = driver_on(device)
    device.registers |= {0xF7 + i: 0xFF for i in range(8)}
    with pytest.raises(DriverError, match="3 bad answers") as raised:
        driver.read()
    assert raised.value.transient
    assert driver.read_failures == 3


def test_a_measurement_that_never_finishes_is_not_read():
    device = RegisterDevice(registers(status=0x08))
    driver, _ = driver_on(device)
    with pytest.raises(DriverError, match="never finished"):
        driver.read()


def test_a_skipped_temperature_is_not_stored():
    driver, _ = driver_on(RegisterDevice(registers(adc_t=0x80000)))
    with pytest.raises(DriverError, match="no temperature"):
        driver.read()


def test_a_part_that_stops_answering_is_a_transient_error_naming_it():
    driver, bus = driver_on(RegisterDevice(registers()))
    bus.faults.append(OSError(errno.EREMOTEIO, "Remote I/O error"))
    with pytest.raises(DriverError, match="0x76 on I2C bus 1") as raised:
        driver.read()
    assert raised.value.transient
    assert len(driver.read()) == 3  # back again: read normally


def test_no_part_at_the_address_is_a_permanent_error_naming_part_address_and_bus():
    bus = FakeI2C({})
    with pytest.raises(DriverError) as raised:
        Bme280Driver(bus=bus, address=0x77, sleep=lambda s: None)
    assert not raised.value.transient
    assert "no BME280 answers at 0x77 on I2C bus 1" in str(raised.value)
    assert "i2cdetect" in str(raised.value)
    assert bus.closed


@pytest.mark.parametrize(
    ("chip_id", "words"),
    [(0x61, "use the bme680 driver"), (0xFF, "chip id 0xff"), (0x00, "chip id 0x00")],
)
def test_another_part_or_a_dead_one_is_named(chip_id, words):
    with pytest.raises(DriverError, match=words):
        driver_on(RegisterDevice(registers(chip_id=chip_id)))


def test_blank_calibration_is_refused():
    regs = registers()
    regs |= {0x88 + i: 0xFF for i in range(26)}
    with pytest.raises(DriverError, match="no calibration data"):
        driver_on(RegisterDevice(regs))


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"address": 0x40}, "address must be 0x76 or 0x77"),
        ({"pressure_oversampling": 3}, "pressure_oversampling must be"),
        ({"iir_filter": 5}, "iir_filter must be"),
        ({"temperature_oversampling": 0}, "temperature_oversampling cannot be 0"),
    ],
)
def test_bad_settings_are_named(options, words):
    with pytest.raises(DriverConfigError, match=words):
        Bme280Driver(bus=FakeI2C({}), sleep=lambda s: None, **options)


def test_random_data_never_raises_anything_but_a_driver_error():
    device = RegisterDevice(registers())
    driver, _ = driver_on(device)

    @settings(max_examples=200, deadline=None)
    @given(st.binary(min_size=8, max_size=8))
    def measure(data):
        device.registers |= {0xF7 + i: b for i, b in enumerate(data)}
        try:
            readings = driver.read()
        except DriverError:
            return
        assert {r.metric for r in readings} <= {"temperature", "pressure", "relative_humidity"}

    measure()


def test_close_releases_the_bus_once():
    driver, bus = driver_on(RegisterDevice(registers()))
    driver.close()
    driver.close()
    assert bus.closed
