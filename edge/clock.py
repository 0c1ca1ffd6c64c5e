"""Whether the system clock can be trusted, the boot id, and monotonic time for corrections.

Where NTP cannot be reached, a reference time (the hub's, over TLS pinned to the council
CA; handed in by the composition root as a callable) stands in for it: see
:class:`SystemClock` and docs/time.md.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, Protocol

from edge.kept_time import KeptTime, read_kept_time, write_kept_time
from sensors.reading import utc_now

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ClockSample:
    """The clocks read at one instant.

    ``wall`` is the system (UTC) time, ``monotonic_ns`` CLOCK_MONOTONIC at the same instant,
    ``synchronised`` whether the system clock was synchronised to a time source then, and
    ``boot_id`` the kernel's id of this boot (monotonic time only means something within it).

    While a reference time (the hub's) stands in for a system clock NTP has not set,
    ``synchronised`` is true, ``wall`` is the reference's time, ``correction_us`` is what
    was added to the system time to give it (readings, stamped with the system time, are
    moved by as much when stored) and ``error_s`` is the bound on its error. Otherwise
    ``correction_us`` is 0 and ``error_s`` None: an unsynchronised sample is never
    corrected.
    """

    wall: datetime
    monotonic_ns: int
    synchronised: bool
    boot_id: str
    correction_us: int = 0
    error_s: float | None = None


ClockCheck = Literal["auto", "adjtimex", "timesyncd", "trust", "hub"]
CHECKS = ("auto", "adjtimex", "timesyncd", "trust", "hub")

DRIFT_PPM = 100
"""What the bound of a reference time grows by, per second carried on the monotonic
clock: twice the tolerance of a Pi's crystal, which nothing disciplines without NTP."""
RETRY_FIRST_S = 5.0
RETRY_MAX_S = 600.0
"""After a failed sample the reference is asked again after 5 s, doubling, at most every
10 minutes (and never later than the regular interval)."""
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ReferenceTime(Protocol):
    """A trusted source's time at one instant of this node's monotonic clock.

    ``hub_sync.hub_time.HubTime`` is one; the composition root hands it in.
    """

    @property
    def unix_ns(self) -> int:
        """The source's time, nanoseconds since 1970-01-01 UTC."""
        ...

    @property
    def monotonic_ns(self) -> int:
        """This node's CLOCK_MONOTONIC at the instant ``unix_ns`` is for."""
        ...

    @property
    def error_s(self) -> float:
        """The bound on ``unix_ns``'s error at that instant, in seconds."""
        ...


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
    file or the kernel's adjtimex state), ``adjtimex`` or ``timesyncd`` alone, ``trust``
    for machines with a real-time clock, or ``hub``: the system clock never counts by
    itself, only the reference does.

    ``reference`` (optional) takes one sample of a trusted time source, the hub's,
    raising with a reason when it cannot. It is asked in a background thread (never in
    the caller's) on the first :meth:`sample` and every ``reference_every_s`` after,
    sooner after a failure. While the system clock is not synchronised, the last good
    reference sample, carried forward on the monotonic clock, gives the time and makes
    the sample synchronised; while it is, the reference is only compared with it and a
    disagreement beyond the reference's bound logged once: NTP wins. The system clock is
    never set.

    ``kept_path`` (optional) is where the last good reference sample is kept for this
    boot (edge/kept_time.py): a clock made again in the same boot (a restarted agent,
    ``edge status``) starts from it rather than from nothing.

    The other arguments are advanced injection points for tests (``start`` runs the
    reference's fetch: in a daemon thread by default). If the boot id cannot be read, a
    random id is used for this process, so readings held back are simply never
    corrected across restarts.
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
        reference: Callable[[], ReferenceTime] | None = None,
        reference_every_s: float = 10800.0,
        reference_name: str = "the hub",
        kept_path: Path | None = None,
        start: Callable[[Callable[[], None]], None] | None = None,
    ) -> None:
        if check not in CHECKS:
            raise ValueError(
                f"clock check must be auto, adjtimex, timesyncd, trust or hub, got {check!r}"
            )
        self.check = check
        self.timesync_marker = timesync_marker
        self.wall = wall
        self.monotonic_ns = monotonic_ns
        self.adjtimex = adjtimex
        self.reference = reference
        self.reference_every_ns = int(reference_every_s * 1e9)
        self.reference_name = reference_name
        self.start = start or _in_a_thread
        try:
            self.boot_id = read_boot_id(boot_id_path)
        except ValueError:
            self.boot_id = f"process-{uuid.uuid4()}"
        self._lock = threading.Lock()
        self._kept: ReferenceTime | None = None
        self._due_ns: int | None = None  # None: ask at the first sample
        self._asking = False
        self._failures = 0
        self._last_failure = ""
        self._in_use = False
        self._disagreement_logged = False
        self._compared = False  # asked once while NTP had the clock
        self.kept_path = kept_path if reference is not None else None
        if self.kept_path is not None:
            kept = read_kept_time(self.kept_path, self.boot_id)
            if kept is not None:
                self._kept = kept
                self._due_ns = kept.monotonic_ns + self.reference_every_ns

    def synchronised(self) -> bool:
        """Whether the system clock is synchronised now (the reference aside)."""
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
        wall, mono = self.wall(), self.monotonic_ns()
        if self.reference is None:
            return ClockSample(wall, mono, synced, self.boot_id)
        self._ask_if_due(mono, synced)
        kept = self._kept
        if synced or kept is None:
            return ClockSample(wall, mono, synced, self.boot_id)
        elapsed_ns = mono - kept.monotonic_ns
        true = EPOCH + timedelta(microseconds=(kept.unix_ns + elapsed_ns) // 1000)
        correction = true - wall
        error_s = kept.error_s + abs(elapsed_ns) / 1e9 * DRIFT_PPM / 1e6
        if not self._in_use:
            self._in_use = True
            log.warning(
                "the system clock is not synchronised (no NTP): taking the time from %s, "
                "%s the system clock, to within %.3f s",
                self.reference_name,
                _step_words(correction),
                error_s,
            )
        return ClockSample(
            true, mono, True, self.boot_id, correction // timedelta(microseconds=1), error_s
        )

    def refresh_reference(self) -> None:
        """Ask the reference once, now, in this thread, and keep a good sample."""
        if self.reference is None:
            return
        try:
            got = self.reference()
        except Exception as error:  # whatever the source raises must not stop the node
            self._failed(str(error) or type(error).__name__)
            return
        self._compare(got)
        if self.kept_path is not None:
            write_kept_time(
                self.kept_path, self.boot_id, KeptTime(got.unix_ns, got.monotonic_ns, got.error_s)
            )
        with self._lock:
            self._kept = got
            self._failures = 0
            self._last_failure = ""
            self._due_ns = got.monotonic_ns + self.reference_every_ns
            self._asking = False
        log.debug("time taken from %s, to within %.3f s", self.reference_name, got.error_s)

    def _ask_if_due(self, mono: int, synced: bool) -> None:
        with self._lock:
            if self._asking or (self._due_ns is not None and mono < self._due_ns):
                return
            if synced and self._compared:
                # NTP has the clock: one comparison per start is enough, and each sample
                # costs the link a TLS handshake (about 3 KB), 8 a day at the default.
                return
            self._asking = True
            self._compared = self._compared or synced
        self.start(self.refresh_reference)

    def _failed(self, reason: str) -> None:
        with self._lock:
            self._failures += 1
            wait_s = min(RETRY_FIRST_S * 2 ** (self._failures - 1), RETRY_MAX_S)
            self._due_ns = self.monotonic_ns() + min(int(wait_s * 1e9), self.reference_every_ns)
            self._asking = False
            repeated, self._last_failure = reason == self._last_failure, reason
        log.log(
            logging.DEBUG if repeated else logging.WARNING,
            "no time from %s (the node keeps asking): %s",
            self.reference_name,
            reason,
        )

    def _compare(self, got: ReferenceTime) -> None:
        """Log once when an NTP-synchronised system clock and the reference disagree."""
        if self._disagreement_logged or not self.synchronised():
            return
        wall, mono = self.wall(), self.monotonic_ns()
        at_sample = wall - timedelta(microseconds=(mono - got.monotonic_ns) // 1000)
        reference = EPOCH + timedelta(microseconds=got.unix_ns // 1000)
        if abs(reference - at_sample).total_seconds() > got.error_s:
            self._disagreement_logged = True
            log.warning(
                "this node's synchronised clock and %s disagree: its time is %s this "
                "node's, more than its bound of %.3f s; the node keeps its own clock (NTP wins)",
                self.reference_name,
                _step_words(reference - at_sample),
                got.error_s,
            )

    @staticmethod
    def describe(sample: ClockSample) -> str:
        """The clock's state in words a parish clerk understands."""
        if sample.synchronised and sample.error_s is not None:
            return f"Clock set from the hub's time (to within {sample.error_s:.1f} s)"
        if sample.synchronised:
            return "Clock synchronised"
        return "Clock not yet synchronised: readings are held back until it is"


def _in_a_thread(work: Callable[[], None]) -> None:
    threading.Thread(target=work, name="reference-time", daemon=True).start()


def _step_words(step: timedelta) -> str:
    """``2 d 3 h 2 min 5.250 s ahead of`` / ``behind`` (for ``step`` = reference - system)."""
    seconds = abs(step.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{int(days)} d"] if days else []
    parts += [f"{int(hours)} h"] if hours or days else []
    parts += [f"{int(minutes)} min"] if minutes or hours or days else []
    parts.append(f"{secs:.3f} s")
    return f"{' '.join(parts)} {'ahead of' if step >= timedelta(0) else 'behind'}"
