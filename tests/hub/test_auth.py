"""The hub web's front door (hub.login_web.install_login) on a small app of its own.

The app is built here: install_login over a real SQLite hub store, the hub's templates,
and a few dummy routes (public, protected, a clerk's hall, a JSON API, a form that
changes something), so that each rule is seen on its own: routes are protected by
default, sessions (new id at login, cookie flags, idle and absolute timeouts, log-out on
the server), CSRF on every state-changing request made with a cookie, API tokens, ``next``
kept on the site, clerks kept to their halls, throttling. The last test runs over the
real hub app: every state-changing route it has refuses a request without its CSRF token.
"""

from __future__ import annotations

import re

import pytest
from flask import Blueprint, Flask, abort, jsonify, render_template_string, request

from hub.login_web import (
    changes_state,
    current_account,
    install_login,
    require_team,
    safe_next,
    visible,
)
from hub.logins import IDLE_TIMEOUT_S, SESSION_LIFETIME_S, Logins, digest, verify_password
from hub.store_sqlite import SqliteHubStore
from tests.hub.web_support import PASSWORD, Clock, make_app
from tests.hub.web_support import account as make_account

PAGE = '{% extends "base.html" %}{% block title %}T{% endblock %}{% block content %}<h1>{{ text }}</h1>{% endblock %}'  # noqa: E501
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]*)"')
FORM_REFUSED = "did not come from this site"


def page(text: str) -> str:
    return render_template_string(PAGE, text=text)


def build_app(store, clock, *, secure_cookies: bool, changes: list) -> Flask:
    """A small app: the hub's templates, its log-in, and dummy routes."""
    app = Flask("hub")  # the hub package's templates/ and static/
    logins = Logins(lambda: store, clock=clock)

    # The endpoints the hub's templates link to (and /setup lands on).
    open_data = Blueprint("open_data", __name__)
    open_data.add_url_rule("/open-data", "index", lambda: page("Open data"))
    hub_pages = Blueprint("hub_pages", __name__)
    hub_pages.add_url_rule("/accessibility", "accessibility", lambda: page("Accessibility"))
    fleet = Blueprint("fleet", __name__)
    fleet.add_url_rule("/fleet", "fleet", lambda: page("Fleet"))
    report_mail = Blueprint("report_mail", __name__)
    report_mail.add_url_rule("/account/reports", "subscription", lambda: page("Report e-mails"))

    demo = Blueprint("demo", __name__)

    @demo.get("/halls/<device_id>")
    def hall(device_id: str) -> str:
        if not visible(device_id):
            abort(403)
        return page(f"Hall {device_id}")

    @demo.post("/halls/<device_id>/name")
    def rename(device_id: str) -> tuple[str, int]:
        if not visible(device_id):
            abort(403)
        changes.append((device_id, request.form["name"], current_account().username))
        return page("Renamed"), 200

    @demo.get("/team-only")
    def team_only() -> str:
        require_team()
        return page("Team only")

    @demo.get("/halls/<device_id>/ring-bell")
    @changes_state
    def ring(device_id: str) -> str:  # a GET that changes something (bad form, but it happens)
        changes.append((device_id, "bell", current_account().username))
        return page("Rung")

    @demo.get("/forgotten")
    def forgotten() -> str:  # in no list: protected by default
        return page("Forgotten")

    @demo.route("/api/v1/things", methods=["GET", "POST", "DELETE"])
    def things():
        if request.method != "GET":
            changes.append(("api", request.method, current_account().username))
        return jsonify(things=[], who=current_account().username)

    for blueprint in (open_data, hub_pages, fleet, report_mail, demo):
        app.register_blueprint(blueprint)
    install_login(
        app,
        logins,
        public={"open_data.index", "hub_pages.accessibility"},
        secure_cookies=secure_cookies,
    )
    app.extensions["logins"] = logins
    return app


@pytest.fixture
def store(tmp_path):
    store = SqliteHubStore(tmp_path / "hub.db")
    yield store
    store.close()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def changes():
    return []


@pytest.fixture(params=[True, False], ids=["https", "plain"])
def secure(request):
    return request.param


