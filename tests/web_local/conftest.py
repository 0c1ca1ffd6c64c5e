"""A hall's store with five weeks of simulated readings, and the page app over it."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from edge.clock import ClockSample
from edge.store import EdgeStore
from sensors.reading import Reading
from sensors.simulated import METRIC_NAMES, simulate
from tests.support.browser import (  # noqa: F401 - fixtures, found by name
    chromium_browser,
    chromium_session,
    new_page,
    page,
)
from web_local.app import create_app
from web_local.site import PageSettings, Site

NOW = datetime(2026, 11, 24, 11, 5, tzinfo=UTC)  # a Tuesday morning: badminton
HALL = "Askrigg Village Hall"
STEP = timedelta(minutes=15)
WEEKS = 5


def hall_readings(end: datetime = NOW, weeks: int = WEEKS, step: timedelta = STEP) -> list[Reading]:
    """The simulated hall's readings every ``step`` for ``weeks`` up to ``end``."""
    zone = ZoneInfo("Europe/London")
    out = []
    moment = end - timedelta(weeks=weeks)
    while moment <= end:
        values = simulate(moment, seed=1, zone=zone, window_s=step.total_seconds())
        for name in METRIC_NAMES:
            unit = {"footfall": "count"}.get(name)
            out.append(
                Reading(
                    f"sim-{name.replace('_', '-')}", name, values[name], unit or _unit(name), moment
                )
            )
        moment += step
    return out


def _unit(name: str) -> str:
    from presentation.vocabulary import METRICS

    return METRICS[name].unit


def fill(path, readings) -> None:
    store = EdgeStore(path)
    try:
        for i in range(0, len(readings), 5000):
            store.append(readings[i : i + 5000], ClockSample(NOW, 10**12, True, "boot-a"))
    finally:
        store.close()


@pytest.fixture(scope="session")
def hall_db(tmp_path_factory):
    """A store file with five weeks of the simulated hall (made once per test run)."""
    path = tmp_path_factory.mktemp("hall") / "hallsense.db"
    fill(path, hall_readings())
    return path


def make_app(store_path, **page_options):
    settings = PageSettings(hall_name=HALL, **page_options)
    return create_app(Site(store_path=store_path, page_settings=lambda: settings, now=lambda: NOW))


@pytest.fixture
def client(hall_db):
    return make_app(hall_db).test_client()
