"""The hub's question box in real headless Chromium: asked with JavaScript off on a phone,
the answer page passes axe-core's WCAG 2.2 AA checks, reflows at 320 px, and its link
leads to the chart on the hall's page."""

from __future__ import annotations

import threading
from datetime import timedelta
from urllib.parse import quote_plus

import pytest
from cheroot import wsgi

from hub.store_sqlite import SqliteHubStore
from tests.support.browser import (
    assert_no_axe_violations,
    assert_no_horizontal_scroll,
    assert_no_page_errors,
    load,
)
from tests.support.hub_question_hall import SLUG, build_both, question_app
from tests.support.question_hall import NOW

ASK = f"/open-data/{SLUG}/ask"
QUESTION = "When did the CO2 go over 1500 this week?"
LINK = "See the figures on Askrigg Village Hall\u2019s page"


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    directory = tmp_path_factory.mktemp("hub-question-browser")
    store = SqliteHubStore(directory / "hub.db")
    build_both(directory / "edge.db", store, first=NOW - timedelta(days=9))
    app = question_app(directory, store)
    server = wsgi.Server(("127.0.0.1", 0), app, numthreads=2)
    server.prepare()
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.bind_addr[1]}"
    server.stop()
    thread.join(10)
    store.close()


def test_a_visitor_asks_on_a_phone_without_javascript_and_follows_the_link(base, new_page):
    page = new_page(viewport="phone", javascript=False)
    load(page, base + ASK, heading="Ask about Askrigg Village Hall")
    page.get_by_label("Ask a question about Askrigg Village Hall").fill(QUESTION)
    with page.expect_navigation():
        page.get_by_role("button", name="Ask").click()
    assert page.get_by_role("heading", name="The answer").is_visible()
    assert "1,500 ppm" in page.locator(".answer-text").inner_text()
    with page.expect_navigation():
        page.get_by_role("link", name=LINK).click()
    assert page.url.endswith(f"/open-data/{SLUG}?period=week#heading-co2")
    assert page.locator("#heading-co2").is_visible()


def test_the_answer_page_meets_wcag_22_aa_and_reflows(base, new_page):
    url = f"{base}{ASK}?q={quote_plus(QUESTION)}"
    page = new_page("phone")  # axe-core runs in the page: JavaScript on
    load(page, url, heading="Ask about Askrigg Village Hall")
    assert page.get_by_role("heading", name="The answer").is_visible()
    assert_no_axe_violations(page)
    assert_no_page_errors(page)
    narrow = new_page("reflow")
    load(narrow, url)
    assert_no_horizontal_scroll(narrow)


def test_a_bad_question_page_passes_axe(base, new_page):
    page = new_page()
    load(page, base + ASK + "?q=", status=400, heading="Ask about Askrigg Village Hall")
    assert "Please type a question in the box." in page.content()
    assert_no_axe_violations(page)


def test_the_hall_page_with_the_box_meets_wcag_22_aa(base, new_page):
    page = new_page()
    load(page, f"{base}/open-data/{SLUG}", heading="Askrigg Village Hall")
    assert page.get_by_role("search", name="Ask about Askrigg Village Hall").is_visible()
    assert_no_axe_violations(page)
