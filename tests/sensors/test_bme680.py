"""The BME680 driver against Bosch's formulas, on a fake bus that replays registers.

Sources:
- BME680 datasheet (BST-BME680-DS001), section 3.3: the integer and the floating-point
  compensation formulas for temperature, pressure, humidity and gas resistance, and the
  gas-range lookup tables; section 5: the register map.
- Bosch's reference driver (github.com/boschsensortec/BME68x_SensorAPI, bme68x.c): the
  same formulas (its integer and BME68X_USE_FPU builds) and where each trimming value
  lies in the calibration registers.
Neither gives a worked numeric example, so each integer formula is checked against the
floating-point one over the raw values of -22 to 73 °C (pressure and humidity: of 0 to
41 °C, a hall's range): temperature to its 0.01 °C
resolution, pressure within 10 Pa (a sixth of its ±0.6 hPa accuracy), humidity within
0.05 % and gas resistance within 0.1 %. The
trimming values are a real part's, as printed in wrclark/bme680's README.
"""

import errno

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensors.bme680 import (
    Bme680Driver,
    Calibration,
    compensate_humidity,
    compensate_pressure,
    compensate_temperature,
    gas_resistance,
    gas_wait,
    parse_calibration,
)
from sensors.driver import DriverConfigError, DriverError
from tests.support.fake_buses import FakeI2C, RegisterDevice

PART = Calibration(
    t1=26203, t2=26519, t3=3, p1=35008, p2=-10284, p3=88, p4=9692, p5=-202, p6=30, p7=24,
    p8=-516, p9=-3469, p10=30, h1=794, h2=1007, h3=0, h4=45, h5=20, h6=120, h7=-100,
    gh1=-30, gh2=-5969, gh3=18, res_heat_range=1, res_heat_val=44, range_sw_err=0,
)  # fmt: skip


def float_temperature(adc, c):
    var1 = ((adc / 16384.0) - (c.t1 / 1024.0)) * c.t2
    var2 = ((adc / 131072.0) - (c.t1 / 8192.0)) ** 2 * (c.t3 * 16.0)
    t_fine = var1 + var2
    return t_fine / 5120.0, t_fine


def float_pressure(adc, t_fine, c):
    var1 = (t_fine / 2.0) - 64000.0
    var2 = var1 * var1 * (c.p6 / 131072.0)
    var2 = var2 + (var1 * c.p5 * 2.0)
    var2 = (var2 / 4.0) + (c.p4 * 65536.0)
    var1 = (((c.p3 * var1 * var1) / 16384.0) + (c.p2 * var1)) / 524288.0
    var1 = (1.0 + (var1 / 32768.0)) * c.p1
    pressure = 1048576.0 - adc
    pressure = ((pressure - (var2 / 4096.0)) * 6250.0) / var1
    var1 = (c.p9 * pressure * pressure) / 2147483648.0
    var2 = pressure * (c.p8 / 32768.0)
    var3 = (pressure / 256.0) ** 3 * (c.p10 / 131072.0)
    return pressure + (var1 + var2 + var3 + (c.p7 * 128.0)) / 16.0


def float_humidity(adc, t_fine, c):
    t = t_fine / 5120.0
    var1 = adc - ((c.h1 * 16.0) + ((c.h3 / 2.0) * t))
    var2 = var1 * (
        (c.h2 / 262144.0) * (1.0 + ((c.h4 / 16384.0) * t) + ((c.h5 / 1048576.0) * t * t))
    )
    var3 = c.h6 / 16384.0
    var4 = c.h7 / 2097152.0
    return min(max(var2 + ((var3 + (var4 * t)) * var2 * var2), 0.0), 100.0)


K1 = [0.0, 0.0, 0.0, 0.0, 0.0, -1.0, 0.0, -0.8, 0.0, 0.0, -0.2, -0.5, 0.0, -1.0, 0.0, 0.0]
K2 = [0.0, 0.0, 0.0, 0.0, 0.1, 0.7, 0.0, -0.8, -0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]


def float_gas(adc, gas_range, c):
    var1 = 1340.0 + 5.0 * c.range_sw_err
    var2 = var1 * (1.0 + K1[gas_range] / 100.0)
    var3 = 1.0 + K2[gas_range] / 100.0
    return 1.0 / (var3 * 0.000000125 * (1 << gas_range) * (((adc - 512.0) / var2) + 1.0))


