"""What the laser particle counters on a serial port share: finding frames, duty cycling, medians.

A Nova SDS011 and a Plantower PMS5003 differ only in their frames and commands. Both
stream fixed-length frames that start with known bytes, which a reader finds again
after noise; both have a fan and a laser that should rest between readings (wake, let
the fan clear stale air for a warm-up, take a few frames, sleep again); both report
PM2.5 and PM10, of which the median of the frames is kept.
"""

from __future__ import annotations

import abc
import contextlib
import statistics
import time
from collections.abc import Callable, Sequence

from sensors.buses import SerialPort, open_serial
from sensors.driver import Clock, Driver, DriverConfigError, DriverError
from sensors.reading import Reading, SensorInfo, utc_now

BAUD = 9600
PORT_TIMEOUT_S = 2.0
QUIET_READS = 2
"""A part that sends nothing for this many port timeouts in a row has stopped answering."""
GARBAGE_FRAMES = 20
"""A part that sends this many frames' worth of bytes with no frame in them is broken."""


class FrameReader:
    """Finds frames of ``length`` bytes starting with ``start`` in a port's byte stream."""

    def __init__(self, port: SerialPort, start: bytes, length: int) -> None:
        self.port = port
        self.start = start
        self.length = length
        self.buffer = bytearray()
        self.skipped = 0
        """Bytes dropped while looking for a frame start (noise, other frames)."""

    def next_frame(self) -> bytes | None:
        """The next candidate frame (its start bytes right); None if the part went quiet.

        None too if it sent only noise for a while. The caller checks the frame; if it is
        bad, :meth:`unread` its tail, so that a real frame starting inside a false one is
        still found.
        """
        quiet = 0
        budget = GARBAGE_FRAMES * self.length  # a part that babbles must not hold the read
        while quiet < QUIET_READS and budget > 0:
            at = self.buffer.find(self.start)
            if at == -1:
                keep = len(self.start) - 1
                self.skipped += max(0, len(self.buffer) - keep)
                del self.buffer[: max(0, len(self.buffer) - keep)]
            elif at > 0:
                self.skipped += at
                del self.buffer[:at]
            if at != -1 and len(self.buffer) >= self.length:
                frame = bytes(self.buffer[: self.length])
                del self.buffer[: self.length]
                return frame
            chunk = self.port.read(self.length)
            quiet = 0 if chunk else quiet + 1
            budget -= len(chunk)
            self.buffer += chunk
        return None

    def unread(self, data: bytes) -> None:
        """Put ``data`` back in front of what is still to be read."""
        self.buffer[:0] = data

    def clear(self) -> None:
        """Forget what was read and not used (after a warm-up)."""
        self.buffer.clear()


