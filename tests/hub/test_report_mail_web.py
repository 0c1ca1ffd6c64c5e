"""The account's report e-mail page (``/account/reports``) in the real hub app over a real
SQLite hub store: subscribing with the session's CSRF token (and refused without it), each
bad address named, the limits of an address, only one's own subscription, and a hub
without a mail server saying so."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from hub.report_mail import MAX_ADDRESS, REFUSED_FOR_GOOD, BadAddress, check_address
from hub.store_sqlite import SqliteHubStore
from tests.hub.web_support import PASSWORD, account, make_app, token_for

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def longest_address() -> str:
    """A valid address of exactly MAX_ADDRESS characters: 64 before the @, labels of 63."""
    domain = ".".join(["b" * 63, "c" * 63, "d" * 58, "uk"])
    address = "a" * 64 + "@" + domain
    assert len(address) == MAX_ADDRESS
    return address


@pytest.fixture
def store(tmp_path):
    store = SqliteHubStore(tmp_path / "hub.db")
    store.add_device("askrigg", "Askrigg Village Hall")
    store.add_device("reeth", "Reeth Memorial Hall")
    account(store, "clerk-askrigg", "clerk", ("askrigg",))
    account(store, "clerk-reeth", "clerk", ("reeth",))
    yield store
    store.close()


def logged_in(app, username):
    client = app.test_client()
    token = CSRF.search(client.get("/login").text).group(1)
    form = {"username": username, "password": PASSWORD, "csrf_token": token}
    assert client.post("/login", data=form).status_code == 303
    return client


def page_token(client) -> str:
    return CSRF.search(client.get("/account/reports").text).group(1)


@pytest.fixture
def clerk(tmp_path, store):
    return logged_in(make_app(tmp_path, store, report_mail=True), "clerk-askrigg")


def test_the_page_offers_the_checkbox_and_the_address_and_names_the_clerks_halls(clerk):
    page = clerk.get("/account/reports")
    assert page.status_code == 200
    text = page.text
    assert "<h1>Monthly reports by e-mail</h1>" in text
    assert "E-mail me each of my halls' monthly report" in text
    assert 'type="checkbox" id="monthly" name="monthly" value="yes">' in text  # not ticked
    assert 'type="email" id="email" name="email" value=""' in text
    assert "each of your halls (Askrigg Village Hall)" in text
    assert "Reeth" not in text
    assert 'href="/account/reports" aria-current="page">Report e-mails</a>' in text


def test_subscribing_needs_the_forms_token_and_then_saves_the_choice(clerk, store):
    wanted = {"monthly": "yes", "email": " clerk@askrigg-hall.org.uk "}
    refused = clerk.post("/account/reports", data=wanted)
    assert refused.status_code == 400
    assert "did not come from this site" in refused.text
    assert store.report_subscription("clerk-askrigg") == ("", False)
    saved = clerk.post("/account/reports", data={**wanted, "csrf_token": page_token(clerk)})
    assert (saved.status_code, saved.headers["Location"]) == (303, "/account/reports?saved=yes")
    assert store.report_subscription("clerk-askrigg") == ("clerk@askrigg-hall.org.uk", True)
    assert store.report_subscription("clerk-reeth") == ("", False)  # nobody else's
    page = clerk.get("/account/reports?saved=yes").text
    assert "Saved. Each month's report will go to clerk@askrigg-hall.org.uk." in page
    assert 'value="yes" checked>' in page
    # Unticked: no more reports, the address kept.
    form = {"email": "clerk@askrigg-hall.org.uk", "csrf_token": page_token(clerk)}
    assert clerk.post("/account/reports", data=form).status_code == 303
    assert store.report_subscription("clerk-askrigg") == ("clerk@askrigg-hall.org.uk", False)
    assert "will not e-mail you" in clerk.get("/account/reports?saved=yes").text


def test_a_form_cannot_change_another_accounts_subscription(clerk, store):
    form = {
        "monthly": "yes",
        "email": "clerk@askrigg-hall.org.uk",
        "username": "clerk-reeth",
        "csrf_token": page_token(clerk),
    }
    assert clerk.post("/account/reports?username=clerk-reeth", data=form).status_code == 303
    assert store.report_subscription("clerk-reeth") == ("", False)
    assert store.report_subscription("clerk-askrigg")[1] is True


@pytest.mark.parametrize(
    ("address", "words"),
    [
        ("", "Enter the e-mail address to send the reports to"),
        ("clerk.askrigg-hall.org.uk", "needs one @ between the name and the domain"),
        ("clerk@@askrigg.org.uk", "needs one @"),
        ("@askrigg-hall.org.uk", "Put the mailbox&#39;s name before the @"),
        ("clerk@", "Put the domain after the @"),
        ("clerk@localhost", "The domain after the @ needs a dot"),
        ("clerk smith@askrigg.org.uk", "has a space or an invisible character in it"),
        ("clerk(office)@askrigg.org.uk", "has a character an address cannot have: ("),
        (".clerk@askrigg.org.uk", "cannot start or end with a dot"),
        ("clerk@askrigg..org.uk", "is not a domain name: askrigg..org.uk"),
        ("clerk@-askrigg.org.uk", "is not a domain name"),
        ("a" * 65 + "@askrigg.org.uk", "The part before the @ is 65 characters long"),
        ("clerk@" + "b" * 64 + ".uk", "a part 64 characters long between dots"),
        (
            longest_address() + "k",
            "The e-mail address is 255 characters long: it can be at most 254",
        ),
    ],
)
def test_a_bad_address_is_refused_saying_what_was_wrong(clerk, store, address, words):
    form = {"monthly": "yes", "email": address, "csrf_token": page_token(clerk)}
    answer = clerk.post("/account/reports", data=form)
    assert answer.status_code == 400
    assert words in answer.text
    assert '<h2 id="error-title">Your choice was not saved</h2>' in answer.text
    assert '<a href="#email">' in answer.text  # the summary leads to the field
    assert 'aria-invalid="true"' in answer.text
    assert 'aria-describedby="email-hint email-error"' in answer.text
    assert store.report_subscription("clerk-askrigg") == ("", False)


def test_an_address_at_the_limit_is_taken_and_one_past_it_is_not():
    assert check_address(longest_address()) == longest_address()
    with pytest.raises(BadAddress, match="255 characters"):
        check_address(longest_address() + "k")
    local = "a" * 64 + "@askrigg.org.uk"
    assert check_address(local) == local
    assert check_address("clerk+reports@" + "b" * 63 + ".uk")
    assert check_address("o'neill.j@askrigg-hall.org.uk")


def test_without_a_mail_server_the_checkbox_says_so_and_cannot_be_ticked(tmp_path, store):
    client = logged_in(make_app(tmp_path, store), "clerk-askrigg")
    page = client.get("/account/reports").text
    assert "This hub has no mail server set up yet, so it cannot e-mail reports" in page
    assert 'value="yes" disabled aria-describedby="no-mail">' in page
    form = {"monthly": "yes", "email": "clerk@askrigg.org.uk", "csrf_token": page_token(client)}
    answer = client.post("/account/reports", data=form)
    assert answer.status_code == 400
    assert '<a href="#monthly">This hub has no mail server set up yet' in answer.text
    assert store.report_subscription("clerk-askrigg") == ("", False)
    form = {"email": "clerk@askrigg.org.uk", "csrf_token": page_token(client)}
    assert client.post("/account/reports", data=form).status_code == 303  # the address alone
    assert store.report_subscription("clerk-askrigg") == ("clerk@askrigg.org.uk", False)


def test_the_team_is_told_it_gets_every_hall_and_a_read_only_token_changes_nothing(tmp_path, store):
    team = account(store, "iot-team")
    app = make_app(tmp_path, store, report_mail=True)
    assert (
        "the monthly report of\nevery hall"
        in logged_in(app, "iot-team").get("/account/reports").text
    )
    headers = token_for(store, team)
    answer = app.test_client().post(
        "/account/reports", data={"monthly": "yes", "email": "x@y.example"}, headers=headers
    )
    assert answer.status_code == 403
    assert store.report_subscription("iot-team") == ("", False)


def test_anyone_not_logged_in_is_sent_to_log_in(tmp_path, store):
    answer = make_app(tmp_path, store).test_client().get("/account/reports")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/login?next=/account/reports")


def test_the_page_lists_the_reports_sent_and_those_waiting_for_the_mail_server(clerk, store):
    store.set_report_subscription("clerk-askrigg", "c@a.example", True, 1)
    sent_at = int(datetime(2026, 12, 1, 6, 5, tzinfo=UTC).timestamp() * 1e6)
    assert store.claim_report_mail("clerk-askrigg", "askrigg", "2026-10", "s", 1, 0)
    store.mark_report_mail_sent("clerk-askrigg", "askrigg", "2026-10", "s", "c@a.example", sent_at)
    assert store.claim_report_mail("clerk-askrigg", "askrigg", "2026-11", "s", 1, 0)
    store.release_report_mail("clerk-askrigg", "askrigg", "2026-11", "s", "[Errno 111] refused", 1)
    assert store.claim_report_mail("clerk-reeth", "reeth", "2026-11", "s", 1, 0)  # not theirs
    page = clerk.get("/account/reports").text
    assert "<h2>Reports e-mailed to you</h2>" in page
    lines = re.findall(r"<li>(November|October)(.*?)</li>", page)
    assert ["".join(line) for line in lines] == [
        "November 2026, Askrigg Village Hall: not sent yet, the hub tries again every few "
        "minutes (the mail server could not take it: [Errno 111] refused)",
        "October 2026, Askrigg Village Hall: sent 1 December 2026, 06:05",
    ]
    assert "Reeth" not in page


def test_a_mail_refused_for_good_asks_for_the_address_and_one_unsubscribed_says_so(clerk, store):
    store.set_report_subscription("clerk-askrigg", "c@typo.example", True, 1)
    assert store.claim_report_mail("clerk-askrigg", "askrigg", "2026-11", "s", 1, 0)
    refusal = REFUSED_FOR_GOOD + "{'c@typo.example': (550, b'5.1.1 No such mailbox')}"
    store.release_report_mail("clerk-askrigg", "askrigg", "2026-11", "s", refusal, 1)

    def line() -> str:
        page = clerk.get("/account/reports").text
        (found,) = re.findall(r"<li>(November 2026, .*?)</li>", page, re.S)
        return " ".join(found.split())

    assert line().startswith(
        "November 2026, Askrigg Village Hall: not sent, the mail server refused the address"
    )
    assert "Check it above: the hub tries again as soon as you change it, or in a day" in line()
    store.set_report_subscription("clerk-askrigg", "c@typo.example", False, 2)
    assert line() == (
        "November 2026, Askrigg Village Hall: not sent (you no longer get the monthly reports)"
    )
