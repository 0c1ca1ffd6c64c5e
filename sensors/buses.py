"""The I2C and serial buses the wired drivers talk through: smbus2 and pyserial, or a test's fake.

A driver never opens ``/dev/i2c-1`` or ``/dev/ttyUSB0`` itself: it is handed a bus that
offers the few operations below. On a Pi that is :class:`SmbusI2C` or
:class:`PyserialPort`; in tests it is a fake that replays the bytes a part's datasheet
gives. Opening a bus that is not there is a permanent :class:`DriverError` that names
the device file and says how to enable it.
"""

from __future__ import annotations

import errno
from typing import Any, Protocol

from sensors.driver import DriverError
from sensors.settings import setting

I2C_HELP = (
    "enable I2C (sudo raspi-config nonint do_i2c 0, or dtparam=i2c_arm=on in "
    "/boot/firmware/config.txt) and add the service user to the i2c group"
)


def i2c_bus_setting() -> Any:
    """The setting every wired I2C driver shares: which bus (``HALLSENSE_I2C_BUS``)."""
    return setting(
        1,
        "The I2C bus of the wired I2C parts (1 on every Pi with a 40-pin header).",
        "bus",
        key="I2C_BUS",
        argument="bus_number",
        min=0,
    )


SERIAL_HELP = (
    "check the cable and `ls /dev/serial/by-id/`; for the Pi's own UART enable it "
    "(sudo raspi-config nonint do_serial_hw 0) and add the service user to the dialout group"
)


class I2CBus(Protocol):
    """Raw I2C transfers to one bus (a register read is a write then a read)."""

    def write(self, address: int, data: bytes) -> None:
        """Send ``data`` to the part at 7-bit ``address``."""
        ...

    def read(self, address: int, length: int) -> bytes:
        """Read ``length`` bytes from the part at ``address``."""
        ...

    def write_read(self, address: int, data: bytes, length: int) -> bytes:
        """Send ``data`` then read ``length`` bytes, with a repeated start between."""
        ...

    def close(self) -> None:
        """Release the bus."""
        ...


class SerialPort(Protocol):
    """A serial port with a read timeout (pyserial's ``Serial`` is one)."""

    def read(self, size: int = 1) -> bytes:
        """Up to ``size`` bytes; fewer if the timeout passes first."""
        ...

    def write(self, data: bytes) -> int | None:
        """Send ``data``."""
        ...

    def reset_input_buffer(self) -> None:
        """Drop what has arrived and not been read."""
        ...

    def close(self) -> None:
        """Release the port."""
        ...


class SmbusI2C:
    """An :class:`I2CBus` on a Linux I2C adapter, through smbus2's ``i2c_rdwr``."""

    def __init__(self, number: int) -> None:
        from smbus2 import SMBus, i2c_msg  # only a node with I2C parts loads it

        self._msg = i2c_msg
        self.number = number
        try:
            self._bus = SMBus(number)
        except OSError as error:
            raise DriverError(
                f"I2C bus {number} (/dev/i2c-{number}) cannot be opened "
                f"({errno.errorcode.get(error.errno or 0, error.strerror)}); {I2C_HELP}",
                transient=False,
            ) from error

    def write(self, address: int, data: bytes) -> None:  # noqa: D102
        self._bus.i2c_rdwr(self._msg.write(address, data))

    def read(self, address: int, length: int) -> bytes:  # noqa: D102
        message = self._msg.read(address, length)
        self._bus.i2c_rdwr(message)
        return bytes(message)

    def write_read(self, address: int, data: bytes, length: int) -> bytes:  # noqa: D102
        reply = self._msg.read(address, length)
        self._bus.i2c_rdwr(self._msg.write(address, data), reply)
        return bytes(reply)

    def close(self) -> None:  # noqa: D102
        self._bus.close()


def open_i2c(number: int) -> I2CBus:
    """The Linux I2C bus ``number`` (1 on every Pi with a 40-pin header).

    Raises:
        DriverError: permanent; the bus does not exist or cannot be opened (the message
            names the device file and how to enable it).
    """
    return SmbusI2C(number)


def open_serial(port: str, baudrate: int, timeout_s: float) -> SerialPort:
    """The serial ``port`` (``/dev/ttyUSB0``, ``/dev/serial0``) at ``baudrate``, 8N1.

    Raises:
        DriverError: permanent; the port is missing or cannot be opened (the message
            names it and says what to check).
    """
    import serial  # only a node with serial parts loads pyserial

    try:
        port_object: SerialPort = serial.Serial(port, baudrate=baudrate, timeout=timeout_s)
    except (serial.SerialException, OSError) as error:
        raise DriverError(
            f"serial port {port} cannot be opened ({error}); {SERIAL_HELP}", transient=False
        ) from error
    return port_object
