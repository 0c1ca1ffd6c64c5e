"""Fixtures shared by every test package."""

import os

import pytest

# No test may ever fall back to real GPIO hardware (there is none here).
os.environ["GPIOZERO_PIN_FACTORY"] = "mock"

SLOW = ("tests/system/", "_browser.py", "test_browser_harness.py")
"""What the quick tier (`-m "not slow"`) leaves out: whole-stack fault runs and Chromium."""
BROWSER_FIXTURES = {"page", "new_page", "chromium_browser", "chromium_session"}
"""A test that asks for one of these drives Chromium."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the whole-system and browser tests slow, so the inner loop can skip them; then
    run the slow ones first.

    With two workers, a minute-long test started near the end leaves the other worker idle
    for that minute; started first, the many short tests fill in around it.
    """
    for item in items:
        where = item.nodeid.split("::", 1)[0]
        browser = BROWSER_FIXTURES & set(getattr(item, "fixturenames", ()))
        if browser or any(part in where for part in SLOW):
            item.add_marker(pytest.mark.slow)
    # Whole modules move, each keeping its own order: pytest has already ordered a
    # module's tests so that each module-scoped fixture is set up once per parameter.
    group: dict[str, int] = {}
    for item in items:
        module = item.nodeid.split("::", 1)[0]
        group[module] = min(group.get(module, 2), run_first(item))
    items.sort(key=lambda item: group[item.nodeid.split("::", 1)[0]])


def run_first(item: pytest.Item) -> int:
    """The order of a test's group: whole-system runs, other slow tests, the rest.

    Python's sort is stable, so each group keeps the order it was collected in."""
    if item.get_closest_marker("slow") is None:
        return 2
    return 0 if "tests/system/" in item.nodeid else 1