@pytest.fixture
def app(store, clock, changes, secure):
    return build_app(store, clock, secure_cookies=secure, changes=changes)


@pytest.fixture
def logins(app):
    return app.extensions["logins"]


@pytest.fixture
def cookie_name(secure):
    return "__Host-hallsense" if secure else "hallsense_session"


def token_in(text: str) -> str:
    return CSRF_FIELD.search(text).group(1)


def log_in(client, username, password=PASSWORD, next_path=None, address="192.0.2.10"):
    form = {
        "username": username,
        "password": password,
        "csrf_token": token_in(client.get("/login").text),
    }
    if next_path is not None:
        form["next"] = next_path
    return client.post("/login", data=form, environ_base={"REMOTE_ADDR": address})


def csrf_of(client) -> str:
    return token_in(client.get("/fleet").text)


# --- public and protected ---


def test_routes_are_protected_unless_named_public(app, logins):
    client = app.test_client()
    for url in ("/open-data", "/accessibility", "/login"):
        assert client.get(url).status_code == 200, url
    assert client.get("/setup").status_code == 200  # no account yet
    for url in ("/fleet", "/forgotten", "/halls/askrigg", "/team-only", "/account/password"):
        answer = client.get(url)
        assert answer.status_code == 302, url
        assert answer.headers["Location"].startswith("/login?next=")
    for method in ("get", "post", "delete"):
        answer = getattr(client, method)("/api/v1/things")
        assert answer.status_code == 401, method  # the API answers, never redirects
        assert "Location" not in answer.headers
    make_account(logins.store(), "alice", "team")
    assert client.get("/setup").status_code == 303  # once an account exists, no set-up


def test_a_protected_page_leads_to_the_login_and_back(app, logins):
    make_account(logins.store(), "alice", "team")
    client = app.test_client()
    answer = client.get("/halls/askrigg?period=week")
    assert answer.headers["Location"] == "/login?next=/halls/askrigg?period%3Dweek"
    back = log_in(client, "alice", next_path="/halls/askrigg?period=week")
    assert back.status_code == 303
    assert back.headers["Location"] == "/halls/askrigg?period=week"
    assert client.get("/halls/askrigg").status_code == 200


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "http:/evil.example",
        "javascript:alert(1)",
        "/\t/evil.example",
        " //evil.example",
        "evil.example",
    ],
)
def test_next_never_leads_off_the_site(app, logins, target):
    make_account(logins.store(), "alice", "team")
    assert safe_next(target) == "/fleet"
    answer = log_in(app.test_client(), "alice", next_path=target)
    assert answer.headers["Location"] == "/fleet"


def test_next_is_escaped_on_the_login_page(app):
    answer = app.test_client().get('/login?next=/"><script>alert(1)</script>')
    assert "<script>alert(1)" not in answer.text
    assert "&lt;script&gt;" in answer.text or "&#34;&gt;" in answer.text


# --- sessions ---


def test_the_session_cookie_is_httponly_samesite_and_secure_behind_https(
    app, logins, secure, cookie_name
):
    make_account(logins.store(), "alice", "team")
    answer = log_in(app.test_client(), "alice")
    cookies = [c for c in answer.headers.getlist("Set-Cookie") if c.startswith(cookie_name + "=")]
    assert len(cookies) == 1
    flags = [part.strip() for part in cookies[0].split(";")[1:]]
    assert "HttpOnly" in flags
    assert "SameSite=Lax" in flags
    assert "Path=/" in flags
    assert not any(flag.lower().startswith("domain=") for flag in flags)  # __Host- needs none
    assert ("Secure" in flags) is secure
    assert not any(flag.lower().startswith(("expires=", "max-age=")) for flag in flags)


def test_login_makes_a_new_session_id_whatever_cookie_came_before(app, logins, cookie_name):
    make_account(logins.store(), "alice", "team")
    client = app.test_client()
    planted = "an-id-chosen-by-someone-else-0123456789abcdef"
    client.set_cookie(cookie_name, planted)
    log_in(client, "alice")
    first = client.get_cookie(cookie_name).value
    assert first != planted
    attacker = app.test_client()
    attacker.set_cookie(cookie_name, planted)
    assert attacker.get("/fleet").status_code == 302  # the planted id was never adopted

    log_in(client, "alice")  # logging in again, with a live session
    second = client.get_cookie(cookie_name).value
    assert second != first
    stale = app.test_client()
    stale.set_cookie(cookie_name, first)
    assert stale.get("/fleet").status_code == 302  # the session before the login ended
    assert client.get("/fleet").status_code == 200


