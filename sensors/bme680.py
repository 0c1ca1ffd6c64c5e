"""Temperature, humidity, pressure and gas resistance from a Bosch BME680 (or BME688) on I2C.

Written from the BME680 datasheet (BST-BME680-DS001, section 3.3 "sensor data
calculation", and its register map) and Bosch's reference driver BME68x_SensorAPI for
the register indices of the trimming values. Each read is one forced measurement: the
temperature, pressure and humidity at the configured oversampling and IIR filter, then
the hot plate heated to ``heater_temperature_c`` for ``heater_duration_ms`` and its
resistance measured. All compensation is the datasheet's integer arithmetic.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sensors.bme280 import OVERSAMPLING, check_bosch_settings
from sensors.buses import I2CBus, open_i2c
from sensors.driver import Clock, Driver, DriverConfigError, DriverError
from sensors.reading import Reading, SensorInfo, utc_now
from sensors.retries import BadAnswer as _Bad
from sensors.retries import with_retries

CHIP_ID = 0xD0
VARIANT_ID = 0xF0
RESET = 0xE0
COEFF1, COEFF1_LENGTH = 0x8A, 23
COEFF2, COEFF2_LENGTH = 0xE1, 14
COEFF3, COEFF3_LENGTH = 0x00, 5
RES_HEAT_0 = 0x5A
GAS_WAIT_0 = 0x64
CTRL_GAS_1 = 0x71
CTRL_HUM = 0x72
CTRL_MEAS = 0x74
CONFIG = 0x75
FIELD_0 = 0x1D
FIELD_LENGTH = 15

BME680_ID = 0x61
BME280_ID = 0x60
VARIANT_BME688 = 0x01
RESET_WORD = 0xB6
NEW_DATA = 0x80
GAS_VALID = 0x20
HEAT_STAB = 0x10
RUN_GAS = 0x10
FORCED = 0b01
SKIPPED_20BIT = 0x80000
SKIPPED_16BIT = 0x8000

FILTER = {0: 0, 1: 1, 3: 2, 7: 3, 15: 4, 31: 5, 63: 6, 127: 7}

# The BME680's gas-range lookup tables (datasheet table 16, integer form).
GAS_TABLE_1 = (
    2147483647, 2147483647, 2147483647, 2147483647, 2147483647, 2126008810, 2147483647,
    2130303777, 2147483647, 2147483647, 2143188679, 2136746228, 2147483647, 2126008810,
    2147483647, 2147483647,
)  # fmt: skip
GAS_TABLE_2 = (
    4096000000, 2048000000, 1024000000, 512000000, 255744255, 127110228, 64000000, 32258064,
    16016016, 8000000, 4000000, 2000000, 1000000, 500000, 250000, 125000,
)  # fmt: skip

WIRING_HELP = (
    "check the wiring (SDA to GPIO2, pin 3; SCL to GPIO3, pin 5; 3.3 V) and run `i2cdetect -y 1`"
)


@dataclass(frozen=True, slots=True)
class Calibration:
    """The part's trimming values (the reference driver's par_* names)."""

    t1: int
    t2: int
    t3: int
    p1: int
    p2: int
    p3: int
    p4: int
    p5: int
    p6: int
    p7: int
    p8: int
    p9: int
    p10: int
    h1: int
    h2: int
    h3: int
    h4: int
    h5: int
    h6: int
    h7: int
    gh1: int
    gh2: int
    gh3: int
    res_heat_range: int
    res_heat_val: int
    range_sw_err: int


def _s8(value: int) -> int:
    return value - 256 if value & 0x80 else value


def _s16(low: int, high: int) -> int:
    value = (high << 8) | low
    return value - 0x10000 if value & 0x8000 else value


def parse_calibration(coeff: bytes) -> Calibration:
    """The trimming values from the 42 bytes at 0x8A (23), 0xE1 (14) and 0x00 (5)."""
    c = coeff
    return Calibration(
        t1=(c[32] << 8) | c[31],
        t2=_s16(c[0], c[1]),
        t3=_s8(c[2]),
        p1=(c[5] << 8) | c[4],
        p2=_s16(c[6], c[7]),
        p3=_s8(c[8]),
        p4=_s16(c[10], c[11]),
        p5=_s16(c[12], c[13]),
        p6=_s8(c[15]),
        p7=_s8(c[14]),
        p8=_s16(c[18], c[19]),
        p9=_s16(c[20], c[21]),
        p10=c[22],
        h1=(c[25] << 4) | (c[24] & 0x0F),
        h2=(c[23] << 4) | (c[24] >> 4),
        h3=_s8(c[26]),
        h4=_s8(c[27]),
        h5=_s8(c[28]),
        h6=c[29],
        h7=_s8(c[30]),
        gh1=_s8(c[35]),
        gh2=_s16(c[33], c[34]),
        gh3=_s8(c[36]),
        res_heat_range=(c[39] & 0x30) >> 4,
        res_heat_val=_s8(c[37]),
        range_sw_err=_s8(c[41] & 0xF0) >> 4,
    )


def _div(a: int, b: int) -> int:
    """C's integer division, towards zero, as the datasheet's formulas assume."""
    quotient = abs(a) // abs(b)
    return quotient if (a >= 0) == (b >= 0) else -quotient


def compensate_temperature(adc: int, c: Calibration) -> tuple[int, int]:
    """Temperature in 0.01 °C, and t_fine for the others."""
    var1 = (adc >> 3) - (c.t1 << 1)
    var2 = (var1 * c.t2) >> 11
    var3 = ((((var1 >> 1) * (var1 >> 1)) >> 12) * (c.t3 << 4)) >> 14
    t_fine = var2 + var3
    return ((t_fine * 5) + 128) >> 8, t_fine


def compensate_pressure(adc: int, t_fine: int, c: Calibration) -> int:
    """Pressure in Pa."""
    var1 = (t_fine >> 1) - 64000
    var2 = ((((var1 >> 2) * (var1 >> 2)) >> 11) * c.p6) >> 2
    var2 = var2 + ((var1 * c.p5) << 1)
    var2 = (var2 >> 2) + (c.p4 << 16)
    var1 = (((((var1 >> 2) * (var1 >> 2)) >> 13) * (c.p3 << 5)) >> 3) + ((c.p2 * var1) >> 1)
    var1 = var1 >> 18
    var1 = ((32768 + var1) * c.p1) >> 15
    if var1 == 0:
        return 0
    pressure = 1048576 - adc
    pressure = (pressure - (var2 >> 12)) * 3125
    # The order of the division keeps the reference's 32-bit arithmetic from overflowing.
    pressure = _div(pressure, var1) << 1 if pressure >= 1 << 30 else _div(pressure << 1, var1)
    var1 = (c.p9 * (((pressure >> 3) * (pressure >> 3)) >> 13)) >> 12
    var2 = ((pressure >> 2) * c.p8) >> 13
    var3 = ((pressure >> 8) * (pressure >> 8) * (pressure >> 8) * c.p10) >> 17
    return pressure + ((var1 + var2 + var3 + (c.p7 << 7)) >> 4)


def compensate_humidity(adc: int, t_fine: int, c: Calibration) -> int:
    """Relative humidity in 0.001 %, clamped to 0 to 100 %."""
    t = ((t_fine * 5) + 128) >> 8
    var1 = (adc - (c.h1 * 16)) - (_div(t * c.h3, 100) >> 1)
    var2 = (
        c.h2 * (_div(t * c.h4, 100) + _div((t * _div(t * c.h5, 100)) >> 6, 100) + (1 << 14))
    ) >> 10
    var3 = var1 * var2
    var4 = ((c.h6 << 7) + _div(t * c.h7, 100)) >> 4
    var5 = ((var3 >> 14) * (var3 >> 14)) >> 10
    var6 = (var4 * var5) >> 1
    humidity = (((var3 + var6) >> 10) * 1000) >> 12
    return max(0, min(humidity, 100_000))


def gas_resistance(adc: int, gas_range: int, c: Calibration, *, bme688: bool = False) -> int:
    """The hot plate's resistance in Ω (the BME680's formula, or the BME688's)."""
    if bme688:
        var1 = 262144 >> gas_range
        var2 = 4096 + (adc - 512) * 3
        return _div(10000 * var1, var2) * 100
    var1 = ((1340 + (5 * c.range_sw_err)) * GAS_TABLE_1[gas_range]) >> 16
    var2 = ((adc << 15) - 16777216) + var1
    var3 = (GAS_TABLE_2[gas_range] * var1) >> 9
    return _div(var3 + (var2 >> 1), var2)


