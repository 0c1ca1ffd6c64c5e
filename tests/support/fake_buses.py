"""Fake I2C and serial buses that replay the bytes a part's datasheet gives.

These stand in for hardware this machine lacks, behind the same interfaces the drivers
use on a Pi (``sensors.buses.I2CBus`` and ``SerialPort``). A part is modelled by what it
answers: a register map (Bosch), a command table (Sensirion) or a byte stream (Nova,
Plantower). Faults are injected per transfer: a NACK (the part is not there), a bus
error, a short read, all 0xFF.
"""

from __future__ import annotations

import errno
from collections import deque
from collections.abc import Callable


def nack() -> OSError:
    """What smbus2 raises when no part acknowledges its address."""
    return OSError(errno.EREMOTEIO, "Remote I/O error")


class I2CDevice:
    """A part on the fake bus: told what was written, asked what to read."""

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def read(self, length: int) -> bytes:
        raise NotImplementedError


class RegisterDevice(I2CDevice):
    """A part with 8-bit registers: a write sets the pointer (and writes the rest), a read
    returns bytes from the pointer on, auto-incrementing (BME280, BME680)."""

    def __init__(self, registers: dict[int, int]) -> None:
        self.registers = dict(registers)
        self.pointer = 0
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        self.pointer = data[0]
        for offset, value in enumerate(data[1:]):
            self.registers[self.pointer + offset] = value

    def read(self, length: int) -> bytes:
        out = bytes(self.registers.get(self.pointer + i, 0) for i in range(length))
        self.pointer += length
        return out


class CommandDevice(I2CDevice):
    """A part driven by 16-bit commands (Sensirion): each command may queue an answer."""

    def __init__(self, answers: dict[int, bytes | Callable[[bytes], bytes]]) -> None:
        self.answers = answers
        self.commands: list[bytes] = []
        self.pending = b""

    def write(self, data: bytes) -> None:
        self.commands.append(bytes(data))
        command = int.from_bytes(data[:2], "big")
        answer = self.answers.get(command, b"")
        self.pending = answer(data) if callable(answer) else answer

    def read(self, length: int) -> bytes:
        out, self.pending = self.pending[:length], self.pending[length:]
        return out + b"\xff" * (length - len(out))


class FakeI2C:
    """An I2C bus with parts at addresses; ``faults`` are raised (or returned) in turn.

    A fault is an exception to raise on the next transfer, or ``"short"`` (the next read
    returns one byte too few) or ``"ff"`` (the next read returns all 0xFF, a part that
    lost power on a bus with pull-ups).
    """

    def __init__(self, devices: dict[int, I2CDevice] | None = None) -> None:
        self.devices = dict(devices or {})
        self.faults: deque[BaseException | str] = deque()
        self.closed = False
        self.transfers = 0

    def _device(self, address: int) -> I2CDevice:
        self.transfers += 1
        if self.faults and isinstance(self.faults[0], BaseException):
            raise self.faults.popleft()
        device = self.devices.get(address)
        if device is None:
            raise nack()
        return device

    def _read(self, device: I2CDevice, length: int) -> bytes:
        data = device.read(length)
        if self.faults and self.faults[0] == "short":
            self.faults.popleft()
            return data[:-1]
        if self.faults and self.faults[0] == "ff":
            self.faults.popleft()
            return b"\xff" * length
        return data

    def write(self, address: int, data: bytes) -> None:
        self._device(address).write(bytes(data))

    def read(self, address: int, length: int) -> bytes:
        return self._read(self._device(address), length)

    def write_read(self, address: int, data: bytes, length: int) -> bytes:
        device = self._device(address)
        device.write(bytes(data))
        return self._read(device, length)

    def close(self) -> None:
        self.closed = True


class FakeSerial:
    """A serial port fed with bytes; ``on_write`` may answer a command by feeding more, and
    ``stream`` (when set) gives the next bytes a part sends by itself, as a part in active
    mode sends a frame every second, whenever the reader has emptied the buffer."""

    def __init__(
        self,
        on_write: Callable[[FakeSerial, bytes], None] | None = None,
        stream: Callable[[], bytes] | None = None,
    ) -> None:
        self.buffer = bytearray()
        self.written: list[bytes] = []
        self.on_write = on_write
        self.stream = stream
        self.closed = False
        self.fail_next: BaseException | None = None
        self.resets = 0

    def feed(self, data: bytes) -> None:
        self.buffer += data

    def read(self, size: int = 1) -> bytes:
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error
        if not self.buffer and self.stream is not None:
            self.buffer += self.stream()
        out = bytes(self.buffer[:size])
        del self.buffer[:size]
        return out  # fewer than asked: the timeout passed

    def write(self, data: bytes) -> int:
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error
        self.written.append(bytes(data))
        if self.on_write is not None:
            self.on_write(self, bytes(data))
        return len(data)

    def reset_input_buffer(self) -> None:
        self.resets += 1
        self.buffer.clear()

    def close(self) -> None:
        self.closed = True
