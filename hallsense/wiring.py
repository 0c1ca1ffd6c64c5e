"""Build the running objects of each role from its settings."""

from __future__ import annotations

import logging
from pathlib import Path

from edge.agent import Agent
from edge.clock import SystemClock
from edge.drivers import DriverStartError, build_drivers
from edge.settings import EdgeSettings
from edge.store import EdgeStore
from hallsense.settings import load_settings

log = logging.getLogger(__name__)


def load_edge_settings(env_file: Path | None) -> EdgeSettings:
    """The node's settings from ``env_file`` and the environment (raises SettingsError)."""
    return load_settings(EdgeSettings, env_file)


def open_edge_store(settings: EdgeSettings, *, readonly: bool = False) -> EdgeStore:
    """The node's store, made (and migrated) if this is the first start."""
    return EdgeStore(
        settings.db_path,
        timezone=settings.timezone,
        synchronous=settings.sqlite_synchronous,
        readonly=readonly,
    )


def edge_clock(settings: EdgeSettings) -> SystemClock:
    """The node's view of the system clock, checked the way the settings say."""
    return SystemClock(settings.clock_check)


class NoWorkingDriver(Exception):
    """Not one of the configured drivers could start."""


def build_edge_agent(settings: EdgeSettings) -> tuple[Agent, list[DriverStartError]]:
    """The node's agent with its store, drivers and clock, ready to ``run()``.

    Drivers that cannot start are reported and left out; if none can, the node has
    nothing to do and NoWorkingDriver says why.
    """
    drivers, failures = build_drivers(settings)
    if not drivers:
        reasons = "; ".join(str(failure) for failure in failures)
        raise NoWorkingDriver(f"no driver could start: {reasons}")
    try:
        store = open_edge_store(settings)
    except BaseException:
        for driver in drivers:
            driver.close()
        raise
    clock = edge_clock(settings)
    agent = Agent(settings, store, drivers, clock.sample)
    for failure in failures:
        agent.report_unavailable(failure.driver, str(failure))
    return agent, failures
