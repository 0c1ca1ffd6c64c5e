"""Every route of ``hub web`` answers extreme and malformed input with a 4xx that says why.

The walkers go through ``app.url_map`` (every rule, every method it allows), fill the path
variables with real and extreme values, and send extreme query parameters and bodies, as
an anonymous visitor and as a logged-in member of the council IoT team (whose forms carry
the session's CSRF token, so that they reach the views). Nothing may answer 500; a 400
must name what was wrong.

One app per module over a real SQLite hub store and a real provisioning state (no broker
is needed: nothing here gets as far as reloading one); the tests that change state (the
rate limits, the body-size limits) build their own.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from hub.config_downlink import build_config
from hub.data_api import MAX_READINGS_DAYS, MAX_ROLLUP_DAYS
from hub.exports import hub_exporters
from hub.presenter import NodePresenter
from hub.store_sqlite import SqliteHubStore
from hub.web import MAX_CONTENT_LENGTH, HubPages, create_hub_web
from hub_sync.batch_codec import Batch, WireReading
from hub_sync.node_config import PAGE_LABEL_MAX, PAGE_TEXT_MAX
from provisioning.device_accounts import add_device_account
from provisioning.enrolment_tokens import TokenStore
from provisioning.failure_limit import FailureLimiter
from provisioning.rotation import CredentialRotation
from provisioning.state import init_state
from tests.hub.web_support import PASSWORD, Kept, account
from tests.support import web_inputs
from tests.support.web_inputs import report
from tests.support.web_inputs import urls as walk_urls

NOW_US = 1_796_000_000_000_000  # 2026-11-30
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')

PATH_VALUES: dict[str, tuple[str, ...]] = {
    "device_id": ("askrigg",),
    "site": ("askrigg-village-hall",),
    "slug": ("askrigg-village-hall",),
    "filename": ("hub.css",),
}
"""A real value for each path variable; the extreme ones below are tried in every variable."""
PARAMETERS = (
    "from",
    "to",
    "period",
    "format",
    "site",
    "metric",
    "bucket",
    "attention",
    "next",
    "after",
    "resolution",
    "unknown_thing",
)
"""Every query parameter any hub route reads, and one none does."""


def json_body(text: str | bytes) -> tuple[bytes, str]:
    return (text.encode() if isinstance(text, str) else text), "application/json"


DEEP_ARRAY = "[" * 2048 + "]" * 2048
DEEP_OBJECT = '{"a":' * 2048 + "1" + "}" * 2048
BODIES: tuple[tuple[str, bytes, str], ...] = (
    ("deep array", *json_body(DEEP_ARRAY)),
    ("deep object", *json_body(DEEP_OBJECT)),
    ("deep in a field", *json_body('{"token": ' + DEEP_ARRAY + ', "device_id": "askrigg"}')),
    ("truncated", *json_body('{"token": "abc", "device_id": "ask')),
    ("NUL escaped", *json_body('{"token": "a\\u0000b", "device_id": "askrigg\\u0000"}')),
    ("NUL raw", *json_body(b'{"token": "a\x00b", "device_id": "askrigg"}')),
    ("invalid UTF-8", *json_body(b'{"token": "\xff\xfe", "device_id": "askrigg"}')),
    ("huge number", *json_body('{"token": 1' + "0" * 5000 + ', "device_id": "askrigg"}')),
    ("NaN", *json_body('{"token": NaN, "device_id": "askrigg"}')),
    ("not an object", *json_body("[1, 2]")),
    ("empty", b"", "application/json"),
    ("wrong type", b'{"token": "abc", "device_id": "askrigg"}', "text/plain"),
    ("form", b"token=abc&device_id=askrigg", "application/x-www-form-urlencoded"),
    ("form NUL", b"username=a%00b&password=%00&name=%00", "application/x-www-form-urlencoded"),
    ("form bad UTF-8", b"username=%ff&password=%ff&name=%ff", "application/x-www-form-urlencoded"),
    ("form long", b"username=" + b"x" * 60_000, "application/x-www-form-urlencoded"),
    ("multipart without boundary", b"--x\r\n", "multipart/form-data"),
    ("multipart broken", b"--x\r\nContent-Disposition: form", "multipart/form-data; boundary=x"),
    ("over the limit", b"x" * (MAX_CONTENT_LENGTH + 1), "application/json"),
    ("form over the limit", b"a=" + b"x" * MAX_CONTENT_LENGTH, "application/x-www-form-urlencoded"),
)


@dataclass
class Hub:
    app: Flask
    store: SqliteHubStore
    tmp: Path


def make_hub(tmp: Path, *, limiter: FailureLimiter | None = None) -> Hub:
    store = SqliteHubStore(tmp / "hub.db")
    for device, site in (("askrigg", "Askrigg Village Hall"), ("reeth", "Reeth Memorial Hall")):
        store.add_device(device, site)
        readings = tuple(
            WireReading(n + 1, "door", "footfall", "people", NOW_US - (n + 1) * 600_000_000, 2.0)
            for n in range(12)
        )
        store.store_batch(Batch(device, 5, readings), NOW_US)
        _, payload = build_config(1, {}, {"hall_name": site, "public_metrics": ["footfall"]})
        store.save_config(device, 1, payload.decode(), actor="test")
    state = init_state(tmp / "state", hostnames=["localhost"], run_as="root")
    add_device_account(state, "askrigg")
    store.request_rotation("askrigg", actor="test")
    pages = HubPages(
        open_store=lambda: Kept(store),
        exporters=hub_exporters("Europe/London"),
        presenter=NodePresenter(),
        send_config=lambda device_id, payload, actor: None,
        secure_cookies=False,
    )
    app = create_hub_web(
        TokenStore(tmp / "enrolment"),
        lambda device_id: {},
        limiter=limiter or FailureLimiter(10**9, 60.0),
        rotation=CredentialRotation(state, store, lambda: None),
        security_contact="mailto:security@example.org",
        pages=pages,
    )
    return Hub(app, store, tmp)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    made = make_hub(tmp_path_factory.mktemp("inputs"))
    account(made.store, "iot-team")
    yield made
    made.store.close()


def log_in(client: FlaskClient, username: str = "iot-team") -> str:
    """Log ``client`` in; returns the session's CSRF token."""
    token = CSRF.search(client.get("/login").text)
    assert token is not None
    form = {"username": username, "password": PASSWORD, "csrf_token": token.group(1)}
    assert client.post("/login", data=form).status_code == 303
    found = CSRF.search(client.get("/fleet/askrigg/settings").text)
    assert found is not None
    return found.group(1)


