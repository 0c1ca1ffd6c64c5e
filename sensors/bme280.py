"""Temperature, humidity and pressure from a Bosch BME280 (or a BMP280, without humidity) on I2C.

Written from the Bosch datasheets (BST-BME280-DS002, BST-BMP280-DS001): each read
starts one forced-mode measurement with the oversampling and IIR filter from the
settings, waits for it, reads the raw values and turns them into °C, % and hPa with
the datasheet's integer compensation (the 32-bit formula for temperature and humidity,
the 64-bit one for pressure) from the part's own trimming coefficients.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sensors.buses import I2CBus, open_i2c
from sensors.driver import Clock, Driver, DriverConfigError, DriverError
from sensors.reading import Reading, SensorInfo, utc_now
from sensors.retries import BadAnswer as _Bad
from sensors.retries import with_retries

CHIP_ID = 0xD0
RESET = 0xE0
CALIBRATION_TP = 0x88  # 26 bytes: dig_T1 … dig_P9, (0xA0 unused), dig_H1 at 0xA1
CALIBRATION_H = 0xE1  # 7 bytes: dig_H2 … dig_H6
CTRL_HUM = 0xF2
STATUS = 0xF3
CTRL_MEAS = 0xF4
CONFIG = 0xF5
DATA = 0xF7  # press (3), temp (3), hum (2)

BME280_ID = 0x60
BMP280_IDS = (0x56, 0x57, 0x58)
BME680_ID = 0x61
MEASURING = 0x08
FORCED = 0b01
RESET_WORD = 0xB6

OVERSAMPLING = {0: 0, 1: 1, 2: 2, 4: 3, 8: 4, 16: 5}
"""Oversampling xn → its 3-bit register code (0: the measurement is skipped)."""
FILTER = {0: 0, 2: 1, 4: 2, 8: 3, 16: 4}
"""IIR filter coefficient → its 3-bit register code (0: off)."""
ADDRESSES = (0x76, 0x77)
SKIPPED_20BIT = 0x80000
SKIPPED_16BIT = 0x8000

WIRING_HELP = (
    "check the wiring (SDA to GPIO2, pin 3; SCL to GPIO3, pin 5; 3.3 V; SDO to GND for 0x76, "
    "to 3.3 V for 0x77) and run `i2cdetect -y 1`"
)


@dataclass(frozen=True, slots=True)
class Calibration:
    """The part's trimming coefficients, read once at start-up (datasheet table 16)."""

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
    h1: int = 0
    h2: int = 0
    h3: int = 0
    h4: int = 0
    h5: int = 0
    h6: int = 0


def _u16(data: bytes, at: int) -> int:
    return int.from_bytes(data[at : at + 2], "little")


def _s16(data: bytes, at: int) -> int:
    return int.from_bytes(data[at : at + 2], "little", signed=True)


def _s12(value: int) -> int:
    return value - 0x1000 if value & 0x800 else value


def parse_calibration(tp: bytes, humidity: bytes | None) -> Calibration:
    """The coefficients from the 26 bytes at 0x88 and (BME280) the 7 bytes at 0xE1."""
    pressure = {f"p{i}": _s16(tp, 6 + 2 * (i - 1)) for i in range(2, 10)}
    base = Calibration(_u16(tp, 0), _s16(tp, 2), _s16(tp, 4), _u16(tp, 6), **pressure)
    if humidity is None:
        return base
    return dataclasses.replace(
        base,
        h1=tp[25],
        h2=_s16(humidity, 0),
        h3=humidity[2],
        h4=_s12((humidity[3] << 4) | (humidity[4] & 0x0F)),
        h5=_s12((humidity[5] << 4) | (humidity[4] >> 4)),
        h6=humidity[6] - 256 if humidity[6] & 0x80 else humidity[6],
    )


def _trunc_div(a: int, b: int) -> int:
    """Integer division rounding towards zero, as C's ``/`` does in the datasheet."""
    quotient = abs(a) // abs(b)
    return quotient if (a >= 0) == (b >= 0) else -quotient


def compensate_temperature(adc_t: int, c: Calibration) -> tuple[int, int]:
    """Temperature in 0.01 °C and t_fine (which pressure and humidity need)."""
    var1 = (((adc_t >> 3) - (c.t1 << 1)) * c.t2) >> 11
    var2 = (((((adc_t >> 4) - c.t1) * ((adc_t >> 4) - c.t1)) >> 12) * c.t3) >> 14
    t_fine = var1 + var2
    return (t_fine * 5 + 128) >> 8, t_fine