@settings(max_examples=300, deadline=None)
@given(st.integers(350_000, 650_000))
def test_integer_temperature_agrees_with_the_floating_point_formula(adc):
    centi, _ = compensate_temperature(adc, PART)
    celsius, _ = float_temperature(adc, PART)
    assert centi / 100 == pytest.approx(celsius, abs=0.01)


@settings(max_examples=300, deadline=None)
@given(st.integers(270_000, 420_000), st.integers(420_000, 550_000))  # 0 to 41 °C, 820 to 1080 hPa
def test_integer_pressure_agrees_with_the_floating_point_formula(adc, adc_t):
    _, t_fine = compensate_temperature(adc_t, PART)
    assert compensate_pressure(adc, t_fine, PART) == pytest.approx(
        float_pressure(adc, t_fine, PART),
        abs=10.0,  # Pa: 0.1 hPa, a sixth of ±0.6
    )


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 65535), st.integers(420_000, 550_000))
def test_integer_humidity_agrees_with_the_floating_point_formula(adc, adc_t):
    _, t_fine = compensate_temperature(adc_t, PART)
    assert compensate_humidity(adc, t_fine, PART) / 1000 == pytest.approx(
        float_humidity(adc, t_fine, PART), abs=0.05
    )


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 1023), st.integers(0, 15))
def test_integer_gas_resistance_agrees_with_the_floating_point_formula(adc, gas_range):
    assert gas_resistance(adc, gas_range, PART) == pytest.approx(
        float_gas(adc, gas_range, PART), rel=0.001, abs=1
    )


def test_gas_wait_codes_follow_the_datasheet():
    assert gas_wait(63) == 63
    assert gas_wait(150) == 64 + 37  # 37 x 4 ms
    assert gas_wait(4032) == 0xFF


def calibration_bytes(c):
    """The 42 calibration bytes (0x8A..0xA0, 0xE1..0xEE, 0x00..0x04) holding ``c``."""
    b = bytearray(42)

    def s16(at, value):
        b[at : at + 2] = value.to_bytes(2, "little", signed=value < 0)

    s16(0, c.t2)
    b[2] = c.t3 & 0xFF
    s16(4, c.p1)
    s16(6, c.p2)
    b[8] = c.p3 & 0xFF
    s16(10, c.p4)
    s16(12, c.p5)
    b[14] = c.p7 & 0xFF
    b[15] = c.p6 & 0xFF
    s16(18, c.p8)
    s16(20, c.p9)
    b[22] = c.p10
    b[23] = c.h2 >> 4
    b[24] = ((c.h2 & 0x0F) << 4) | (c.h1 & 0x0F)
    b[25] = c.h1 >> 4
    b[26], b[27], b[28] = c.h3 & 0xFF, c.h4 & 0xFF, c.h5 & 0xFF
    b[29], b[30] = c.h6, c.h7 & 0xFF
    s16(31, c.t1)
    s16(33, c.gh2)
    b[35], b[36] = c.gh1 & 0xFF, c.gh3 & 0xFF
    b[37] = c.res_heat_val & 0xFF
    b[39] = c.res_heat_range << 4
    b[41] = (c.range_sw_err << 4) & 0xFF
    return bytes(b)


def test_the_calibration_registers_are_read_where_the_reference_driver_puts_them():
    assert parse_calibration(calibration_bytes(PART)) == PART


ADC_T, ADC_P, ADC_H, ADC_G, GAS_RANGE = 500_000, 400_000, 25_000, 500, 5


def registers(chip_id=0x61, status=0x80, gas_flags=0x30, adc_t=ADC_T):
    coeff = calibration_bytes(PART)
    regs = {0xD0: chip_id, 0xF0: 0x00}
    regs |= {0x8A + i: v for i, v in enumerate(coeff[:23])}
    regs |= {0xE1 + i: v for i, v in enumerate(coeff[23:37])}
    regs |= {0x00 + i: v for i, v in enumerate(coeff[37:42])}
    field = bytes(
        [
            status,
            0,
            *(ADC_P >> 12, (ADC_P >> 4) & 0xFF, (ADC_P & 0x0F) << 4),
            *(adc_t >> 12, (adc_t >> 4) & 0xFF, (adc_t & 0x0F) << 4),
            *(ADC_H >> 8, ADC_H & 0xFF),
            0,
            0,
            0,
            ADC_G >> 2,
            ((ADC_G & 0x03) << 6) | gas_flags | GAS_RANGE,
        ]
    )
    regs |= {0x1D + i: v for i, v in enumerate(field)}
    return regs


