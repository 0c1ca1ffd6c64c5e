"""The hub's pages behind their logins: every route with and without an account, as the
IoT team and as a clerk of another hall; sessions, CSRF, throttling and the set-up code.

Flask's test client against the real app over a real SQLite hub store (the store's own
tests run both backends)."""

from __future__ import annotations

import json
import re
import time
from html import unescape as html_unescape

import pytest

from hub.logins import IDLE_TIMEOUT_S, Logins, verify_password
from hub.store_sqlite import SqliteHubStore
from hub.web import PUBLIC_ENDPOINTS
from hub_sync.batch_codec import Batch, WireReading
from hub_sync.node_config import decode_config
from presentation.vocabulary import DEFAULT_PUBLIC_METRICS
from tests.hub.web_support import PASSWORD, Clock, account, make_app, token_for

HOUR = 3_600_000_000
NOW_US = time.time_ns() // 1000


@pytest.fixture
def store(tmp_path):
    store = SqliteHubStore(tmp_path / "hub.db")
    for device, site in (("askrigg", "Askrigg Village Hall"), ("reeth", "Reeth Memorial Hall")):
        store.add_device(device, site)
        readings = tuple(
            WireReading(n + 1, "door", "footfall", "people", NOW_US - (n + 1) * 600_000_000, 2.0)
            for n in range(12)
        )
        store.store_batch(Batch(device, 5, readings), NOW_US)
    store.record_status(
        "reeth",
        True,
        json.dumps({"v": 1, "state": "online", "backlog": 90_000, "last_error": "co2: no reply"}),
        NOW_US,
    )
    yield store
    store.close()


@pytest.fixture
def sent():
    return []


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def app(tmp_path, store, sent, clock):
    def send(device_id, payload, actor):
        sent.append((device_id, decode_config(payload), actor))
        store.save_config(device_id, json.loads(payload)["revision"], payload.decode(), actor=actor)

    return make_app(tmp_path, store, send=send, clock=clock, secure_cookies=True)


def log_in(client, username, password=PASSWORD, next_path=None):
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    form = {"username": username, "password": password, "csrf_token": token}
    if next_path is not None:
        form["next"] = next_path
    return client.post("/login", data=form)


def csrf_of(client, url):
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(url).text).group(1)


def concrete(rule):
    """A URL for a rule, with askrigg's values in its variables."""
    values = {
        "device_id": "askrigg",
        "site": "askrigg-village-hall",
        "slug": "askrigg-village-hall",
        "filename": "hub.css",
    }
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: values[m.group(1)], rule.rule)


def test_only_the_public_routes_answer_without_a_login(app):
    client = app.test_client()
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        answer = client.get(concrete(rule))
        answer.close()
        if rule.endpoint in PUBLIC_ENDPOINTS or rule.endpoint in {
            "static",
            "login.login",
            "login.setup",
        }:
            assert answer.status_code in (200, 302, 303, 404), (rule.rule, answer.status_code)
            continue
        if rule.rule.startswith(("/api/", "/metrics")):
            assert answer.status_code == 401, rule.rule
        else:
            assert answer.status_code == 302, rule.rule
            assert answer.headers["Location"].startswith("/login?next=")


def test_the_team_sees_every_page_and_a_clerk_only_their_own_halls(app, store):
    account(store, "iot-team")
    account(store, "clerk-reeth", "clerk", ("reeth",))
    team = app.test_client()
    assert log_in(team, "iot-team").status_code == 303
    for url in ("/fleet", "/fleet?attention=1", "/fleet/askrigg", "/fleet/askrigg/settings"):
        answer = team.get(url)
        assert answer.status_code == 200, url
        assert "<h1>" in answer.text
    assert team.get("/metrics").status_code == 200
    fleet = team.get("/fleet?attention=1").text
    assert "reeth" in fleet
    assert "Behind: 90,000 readings waiting" in fleet
    assert "Sensor failing: co2: no reply" in fleet

    clerk = app.test_client()
    log_in(clerk, "clerk-reeth")
    assert "askrigg" not in clerk.get("/fleet").text
    assert clerk.get("/fleet/reeth").status_code == 200
    for url in ("/fleet/askrigg", "/fleet/askrigg/settings", "/api/v1/devices/askrigg/rollups"):
        assert clerk.get(url).status_code == 404, url  # as if it did not exist
    assert clerk.get("/metrics").status_code == 403


