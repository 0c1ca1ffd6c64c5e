"""Every route of ``edge web`` answers extreme and malformed input with a 4xx that says why.

The walkers go through ``app.url_map`` (every rule, every method it allows), fill the path
variables with real and extreme values, and send extreme query parameters and bodies.
The page has no log-in, so every visitor is anonymous. Nothing may answer 500; a 400 must
name the parameter. One app per module over the simulated hall's store (read-only).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support import web_inputs
from tests.support.web_inputs import report
from tests.support.web_inputs import urls as walk_urls
from tests.web_local.conftest import make_app
from web_local.app import MAX_CONTENT_LENGTH

PATH_VALUES: dict[str, str] = {
    "sensor_id": "sim-temperature",
    "metric": "temperature",
    "filename": "hallsense.css",
    "month": "2026-10",
}
"""A real value for each path variable; the extreme ones below are tried in every variable."""
PARAMETERS = (
    "from",
    "to",
    "period",
    "format",
    "metric",
    "sensor",
    "after",
    "resolution",
    "unknown_thing",
)
"""Every query parameter any page or API route reads, and one none does."""
BODIES: tuple[tuple[str, bytes, str], ...] = (
    ("deep array", ("[" * 2048 + "]" * 2048).encode(), "application/json"),
    ("truncated", b'{"a": "b', "application/json"),
    ("NUL", b'{"a": "\x00"}', "application/json"),
    ("form", b"a=%00&b=%ff", "application/x-www-form-urlencoded"),
    ("multipart broken", b"--x\r\nContent-Disposition: form", "multipart/form-data; boundary=x"),
    ("over the limit", b"x" * (MAX_CONTENT_LENGTH + 1), "application/json"),
)


@pytest.fixture(scope="module")
def app(hall_db: Any) -> Flask:
    return make_app(hall_db)


@pytest.fixture(scope="module")
def client(app: Flask) -> FlaskClient:
    return app.test_client()


SENTENCE = re.compile(r'<p class="error-message">(.*?)</p>', re.S)
"""Where the page's error page says what was wrong."""


def urls(rule: Any) -> Iterator[str]:
    return walk_urls(rule, PATH_VALUES)


def message_of(answer: Any) -> str:
    return web_inputs.message_of(answer, SENTENCE)


def problem(answer: Any, what: str, names: tuple[str, ...] = ()) -> str | None:
    return web_inputs.problem(answer, what, SENTENCE, names)


def queries(read: set[str], thorough: bool) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Query strings for the parameters a route reads, and what a 400 to each must name."""
    chosen = [name for name in PARAMETERS if name in read]
    return web_inputs.queries(
        chosen, thorough=thorough, today="2026-11-24", early="2026-11-01", late="2026-11-24"
    )


NONSENSE = "%ff%00" + "x" * 300
"""A value no parameter takes: a route that answers it 200 does not read that parameter."""


def parameters_read(client: FlaskClient, url: str) -> set[str]:
    """The parameters ``url`` reads: those whose nonsense value it does not answer 200.

    The pages ignore parameters they do not know (the API refuses them), and rendering a
    page with charts costs milliseconds: walking every value through every page that
    ignores them all would take half a minute and test nothing.
    """
    read = set()
    for name in PARAMETERS:
        answer = client.get(f"{url}?{name}={NONSENSE}")
        answer.close()
        if answer.status_code != 200:
            read.add(name)
    return read


def test_every_path_variable_of_every_route_has_a_real_value(app: Flask) -> None:
    for rule in app.url_map.iter_rules():
        for name in rule.arguments:
            assert name in PATH_VALUES, f"{rule.rule}: give {name} a real value in PATH_VALUES"


def test_extreme_path_values_never_answer_500(app: Flask, client: FlaskClient) -> None:
    found = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods or ()):
            for url in urls(rule):
                found.append(problem(client.open(url, method=method), f"{method} {url[:80]}"))
    report(found)


@pytest.mark.slow
def test_extreme_query_parameters_get_a_4xx_naming_the_parameter(
    app: Flask, client: FlaskClient
) -> None:
    found = []
    for rule in app.url_map.iter_rules():
        url = next(urls(rule))
        read = parameters_read(client, url)
        for method in sorted((rule.methods or set()) - {"OPTIONS"}):
            # HEAD runs the GET's view (and has no body to read a message from).
            for query, names in queries(read, thorough=method == "GET"):
                answer = client.open(f"{url}?{query}", method=method)
                what = f"{method} {url}?{query[:60]}"
                found.append(problem(answer, what, names if method == "GET" else ()))
    report(found)


def test_bodies_and_other_methods_never_answer_500(app: Flask, client: FlaskClient) -> None:
    found = []
    for rule in app.url_map.iter_rules():
        url = next(urls(rule))
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            for label, body, content_type in BODIES:
                answer = client.open(url, method=method, data=body, content_type=content_type)
                found.append(problem(answer, f"{method} {url} ({label})"))
                assert answer.status_code in (405, 413), (method, url, label)
    report(found)


@pytest.mark.parametrize("url", ["/", "/api/v1/current", "/static/hallsense.css", "/nowhere"])
def test_a_body_at_the_limit_is_let_be_and_one_byte_more_is_413(
    client: FlaskClient, url: str
) -> None:
    at_limit = b"x" * MAX_CONTENT_LENGTH
    answer = client.get(url, data=at_limit, content_type="text/plain")
    answer.close()
    assert answer.status_code in (200, 404)
    over = client.get(url, data=at_limit + b"x", content_type="text/plain")
    assert over.status_code == 413
    assert message_of(over).startswith(
        "The request body is larger than the 1,024 bytes this page accepts"
    )
