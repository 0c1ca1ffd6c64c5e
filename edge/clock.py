"""Whether the system clock can be trusted, the boot id, and monotonic time for corrections."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


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
