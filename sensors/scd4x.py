"""CO2, temperature and humidity from a Sensirion SCD40/SCD41 on I2C.

Written from the Sensirion SCD4x datasheet: 16-bit commands, and every 16-bit data word
followed by its CRC-8 (polynomial 0x31, initial value 0xFF). At start-up the driver
stops any measurement a previous process left running, reads the serial number (that
is how it knows the part is there), sets the altitude (or, later, the air pressure) and
the automatic self-calibration switch, and starts periodic measurement: a new value
every 5 seconds, of which each read takes the newest.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence

from sensors.buses import I2CBus, open_i2c
from sensors.driver import Clock, Driver, DriverConfigError, DriverError
from sensors.reading import Reading, SensorInfo, utc_now
from sensors.retries import ATTEMPTS, with_retries
from sensors.retries import BadAnswer as _Bad

START_PERIODIC_MEASUREMENT = 0x21B1
READ_MEASUREMENT = 0xEC05
STOP_PERIODIC_MEASUREMENT = 0x3F86
GET_DATA_READY_STATUS = 0xE4B8
GET_SERIAL_NUMBER = 0x3682
SET_SENSOR_ALTITUDE = 0x2427
SET_AMBIENT_PRESSURE = 0xE000
SET_AUTOMATIC_SELF_CALIBRATION_ENABLED = 0x2416

STOP_WAIT_S = 0.5
COMMAND_WAIT_S = 0.001
SETTING_WAIT_S = 0.001
DATA_READY_MASK = 0x07FF

WIRING_HELP = (
    "check the wiring (SDA to GPIO2, pin 3; SCL to GPIO3, pin 5; VDD to 3.3 V) and run "
    "`i2cdetect -y 1` (it should show 62)"
)


def crc8(data: bytes) -> int:
    """Sensirion's CRC-8 of ``data``: polynomial 0x31, initial 0xFF (CRC of 0xBEEF is 0x92)."""
    crc = 0xFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x31) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def word_with_crc(value: int) -> bytes:
    """A 16-bit argument as the part expects it: big-endian, then its CRC."""
    data = value.to_bytes(2, "big")
    return data + bytes([crc8(data)])


def words(answer: bytes, count: int) -> list[int]:
    """The ``count`` CRC-checked words of an answer.

    Raises:
        _Bad: a short answer, all 0xFF, or a word whose CRC does not match.
    """
    if len(answer) < 3 * count:
        raise _Bad(f"a short answer ({len(answer)} of {3 * count} bytes)")
    if answer == b"\xff" * len(answer):
        raise _Bad("all 0xFF (the part lost power?)")
    out = []
    for at in range(0, 3 * count, 3):
        if crc8(answer[at : at + 2]) != answer[at + 2]:
            raise _Bad("a CRC mismatch")
        out.append(int.from_bytes(answer[at : at + 2], "big"))
    return out


