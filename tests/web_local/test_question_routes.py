"""The question box: a GET form answered from the real store, and bad input as 400 pages."""

from __future__ import annotations

import pytest
from flask import render_template_string
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from presentation.questions import MAX_QUESTION_CHARS
from tests.web_local.conftest import make_app


@pytest.fixture
def ask(hall_db):
    app = make_app(hall_db, opening_hours="Mon to Sat, 9:00 to 22:00")
    return app.test_client()


def test_the_box_is_a_labelled_get_form_that_needs_no_script(ask):
    page = ask.get("/ask").get_data(as_text=True)
    assert '<form method="get"' in page
    assert '<label for="question">' in page
    assert 'id="question" name="q"' in page
    assert "<script" not in page
    assert "Questions I can answer" in page


def test_a_question_is_answered_with_its_figures_under_a_heading_and_a_link(ask):
    response = ask.get("/ask", query_string={"q": "When did the CO2 go over 1500 this week?"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<h2 id="answer-heading">The answer</h2>' in page
    assert "1,500 ppm" in page
    assert 'href="/trends/sim-co2/co2?period=week"' in page


def test_a_question_it_cannot_answer_is_declined_with_examples(ask):
    page = ask.get("/ask", query_string={"q": "Will it be cold tomorrow?"}).get_data(as_text=True)
    assert "I can't answer that yet" in page
    assert "not what is to come" in page
    assert "When was the hall busiest last month?" in page


@pytest.mark.parametrize(
    ("q", "message"),
    [
        ("", "Please type a question in the box."),
        ("   ", "Please type a question in the box."),
        ("x" * 10_000, "That question is 10,000 characters long"),
        ("x" * (MAX_QUESTION_CHARS + 1), f"is {MAX_QUESTION_CHARS + 1} characters long"),
        ("when\x1b[2J was it busy", "control characters"),
        ("busy\x00", "control characters"),
    ],
)
def test_bad_questions_get_a_400_page_that_says_why(ask, q, message):
    response = ask.get("/ask", query_string={"q": q})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_a_question_at_the_length_limit_is_taken(ask):
    q = "When was the hall busiest last week?" + " " * (MAX_QUESTION_CHARS - 36)
    assert len(q) == MAX_QUESTION_CHARS
    response = ask.get("/ask", query_string={"q": q})
    assert response.status_code == 200
    assert "The busiest day" in response.get_data(as_text=True)


def test_the_box_renders_on_its_own_for_the_home_page_to_include(hall_db):
    app = make_app(hall_db)
    with app.test_request_context("/"):
        box = render_template_string('{% include "_question_box.html" %}')
    assert 'action="/ask"' in box
    assert 'value=""' in box


TEXT = (
    "when was the hall busiest quietest too cold warm over under 1500 18 co2 temperature "
    "humidity noise air people last this tuesday saturday evening morning night 3rd march "
    "03/03/2026 24/11 than winter summer week month how many came today yesterday better "
    "highest lowest average now open"
)
WORDS = TEXT.split()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.sampled_from(WORDS), min_size=1, max_size=10))
def test_any_question_of_known_words_gets_an_answer_or_a_decline_never_an_error(ask, words):
    response = ask.get("/ask", query_string={"q": " ".join(words)})
    assert response.status_code == 200
