"""The counter driver's settings (tests and drills), declared for the node's settings loader."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sensors.settings import DriverSettings, NoChecks, setting


@dataclass(frozen=True)
class CounterSettings(NoChecks):
    """``HALLSENSE_COUNTER_*``."""

    interval_s: float = setting(
        1.0, "Counter driver (emits 1, 2, 3, …): seconds between readings.", "s", above=0
    )
    tally_path: Path | None = setting(  # noqa: RUF009 - returns a dataclasses.field
        None, "Counter driver: file where it records every value it produced.", "path"
    )


SETTINGS = DriverSettings("counter", CounterSettings)
