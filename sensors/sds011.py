"""PM2.5 and PM10 from a Nova SDS011 on a serial port (usually its own USB adapter).

From Nova Fitness's "Laser Dust Sensor Control Protocol V1.3": the part streams a
10-byte data frame every second (``AA C0``, PM2.5 and PM10 in tenths of µg/m³, its id,
a checksum over the six data bytes, ``AB``) and takes 19-byte commands (``AA B4``, the
command, 12 data bytes, the target id ``FF FF`` for any part, a checksum, ``AB``).
"""

from __future__ import annotations

from sensors.particles import ParticleDriver

HEAD = 0xAA
TAIL = 0xAB
DATA = 0xC0
COMMAND = 0xB4
SET_REPORTING_MODE = 0x02
SET_SLEEP_WORK = 0x06
ACTIVE = 0
SET = 1
SLEEP = 0
WORK = 1


def command(code: int, *data: int) -> bytes:
    """A 19-byte command to every part on the line (id FF FF), checksum included."""
    body = bytes([code, *data]).ljust(13, b"\x00") + b"\xff\xff"
    return bytes([HEAD, COMMAND]) + body + bytes([sum(body) & 0xFF, TAIL])


def decode_frame(frame: bytes) -> tuple[float, float] | None:
    """(PM2.5, PM10) in µg/m³ from a 10-byte data frame; None if it fails a check."""
    if (
        len(frame) != 10
        or frame[0] != HEAD
        or frame[1] != DATA
        or frame[9] != TAIL
        or sum(frame[2:8]) & 0xFF != frame[8]
    ):
        return None
    pm25 = int.from_bytes(frame[2:4], "little") / 10
    pm10 = int.from_bytes(frame[4:6], "little") / 10
    return pm25, pm10


class Sds011Driver(ParticleDriver):
    """A Nova SDS011, in active reporting, asleep between readings (to spare its laser)."""

    name = "sds011"
    part = "Nova SDS011"
    accuracy = 10.0
    resolution = 0.3
    accuracy_words = "accuracy ±15 % and ±10 µg/m³ (at 25 °C, 50 % RH)"
    frame_start = bytes([HEAD, DATA])
    default_port = "/dev/ttyUSB0"
    frame_length = 10

    def wake(self) -> None:
        """Work mode, and active reporting (a frame every second)."""
        self.port.write(command(SET_SLEEP_WORK, SET, WORK))
        self.port.write(command(SET_REPORTING_MODE, SET, ACTIVE))

    def rest(self) -> None:
        """Sleep mode: fan and laser off."""
        self.port.write(command(SET_SLEEP_WORK, SET, SLEEP))

    def decode(self, frame: bytes) -> tuple[float, float] | None:  # noqa: D102
        return decode_frame(frame)

    def wiring_help(self) -> str:  # noqa: D102
        return (
            "check its USB adapter is plugged in (ls /dev/serial/by-id/) and the port is the "
            "right one; on the Pi's own UART, 5 V to the sensor and TX/RX crossed (its TX to "
            "GPIO15 RXD, pin 10; its RX to TXD, pin 8); and that the service user is in the "
            "dialout group"
        )
