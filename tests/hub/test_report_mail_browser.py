"""The report e-mail page in real headless Chromium, served by cheroot as ``hallsense hub
web`` serves it: WCAG 2.2 AA by axe-core (no rule disabled) in its first, error and saved
states and without a mail server, visible focus, reflow at 320 px; and a clerk subscribing
with JavaScript off."""

from __future__ import annotations

import pytest

from hub.store_sqlite import SqliteHubStore
from tests.hub.test_auth_pages import check_accessible, heading, serving, submit
from tests.hub.web_support import PASSWORD, account
from tests.support import browser
from tests.support.browser import assert_no_page_errors, load, screenshot

# The browser fixtures, found by name.
chromium_session = browser.chromium_session
chromium_browser = browser.chromium_browser
new_page = browser.new_page


@pytest.fixture
def store(tmp_path):
    store = SqliteHubStore(tmp_path / "hub.db")
    store.add_device("askrigg", "Askrigg Village Hall")
    account(store, "clerk-askrigg", "clerk", ("askrigg",))
    yield store
    store.close()


def log_in(page, base: str) -> None:
    load(page, base + "/account/reports", heading="Log in")  # sent there first
    page.fill("#username", "clerk-askrigg")
    page.fill("#password", PASSWORD)
    assert submit(page) == 200
    assert heading(page) == "Monthly reports by e-mail"  # and back


def test_a_clerk_subscribes_without_javascript(tmp_path, store, new_page):
    with serving(tmp_path, store, report_mail=True) as base:
        page = new_page("phone", javascript=False)
        log_in(page, base)
        page.check("#monthly")
        page.fill("#email", "clerk at askrigg-hall.org.uk")
        assert submit(page) == 400
        assert heading(page) == "Monthly reports by e-mail"
        summary = page.locator(".error-summary").inner_text()
        assert "has a space or an invisible character in it" in summary
        assert page.is_checked("#monthly")  # what was typed is kept
        page.fill("#email", "clerk@askrigg-hall.org.uk")
        assert submit(page) == 200  # after the 303
        assert "Saved. Each month's report will go to clerk@askrigg-hall.org.uk." in (
            page.locator("[role=status]").inner_text()
        )
    assert store.report_subscription("clerk-askrigg") == ("clerk@askrigg-hall.org.uk", True)


def test_the_page_and_its_error_and_saved_states_meet_wcag_22_aa(tmp_path, store, new_page):
    for month, sent in (("2026-10", True), ("2026-11", False)):  # so the list shows
        assert store.claim_report_mail("clerk-askrigg", "askrigg", month, "s", 1, 0)
        if sent:
            store.mark_report_mail_sent("clerk-askrigg", "askrigg", month, "s", "c@a.example", 1)
        else:
            store.release_report_mail("clerk-askrigg", "askrigg", month, "s", "refused", 1)
    with serving(tmp_path, store, report_mail=True) as base:
        page = new_page("desktop")
        log_in(page, base)
        assert page.locator("main li").count() == 2
        check_accessible(page, new_page, base + "/account/reports")
        page.check("#monthly")
        page.fill("#email", "clerk@askrigg")
        assert submit(page) == 400
        assert "needs a dot" in page.locator("#email-error").inner_text()
        check_accessible(page, new_page)
        screenshot(page, "hub-report-mail-error")
        page.fill("#email", "clerk@askrigg-hall.org.uk")
        assert submit(page) == 200
        check_accessible(page, new_page)


def test_the_page_without_a_mail_server_meets_wcag_22_aa(tmp_path, store, new_page):
    with serving(tmp_path, store, report_mail=False) as base:
        page = new_page("desktop")
        log_in(page, base)
        assert page.is_disabled("#monthly")
        assert "no mail server set up yet" in page.locator("#no-mail").inner_text()
        check_accessible(page, new_page, base + "/account/reports")
        assert_no_page_errors(page)