@dataclass
class Visitor:
    name: str
    client: FlaskClient
    csrf: str | None


@pytest.fixture(scope="module", params=["anonymous", "team"])
def visitor(request: pytest.FixtureRequest, hub: Hub) -> Visitor:
    client = hub.app.test_client()
    # Each from its own address: the anonymous walker's failed log-ins are throttled.
    address = "192.0.2.10" if request.param == "team" else "192.0.2.20"
    client.environ_base["REMOTE_ADDR"] = address
    csrf = log_in(client) if request.param == "team" else None
    return Visitor(request.param, client, csrf)


SENTENCE = re.compile(r"</h1>\s*<p>(.*?)</p>", re.S)
"""Where the hub's error page says what was wrong."""


def urls(rule: Any) -> Iterator[str]:
    return walk_urls(rule, {name: values[0] for name, values in PATH_VALUES.items()})


def message_of(answer: Any) -> str:
    return web_inputs.message_of(answer, SENTENCE)


def problem(answer: Any, what: str, names: tuple[str, ...] = ()) -> str | None:
    return web_inputs.problem(answer, what, SENTENCE, names)


def queries(thorough: bool) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Query strings and the parameters a 400 to each must name."""
    return web_inputs.queries(
        PARAMETERS, thorough=thorough, today="2026-12-06", early="2026-12-01", late="2026-12-06"
    )


def test_every_path_variable_of_every_route_has_a_real_value(hub: Hub) -> None:
    for rule in hub.app.url_map.iter_rules():
        for name in rule.arguments:
            assert name in PATH_VALUES, f"{rule.rule}: give {name} a real value in PATH_VALUES"


def test_extreme_path_values_never_answer_500(hub: Hub, visitor: Visitor) -> None:
    found = []
    for rule in hub.app.url_map.iter_rules():
        for method in sorted(rule.methods):
            data = {"csrf_token": visitor.csrf} if visitor.csrf and method == "POST" else None
            for url in urls(rule):
                answer = visitor.client.open(url, method=method, data=data)
                found.append(problem(answer, f"{method} {url[:80]}"))
    report(found)


@pytest.mark.slow
def test_extreme_query_parameters_get_a_4xx_naming_the_parameter(
    hub: Hub, visitor: Visitor
) -> None:
    found = []
    for rule in hub.app.url_map.iter_rules():
        url = next(urls(rule))
        for method in sorted(rule.methods - {"OPTIONS"}):
            data = {"csrf_token": visitor.csrf} if visitor.csrf and method == "POST" else None
            plain = visitor.client.open(url, method=method, data=data)
            plain.close()
            if plain.status_code == 302 and "/login?" in plain.headers["Location"]:
                continue  # the log-in guard answers before any parameter is read
            # Only a GET's 400 must name the parameter: HEAD has no body, and a POST may
            # be refused for its body first. HEAD runs the GET's view, so the extremes do.
            for query, names in queries(thorough=method == "GET"):
                answer = visitor.client.open(f"{url}?{query}", method=method, data=data)
                what = f"{method} {url}?{query[:60]}"
                found.append(problem(answer, what, names if method == "GET" else ()))
    report(found)


def test_extreme_bodies_never_answer_500(hub: Hub, visitor: Visitor) -> None:
    found = []
    for rule in hub.app.url_map.iter_rules():
        if not rule.methods & {"POST", "PUT", "PATCH", "DELETE"}:
            continue
        url = next(urls(rule))
        for label, body, content_type in BODIES:
            if visitor.csrf and content_type.startswith("application/x-www-form"):
                body += b"&csrf_token=" + visitor.csrf.encode()
            answer = visitor.client.post(url, data=body, content_type=content_type)
            found.append(problem(answer, f"POST {url} ({label})"))
    report(found)


# --- the boundaries, each at its limit and one past it ---


@pytest.mark.parametrize(
    ("query", "named", "said"),
    [
        ("to=9999-12-31", "to", "outside the dates"),
        ("to=0001-01-01", "to", "outside the dates"),
        ("from=0001-01-01", "from", "outside the dates"),
        ("from=9999-12-31&to=9999-12-31", "from", "outside the dates"),
        ("from=1969-12-31&to=1970-01-01", "from", "give a date from 1970-01-01 to 9999-11-30"),
        ("from=9999-11-30&to=9999-12-01", "to", "give a date from 1970-01-01 to 9999-11-30"),
        ("to=9999-12-01T00:00:00Z", "to", "outside the dates"),
        ("from=0001-01-01T00:00:00%2B23:59", "from", "outside the dates"),
        ("from=2026-12-06&to=2026-12-01", "from, to", "must be before to"),
        ("from=2099-01-01", "from", "is not in the past"),
        ("from=2026-01-01&from=2026-01-02", "from", "give it once"),
        ("from=2026-10-01&to=2026-11-01", "from, to", "the range is 32 days; at most 31"),
    ],
)
def test_the_open_data_download_names_what_is_wrong_with_a_range(
    hub: Hub, query: str, named: str, said: str
) -> None:
    answer = hub.app.test_client().get(f"/open-data/download?{query}")
    assert answer.status_code == 400
    assert message_of(answer).startswith(f"{named}: ")
    assert said in message_of(answer)


@pytest.mark.parametrize(
    "query",
    [
        "from=1970-01-01&to=1970-01-31",  # the first day the hub answers for
        "from=9999-11-01&to=9999-11-30",  # the last
        "from=2026-10-01&to=2026-10-31",  # 31 days, summer time ending inside them
        "from=2026-03-01&to=2026-03-31",  # 31 days, summer time beginning inside them
    ],
)
def test_the_open_data_download_takes_a_range_at_its_limits(hub: Hub, query: str) -> None:
    answer = hub.app.test_client().get(f"/open-data/download?{query}")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.headers["Content-Type"].startswith("text/csv")


def test_the_data_api_takes_its_longest_range_and_refuses_one_day_more(hub: Hub) -> None:
    client = hub.app.test_client()
    client.environ_base["REMOTE_ADDR"] = "192.0.2.30"
    log_in(client)
    base = "/api/v1/devices/askrigg"
    longest = {
        "rollups": f"from=2025-01-01&to={date(2025, 1, 1) + timedelta(MAX_ROLLUP_DAYS - 1)}",
        # A week with the end of summer time in it.
        "readings": f"from=2026-10-20&to={date(2026, 10, 20) + timedelta(MAX_READINGS_DAYS - 1)}",
    }
    for kind, query in longest.items():
        assert client.get(f"{base}/{kind}?{query}").status_code == 200, kind
        start, end = query.split("&")
        later = date.fromisoformat(end[3:]) + timedelta(1)
        answer = client.get(f"{base}/{kind}?{start}&to={later}")
        assert answer.status_code == 400
        assert answer.json["message"].startswith("from, to: the range is ")


def test_a_body_at_the_app_s_limit_is_read_and_one_byte_more_is_413(hub: Hub) -> None:
    client = hub.app.test_client()
    client.environ_base["REMOTE_ADDR"] = "192.0.2.40"
    form = "application/x-www-form-urlencoded"
    at_limit = b"username=" + b"x" * (MAX_CONTENT_LENGTH - len(b"username="))
    assert len(at_limit) == MAX_CONTENT_LENGTH
    read = client.post("/login", data=at_limit, content_type=form)
    assert read.status_code == 400  # read, and refused for its missing form token
    assert "this form has expired" in message_of(read)
    refused = client.post("/login", data=at_limit + b"x", content_type=form)
    assert refused.status_code == 413
    assert (
        message_of(refused) == "the request body is larger than the 65,536 bytes this hub accepts"
    )


@pytest.fixture(scope="module")
def team(hub: Hub) -> Visitor:
    client = hub.app.test_client()
    client.environ_base["REMOTE_ADDR"] = "192.0.2.50"
    return Visitor("team", client, log_in(client))


def settings_error(answer: Any) -> tuple[str, str]:
    """The field a settings page's error links to, and what it says."""
    found = re.search(r'Nothing was changed.*?<a href="#([^"]+)">(.*?)</a>', answer.text, re.S)
    assert found is not None, answer.text
    return found.group(1), html.unescape(found.group(2))


