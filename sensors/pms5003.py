"""PM2.5 and PM10 from a Plantower PMS5003 or PMS7003 on a serial port, in passive mode.

From the Plantower datasheets (appendix I, "transport protocol"): a 32-byte frame
(``42 4D``, a frame length of 28, thirteen 16-bit big-endian data words, a 16-bit sum of
the 30 bytes before it) and 7-byte commands (``42 4D``, command, two data bytes, a 16-bit
sum). In passive mode the part sends a frame only when asked, so every frame read is
one asked for. Of the data words, the "atmospheric environment" PM2.5 and PM10 are
stored (the "CF=1" ones are for factory calibration).
"""

from __future__ import annotations

from sensors.particles import ParticleDriver

START = b"\x42\x4d"
FRAME_LENGTH = 32
DATA_LENGTH = 28
ANSWER_LENGTH = 8
MODE = 0xE1
READ = 0xE2
SLEEP_WAKE = 0xE4
PASSIVE = 0
WAKE = 1
SLEEP = 0


def command(code: int, data: int = 0) -> bytes:
    """A 7-byte command, its 16-bit sum included."""
    body = START + bytes([code]) + data.to_bytes(2, "big")
    return body + (sum(body) & 0xFFFF).to_bytes(2, "big")


def decode_frame(frame: bytes) -> tuple[float, float] | None:
    """(PM2.5, PM10) "atmospheric environment", µg/m³, from a 32-byte frame; None if bad."""
    if (
        len(frame) != FRAME_LENGTH
        or frame[:2] != START
        or int.from_bytes(frame[2:4], "big") != DATA_LENGTH
        or sum(frame[:30]) & 0xFFFF != int.from_bytes(frame[30:32], "big")
    ):
        return None
    pm25 = float(int.from_bytes(frame[12:14], "big"))
    pm10 = float(int.from_bytes(frame[14:16], "big"))
    return pm25, pm10


class Pms5003Driver(ParticleDriver):
    """A Plantower PMS5003 or PMS7003, asked for each frame, asleep between readings."""

    name = "pms5003"
    part = "Plantower PMS5003"
    accuracy = 10.0
    resolution = 1.0
    accuracy_words = "accuracy ±10 µg/m³ at 0 to 100 µg/m³, ±10 % at 100 to 500 µg/m³"
    frame_start = START
    default_port = "/dev/serial0"
    frame_length = FRAME_LENGTH

    def wake(self) -> None:
        """Wake, and passive mode (a frame only when asked)."""
        self.port.write(command(SLEEP_WAKE, WAKE))
        self.port.write(command(MODE, PASSIVE))

    def rest(self) -> None:
        """Sleep: fan and laser off."""
        self.port.write(command(SLEEP_WAKE, SLEEP))

    def request(self) -> None:
        """Ask for one frame."""
        self.port.write(command(READ))

    def command_answer_length(self, frame: bytes) -> int:
        """The 8-byte answer to a mode command (``42 4D 00 04 …``), which is not data."""
        return ANSWER_LENGTH if frame[2:4] == (4).to_bytes(2, "big") else 0

    def decode(self, frame: bytes) -> tuple[float, float] | None:  # noqa: D102
        return decode_frame(frame)

    def wiring_help(self) -> str:  # noqa: D102
        return (
            "check 5 V to VCC, its TX to the Pi's RXD (GPIO15, pin 10) and RX to TXD (GPIO14, "
            "pin 8), that the UART is on and the serial console off (raspi-config), and that "
            "the service user is in the dialout group"
        )