def heater_resistance(target_c: int, ambient_c: int, c: Calibration) -> int:
    """The res_heat_0 code that heats the plate to ``target_c``."""
    target = min(target_c, 400)
    var1 = _div(ambient_c * c.gh3, 1000) * 256
    var2 = (c.gh1 + 784) * _div(_div((c.gh2 + 154009) * target * 5, 100) + 3276800, 10)
    var3 = var1 + _div(var2, 2)
    var4 = _div(var3, c.res_heat_range + 4)
    var5 = (131 * c.res_heat_val) + 65536
    code = _div((_div(var4, var5) - 250) * 34 + 50, 100)
    return max(0, min(code, 255))


def gas_wait(duration_ms: int) -> int:
    """The gas_wait_0 code: 6 bits of time and 2 of multiplier (1, 4, 16, 64)."""
    if duration_ms >= 0xFC0:
        return 0xFF
    factor = 0
    while duration_ms > 0x3F:
        duration_ms //= 4
        factor += 1
    return duration_ms + factor * 64


class Bme680Driver(Driver):
    """A Bosch BME680 or BME688: the BME280's three values and a gas-resistance trend."""

    name = "bme680"

    def __init__(
        self,
        *,
        interval_s: float = 60.0,
        clock: Clock = utc_now,
        bus_number: int = 1,
        address: int = 0x77,
        temperature_oversampling: int = 2,
        pressure_oversampling: int = 16,
        humidity_oversampling: int = 1,
        iir_filter: int = 3,
        heater_temperature_c: int = 320,
        heater_duration_ms: int = 150,
        bus: I2CBus | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(interval_s=interval_s, clock=clock)
        check_bosch_settings(
            self.name, address, temperature_oversampling, pressure_oversampling,
            humidity_oversampling,
        )  # fmt: skip
        if iir_filter not in FILTER:
            raise DriverConfigError(
                "bme680 driver: iir_filter must be 0, 1, 3, 7, 15, 31, 63 or 127, "
                f"got {iir_filter!r}"
            )
        if not 200 <= heater_temperature_c <= 400:
            raise DriverConfigError(
                f"bme680 driver: heater_temperature_c must be 200 to 400, "
                f"got {heater_temperature_c!r}"
            )
        if not 1 <= heater_duration_ms <= 4032:
            raise DriverConfigError(
                f"bme680 driver: heater_duration_ms must be 1 to 4032, got {heater_duration_ms!r}"
            )
        self.address = address
        self.bus_number = bus_number
        self.sleep = sleep
        self.read_failures = 0
        self._osrs = (temperature_oversampling, pressure_oversampling, humidity_oversampling)
        self._filter = iir_filter
        self._heater = (heater_temperature_c, heater_duration_ms)
        self.bus = bus if bus is not None else open_i2c(bus_number)
        try:
            self._start()
        except BaseException:
            self.bus.close()
            raise

    def _where(self) -> str:
        return f"{self.address:#04x} on I2C bus {self.bus_number}"

    def _registers(self, register: int, length: int) -> bytes:
        return self.bus.write_read(self.address, bytes([register]), length)

    def _start(self) -> None:
        try:
            chip = self._registers(CHIP_ID, 1)
        except OSError as error:
            raise DriverError(
                f"bme680 driver: no BME680 answers at {self._where()} ({error}); {WIRING_HELP}",
                transient=False,
            ) from error
        chip_id = chip[0] if chip else None
        if chip_id == BME280_ID:
            raise DriverError(
                f"bme680 driver: a BME280 answers at {self._where()}; use the bme280 driver",
                transient=False,
            )
        if chip_id != BME680_ID:
            shown = "nothing" if chip_id is None else f"chip id {chip_id:#04x}"
            raise DriverError(
                f"bme680 driver: the part at {self._where()} is not a BME680 ({shown}, "
                f"expected 0x61); {WIRING_HELP}",
                transient=False,
            )
        try:
            self.bus.write(self.address, bytes([RESET, RESET_WORD]))
            self.sleep(0.01)
            variant = self._registers(VARIANT_ID, 1)
            coeff = (
                self._registers(COEFF1, COEFF1_LENGTH)
                + self._registers(COEFF2, COEFF2_LENGTH)
                + self._registers(COEFF3, COEFF3_LENGTH)
            )
        except OSError as error:
            raise DriverError(
                f"bme680 driver: the BME680 at {self._where()} stopped answering while starting "
                f"({error}); {WIRING_HELP}",
                transient=False,
            ) from error
        if len(coeff) != 42 or coeff[:37] in (b"\x00" * 37, b"\xff" * 37):
            raise DriverError(
                f"bme680 driver: the BME680 at {self._where()} gave no calibration data (the "
                f"part or its wiring is faulty); {WIRING_HELP}",
                transient=False,
            )
        self.bme688 = bool(variant) and variant[0] == VARIANT_BME688
        self.part = "Bosch BME688" if self.bme688 else "Bosch BME680"
        self.calibration = parse_calibration(coeff)
        temperature, duration = self._heater
        self._heater_code = heater_resistance(temperature, 25, self.calibration)
        self._wait_code = gas_wait(duration)
        try:
            self.bus.write(self.address, bytes([CONFIG, FILTER[self._filter] << 2]))
            self.bus.write(self.address, bytes([RES_HEAT_0, self._heater_code]))
            self.bus.write(self.address, bytes([GAS_WAIT_0, self._wait_code]))
            run_gas = 0x20 if self.bme688 else RUN_GAS  # the BME688 moved the bit
            self.bus.write(self.address, bytes([CTRL_GAS_1, run_gas]))  # heater profile 0
        except OSError as error:
            raise DriverError(
                f"bme680 driver: the BME680 at {self._where()} stopped answering while starting "
                f"({error})",
                transient=False,
            ) from error

    def _measure(self) -> bytes:
        osrs_t, osrs_p, osrs_h = (OVERSAMPLING[n] for n in self._osrs)
        self.bus.write(self.address, bytes([CTRL_HUM, osrs_h]))
        self.bus.write(self.address, bytes([CTRL_MEAS, osrs_t << 5 | osrs_p << 2 | FORCED]))
        self.sleep(sum(self._osrs) * 0.002 + self._heater[1] / 1000 + 0.005)
        for _ in range(20):
            data = self._registers(FIELD_0, FIELD_LENGTH)
            if len(data) != FIELD_LENGTH:
                raise _Bad(f"a short read ({len(data)} of {FIELD_LENGTH} bytes)")
            if data == b"\xff" * FIELD_LENGTH:
                raise _Bad("all 0xFF (the part lost power?)")
            if data[0] & NEW_DATA:
                return data
            self.sleep(0.01)
        raise _Bad("the measurement never finished")

    def read(self) -> list[Reading]:
        """One forced measurement: temperature, pressure, humidity and (if valid) gas."""
        return with_retries(
            lambda: self._readings(self._measure()),
            what=f"bme680 driver: the {self.part} at {self._where()}",
            count_bad=self._count_bad,
            sleep=self.sleep,
        )

    def _count_bad(self) -> None:
        self.read_failures += 1

    def _readings(self, d: bytes) -> list[Reading]:
        adc_p = (d[2] << 12) | (d[3] << 4) | (d[4] >> 4)
        adc_t = (d[5] << 12) | (d[6] << 4) | (d[7] >> 4)
        adc_h = (d[8] << 8) | d[9]
        if adc_t == SKIPPED_20BIT:
            raise _Bad("no temperature in the measurement")
        centi, t_fine = compensate_temperature(adc_t, self.calibration)
        at = self.clock()
        out = [Reading(self.name, "temperature", centi / 100, "°C", at)]
        if self._osrs[1] and adc_p != SKIPPED_20BIT:
            pascals = compensate_pressure(adc_p, t_fine, self.calibration)
            if pascals <= 0:
                raise _Bad("pressure coefficients that divide by zero")
            out.append(Reading(self.name, "pressure", round(pascals / 100, 2), "hPa", at))
        if self._osrs[2] and adc_h != SKIPPED_16BIT:
            milli = compensate_humidity(adc_h, t_fine, self.calibration)
            out.append(Reading(self.name, "relative_humidity", milli / 1000, "%", at))
        gas_flags = d[14]
        if gas_flags & GAS_VALID and gas_flags & HEAT_STAB:
            adc_g = (d[13] << 2) | (d[14] >> 6)
            ohms = gas_resistance(adc_g, gas_flags & 0x0F, self.calibration, bme688=self.bme688)
            if ohms > 0:
                out.append(Reading(self.name, "gas_resistance", float(ohms), "Ω", at))
        return out

    def sensors(self) -> Sequence[SensorInfo]:
        """The datasheet's absolute accuracy and resolution; the gas value is a trend."""
        return [
            SensorInfo(self.name, "temperature", "°C", self.part, 1.0, 0.01),
            SensorInfo(self.name, "pressure", "hPa", self.part, 0.6, 0.0018),
            SensorInfo(self.name, "relative_humidity", "%", self.part, 3.0, 0.008),
            SensorInfo(
                self.name,
                "gas_resistance",
                "Ω",
                self.part,
                None,
                None,
                "relative: it drifts and differs between parts; a trend of volatile compounds",
            ),
        ]

    def close(self) -> None:
        """Release the bus (the part sleeps between forced measurements)."""
        if not self.closed:
            self.bus.close()
        super().close()