def test_a_clerk_changes_the_opening_hours_and_it_is_sent_to_the_node(app, store, sent):
    account(store, "clerk-askrigg", "clerk", ("askrigg",))
    client = app.test_client()
    log_in(client, "clerk-askrigg")
    token = csrf_of(client, "/fleet/askrigg/settings")
    form = {
        "csrf_token": token,
        "hall_name": "Askrigg Village Hall",
        "opening_hours": "Mon to Sat, 9:00 to 22:00",
        "label:door": "Main door",
        "public:footfall": "on",
    }
    answer = client.post("/fleet/askrigg/settings", data=form)
    assert answer.status_code == 303
    ((device, config, actor),) = sent
    assert (device, actor) == ("askrigg", "clerk-askrigg")
    page = dict(config.page)
    assert page["opening_hours"] == "Mon to Sat, 9:00 to 22:00"
    assert page["public_metrics"] == ("footfall",)
    assert "Waiting for the node to confirm it" in client.get("/fleet/askrigg").text
    store.record_status(
        "askrigg",
        True,
        json.dumps({"v": 1, "state": "online", "config_revision": config.revision}),
        NOW_US,
    )
    assert "In effect since" in client.get("/fleet/askrigg").text
    # Now public: the open data lists the hall.
    assert "Askrigg Village Hall" in app.test_client().get("/open-data").text

    bad = client.post("/fleet/askrigg/settings", data={**form, "hall_name": " "})
    assert bad.status_code == 400
    assert "must not be empty" in bad.text
    assert len(sent) == 1


def form_as_sent(page: str) -> dict[str, str]:
    """The settings form's fields as a browser sends them: text values and ticked boxes."""
    fields = {
        name: html_unescape(value)
        for name, value in re.findall(
            r'<input type="(?:text|hidden)"[^>]*name="([^"]+)" value="([^"]*)"', page
        )
    }
    for name in re.findall(r'<input type="checkbox"[^>]*name="([^"]+)"[^>]*checked', page):
        fields[name] = "on"
    return fields


def test_a_clerk_who_changes_only_the_hours_keeps_everything_the_hall_shows(app, store, sent):
    """The form once opened with nothing ticked, so this edit blanked the hall's page."""
    account(store, "clerk-askrigg", "clerk", ("askrigg",))
    client = app.test_client()
    log_in(client, "clerk-askrigg")
    assert "<h1>Your halls</h1>" in client.get("/fleet").text
    page = client.get("/fleet/askrigg/settings").text
    assert "Relative humidity" in page
    assert 'name="public:humidity"' not in page
    assert "Label for the sensor measuring people through the door (door)" in page
    form = form_as_sent(page)
    form["opening_hours"] = "Mon to Sat, 9:00 to 22:00"
    assert client.post("/fleet/askrigg/settings", data=form).status_code == 303
    ((_, config, _),) = sent
    assert dict(config.page)["public_metrics"] == DEFAULT_PUBLIC_METRICS
    assert dict(config.page)["opening_hours"] == "Mon to Sat, 9:00 to 22:00"
    # Unticking everything is refused, naming the first box.
    empty = {k: v for k, v in form.items() if not k.startswith("public:")}
    refused = client.post("/fleet/askrigg/settings", data=empty)
    assert refused.status_code == 400
    assert 'href="#public-temperature"' in refused.text
    assert len(sent) == 1


