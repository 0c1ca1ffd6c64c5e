"""The faulty driver's settings (drills), declared for the node's settings loader."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sensors.settings import DriverSettings, NoChecks, setting

FaultMode = Literal["raise", "hang", "flaky"]
"""How the faulty driver fails: by raising, by hanging, or every other read."""


@dataclass(frozen=True)
class FaultySettings(NoChecks):
    """``HALLSENSE_FAULTY_*``."""

    interval_s: float = setting(
        5.0, "Faulty driver (for drills): seconds between attempts.", "s", above=0
    )
    mode: FaultMode = setting(  # noqa: RUF009 - returns a dataclasses.field
        "raise", "Faulty driver: fail by raising, by hanging, or every other read."
    )


SETTINGS = DriverSettings("faulty", FaultySettings)