def compensate_pressure(adc_p: int, t_fine: int, c: Calibration) -> int:
    """Pressure in Pa as Q24.8 (divide by 256), by the datasheet's 64-bit formula.

    0 if the coefficients would divide by zero.
    """
    var1 = t_fine - 128000
    var2 = var1 * var1 * c.p6
    var2 = var2 + ((var1 * c.p5) << 17)
    var2 = var2 + (c.p4 << 35)
    var1 = ((var1 * var1 * c.p3) >> 8) + ((var1 * c.p2) << 12)
    var1 = (((1 << 47) + var1) * c.p1) >> 33
    if var1 == 0:
        return 0
    p = 1048576 - adc_p
    p = _trunc_div(((p << 31) - var2) * 3125, var1)
    var1 = (c.p9 * (p >> 13) * (p >> 13)) >> 25
    var2 = (c.p8 * p) >> 19
    return ((p + var1 + var2) >> 8) + (c.p7 << 4)


def compensate_humidity(adc_h: int, t_fine: int, c: Calibration) -> int:
    """Relative humidity in % as Q22.10 (divide by 1024), clamped to 0 to 100 %."""
    v = t_fine - 76800
    v = ((((adc_h << 14) - (c.h4 << 20) - (c.h5 * v)) + 16384) >> 15) * (
        ((((((v * c.h6) >> 10) * (((v * c.h3) >> 11) + 32768)) >> 10) + 2097152) * c.h2 + 8192)
        >> 14
    )
    v = v - (((((v >> 15) * (v >> 15)) >> 7) * c.h1) >> 4)
    return max(0, min(v, 419430400)) >> 12


def measurement_time_s(osrs_t: int, osrs_p: int, osrs_h: int) -> float:
    """The longest a forced measurement takes (datasheet appendix B, t_measure,max)."""
    ms = 1.25 + 2.3 * osrs_t
    ms += 2.3 * osrs_p + 0.575 if osrs_p else 0
    ms += 2.3 * osrs_h + 0.575 if osrs_h else 0
    return ms / 1000


def check_bosch_settings(driver: str, address: int, *oversampling: int) -> None:
    """Check a Bosch part's address and its temperature, pressure, humidity oversampling.

    Raises:
        DriverConfigError: naming the setting; temperature cannot be skipped, since
            pressure and humidity are compensated with it.
    """
    if address not in ADDRESSES:
        raise DriverConfigError(
            f"{driver} driver: address must be 0x76 or 0x77, got {address:#04x}"
        )
    names = ("temperature_oversampling", "pressure_oversampling", "humidity_oversampling")
    for setting, value in zip(names, oversampling, strict=True):
        if value not in OVERSAMPLING:
            raise DriverConfigError(
                f"{driver} driver: {setting} must be 0 (skip), 1, 2, 4, 8 or 16, got {value!r}"
            )
    if oversampling[0] == 0:
        raise DriverConfigError(
            f"{driver} driver: temperature_oversampling cannot be 0: pressure and humidity "
            "are compensated with the temperature"
        )