def test_the_cookie_holds_the_id_and_the_store_only_its_hash(app, logins, store, cookie_name):
    make_account(logins.store(), "alice", "team")
    client = app.test_client()
    log_in(client, "alice")
    session_id = client.get_cookie(cookie_name).value
    stored = [str(v) for row in store._query("SELECT * FROM sessions") for v in row]
    assert session_id not in stored
    assert digest(session_id) in stored


def test_an_idle_session_expires_and_a_busy_one_lasts_its_lifetime(app, logins, clock):
    make_account(logins.store(), "alice", "team")
    idle, busy = app.test_client(), app.test_client()
    log_in(idle, "alice")
    log_in(busy, "alice")
    started = clock.now
    while clock.now + IDLE_TIMEOUT_S / 2 < started + SESSION_LIFETIME_S:
        clock.now += IDLE_TIMEOUT_S / 2
        assert busy.get("/fleet").status_code == 200
    assert idle.get("/fleet").status_code == 302
    clock.now = started + SESSION_LIFETIME_S + 1
    answer = busy.get("/fleet")
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/login?next=/fleet"


def test_logout_kills_the_session_on_the_server(app, logins, cookie_name):
    make_account(logins.store(), "alice", "team")
    client = app.test_client()
    log_in(client, "alice")
    session_id = client.get_cookie(cookie_name).value
    answer = client.post("/logout", data={"csrf_token": csrf_of(client)})
    assert answer.status_code == 303
    assert any(
        c.startswith(f"{cookie_name}=;") for c in answer.headers.getlist("Set-Cookie")
    )  # the browser forgets it
    replay = app.test_client()
    replay.set_cookie(cookie_name, session_id)  # and the server does too
    assert replay.get("/fleet").status_code == 302
    assert logins.session(session_id) is None


@pytest.mark.slow
def test_a_password_change_logs_out_everywhere(app, logins, store):
    make_account(logins.store(), "alice", "team")
    here, there = app.test_client(), app.test_client()
    log_in(here, "alice")
    log_in(there, "alice")
    token = token_in(here.get("/account/password").text)
    wrong = here.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": "not it at all",
            "new_password": "a different long passphrase",
        },
    )
    assert wrong.status_code == 400
    assert "current password is not right" in wrong.text
    new = "a different long passphrase"
    answer = here.post(
        "/account/password",
        data={"csrf_token": token, "current_password": PASSWORD, "new_password": new},
    )
    assert answer.status_code == 303
    assert here.get("/fleet").status_code == 302
    assert there.get("/fleet").status_code == 302
    assert verify_password(new, store.account("alice").password_hash)


def test_disabling_an_account_ends_its_sessions(app, logins, store):
    make_account(logins.store(), "alice", "team")
    client = app.test_client()
    log_in(client, "alice")
    store.set_disabled("alice", True)
    assert client.get("/fleet").status_code == 302
    assert log_in(app.test_client(), "alice").status_code == 401


# --- CSRF ---


def test_a_post_without_the_right_csrf_token_gets_400_and_changes_nothing(app, logins, changes):
    make_account(logins.store(), "alice", "team")
    client, other = app.test_client(), app.test_client()
    log_in(client, "alice")
    log_in(other, "alice")
    someone_elses = csrf_of(other)
    for data in ({}, {"csrf_token": ""}, {"csrf_token": "forged"}, {"csrf_token": someone_elses}):
        answer = client.post("/halls/askrigg/name", data={**data, "name": "Hijacked"})
        assert answer.status_code == 400, data
        assert FORM_REFUSED in answer.text
    for method in ("post", "delete"):  # a cookie's JSON request is no exception
        answer = getattr(client, method)("/api/v1/things", json={"x": 1})
        assert answer.status_code == 400, method
    assert changes == []
    ok = client.post("/halls/askrigg/name", data={"csrf_token": csrf_of(client), "name": "Hall"})
    assert ok.status_code == 200
    assert changes == [("askrigg", "Hall", "alice")]


