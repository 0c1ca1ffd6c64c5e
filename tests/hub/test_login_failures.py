"""Every failed log-in attempt counts, on the real hub app over SQLite and PostgreSQL (#14).

Malformed log-in and set-up submissions (missing fields, over-long ones, NUL bytes, a
body that is not a form, a missing or forged form token, a body over the hub's limit)
are each refused with a 4xx that says what was wrong, never a 500, and count towards the
per-address and per-name limits exactly as a wrong password does; an unknown name and a
wrong password still get the same answer; and the log holds at most one line a minute
per address, never the name or password sent.
"""

from __future__ import annotations

import logging
import re

import pytest

from hub.logins import Logins
from tests.hub.web_support import PASSWORD, account, make_app

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]*)"')
FORM_REFUSED = "did not come from this site"
ADDRESS = "203.0.113.7"


@pytest.fixture
def store(hub_store):
    hub_store.add_device("askrigg", "Askrigg Village Hall")
    return hub_store


@pytest.fixture
def app(tmp_path, store):
    return make_app(tmp_path, store)


def form_token(client, path: str = "/login") -> str:
    return CSRF_FIELD.search(client.get(path).text).group(1)


def post(client, fields=None, *, address=ADDRESS, path="/login", token=True, **kw):
    """POST to a form as a browser would (with its form token unless told otherwise), or
    the ``data``/``json`` body given."""
    if "data" not in kw and "json" not in kw:
        kw["data"] = dict(fields or {})
        if token:
            kw["data"]["csrf_token"] = form_token(client, path)
    return client.post(path, environ_base={"REMOTE_ADDR": address}, **kw)


def log_in(client, username, password=PASSWORD, address=ADDRESS):
    return post(client, {"username": username, "password": password}, address=address)


