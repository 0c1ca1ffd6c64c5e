"""The log-in, set-up and password pages in real headless Chromium, served by cheroot as
``hallsense hub web`` serves them: WCAG 2.2 AA by axe-core (no rule disabled) in their
first state and in their error states, visible focus, reflow at 320 px; and the set-up
code and the log-in used as people use them, with JavaScript off."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from cheroot import wsgi

from hub.logins import Logins
from hub.store_sqlite import SqliteHubStore
from tests.hub.web_support import PASSWORD, account, make_app
from tests.support import browser
from tests.support.browser import (
    assert_no_axe_violations,
    assert_no_horizontal_scroll,
    assert_no_page_errors,
    assert_visible_focus,
    load,
    screenshot,
)

# The browser fixtures, found by name.
chromium_session = browser.chromium_session
chromium_browser = browser.chromium_browser
new_page = browser.new_page


@contextmanager
def serving(directory: Path, store: SqliteHubStore, **options: Any) -> Iterator[str]:
    """The hub's app (``make_app(directory, store, **options)``) served for a browser."""
    server = wsgi.Server(("127.0.0.1", 0), make_app(directory, store, **options), numthreads=4)
    server.prepare()
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.bind_addr[1]}"
    finally:
        server.stop()
        thread.join(10)


@pytest.fixture
def store(tmp_path):
    store = SqliteHubStore(tmp_path / "hub.db")
    store.add_device("askrigg", "Askrigg Village Hall")
    yield store
    store.close()


@pytest.fixture
def hub(tmp_path, store):
    """The hub's web over a store with no account yet."""
    with serving(tmp_path, store) as base:
        yield base


def submit(page, selector: str = "main button[type=submit]") -> int:
    """Click a form's button; the HTTP status of the page it leads to."""
    with page.expect_navigation() as navigation:
        page.click(selector)
    response = navigation.value
    assert response is not None
    return response.status


def heading(page) -> str:
    return " ".join(page.locator("h1").inner_text().split())


def check_accessible(page, new_page, url: str | None = None) -> None:
    assert_no_axe_violations(page)
    assert_visible_focus(page)
    if url is not None:
        narrow = new_page("reflow")
        narrow.context.add_cookies(page.context.cookies())
        load(narrow, url)
        assert_no_horizontal_scroll(narrow)


def test_the_set_up_page_meets_wcag_22_aa(hub, new_page):
    page = new_page("desktop")
    load(page, hub + "/setup", heading="Set up the hub")
    check_accessible(page, new_page, hub + "/setup")
    assert_no_page_errors(page)


def test_the_login_page_meets_wcag_22_aa(hub, new_page):
    page = new_page("desktop")
    load(page, hub + "/login", heading="Log in")
    check_accessible(page, new_page, hub + "/login")
    assert_no_page_errors(page)


def test_the_first_account_is_made_with_the_set_up_code_without_javascript(hub, store, new_page):
    code = Logins(lambda: store).issue_setup_code()
    page = new_page("phone", javascript=False)
    load(page, hub + "/setup", heading="Set up the hub")
    page.fill("#code", "not-the-code")
    page.fill("#username", "iot-team")
    page.fill("#password", PASSWORD)
    assert submit(page) == 400
    assert heading(page) == "Set up the hub"
    assert "set-up code is not valid" in page.locator(".error-summary").inner_text()
    page.fill("#code", code)
    page.fill("#username", "iot-team")
    page.fill("#password", PASSWORD)
    assert submit(page) == 200  # after the 303
    assert heading(page) == "Fleet"
    assert store.account("iot-team").role == "team"
    screenshot(page, "hub-set-up-done")
    again = new_page(javascript=False)
    again.goto(hub + "/setup")
    assert heading(again) == "Log in"  # the code is spent: no second first account


def test_the_set_up_page_with_an_error_meets_wcag_22_aa(hub, store, new_page):
    Logins(lambda: store).issue_setup_code()
    page = new_page("desktop")
    load(page, hub + "/setup", heading="Set up the hub")
    page.fill("#code", "not-the-code")
    page.fill("#username", "iot-team")
    page.fill("#password", "short")
    assert submit(page) == 400
    assert heading(page) == "Set up the hub"
    assert "at least 12 characters" in page.locator(".error-summary").inner_text()
    check_accessible(page, new_page)


def test_a_failed_and_a_throttled_login_say_so_accessibly(hub, store, new_page):
    account(store, "iot-team")
    page = new_page("desktop")
    load(page, hub + "/login", heading="Log in")
    page.fill("#username", "iot-team")
    page.fill("#password", "not the password")
    assert submit(page) == 401
    assert heading(page) == "Log in"
    summary = page.locator(".error-summary")
    assert "do not match an account" in summary.inner_text()
    check_accessible(page, new_page)
    for _ in range(4):
        page.fill("#username", "iot-team")
        page.fill("#password", "not the password")
        submit(page)
    page.fill("#username", "iot-team")
    page.fill("#password", PASSWORD)
    assert submit(page) == 429
    assert "try again" in page.locator(".error-summary").inner_text()
    check_accessible(page, new_page)
    screenshot(page, "hub-login-throttled")


def test_logging_in_and_changing_the_password_without_javascript(hub, store, new_page):
    account(store, "clerk-askrigg", "clerk", ("askrigg",))
    page = new_page("phone", javascript=False)
    load(page, hub + "/fleet/askrigg", status=200, heading="Log in")  # redirected there
    page.fill("#username", "clerk-askrigg")
    page.fill("#password", PASSWORD)
    assert submit(page) == 200
    assert heading(page).startswith("Askrigg Village Hall")  # back where it was going
    load(page, hub + "/account/password", heading="Change your password")
    page.fill("#current_password", "not the password")
    page.fill("#new_password", "a new long passphrase")
    assert submit(page) == 400
    assert "current password is not right" in page.locator(".error-summary").inner_text()
    page.fill("#current_password", PASSWORD)
    page.fill("#new_password", "a new long passphrase")
    assert submit(page) == 200
    assert heading(page) == "Log in"  # logged out everywhere


def test_the_password_page_with_an_error_meets_wcag_22_aa(hub, store, new_page):
    account(store, "iot-team")
    page = new_page("desktop")
    load(page, hub + "/login", heading="Log in")
    page.fill("#username", "iot-team")
    page.fill("#password", PASSWORD)
    submit(page)
    load(page, hub + "/account/password", heading="Change your password")
    check_accessible(page, new_page, hub + "/account/password")
    page.fill("#current_password", PASSWORD)
    page.fill("#new_password", "password1234")
    assert submit(page) == 400
    assert heading(page) == "Change your password"
    assert "too common" in page.locator(".error-summary").inner_text()
    check_accessible(page, new_page)
