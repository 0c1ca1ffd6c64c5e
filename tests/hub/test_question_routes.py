"""The question box on a hall's open-data page: a GET form, answers, access and bad input.

The real hub app over a real SQLite hub store holding the corpus's simulated hall (stored
through ``store_batch`` from the node's outbox), at the corpus's fixed now.
"""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from flask import render_template_string

from edge.store import EdgeStore
from hub.open_data import PublishedHall
from presentation.questions import MAX_QUESTION_CHARS, Declined, answer, parse
from tests.hub.web_support import PASSWORD, account
from tests.support import web_inputs
from tests.support.hub_question_hall import (
    SLUG,
    build_both,
    publish,
    question_app,
)
from tests.support.question_hall import NOW, OPENING_HOURS, ZONE

ASK = f"/open-data/{SLUG}/ask"
SENTENCE = re.compile(r"</h1>\s*<p>(.*?)</p>", re.S)


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """The app, its store and the node's store with the same readings (made once)."""
    from hub.store_sqlite import SqliteHubStore

    directory = tmp_path_factory.mktemp("hub-questions")
    store = SqliteHubStore(directory / "hub.db")
    build_both(directory / "edge.db", store, first=NOW - timedelta(days=16))
    store.add_device("reeth", "Reeth Memorial Hall")  # publishes nothing
    publish(store, "bainbridge", "Bainbridge Hall", ("temperature",))
    account(store, "iot-team")
    edge = EdgeStore(directory / "edge.db", timezone=ZONE.key, readonly=True)
    yield question_app(directory, store), edge
    edge.close()
    store.close()


@pytest.fixture
def client(hub):
    return hub[0].test_client()


def logged_in(app):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    data = {"username": "iot-team", "password": PASSWORD, "csrf_token": token.group(1)}
    assert client.post("/login", data=data).status_code in (302, 303)
    return client


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_the_box_is_a_labelled_get_form_that_needs_no_script(client):
    response = client.get(ASK)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'<form method="get" action="{ASK}"' in page
    assert '<label for="question">Ask a question about Askrigg Village Hall</label>' in page
    assert 'id="question" name="q"' in page
    assert 'maxlength="200"' in page
    assert "<script" not in page
    assert "Questions I can answer" in page
    assert "Content-Security-Policy" in response.headers


def test_an_answer_is_the_nodes_with_a_link_to_the_chart_on_the_hall_page(hub, client):
    question = "When did the CO2 go over 1500 this week?"
    response = client.get(ASK, query_string={"q": question})
    page = text_of(response)
    assert response.status_code == 200
    assert '<h2 id="answer-heading">The answer</h2>' in page
    intent = parse(question, NOW, ZONE, OPENING_HOURS)
    assert not isinstance(intent, Declined)
    assert answer(intent, hub[1], NOW, ZONE).text in page
    assert f'href="/open-data/{SLUG}?period=week#heading-co2"' in page
    assert "Questions I can answer" not in page


@pytest.mark.parametrize(
    ("question", "link"),
    [
        ("When was the hall busiest this week?", "?period=week#heading-footfall"),
        ("When was the hall busiest today?", "?period=day#heading-footfall"),
        ("How many people came last week?", "?period=month#heading-footfall"),
        ("What was the average temperature yesterday?", "?period=week#heading-temperature"),
        ("When is the hall open?", ""),
    ],
)
def test_each_link_points_at_a_section_of_the_hall_page(client, question, link):
    page = text_of(client.get(ASK, query_string={"q": question}))
    assert "The answer" in page
    assert f'href="/open-data/{SLUG}{link}"' in page


def test_the_link_target_is_a_real_section_of_the_hall_page(client):
    page = client.get(f"/open-data/{SLUG}", query_string={"period": "week"})
    assert page.status_code == 200
    assert 'id="heading-footfall"' in page.get_data(as_text=True)


def test_the_opening_hours_are_those_the_hub_sent_the_hall(client):
    page = text_of(client.get(ASK, query_string={"q": "When is the hall open?"}))
    assert f"The hall is open {OPENING_HOURS}." in page


def test_now_is_declined_because_open_data_is_hourly(client):
    page = text_of(client.get(ASK, query_string={"q": "What's the CO2 now?"}))
    assert "I can't answer that yet" in page
    assert "open data is hourly" in page
    assert f'href="/open-data/{SLUG}"' in page