@pytest.mark.parametrize(
    ("form", "field", "said"),
    [
        ({"hall_name": "Askrigg\x00Hall"}, "hall_name", "control character U+0000"),
        ({"hall_name": "Askrigg", "opening_hours": "\x1b[2J"}, "opening_hours", "U+001B"),
        ({"hall_name": "Askrigg", "label:door": "Door\x7f"}, "label-door", "U+007F"),
        ({"hall_name": "x" * (PAGE_TEXT_MAX + 1)}, "hall_name", f"at most {PAGE_TEXT_MAX}"),
        ({"hall_name": "A", "label:door": "y" * (PAGE_LABEL_MAX + 1)}, "label-door", "at most"),
        ({"hall_name": ""}, "hall_name", "must not be empty"),
    ],
)
def test_a_hall_setting_that_cannot_be_shown_is_refused_at_its_field(
    team: Visitor, form: dict[str, str], field: str, said: str
) -> None:
    answer = team.client.post(
        "/fleet/askrigg/settings", data={**form, "csrf_token": team.csrf or ""}
    )
    assert answer.status_code == 400
    linked, message = settings_error(answer)
    assert linked == field
    assert said in message


def test_hall_settings_at_their_longest_are_sent(team: Visitor) -> None:
    form = {
        "hall_name": "x" * PAGE_TEXT_MAX,
        "opening_hours": "y" * PAGE_TEXT_MAX,
        "label:door": "z" * PAGE_LABEL_MAX,
        "public:temperature": "on",
        "csrf_token": team.csrf or "",
    }
    assert team.client.post("/fleet/askrigg/settings", data=form).status_code == 303