def driver_on(device, **options):
    bus = FakeI2C({0x77: device})
    return Bme680Driver(bus=bus, sleep=lambda s: None, **options), bus


def test_a_measurement_through_the_bus():
    device = RegisterDevice(registers())
    driver, _ = driver_on(device)
    values = {r.metric: r.value for r in driver.read()}
    centi, t_fine = compensate_temperature(ADC_T, PART)
    assert values == {
        "temperature": centi / 100,
        "pressure": round(compensate_pressure(ADC_P, t_fine, PART) / 100, 2),
        "relative_humidity": compensate_humidity(ADC_H, t_fine, PART) / 1000,
        "gas_resistance": float(gas_resistance(ADC_G, GAS_RANGE, PART)),
    }
    assert values["temperature"] == pytest.approx(float_temperature(ADC_T, PART)[0], abs=0.01)


def test_start_up_writes_filter_heater_and_run_gas():
    device = RegisterDevice(registers())
    driver_on(device, iir_filter=7, heater_temperature_c=300, heater_duration_ms=100)
    writes = {w[0]: w[1] for w in device.writes if len(w) == 2}
    assert writes[0xE0] == 0xB6
    assert writes[0x75] == 3 << 2  # filter 7
    assert writes[0x64] == gas_wait(100)
    assert 0 < writes[0x5A] < 255
    assert writes[0x71] == 0x10  # run_gas, heater profile 0


def test_gas_is_left_out_when_the_heater_was_not_stable():
    driver, _ = driver_on(RegisterDevice(registers(gas_flags=0x20)))
    assert "gas_resistance" not in {r.metric for r in driver.read()}


def test_a_measurement_that_never_finishes_is_a_transient_error_after_three_tries():
    driver, _ = driver_on(RegisterDevice(registers(status=0x00)))
    with pytest.raises(DriverError, match="3 bad answers") as raised:
        driver.read()
    assert raised.value.transient
    assert driver.read_failures == 3


@pytest.mark.parametrize("fault", ["short", "ff"])
def test_short_and_all_ff_reads_are_counted_and_retried(fault):
    driver, bus = driver_on(RegisterDevice(registers()))
    bus.faults.append(fault)
    assert len(driver.read()) == 4
    assert driver.read_failures == 1


def test_a_part_that_stops_answering_is_a_transient_error_naming_it():
    driver, bus = driver_on(RegisterDevice(registers()))
    bus.faults.append(OSError(errno.EREMOTEIO, "Remote I/O error"))
    with pytest.raises(DriverError, match="0x77 on I2C bus 1") as raised:
        driver.read()
    assert raised.value.transient


def test_no_part_is_a_permanent_error_naming_address_and_bus():
    with pytest.raises(DriverError) as raised:
        Bme680Driver(bus=FakeI2C({}), sleep=lambda s: None)
    assert not raised.value.transient
    assert "no BME680 answers at 0x77 on I2C bus 1" in str(raised.value)


def test_a_bme280_at_the_address_is_named():
    with pytest.raises(DriverError, match="use the bme280 driver"):
        driver_on(RegisterDevice(registers(chip_id=0x60)))


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"address": 0x40}, "address must be"),
        ({"iir_filter": 2}, "iir_filter must be"),
        ({"heater_temperature_c": 450}, "heater_temperature_c must be 200 to 400"),
        ({"heater_duration_ms": 0}, "heater_duration_ms must be 1 to 4032"),
        ({"temperature_oversampling": 0}, "temperature_oversampling cannot be 0"),
    ],
)
def test_bad_settings_are_named(options, words):
    with pytest.raises(DriverConfigError, match=words):
        Bme680Driver(bus=FakeI2C({}), sleep=lambda s: None, **options)


def test_random_field_bytes_never_raise_anything_but_a_driver_error():
    device = RegisterDevice(registers())
    driver, _ = driver_on(device)

    @settings(max_examples=200, deadline=None)
    @given(st.binary(min_size=15, max_size=15))
    def measure(field):
        device.registers |= {0x1D + i: v for i, v in enumerate(field)}
        try:
            readings = driver.read()
        except DriverError:
            return
        assert {r.metric for r in readings} <= {
            "temperature",
            "pressure",
            "relative_humidity",
            "gas_resistance",
        }

    measure()