class ParticleDriver(Driver, abc.ABC):
    """A laser particle counter on a serial port, read as the median of a few frames.

    Subclasses say how to tell the part to wake, sleep or send a frame, and how to read
    PM2.5 and PM10 out of a frame (None for a frame that fails its checks).
    """

    part = "particle counter"
    accuracy: float | None = None
    resolution: float | None = None
    accuracy_words = ""
    frame_start = b""
    frame_length = 0
    default_port = ""

    def __init__(
        self,
        *,
        interval_s: float = 300.0,
        clock: Clock = utc_now,
        port: str | None = None,
        warmup_s: float = 30.0,
        samples: int = 5,
        duty_cycle: bool = True,
        serial: SerialPort | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(interval_s=interval_s, clock=clock)
        if not 0 <= warmup_s <= 120:
            raise DriverConfigError(
                f"{self.name} driver: warmup_s must be 0 to 120 seconds, got {warmup_s!r}"
            )
        if not 1 <= samples <= 30:
            raise DriverConfigError(f"{self.name} driver: samples must be 1 to 30, got {samples!r}")
        if duty_cycle and interval_s <= warmup_s + samples:
            raise DriverConfigError(
                f"{self.name} driver: interval_s ({interval_s:g} s) must be longer than the "
                f"warm-up and samples ({warmup_s + samples:g} s) when the part sleeps between "
                "readings"
            )
        self.port_name = port or self.default_port
        self.warmup_s = warmup_s
        self.samples = samples
        self.duty_cycle = duty_cycle
        self.sleep = sleep
        self.checksum_failures = 0
        self.port = (
            serial if serial is not None else open_serial(self.port_name, BAUD, PORT_TIMEOUT_S)
        )
        self.reader = FrameReader(self.port, self.frame_start, self.frame_length)
        try:
            self._detect()
        except BaseException:
            self.port.close()
            raise

    def _where(self) -> str:
        return f"{self.part} on {self.port_name}"

    def _detect(self) -> None:
        try:
            self.wake()
            found = self._collect(1, requests=6)
            if self.duty_cycle:
                self.rest()
        except Exception as error:  # OSError, SerialException, termios.error
            raise DriverError(
                f"{self.name} driver: {self.port_name} failed while looking for the {self.part} "
                f"({error})",
                transient=False,
            ) from error
        if not found:
            raise DriverError(
                f"{self.name} driver: no {self.part} answers on {self.port_name} "
                f"({self.checksum_failures} bad frames); {self.wiring_help()}",
                transient=False,
            )

    @abc.abstractmethod
    def wake(self) -> None:
        """Start the fan and laser (and, for a part that has modes, set the one used)."""

    @abc.abstractmethod
    def rest(self) -> None:
        """Stop the fan and laser until the next read."""

    def request(self) -> None:  # a part that streams by itself needs no request
        """Ask for one frame (parts in passive mode); nothing for parts that stream."""

    def command_answer_length(self, frame: bytes) -> int:
        """How long the command answer at the start of ``frame`` is; 0 if it is not one."""
        return 0

    @abc.abstractmethod
    def decode(self, frame: bytes) -> tuple[float, float] | None:
        """(PM2.5, PM10) in µg/m³ from a frame, or None if the frame fails its checks."""

    @abc.abstractmethod
    def wiring_help(self) -> str:
        """What a technician should check when the part does not answer."""

    def _collect(self, wanted: int, *, requests: int) -> list[tuple[float, float]]:
        """Up to ``wanted`` good frames, looking at no more than ``requests`` frames in all.

        Good and bad frames both count, so a part that sends only bad ones cannot hold
        the read.
        """
        good: list[tuple[float, float]] = []
        looked_at = 0
        while len(good) < wanted and looked_at < requests:
            self.request()
            frame = self.reader.next_frame()
            if frame is None:
                break  # the part has gone quiet: asking again will not help
            while frame is not None and looked_at < requests:
                looked_at += 1
                answer = self.command_answer_length(frame)
                if answer:  # the part acknowledging a command: not a bad frame
                    self.reader.unread(frame[answer:])
                    frame = self.reader.next_frame()
                    continue
                values = self.decode(frame)
                if values is not None:
                    good.append(values)
                    break
                self.checksum_failures += 1
                self.reader.unread(frame[1:])
                frame = self.reader.next_frame()
        return good

    def read(self) -> list[Reading]:
        """Wake the part, let its fan run, take the median of a few frames, let it rest."""
        try:
            if self.duty_cycle:
                self.wake()
                self.sleep(self.warmup_s)
            # Frames that waited in the buffer are old: from the warm-up (stale air in the
            # chamber) or, for a part that runs all the time, from since the last read.
            self.port.reset_input_buffer()
            self.reader.clear()
            good = self._collect(self.samples, requests=self.samples * 3)
        except Exception as error:  # OSError, SerialException, termios.error (unplugged)
            raise DriverError(
                f"{self.name} driver: {self.port_name} failed while reading the {self.part} "
                f"({type(error).__name__}: {error})"
            ) from error
        finally:
            if self.duty_cycle:
                with contextlib.suppress(Exception):
                    self.rest()
        if len(good) < self.samples:
            raise DriverError(
                f"{self.name} driver: the {self._where()} gave {len(good)} good frames of "
                f"{self.samples} ({self.checksum_failures} bad since the start); it has stopped "
                "answering or its frames are corrupted"
            )
        at = self.clock()
        pm25 = statistics.median(value[0] for value in good)
        pm10 = statistics.median(value[1] for value in good)
        return [
            Reading(self.name, "pm2_5", pm25, "µg/m³", at),
            Reading(self.name, "pm10", pm10, "µg/m³", at),
        ]

    def sensors(self) -> Sequence[SensorInfo]:
        """The datasheet's accuracy and resolution for both metrics."""
        return [
            SensorInfo(
                self.name,
                metric,
                "µg/m³",
                self.part,
                self.accuracy,
                self.resolution,
                self.accuracy_words,
            )
            for metric in ("pm2_5", "pm10")
        ]

    def close(self) -> None:
        """Let the part rest (if duty cycling) and release the port; idempotent."""
        if not self.closed:
            if self.duty_cycle:
                with contextlib.suppress(Exception):
                    self.rest()
            with contextlib.suppress(Exception):
                self.port.close()
        super().close()