class Scd4xDriver(Driver):
    """A Sensirion SCD40 or SCD41 at I2C address 0x62: CO2 with its temperature and humidity."""

    name = "scd4x"

    def __init__(
        self,
        *,
        interval_s: float = 60.0,
        clock: Clock = utc_now,
        bus_number: int = 1,
        address: int = 0x62,
        altitude_m: float = 0.0,
        ambient_pressure_hpa: float | None = None,
        self_calibration: bool = True,
        bus: I2CBus | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(interval_s=interval_s, clock=clock)
        if not 0x03 <= address <= 0x77:
            raise DriverConfigError(f"scd4x driver: address must be 0x03 to 0x77, got {address!r}")
        if not 0 <= altitude_m <= 3000:
            raise DriverConfigError(
                f"scd4x driver: altitude_m must be 0 to 3000 metres, got {altitude_m!r}"
            )
        if ambient_pressure_hpa is not None and not 700 <= ambient_pressure_hpa <= 1200:
            raise DriverConfigError(
                "scd4x driver: ambient_pressure_hpa must be 700 to 1200 hPa, "
                f"got {ambient_pressure_hpa!r}"
            )
        self.address = address
        self.bus_number = bus_number
        self.sleep = sleep
        self.crc_failures = 0
        self.serial_number: int | None = None
        self.bus = bus if bus is not None else open_i2c(bus_number)
        try:
            self._start(altitude_m, ambient_pressure_hpa, self_calibration)
        except BaseException:
            self.bus.close()
            raise

    def _where(self) -> str:
        return f"{self.address:#04x} on I2C bus {self.bus_number}"

    def _command(self, command: int, argument: int | None = None) -> None:
        data = command.to_bytes(2, "big")
        if argument is not None:
            data += word_with_crc(argument)
        self.bus.write(self.address, data)

    def _ask(self, command: int, count: int) -> list[int]:
        self._command(command)
        self.sleep(COMMAND_WAIT_S)
        return words(self.bus.read(self.address, 3 * count), count)

    def _start(self, altitude_m: float, pressure_hpa: float | None, asc: bool) -> None:
        problems = []
        try:
            self._command(STOP_PERIODIC_MEASUREMENT)
            self.sleep(STOP_WAIT_S)
            for _ in range(ATTEMPTS):
                try:
                    high, middle, low = self._ask(GET_SERIAL_NUMBER, 3)
                except _Bad as bad:
                    self.crc_failures += 1
                    problems.append(str(bad))
                    continue
                self.serial_number = (high << 32) | (middle << 16) | low
                break
            else:
                raise DriverError(
                    f"scd4x driver: the part at {self._where()} does not answer as an SCD4x "
                    f"({'; '.join(problems)}); {WIRING_HELP}",
                    transient=False,
                )
            if pressure_hpa is None:
                self._command(SET_SENSOR_ALTITUDE, round(altitude_m))
                self.sleep(SETTING_WAIT_S)
            self._command(SET_AUTOMATIC_SELF_CALIBRATION_ENABLED, 1 if asc else 0)
            self.sleep(SETTING_WAIT_S)
            self._command(START_PERIODIC_MEASUREMENT)
            if pressure_hpa is not None:
                self._command(SET_AMBIENT_PRESSURE, round(pressure_hpa))
                self.sleep(SETTING_WAIT_S)
        except OSError as error:
            raise DriverError(
                f"scd4x driver: no SCD4x answers at {self._where()} ({error}); {WIRING_HELP}",
                transient=False,
            ) from error

    def read(self) -> list[Reading]:
        """The newest measurement, if the part has one ready; [] while it has none."""
        return with_retries(
            self._measurement,
            what=f"scd4x driver: the SCD4x at {self._where()}",
            count_bad=self._count_bad,
            sleep=self.sleep,
        )

    def _count_bad(self) -> None:
        self.crc_failures += 1

    def _measurement(self) -> list[Reading]:
        [status] = self._ask(GET_DATA_READY_STATUS, 1)
        if status & DATA_READY_MASK == 0:
            return []
        co2, raw_t, raw_rh = self._ask(READ_MEASUREMENT, 3)
        if co2 == 0:
            return []  # the part's "no measurement yet", not 0 ppm
        at = self.clock()
        return [
            Reading(self.name, "co2", float(co2), "ppm", at),
            Reading(self.name, "temperature", round(-45 + 175 * raw_t / 65535, 2), "°C", at),
            Reading(self.name, "relative_humidity", round(100 * raw_rh / 65535, 2), "%", at),
        ]

    def sensors(self) -> Sequence[SensorInfo]:
        """The datasheet's accuracy (SCD40, 400 to 2,000 ppm) and resolution."""
        part = "Sensirion SCD4x"
        return [
            SensorInfo(
                self.name, "co2", "ppm", part, 50.0, 1.0, "accuracy ±(50 ppm + 5 % of reading)"
            ),
            SensorInfo(self.name, "temperature", "°C", part, 0.8, 175 / 65535),
            SensorInfo(self.name, "relative_humidity", "%", part, 6.0, 100 / 65535),
        ]

    def close(self) -> None:
        """Stop periodic measurement and release the bus; safe to call more than once."""
        if not self.closed:
            with contextlib.suppress(OSError):  # the part is gone; nothing to stop
                self._command(STOP_PERIODIC_MEASUREMENT)
            self.bus.close()
        super().close()