def test_the_login_and_setup_forms_need_their_token_too(app, logins, cookie_name):
    code = logins.issue_setup_code()
    client = app.test_client()
    refused = client.post("/setup", data={"code": code, "username": "alice", "password": PASSWORD})
    assert refused.status_code == 400
    assert FORM_REFUSED in refused.text
    assert logins.store().account("alice") is None
    fresh = app.test_client()  # a token from another browser (a forged form) is refused
    forged = fresh.post(
        "/setup",
        data={
            "code": code,
            "username": "alice",
            "password": PASSWORD,
            "csrf_token": token_in(client.get("/setup").text),
        },
    )
    assert forged.status_code == 400
    made = client.post(
        "/setup",
        data={
            "code": code,
            "username": "alice",
            "password": PASSWORD,
            "csrf_token": token_in(client.get("/setup").text),
        },
    )
    assert made.status_code == 303
    assert client.get("/fleet").status_code == 200

    stranger = app.test_client()
    login = stranger.post("/login", data={"username": "alice", "password": PASSWORD})
    assert login.status_code == 400
    assert stranger.get_cookie(cookie_name) is None


# --- API tokens ---


def test_a_bearer_token_works_without_csrf_until_revoked(app, logins, store, changes):
    alice = make_account(logins.store(), "alice", "team")
    headers = {"Authorization": f"Bearer {logins.issue_token(alice, 'export', 'full')}"}
    client = app.test_client()
    assert client.get("/api/v1/things", headers=headers).json["who"] == "alice"
    assert client.post("/api/v1/things", headers=headers, json={}).status_code == 200
    assert changes == [("api", "POST", "alice")]  # no cookie, so no CSRF token needed
    assert client.get("/fleet", headers=headers).status_code == 200
    store.revoke_token("alice", "export")
    assert client.get("/api/v1/things", headers=headers).status_code == 401
    assert client.post("/api/v1/things", headers=headers, json={}).status_code == 401
    assert len(changes) == 1
    bad = client.get("/api/v1/things", headers={"Authorization": "Bearer made-up"})
    assert bad.status_code == 401


def test_a_read_only_token_reads_but_changes_nothing(app, logins, changes):
    alice = make_account(logins.store(), "alice", "team")
    headers = {"Authorization": f"Bearer {logins.issue_token(alice, 'prometheus')}"}  # read
    client = app.test_client()
    assert client.get("/api/v1/things", headers=headers).json["who"] == "alice"
    assert client.get("/halls/askrigg", headers=headers).status_code == 200
    assert client.head("/halls/askrigg", headers=headers).status_code == 200
    for method in ("post", "put", "patch", "delete"):
        answer = getattr(client, method)("/api/v1/things", headers=headers, json={})
        assert answer.status_code == 403, method
        assert "this API token is read-only" in answer.text
    page_post = client.post("/halls/askrigg/name", headers=headers, data={"name": "Hijacked"})
    assert page_post.status_code == 403
    assert "this API token is read-only" in page_post.text
    marked = client.get("/halls/askrigg/ring-bell", headers=headers)  # a GET that changes
    assert marked.status_code == 403
    assert "this API token is read-only" in marked.text
    # Even a method no route knows, or a public route: the token is refused before routing.
    assert client.open("/api/v1/things", method="PROPFIND", headers=headers).status_code == 403
    assert client.post("/logout", headers=headers).status_code == 403
    assert changes == []

    full = {"Authorization": f"Bearer {logins.issue_token(alice, 'admin-script', 'full')}"}
    assert client.get("/halls/askrigg/ring-bell", headers=full).status_code == 200
    assert (
        client.post("/halls/askrigg/name", headers=full, data={"name": "Hall"}).status_code == 200
    )
    assert changes == [("askrigg", "bell", "alice"), ("askrigg", "Hall", "alice")]
    session = app.test_client()  # a person is never read-only
    log_in(session, "alice")
    assert session.get("/halls/askrigg/ring-bell").status_code == 200


