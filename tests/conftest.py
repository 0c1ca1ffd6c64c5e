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
    """Mark the whole-system and browser tests slow, so the inner loop can skip them."""
    for item in items:
        where = item.nodeid.split("::", 1)[0]
        browser = BROWSER_FIXTURES & set(getattr(item, "fixturenames", ()))
        if browser or any(part in where for part in SLOW):
            item.add_marker(pytest.mark.slow)
