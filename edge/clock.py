"""Whether the system clock can be trusted, the boot id, and monotonic time for corrections."""

from __future__ import annotations

import ctypes
import ctypes.util
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from sensors.reading import utc_now


@dataclass(frozen=True, slots=True)
class ClockSample:
    """The clocks read at one instant.

    ``wall`` is the system (UTC) time, ``monotonic_ns`` CLOCK_MONOTONIC at the same instant,
    ``synchronised`` whether the system clock was synchronised to a time source then, and
    ``boot_id`` the kernel's id of this boot (monotonic time only means something within it).
    """

    wall: datetime
    monotonic_ns: int
    synchronised: bool
    boot_id: str


ClockCheck = Literal["auto", "adjtimex", "timesyncd", "trust"]

TIME_ERROR = 5
STA_UNSYNC = 0x0040
MAX_ERROR_US = 16_000_000
"""systemd's timedated calls the clock synchronised only below 16 s of maximum error."""

TIMESYNCD_MARKER = Path("/run/systemd/timesync/synchronized")
BOOT_ID_PATH = Path("/proc/sys/kernel/random/boot_id")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class _Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class _Timex(ctypes.Structure):
    """Linux ``struct timex`` (<sys/timex.h>); ``long`` fields follow the platform."""

    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time", _Timeval),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("padding", ctypes.c_int * 11),
    ]


def adjtimex_synchronised() -> bool | None:
    """Whether the kernel says the clock is synchronised, as ``timedatectl`` decides it.

    Reads (never sets) the kernel's clock discipline with adjtimex(2): not synchronised
    if it answers TIME_ERROR, has STA_UNSYNC set, or its maximum error is 16 s or more.
    None when the call is not available on this platform.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        timex = _Timex()
        state = libc.adjtimex(ctypes.byref(timex))
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return not (state == TIME_ERROR or timex.status & STA_UNSYNC or timex.maxerror >= MAX_ERROR_US)


def timesyncd_synchronised(marker: Path = TIMESYNCD_MARKER) -> bool:
    """Whether systemd-timesyncd has marked the clock synchronised since boot."""
    return marker.exists()


def read_boot_id(path: Path = BOOT_ID_PATH) -> str:
    """The kernel's id of this boot.

    Raises:
        ValueError: naming the path when it cannot be read or is not a boot id.
    """
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot read the boot id from {path}: {error}") from error
    if not _UUID.match(text):
        raise ValueError(f"{path} does not hold a boot id: {text[:40]!r}")
    return text


class SystemClock:
    """The node's view of the system clock: its time, and whether it can be trusted yet.

    ``check`` says how synchronisation is judged: ``auto`` (systemd-timesyncd's marker
    file or the kernel's adjtimex state), ``adjtimex`` or ``timesyncd`` alone, or
    ``trust`` for machines with a real-time clock. The other arguments are advanced
    injection points for tests. If the boot id cannot be read, a random id is used for
    this process, so readings held back are simply never corrected across restarts.
    """

    def __init__(
        self,
        check: ClockCheck = "auto",
        *,
        boot_id_path: Path = BOOT_ID_PATH,
        timesync_marker: Path = TIMESYNCD_MARKER,
        wall: Callable[[], datetime] = utc_now,
        monotonic_ns: Callable[[], int] = time.monotonic_ns,
        adjtimex: Callable[[], bool | None] = adjtimex_synchronised,
    ) -> None:
        if check not in ("auto", "adjtimex", "timesyncd", "trust"):
            raise ValueError(
                f"clock check must be auto, adjtimex, timesyncd or trust, got {check!r}"
            )
        self.check = check
        self.timesync_marker = timesync_marker
        self.wall = wall
        self.monotonic_ns = monotonic_ns
        self.adjtimex = adjtimex
        try:
            self.boot_id = read_boot_id(boot_id_path)
        except ValueError:
            self.boot_id = f"process-{uuid.uuid4()}"

    def synchronised(self) -> bool:
        """Whether the system clock is synchronised now."""
        if self.check == "trust":
            return True
        if self.check in ("auto", "timesyncd") and timesyncd_synchronised(self.timesync_marker):
            return True
        if self.check in ("auto", "adjtimex"):
            return bool(self.adjtimex())
        return False

    def sample(self) -> ClockSample:
        """Wall time, monotonic time and the synchronisation state, read together."""
        synced = self.synchronised()
        return ClockSample(self.wall(), self.monotonic_ns(), synced, self.boot_id)

    @staticmethod
    def describe(sample: ClockSample) -> str:
        """The clock's state in words a parish clerk understands."""
        if sample.synchronised:
            return "Clock synchronised"
        return "Clock not yet synchronised: readings are held back until it is"
