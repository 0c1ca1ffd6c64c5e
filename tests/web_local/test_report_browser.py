"""The monthly report's HTML version in real Chromium, served as the hall's page serves it:
WCAG 2.2 AA by axe-core, no blocked styles (its CSP allows its stylesheet by hash), and
readable on a 320 px screen with JavaScript off."""

import threading
from datetime import UTC, datetime

import pytest
from waitress.server import create_server

from tests.support.browser import (
    assert_no_axe_violations,
    assert_no_horizontal_scroll,
    assert_no_page_errors,
    load,
)
from tests.support.report_hall import HALL, troubled_hall
from web_local.app import create_app
from web_local.site import PageSettings, Site

NOW = datetime(2026, 12, 7, 10, tzinfo=UTC)
REPORT = "/report/2026-11.html"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    hall = troubled_hall(tmp_path_factory.mktemp("hall") / "hallsense.db")
    settings = PageSettings(hall_name=HALL, opening_hours="Mon to Sat, 9:00 to 22:00")
    app = create_app(Site(store_path=hall.path, page_settings=lambda: settings, now=lambda: NOW))
    server = create_server(app, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server._map.clear()  # as tests/web_local/test_browser.py's stop_waitress explains
    thread.join(5)
    server.close()


def test_the_html_report_meets_wcag_22_aa_with_its_styles_applied(site, new_page):
    page = new_page("desktop")
    load(page, site + REPORT, heading=f"{HALL}: November 2026")
    assert_no_axe_violations(page)
    assert_no_page_errors(page)  # a stylesheet the CSP blocked would be reported here
    border = page.evaluate("() => getComputedStyle(document.querySelector('th')).borderTopStyle")
    assert border == "solid"


def test_the_html_report_reads_on_a_phone_with_javascript_off(site, new_page):
    page = new_page("reflow", javascript=False)
    load(page, site + REPORT, heading=f"{HALL}: November 2026")
    assert_no_horizontal_scroll(page)
    assert page.locator("svg[role=img] title").count() == 4
    assert page.get_by_text("3 door counts were recorded only as a limit").count() == 1