# --- roles ---


def test_a_clerk_of_one_hall_is_refused_another_halls_routes(app, logins, changes):
    make_account(logins.store(), "team", "team")
    clerk = logins.create_account("clerk-askrigg", PASSWORD, "clerk", ("askrigg",))
    client = app.test_client()
    log_in(client, "clerk-askrigg")
    assert client.get("/halls/askrigg").status_code == 200
    assert client.get("/halls/reeth").status_code == 403
    assert client.get("/team-only").status_code == 403
    token = csrf_of(client)
    assert (
        client.post("/halls/reeth/name", data={"csrf_token": token, "name": "X"}).status_code == 403
    )
    assert changes == []
    headers = {"Authorization": f"Bearer {logins.issue_token(clerk, 'script')}"}
    script = app.test_client()
    assert script.get("/halls/reeth", headers=headers).status_code == 403  # a token too
    assert script.get("/team-only", headers=headers).status_code == 403

    team = app.test_client()
    log_in(team, "team")
    for url in ("/halls/askrigg", "/halls/reeth", "/team-only"):
        assert team.get(url).status_code == 200, url


# --- throttling ---


def error_summary(text: str) -> str:
    found = re.search(r'<div class="error-summary".*?</div>', text, re.S)
    return re.sub(r"\d+", "N", found.group(0)) if found else ""


@pytest.mark.slow
def test_login_throttling_looks_the_same_for_unknown_and_known_users(app, logins):
    make_account(logins.store(), "alice", "team")
    client = app.test_client()
    for n in range(5):
        unknown = log_in(client, "nobody", "wrong password", address=f"192.0.2.{n}")
        wrong = log_in(client, "alice", "wrong password", address=f"192.0.2.{n}")
        assert unknown.status_code == wrong.status_code == 401
        assert error_summary(unknown.text) == error_summary(wrong.text) != ""
    unknown = log_in(client, "nobody", "wrong password", address="198.51.100.1")
    known = log_in(client, "alice", PASSWORD, address="198.51.100.1")  # even the right one
    assert unknown.status_code == known.status_code == 429
    assert error_summary(unknown.text) == error_summary(known.text)
    assert "try again" in known.text
    assert int(known.headers["Retry-After"]) > 0


@pytest.mark.slow
def test_one_address_is_throttled_after_twenty_failures(app, logins):
    make_account(logins.store(), "alice", "team")
    client = app.test_client()
    for n in range(20):
        assert log_in(client, f"guess{n}", "wrong", address="203.0.113.5").status_code == 401
    assert log_in(client, "alice", address="203.0.113.5").status_code == 429
    assert log_in(client, "alice", address="203.0.113.6").status_code == 303


# --- the real hub app ---


def test_every_state_changing_route_of_the_hub_needs_its_csrf_token(tmp_path):
    store = SqliteHubStore(tmp_path / "hub.db")
    try:
        store.add_device("askrigg", "Askrigg Village Hall")
        Logins(lambda: store).create_account("iot-team", PASSWORD, "team")
        app = make_app(tmp_path, store, secure_cookies=True)
        client = app.test_client()
        log_in(client, "iot-team")
        before = (store.audit_log(), store.node_config("askrigg"), store.accounts())
        adapter = app.url_map.bind("hub.example")
        checked = []
        for rule in app.url_map.iter_rules():
            for method in sorted(rule.methods & {"POST", "PUT", "PATCH", "DELETE"}):
                values = dict.fromkeys(rule.arguments, "askrigg")
                url = adapter.build(rule.endpoint, values, method=method)
                for data in ({}, {"csrf_token": "forged"}):
                    answer = client.open(url, method=method, data=data)
                    assert answer.status_code == 400, (method, url, answer.status_code)
                    assert FORM_REFUSED in answer.text
                checked.append(f"{method} {rule.rule}")
        assert "POST /logout" in checked
        assert "POST /account/password" in checked
        assert any(route.startswith("POST /fleet/") for route in checked)
        assert client.get("/fleet").status_code == 200  # still logged in: logout was refused
        assert (store.audit_log(), store.node_config("askrigg"), store.accounts()) == before
    finally:
        store.close()
