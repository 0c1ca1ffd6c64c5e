"""The question box in real headless Chromium: asked on a phone with JavaScript off,
answered under a heading, WCAG 2.2 AA by axe-core, and no sideways scroll at 320 px."""

from __future__ import annotations

import threading

import pytest
from waitress.server import create_server

from tests.support.browser import (
    assert_no_axe_violations,
    assert_no_horizontal_scroll,
    assert_no_page_errors,
    load,
)
from tests.web_local.conftest import make_app
from tests.web_local.test_browser import stop_waitress


@pytest.fixture(scope="module")
def site(hall_db):
    app = make_app(hall_db, opening_hours="Mon to Sat, 9:00 to 22:00")
    server = create_server(app, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    stop_waitress(server, thread)


@pytest.mark.slow  # drives Chromium
def test_a_question_typed_on_a_phone_without_javascript_is_answered_accessibly(site, new_page):
    page = new_page("phone", javascript=False)
    load(page, site + "/ask", heading="Ask a question")
    page.get_by_label("Ask a question about the hall").fill(
        "When did the CO2 go over 1500 this week?"
    )
    page.get_by_role("button", name="Ask").click()
    page.wait_for_load_state()
    answer = page.get_by_role("region", name="The answer")
    assert "1,500 ppm" in answer.inner_text()
    assert_no_page_errors(page)
    checked = new_page("phone")  # axe-core runs in the page, so this one has JavaScript
    load(checked, page.url, heading="Ask a question")
    assert_no_axe_violations(checked)
    assert_no_horizontal_scroll(page)
