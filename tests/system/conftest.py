"""Fixtures of the whole-system tests: headless Chromium for those that drive pages."""

from tests.support.browser import (  # noqa: F401 - fixtures, found by name
    chromium_browser,
    chromium_session,
    new_page,
    page,
)