MALFORMED = [
    # (what, how to send it as user name u, status, what the answer says)
    ("no fields", lambda c, a, u: post(c, {}, address=a), 400, "enter your user name and your"),
    ("no password", lambda c, a, u: post(c, {"username": u}, address=a), 400,
     "enter your user name and your password"),
    ("a long name", lambda c, a, u: post(c, {"username": u + "a" * 40, "password": "x"},
                                         address=a), 400, "a user name is at most 40 characters"),
    ("a huge name", lambda c, a, u: post(c, {"username": u * 6_000, "password": "x"},
                                         address=a), 400, "a user name is at most 40 characters"),
    ("a long password", lambda c, a, u: post(c, {"username": u, "password": "x" * 257},
                                             address=a), 400, "a password is at most 256"),
    ("a NUL in the name", lambda c, a, u: post(c, {"username": u + "\x00", "password": "x"},
                                               address=a), 400, "cannot hold control characters"),
    ("a NUL in the password", lambda c, a, u: post(c, {"username": u,
                                                       "password": PASSWORD + "\x00"}, address=a),
     400, "cannot hold control characters"),
    ("a control character", lambda c, a, u: post(c, {"username": u + "\x1bx", "password": "x"},
                                                 address=a), 400, "cannot hold control characters"),
    ("JSON, not a form", lambda c, a, u: post(c, address=a,
                                              json={"username": u, "password": PASSWORD}),
     400, FORM_REFUSED),
    ("plain text", lambda c, a, u: post(c, address=a, data=f"username={u}",
                                        content_type="text/plain"), 400, FORM_REFUSED),
    ("broken multipart", lambda c, a, u: post(c, address=a, data=b"--x\r\nnonsense",
                                              content_type="multipart/form-data; boundary=x"),
     400, FORM_REFUSED),
    ("no form token", lambda c, a, u: post(c, {"username": u, "password": PASSWORD},
                                           token=False, address=a), 400, FORM_REFUSED),
    ("a forged form token", lambda c, a, u: post(c, {"username": u, "password": PASSWORD,
                                                     "csrf_token": "forged"}, token=False,
                                                 address=a), 400, FORM_REFUSED),
    ("a body over the limit", lambda c, a, u: post(c, address=a,
                                                   data=b"username=" + b"a" * 70_000,
                                                   content_type="application/x-www-form-urlencoded"),
     413, "Request Entity Too Large"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("what", "send", "status", "says"), MALFORMED, ids=[m[0] for m in MALFORMED]
)
def test_a_malformed_log_in_says_what_was_wrong(app, store, what, send, status, says):
    client = app.test_client()
    answer = send(client, ADDRESS, "iot-team")
    assert answer.status_code == status, (what, answer.text[:300])
    assert says in answer.text
    assert client.get_cookie("hallsense_session") is None


def test_twenty_malformed_attempts_then_the_right_password_is_throttled(app, store):
    account(store, "second")  # a name none of the attempts used: only the address adds up
    client = app.test_client()
    sent = 0
    while sent < 20:  # every kind at least once: were one not counted, 19 would not do
        what, send, status, _ = MALFORMED[sent % len(MALFORMED)]
        # A new name each time, so that no name's own limit (five) is reached first.
        assert send(client, ADDRESS, f"user-{sent}").status_code == status, what
        sent += 1
    throttled = log_in(client, "second")
    assert throttled.status_code == 429
    assert "too many failed log-ins: try again in" in throttled.text
    assert int(throttled.headers["Retry-After"]) > 0
    assert log_in(app.test_client(), "second", address="198.51.100.1").status_code == 303


def test_malformed_attempts_at_one_name_count_against_that_name(app, store):
    account(store, "iot-team")
    client = app.test_client()
    for n, fields in enumerate(
        [
            {"username": "iot-team", "password": "x" * 300},
            {"username": "iot-team", "password": PASSWORD + "\x00"},
            {"username": " IOT-TEAM ", "password": "x" * 257},
            {"username": "iot-team", "password": PASSWORD, "csrf_token": "forged"},
            {"username": "iot-team", "password": ""},
        ]
    ):  # from five addresses: only the name adds up
        forged = "csrf_token" in fields
        answer = post(client, fields, token=not forged, address=f"192.0.2.{n}")
        assert answer.status_code == 400, fields
    assert log_in(client, "iot-team", address="198.51.100.9").status_code == 429


def test_an_unknown_name_and_a_wrong_password_still_get_the_same_answer(app, store):
    account(store, "iot-team")
    client = app.test_client()
    unknown = log_in(client, "nobody", "wrong password", address="192.0.2.1")
    wrong = log_in(client, "iot-team", "wrong password", address="192.0.2.2")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.text == wrong.text  # the same page, word for word
    assert "that user name and password do not match an account" in wrong.text


def test_a_logged_in_browsers_bad_log_in_form_counts_too(app, store):
    account(store, "iot-team")
    client = app.test_client()
    assert log_in(client, "iot-team").status_code == 303
    for _ in range(20):
        answer = post(client, {"username": "iot-team", "password": PASSWORD,
                               "csrf_token": "forged"}, token=False)  # fmt: skip
        assert answer.status_code == 400
        assert FORM_REFUSED in answer.text
    assert log_in(app.test_client(), "iot-team").status_code == 429


def test_wrong_and_malformed_set_up_attempts_count_and_never_fail(app, store):
    code = Logins(lambda: store).issue_setup_code()
    client = app.test_client()
    for n, fields in enumerate(
        [
            {"code": "not-the-code", "username": "first", "password": PASSWORD},
            {"code": "x\x00" * 40, "username": "first", "password": PASSWORD},
            {"code": "c" * 10_000, "username": "first", "password": PASSWORD},
            {"code": code, "username": "fir\x00st", "password": PASSWORD},
            {"code": code, "username": "first", "password": PASSWORD + "\x00"},
            {},
        ]
        * 4
    ):
        answer = post(client, fields, path="/setup")
        assert answer.status_code == 400, (n, fields, answer.text[:200])
    refused = post(client, {"code": "guess", "username": "first", "password": PASSWORD},
                   path="/setup", token=False)  # fmt: skip
    assert refused.status_code == 400
    assert FORM_REFUSED in refused.text
    # Wrong codes and bad forms counted (12 + 1 of them, and the name/password
    # refusals not): 7 more wrong codes and this address waits, even with the code.
    for _ in range(7):
        post(client, {"code": "guess", "username": "first", "password": PASSWORD}, path="/setup")
    right = post(client, {"code": code, "username": "first", "password": PASSWORD}, path="/setup")
    assert right.status_code == 429
    assert int(right.headers["Retry-After"]) > 0
    assert store.account("first") is None
    other = app.test_client()
    made = post(other, {"code": code, "username": "first", "password": PASSWORD},
                path="/setup", address="198.51.100.2")  # fmt: skip
    assert made.status_code == 303
    assert store.account("first").role == "team"


@pytest.mark.slow
def test_failed_log_ins_are_logged_once_a_minute_per_address_without_secrets(app, store, caplog):
    account(store, "iot-team")
    client = app.test_client()
    with caplog.at_level(logging.INFO, logger="hub"):
        for n in range(25):
            log_in(client, "iot-team", f"secret guess {n}")
            post(client, {"username": "iot\x00team", "password": "x"})
        log_in(client, "someone-else", "secret guess", address="\n[forged] log line")
    lines = [r.getMessage() for r in caplog.records if r.name == "hub.logins"]
    assert lines == [
        f"failed log-in from {ADDRESS}: wrong user name or password",
        "failed log-in from an address that is not an IP address: wrong user name or password",
    ]
    assert not any("secret guess" in r.getMessage() for r in caplog.records)
    assert not any("iot-team" in r.getMessage() for r in caplog.records)
    assert not any(r.levelno >= logging.ERROR for r in caplog.records)  # no traceback