def test_every_form_needs_its_csrf_token(app, store, sent):
    account(store, "iot-team")
    client = app.test_client()
    log_in(client, "iot-team")
    for url, form in (
        ("/fleet/askrigg/settings", {"hall_name": "Hijacked"}),
        ("/logout", {}),
        ("/account/password", {"current_password": PASSWORD, "new_password": "x" * 20}),
    ):
        for token in (None, "forged"):
            data = dict(form) if token is None else {**form, "csrf_token": token}
            answer = client.post(url, data=data)
            assert answer.status_code == 400, url
    assert sent == []
    assert client.get("/fleet").status_code == 200  # still logged in: logout was refused
    row = store.account("iot-team")
    assert verify_password(PASSWORD, row.password_hash)


def test_a_session_gets_a_new_id_at_login_and_ends_at_logout_and_when_idle(app, store, clock):
    account(store, "iot-team")
    client = app.test_client()
    first = log_in(client, "iot-team")
    cookie = first.headers["Set-Cookie"]
    assert cookie.startswith("__Host-hallsense=")
    for flag in ("HttpOnly", "Secure", "SameSite=Lax", "Path=/"):
        assert flag in cookie
    old_id = client.get_cookie("__Host-hallsense").value
    log_in(client, "iot-team")
    new_id = client.get_cookie("__Host-hallsense").value
    assert new_id != old_id
    stale = app.test_client()
    stale.set_cookie("__Host-hallsense", old_id)
    assert stale.get("/fleet").status_code == 302  # the old session ended at the new login

    clock.now += IDLE_TIMEOUT_S + 1
    assert client.get("/fleet").status_code == 302
    log_in(client, "iot-team")
    session_id = client.get_cookie("__Host-hallsense").value
    client.post("/logout", data={"csrf_token": csrf_of(client, "/fleet")})
    replay = app.test_client()
    replay.set_cookie("__Host-hallsense", session_id)
    assert replay.get("/fleet").status_code == 302  # killed on the server, not just forgotten


@pytest.mark.slow
def test_login_throttling_answers_the_same_for_unknown_users_and_wrong_passwords(app, store):
    account(store, "iot-team")
    client = app.test_client()
    unknown = log_in(client, "nobody", "whatever-password")
    wrong = log_in(client, "iot-team", "not-the-password")
    assert unknown.status_code == wrong.status_code == 401
    message = re.compile(r'<div class="error-summary".*?</div>', re.S)
    assert message.search(unknown.text).group(0) == message.search(wrong.text).group(0)
    for _ in range(4):  # five failures for one name in 15 minutes
        log_in(client, "iot-team", "not-the-password")
    throttled = log_in(client, "iot-team", PASSWORD)  # even the right password waits
    assert throttled.status_code == 429
    assert "try again" in throttled.text


def test_next_never_leads_off_the_site(app, store):
    account(store, "iot-team")
    for target, lands in (
        ("/fleet/askrigg", "/fleet/askrigg"),
        ("https://evil.example/", "/fleet"),
        ("//evil.example/", "/fleet"),
        ("/\\evil.example", "/fleet"),
    ):
        answer = log_in(app.test_client(), "iot-team", next_path=target)
        assert answer.headers["Location"] == lands, target


def test_the_first_account_needs_the_set_up_code_once(app, store):
    logins = Logins(lambda: store)
    code = logins.issue_setup_code()
    client = app.test_client()
    page = client.get("/setup")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    form = {"csrf_token": token, "username": "iot-team", "password": PASSWORD}
    assert client.post("/setup", data={**form, "code": "guessed"}).status_code == 400
    assert client.post("/setup", data={**form, "code": code}).status_code == 303
    assert client.get("/fleet").status_code == 200  # logged in straight away
    assert store.account("iot-team").role == "team"
    assert app.test_client().get("/setup").status_code == 303  # spent: no second first account
    assert logins.issue_setup_code() is None


def test_an_api_token_works_until_revoked(app, store):
    who = account(store, "data-team")
    headers = token_for(store, who)
    client = app.test_client()
    assert client.get("/api/v1/devices", headers=headers).status_code == 200
    store.revoke_token("data-team", "tests")
    assert client.get("/api/v1/devices", headers=headers).status_code == 401