def test_a_question_it_cannot_answer_is_declined_with_examples(client):
    page = text_of(client.get(ASK, query_string={"q": "Will it be cold tomorrow?"}))
    assert "I can't answer that yet" in page
    assert "not what is to come" in page
    assert f"/open-data/{SLUG}/ask?q=When+was+the+hall+busiest+last+month?" in page


@pytest.mark.parametrize(
    ("question", "words"),
    [
        ("How many people came yesterday?", "its door counts"),
        ("What was the highest CO2 yesterday?", "its CO2 readings"),
        ("Is the air better than last week?", "its CO2 readings"),
        ("Was it too cold yesterday evening?", "its occupancy readings (when the hall is in use)"),
    ],
)
def test_only_what_the_hall_publishes_is_answered(client, question, words):
    page = text_of(client.get("/open-data/bainbridge-hall/ask", query_string={"q": question}))
    assert "I can't answer that yet" in page
    assert f"Bainbridge Hall does not publish {words}, so I can't answer that here." in page


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (ASK, 200),
        (f"{ASK}?q=How+warm+was+it+yesterday%3F", 200),
        ("/open-data/reeth-memorial-hall/ask", 404),
        ("/open-data/reeth-memorial-hall/ask?q=How+busy+was+it+yesterday%3F", 404),
        ("/open-data/nowhere/ask", 404),
    ],
)
def test_access_is_the_hall_pages_for_visitors_and_the_team(hub, path, status):
    app = hub[0]
    page = path.split("/ask")[0]
    for client in (app.test_client(), logged_in(app)):
        assert client.get(page).status_code == status
        answered = client.get(path)
        assert answered.status_code == status
        if status == 404:
            assert "publishes open data here" in text_of(answered)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"q": ""}, "Please type a question in the box."),
        ({"q": "   "}, "Please type a question in the box."),
        ({"q": "x" * 10_000}, "That question is 10,000 characters long"),
        ({"q": "x" * (MAX_QUESTION_CHARS + 1)}, f"is {MAX_QUESTION_CHARS + 1} characters long"),
        ({"q": "when\x1b[2J was it busy"}, "control characters"),
        ({"q": "busy\x00"}, "control characters"),
        ({"q": ["one", "two"]}, "q: give it once"),
        ({"period": "week"}, "period: not a parameter here"),
    ],
)
def test_bad_questions_get_a_400_page_that_says_why(client, query, message):
    response = client.get(ASK, query_string=query)
    assert response.status_code == 400
    said = SENTENCE.search(text_of(response))
    assert said is not None
    assert message in said.group(1)
    assert "\x1b" not in response.get_data(as_text=True)


def test_a_question_of_the_longest_length_is_taken(client):
    question = "How warm was it yesterday? " + "x" * (MAX_QUESTION_CHARS - 27)
    assert len(question) == MAX_QUESTION_CHARS
    assert client.get(ASK, query_string={"q": question}).status_code == 200


def test_extreme_input_never_gets_a_500(hub):
    client = hub[0].test_client()
    found = []
    for query, names in web_inputs.queries(
        ("q", "period", "unknown_thing"),
        thorough=True,
        today="2026-11-27",
        early="2026-11-01",
        late="2026-11-27",
    ):
        answered = client.get(f"{ASK}?{query}")
        found.append(
            web_inputs.problem(answered, query[:60], SENTENCE, () if query[:2] == "q=" else names)
        )
    for path in web_inputs.EXTREME_PATH:
        answered = client.get(f"/open-data/{path}/ask?q=busy")
        found.append(web_inputs.problem(answered, path[:60], SENTENCE))
    web_inputs.report(found)


def test_the_box_included_on_the_hall_page_asks_that_hall(hub):
    app = hub[0]
    hall = PublishedHall("Askrigg Village Hall", SLUG, ("askrigg",), ("co2",))
    with app.test_request_context(f"/open-data/{SLUG}"):
        box = render_template_string('{% include "_hall_question_box.html" %}', hall=hall)
    assert f'action="{ASK}"' in box
    assert 'name="q"' in box
    assert 'value=""' in box


def test_the_hall_page_carries_the_box(hub):
    app = hub[0]
    page = app.test_client().get(f"/open-data/{SLUG}").get_data(as_text=True)
    assert page.count('<form method="get"') == 1
    assert f'action="{ASK}"' in page
    assert page.count('id="question"') == 1
    assert page.index("The last week") < page.index('name="q"') < page.index('aria-label="Period"')