class Bme280Driver(Driver):
    """A BME280 (temperature, humidity, pressure) or BMP280 (no humidity) on I2C.

    Oversampling (x0 to skip, 1, 2, 4, 8, 16) trades time and power for noise; the IIR
    filter (0 off, 2, 4, 8, 16) smooths out slammed doors and draughts. The defaults are
    the datasheet's "indoor navigation"-like profile, quiet enough for a hall.
    """

    name = "bme280"

    def __init__(
        self,
        *,
        interval_s: float = 60.0,
        clock: Clock = utc_now,
        bus_number: int = 1,
        address: int = 0x76,
        temperature_oversampling: int = 2,
        pressure_oversampling: int = 16,
        humidity_oversampling: int = 1,
        iir_filter: int = 4,
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
                f"bme280 driver: iir_filter must be 0 (off), 2, 4, 8 or 16, got {iir_filter!r}"
            )
        self.address = address
        self.bus_number = bus_number
        self.sleep = sleep
        self.read_failures = 0
        self._osrs = (temperature_oversampling, pressure_oversampling, humidity_oversampling)
        self._filter = iir_filter
        self.bus = bus if bus is not None else open_i2c(bus_number)
        try:
            self._start()
        except BaseException:
            self.bus.close()
            raise

    def _where(self) -> str:
        return f"{self.address:#04x} on I2C bus {self.bus_number}"

    def _start(self) -> None:
        try:
            chip = self.bus.write_read(self.address, bytes([CHIP_ID]), 1)
        except OSError as error:
            raise DriverError(
                f"bme280 driver: no BME280 answers at {self._where()} ({error}); {WIRING_HELP}",
                transient=False,
            ) from error
        chip_id = chip[0] if chip else None
        if chip_id == BME680_ID:
            raise DriverError(
                f"bme280 driver: a BME680 answers at {self._where()}; use the bme680 driver",
                transient=False,
            )
        if chip_id != BME280_ID and chip_id not in BMP280_IDS:
            shown = "nothing" if chip_id is None else f"chip id {chip_id:#04x}"
            raise DriverError(
                f"bme280 driver: the part at {self._where()} is not a BME280 or BMP280 "
                f"({shown}, expected 0x60 or 0x58); {WIRING_HELP}",
                transient=False,
            )
        self.has_humidity = chip_id == BME280_ID
        self.part = "Bosch BME280" if self.has_humidity else "Bosch BMP280"
        try:
            self.bus.write(self.address, bytes([RESET, RESET_WORD]))
            self.sleep(0.005)  # start-up time after a reset, 2 ms at most
            tp = self.bus.write_read(self.address, bytes([CALIBRATION_TP]), 26)
            hum = (
                self.bus.write_read(self.address, bytes([CALIBRATION_H]), 7)
                if self.has_humidity
                else None
            )
            # The filter is set while the part sleeps (it ignores config writes otherwise).
            self.bus.write(self.address, bytes([CONFIG, FILTER[self._filter] << 2]))
        except OSError as error:
            raise DriverError(
                f"bme280 driver: the {self.part} at {self._where()} stopped answering while "
                f"starting ({error}); {WIRING_HELP}",
                transient=False,
            ) from error
        if len(tp) != 26 or (hum is not None and len(hum) != 7) or _blank(tp):
            raise DriverError(
                f"bme280 driver: the {self.part} at {self._where()} gave no calibration data "
                f"(the part or its wiring is faulty); {WIRING_HELP}",
                transient=False,
            )
        self.calibration = parse_calibration(tp, hum)

    def _measure(self) -> bytes:
        osrs_t, osrs_p, osrs_h = (OVERSAMPLING[n] for n in self._osrs)
        if self.has_humidity:
            self.bus.write(self.address, bytes([CTRL_HUM, osrs_h]))
        self.bus.write(self.address, bytes([CTRL_MEAS, osrs_t << 5 | osrs_p << 2 | FORCED]))
        self.sleep(measurement_time_s(*self._osrs))
        for _ in range(10):
            status = self.bus.write_read(self.address, bytes([STATUS]), 1)
            if status and not status[0] & MEASURING:
                break
            self.sleep(0.002)
        else:
            raise _Bad("the measurement never finished")
        length = 8 if self.has_humidity else 6
        data = self.bus.write_read(self.address, bytes([DATA]), length)
        if len(data) != length:
            raise _Bad(f"a short read ({len(data)} of {length} bytes)")
        if data == b"\xff" * length:
            raise _Bad("all 0xFF (the part lost power?)")
        return data

    def read(self) -> list[Reading]:
        """One forced measurement, compensated: temperature, pressure and (BME280) humidity."""
        return with_retries(
            lambda: self._readings(self._measure()),
            what=f"bme280 driver: the {self.part} at {self._where()}",
            count_bad=self._count_bad,
            sleep=self.sleep,
        )

    def _count_bad(self) -> None:
        self.read_failures += 1

    def _readings(self, data: bytes) -> list[Reading]:
        adc_p = (data[0] << 12) | (data[1] << 4) | (data[2] >> 4)
        adc_t = (data[3] << 12) | (data[4] << 4) | (data[5] >> 4)
        if adc_t == SKIPPED_20BIT:
            raise _Bad("no temperature in the measurement")
        centi, t_fine = compensate_temperature(adc_t, self.calibration)
        at = self.clock()
        out = [Reading(self.name, "temperature", centi / 100, "°C", at)]
        if self._osrs[1] and adc_p != SKIPPED_20BIT:
            pascals = compensate_pressure(adc_p, t_fine, self.calibration)
            if pascals == 0:
                raise _Bad("pressure coefficients that divide by zero")
            out.append(Reading(self.name, "pressure", round(pascals / 25600, 2), "hPa", at))
        if self.has_humidity and self._osrs[2]:
            adc_h = (data[6] << 8) | data[7]
            if adc_h != SKIPPED_16BIT:
                humidity = compensate_humidity(adc_h, t_fine, self.calibration)
                out.append(
                    Reading(self.name, "relative_humidity", round(humidity / 1024, 3), "%", at)
                )
        return out

    def sensors(self) -> Sequence[SensorInfo]:
        """The datasheet's absolute accuracy (0 to 65 °C) and output resolution."""
        infos = [
            SensorInfo(self.name, "temperature", "°C", self.part, 1.0, 0.01),
            SensorInfo(self.name, "pressure", "hPa", self.part, 1.0, 0.0018),
        ]
        if self.has_humidity:
            infos.append(SensorInfo(self.name, "relative_humidity", "%", self.part, 3.0, 0.008))
        return infos

    def close(self) -> None:
        """Release the bus (the part sleeps between forced measurements anyway)."""
        if not self.closed:
            self.bus.close()
        super().close()


def _blank(data: bytes) -> bool:
    return data in (b"\x00" * len(data), b"\xff" * len(data))
