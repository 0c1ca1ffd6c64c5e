"""The simulated driver's settings, declared for the node's settings loader."""

from __future__ import annotations

from dataclasses import dataclass

from sensors.settings import DriverSettings, NoChecks, setting


@dataclass(frozen=True)
class SimulatedSettings(NoChecks):
    """``HALLSENSE_SIMULATED_*``."""

    interval_s: float = setting(10.0, "Simulated driver: seconds between readings.", "s", above=0)
    seed: int = setting(1, "Simulated driver: seed of its deterministic streams.")


SETTINGS = DriverSettings(
    "simulated",
    SimulatedSettings,
    from_node=lambda node: {"timezone": node.timezone},
)
