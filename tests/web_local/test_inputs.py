"""Every route of ``edge web`` answers extreme and malformed input with a 4xx that says why.

The walkers go through ``app.url_map`` (every rule, every method it allows), fill the path
variables with real and extreme values, and send extreme query parameters and bodies.
The page has no log-in, so every visitor is anonymous. Nothing may answer 500; a 400 must
name the parameter. One app per module over the simulated hall's store (read-only).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.web_local.conftest import make_app
from web_local.app import MAX_CONTENT_LENGTH

PATH_VALUES: dict[str, str] = {
    "sensor_id": "sim-temperature",
    "metric": "temperature",
    "filename": "hallsense.css",
}
"""A real value for each path variable; the extreme ones below are tried in every variable."""
EXTREME_PATH = (
    "nowhere",
    "x" * 5000,
    "%00",
    "a%00b",
    "%ff",
    "%C3%A9",
    "-1",
    "9" * 400,
    "..%2F..%2Fetc%2Fpasswd",
    "%20",
)
DATES = (
    "0001-01-01",
    "9999-12-31",
    "0000-00-00",
    "2026-02-30",
    "99999-01-01",
    "2026-11-24T00:00:00Z",
    "0001-01-01T00:00:00%2B23:59",
    "0001-01-01T00:00:00-23:59",
    "9999-12-31T23:59:59-23:59",
    "9999-12-31T23:59:59%2B23:59",
    "2026-11-24T00:00:00",
)
GENERIC = (
    "",
    "-1",
    "9" * 400,
    "-" + "9" * 400,
    "1e309",
    "a%00b",
    "%ff",
    "%C0%AF",
    "x" * 10_000,
    "%C3%A9",
    "a,b,,c",
    "week%0D%0ALocation:%20/x",
)
SHARPEST = ("0001-01-01", "9999-12-31", "-" + "9" * 400, "a%00b", "%ff", "x" * 10_000)
"""The values tried on methods other than GET."""
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
RANGES = (
    "from=0001-01-01&to=9999-12-31",
    "from=0001-01-01&to=0001-01-01",
    "from=9999-12-31&to=9999-12-31",
    "from=9999-12-31",
    "to=0001-01-01",
    "from=2026-11-24&to=2026-11-01",
    "from=2026-11-24T00:00:00Z&to=2026-11-23T23:59:59Z",
    "from=0001-01-01T00:00:00Z&to=0001-01-02T00:00:00Z",
    "from=9999-12-30T00:00:00Z&to=9999-12-31T23:59:59Z",
    "from=2026-11-01&from=2026-11-02",
    "to=2026-11-01&to=2026-11-02",
    "format=csv&format=senml",
)
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


def urls(rule: Any) -> Iterator[str]:
    """The rule's URL with real values, then with each extreme value in each variable."""
    pattern = r"<(?:[a-z]+:)?([a-z_]+)>"
    real = {name: PATH_VALUES[name] for name in rule.arguments}

    def fill(chosen: dict[str, str]) -> str:
        return re.sub(pattern, lambda m: chosen[m.group(1)], rule.rule)

    yield fill(real)
    for name in sorted(rule.arguments):
        for value in EXTREME_PATH:
            yield fill({**real, name: value})


def message_of(answer: Any) -> str:
    """What an error answer says: the JSON ``message``, or the error page's sentence."""
    text = answer.get_data(as_text=True)
    if answer.is_json and text:
        return str(answer.json.get("message", text))
    found = re.search(r'<p class="error-message">(.*?)</p>', text, re.S)
    return html.unescape(found.group(1) if found else text)


def problem(answer: Any, what: str, names: tuple[str, ...] = ()) -> str | None:
    """What is wrong with an answer to an extreme request (None: nothing)."""
    message = message_of(answer)
    answer.close()
    if answer.status_code >= 500:
        return f"{what}: {answer.status_code} {message[:200]}"
    named = any(re.search(rf"\b{name}\b", message) for name in names)
    if answer.status_code == 400 and names and not named:
        return f"{what}: 400 without naming {names}: {message[:200]}"
    said = message.strip() or answer.request.method == "HEAD"
    if 400 <= answer.status_code < 500 and ("Traceback" in message or not said):
        return f"{what}: {answer.status_code} without a sentence: {message[:200]}"
    return None


def report(problems: list[str | None]) -> None:
    found = [p for p in problems if p]
    assert not found, f"{len(found)} bad answers:\n" + "\n".join(found[:400])


NONSENSE = "%ff%00" + "x" * 300
"""A value no parameter takes: a route that answers it 200 does not read that parameter."""


def queries(read: set[str], thorough: bool) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Query strings for the parameters a route reads, and what a 400 to each must name.

    ``thorough``: every generic value in every parameter and the dates in ``from`` and
    ``to``; otherwise the sharpest few everywhere.
    """
    for name in PARAMETERS:
        if name not in read:
            continue
        dated = name in ("from", "to")
        for value in ((*DATES, *GENERIC) if dated else GENERIC) if thorough else SHARPEST:
            yield f"{name}={value}", (name,)
        yield f"{name}=1&{name}=2", (name,)
    if read & {"from", "to", "format"}:
        for query in RANGES:
            yield query, ("from", "to", "format")


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
