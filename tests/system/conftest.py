"""Fixtures of the whole-system tests: headless Chromium for those that drive pages, and a
broker with an ingestion worker for those that run a node in the test's own process."""

from tests.hub.conftest import broker, hub  # noqa: F401 - fixtures, found by name
from tests.support.browser import (  # noqa: F401 - fixtures, found by name
    chromium_browser,
    chromium_session,
    new_page,
    page,
)