def test_bad_parameters_get_a_page_that_says_what_was_wrong(app, store):
    account(store, "iot-team")
    client = app.test_client()
    log_in(client, "iot-team")
    answer = client.get("/fleet?attention=maybe")
    assert answer.status_code == 400
    assert "attention: use 1" in answer.text
    assert answer.mimetype == "text/html"
    assert app.test_client().get("/open-data/nowhere").status_code == 404


def listed_nodes(page: str) -> list[str]:
    return re.findall(r'<th scope="row"><a href="/fleet/([^"]+)">', page)


def test_the_fleet_shows_500_nodes_a_page_and_links_to_the_rest(app, store):
    account(store, "iot-team")
    client = app.test_client()
    log_in(client, "iot-team")
    for n in range(1, 499):  # with askrigg and reeth: 500, one page's worth
        store.add_device(f"hall-{n:03d}", f"Village Hall {n}")

    whole = client.get("/fleet").text
    assert len(listed_nodes(whole)) == 500
    assert "500 nodes; 499 need attention." in whole  # the new halls never heard from
    assert "Pages of nodes" not in whole
    assert client.get("/fleet?page=1").status_code == 200
    past = client.get("/fleet?page=2")
    assert past.status_code == 400
    assert "page: a whole number from 1 to 1 (500 nodes a page), not &#39;2&#39;" in past.text

    store.add_device("hall-499", "Village Hall 499")  # one past a page
    first = client.get("/fleet").text
    assert "501 nodes; 500 need attention." in first
    assert "Nodes, by name: 1 to 500 of 501" in first
    assert len(listed_nodes(first)) == 500
    assert "Page 1 of 2" in first
    assert 'href="/fleet?page=2" rel="next"' in first
    assert "previous" not in first
    second = client.get("/fleet?page=2").text
    assert len(listed_nodes(second)) == 1
    assert "Nodes, by name: 501 to 501 of 501" in second
    assert 'href="/fleet?page=1" rel="prev"' in second
    assert "next" not in second
    every = listed_nodes(first) + listed_nodes(second)
    assert sorted(every) == sorted(d.device_id for d in store.registered())

    # The attention view pages on its own: 500 nodes, one page.
    attention = client.get("/fleet?attention=1").text
    assert len(listed_nodes(attention)) == 500
    assert "askrigg" not in listed_nodes(attention)
    assert "Pages of nodes" not in attention
    for bad in ("0", "3", "-1", "1.5", "two", "", "1" * 7):
        answer = client.get(f"/fleet?page={bad}")
        assert answer.status_code == 400, bad
        assert "page: a whole number from 1 to 2" in answer.text, bad
    assert client.get("/fleet?attention=1&page=2").status_code == 400


@pytest.mark.slow
def test_refusals_say_how_to_authenticate_and_how_long_to_wait(app, store):
    account(store, "iot-team")
    api = app.test_client().get("/api/v1/devices")
    assert api.headers["WWW-Authenticate"].lower().startswith("bearer")
    # A stale token does not lock anyone out of the public pages.
    assert (
        app.test_client().get("/open-data", headers={"Authorization": "Bearer old"}).status_code
        == 200
    )
    client = app.test_client()
    for _ in range(5):
        log_in(client, "iot-team", "not-the-password")
    throttled = log_in(client, "iot-team")
    assert throttled.status_code == 429
    assert 800 < int(throttled.headers["Retry-After"]) <= 900  # the rest of 15 minutes


@pytest.mark.slow
def test_guessing_the_current_password_on_the_password_page_is_throttled(app, store):
    account(store, "iot-team")
    client = app.test_client()
    log_in(client, "iot-team")
    for _ in range(5):
        token = csrf_of(client, "/account/password")
        wrong = {
            "csrf_token": token,
            "current_password": "guess",
            "new_password": "a new long phrase",
        }
        assert client.post("/account/password", data=wrong).status_code == 400
    token = csrf_of(client, "/account/password")
    right = {"csrf_token": token, "current_password": PASSWORD, "new_password": "a new long phrase"}
    answer = client.post("/account/password", data=right)
    assert answer.status_code == 400
    assert "too many" in answer.text
