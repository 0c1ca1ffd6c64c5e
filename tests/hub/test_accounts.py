"""Accounts, passwords, the set-up code, sessions, API tokens and login throttling
(hub.logins over the hub store's login tables), on a SQLite file and on PostgreSQL.

No web here: the rules themselves, as ``hallsense hub web`` and the pages call them.
tests/hub/test_auth.py covers the same rules through Flask."""

from __future__ import annotations

import logging
import statistics
import time

import pytest

from hub.logins import (
    IDLE_TIMEOUT_S,
    SESSION_LIFETIME_S,
    SETUP_CODE_LIFETIME_S,
    Account,
    FailureLog,
    LoginRefused,
    Logins,
    MalformedLogin,
    PasswordRejected,
    Throttled,
    check_new_password,
    digest,
    hash_password,
    verify_password,
)
from provisioning.failure_limit import FailureLimiter
from tests.hub.web_support import Clock
from tests.hub.web_support import account as make_account

PASSWORD = "correct horse battery staple"  # noqa: S105 - a test account's
OTHER = "four wrong words here"


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def logins(hub_store, clock):
    return Logins(lambda: hub_store, clock=clock)


def every_value(store, table):
    """Every value of every row of a table, as text (to look for a secret in it)."""
    return [str(value) for row in store._query(f"SELECT * FROM {table}") for value in row]  # noqa: S608


# --- passwords ---


def test_passwords_are_salted_scrypt_hashes(logins, hub_store):
    logins.create_account("alice", PASSWORD, "team")
    logins.create_account("bob", PASSWORD, "team")
    alice, bob = hub_store.account("alice"), hub_store.account("bob")
    assert alice.password_hash.startswith("scrypt$")
    assert bob.password_hash.startswith("scrypt$")
    assert alice.password_hash != bob.password_hash  # each its own salt
    assert PASSWORD not in alice.password_hash
    assert verify_password(PASSWORD, alice.password_hash)
    assert not verify_password(OTHER, alice.password_hash)
    assert not verify_password(PASSWORD, "md5$0123")  # unknown schemes never match
    assert not verify_password(PASSWORD, "scrypt$not$a$valid$hash$at-all")


def test_a_hash_names_its_parameters_so_old_hashes_still_verify():
    hashed = hash_password(PASSWORD)
    kind, n, r, p, _salt, _key = hashed.split("$")
    assert (kind, int(n), int(r), int(p)) == ("scrypt", 2**14, 8, 5)  # OWASP's floor at 16 MiB
    weaker = hash_password(PASSWORD).replace("scrypt$16384$", "scrypt$1024$")
    assert not verify_password(PASSWORD, weaker)  # the key was made with N=2^14, not 2^10


@pytest.mark.parametrize(
    ("password", "says"),
    [
        ("short pass", "at least 12"),
        ("password1234", "too common"),
        ("PassWord1234", "too common"),
        ("aaaaaaaaaaaaaaaa", "too common"),
        ("alice-the-clerk-2026", "user name"),
        ("x" * 257, "at most 256"),
    ],
)
def test_password_rules_say_which_rule_a_password_breaks(password, says):
    with pytest.raises(PasswordRejected, match=says):
        check_new_password(password, "alice")


@pytest.mark.parametrize(
    "password",
    ["correct horse battery staple", "twelve chars", "ÆØÅ æøå ünïcödé", "no digits or capitals"],
)
def test_no_composition_rules_only_length_and_the_common_list(password):
    check_new_password(password, "alice")


def test_account_names_are_case_insensitive_and_unique(logins, hub_store):
    logins.create_account("Alice", PASSWORD, "team")
    assert hub_store.account("alice").username == "alice"
    with pytest.raises(ValueError, match="already an account"):
        logins.create_account("ALICE", PASSWORD, "clerk", ("askrigg",))
    with pytest.raises(ValueError, match="role must be one of"):
        logins.create_account("carol", PASSWORD, "admin")
    with pytest.raises(ValueError, match="user name is"):
        logins.create_account("no spaces please", PASSWORD, "team")
    session_id, _ = logins.log_in("ALICE", PASSWORD, "192.0.2.1")
    assert logins.session(session_id)[0].username == "alice"


# --- the set-up code ---


def test_the_set_up_code_is_stored_hashed_and_makes_the_first_team_account_once(logins, hub_store):
    code = logins.issue_setup_code()
    assert code is not None
    assert len(code) >= 20
    stored = every_value(hub_store, "setup_codes")
    assert code not in stored
    assert digest(code) in stored
    with pytest.raises(LoginRefused):
        logins.create_first_account("not-the-code", "first", PASSWORD)
    account = logins.create_first_account(code, "first", PASSWORD)
    assert (account.username, account.role) == ("first", "team")
    with pytest.raises(LoginRefused):
        logins.create_first_account(code, "second", PASSWORD)  # spent
    assert hub_store.account("second") is None
    assert logins.issue_setup_code() is None  # an account exists: no more codes
    assert every_value(hub_store, "setup_codes") == []


def test_the_set_up_code_expires_and_a_new_one_replaces_the_old(logins, hub_store, clock):
    old = logins.issue_setup_code()
    new = logins.issue_setup_code()  # a restart makes a new code
    with pytest.raises(LoginRefused):
        logins.create_first_account(old, "first", PASSWORD)
    clock.now += SETUP_CODE_LIFETIME_S + 1
    with pytest.raises(LoginRefused, match="expired"):
        logins.create_first_account(new, "first", PASSWORD)
    assert not hub_store.has_accounts()


def test_a_bad_password_does_not_spend_the_set_up_code(logins):
    code = logins.issue_setup_code()
    with pytest.raises(PasswordRejected):
        logins.create_first_account(code, "first", "short")
    assert logins.create_first_account(code, "first", PASSWORD).role == "team"


# --- logging in, sessions ---


def test_sessions_are_stored_hashed_and_each_login_makes_a_new_one(logins, hub_store):
    make_account(logins.store(), "alice", "team")
    first, csrf = logins.log_in("alice", PASSWORD, "192.0.2.1")
    second, other_csrf = logins.log_in("alice", PASSWORD, "192.0.2.1")
    assert first != second
    assert csrf != other_csrf
    assert len(first) >= 43  # 256 random bits
    stored = every_value(hub_store, "sessions")
    assert first not in stored
    assert digest(first) in stored
    account, found_csrf = logins.session(first)
    assert (account.username, found_csrf) == ("alice", csrf)
    assert logins.session("made-up") is None


def test_an_idle_session_expires_and_is_forgotten(logins, hub_store, clock):
    make_account(logins.store(), "alice", "team")
    idle, _ = logins.log_in("alice", PASSWORD, "192.0.2.1")
    busy, _ = logins.log_in("alice", PASSWORD, "192.0.2.1")
    clock.now += IDLE_TIMEOUT_S - 60
    assert logins.session(busy) is not None  # a request: the idle clock starts again
    clock.now += 120
    assert logins.session(idle) is None
    assert logins.session(busy) is not None
    assert digest(idle) not in every_value(hub_store, "sessions")  # deleted, not just refused


def test_the_absolute_lifetime_holds_however_busy_the_session(logins, clock):
    make_account(logins.store(), "alice", "team")
    session_id, _ = logins.log_in("alice", PASSWORD, "192.0.2.1")
    started = clock.now
    while clock.now - started <= SESSION_LIFETIME_S - 600:
        assert logins.session(session_id) is not None
        clock.now += 600
    clock.now = started + SESSION_LIFETIME_S + 1
    assert logins.session(session_id) is None


def test_logging_out_ends_the_session_on_the_server(logins, hub_store):
    make_account(logins.store(), "alice", "team")
    session_id, _ = logins.log_in("alice", PASSWORD, "192.0.2.1")
    logins.log_out(session_id)
    assert logins.session(session_id) is None
    assert every_value(hub_store, "sessions") == []


@pytest.mark.slow
def test_a_password_change_ends_every_session_and_the_old_password(logins):
    account = make_account(logins.store(), "alice", "team")
    here, _ = logins.log_in("alice", PASSWORD, "192.0.2.1")
    there, _ = logins.log_in("alice", PASSWORD, "192.0.2.2")
    with pytest.raises(LoginRefused):
        logins.change_password(account, OTHER, "a brand new passphrase")
    assert logins.session(here) is not None
    with pytest.raises(PasswordRejected):
        logins.change_password(account, PASSWORD, "short")
    logins.change_password(account, PASSWORD, "a brand new passphrase")
    assert logins.session(here) is None
    assert logins.session(there) is None
    with pytest.raises(LoginRefused):
        logins.log_in("alice", PASSWORD, "192.0.2.1")
    assert logins.log_in("alice", "a brand new passphrase", "192.0.2.1")


def test_a_disabled_account_gets_the_same_refusal_and_loses_its_sessions(logins, hub_store):
    make_account(logins.store(), "alice", "team")
    session_id, _ = logins.log_in("alice", PASSWORD, "192.0.2.1")
    hub_store.set_disabled("alice", True)
    assert logins.session(session_id) is None
    with pytest.raises(LoginRefused) as disabled:
        logins.log_in("alice", PASSWORD, "192.0.2.2")
    with pytest.raises(LoginRefused) as unknown:
        logins.log_in("nobody", PASSWORD, "192.0.2.3")
    assert str(disabled.value) == str(unknown.value)
    hub_store.set_disabled("alice", False)
    assert logins.log_in("alice", PASSWORD, "192.0.2.1")


# --- throttling ---


def refusal(logins, username, password, client):
    with pytest.raises((LoginRefused, Throttled)) as caught:
        logins.log_in(username, password, client)
    return caught.value


def test_an_unknown_user_and_a_wrong_password_get_the_same_answer(logins):
    make_account(logins.store(), "alice", "team")
    unknown = refusal(logins, "nobody", PASSWORD, "192.0.2.1")
    wrong = refusal(logins, "alice", OTHER, "192.0.2.1")
    assert type(unknown) is type(wrong) is LoginRefused
    assert str(unknown) == str(wrong)


@pytest.mark.slow
def test_an_unknown_user_takes_as_long_as_a_wrong_password(hub_store):
    # Limits high enough that nothing is throttled while timing.
    logins = Logins(
        lambda: hub_store,
        per_user=FailureLimiter(100, 60),
        per_address=FailureLimiter(100, 60),
    )
    make_account(logins.store(), "alice", "team")

    def took(username):
        start = time.perf_counter()
        refusal(logins, username, OTHER, "192.0.2.1")
        return time.perf_counter() - start

    unknown = statistics.median(took(f"nobody-{n}") for n in range(7))
    wrong = statistics.median(took("alice") for _ in range(7))
    # Both check one scrypt hash (tens of ms); a skipped hash would be 100x faster.
    assert 0.5 < unknown / wrong < 2, (unknown, wrong)


@pytest.mark.slow
def test_five_failures_for_one_name_make_even_the_right_password_wait(logins):
    make_account(logins.store(), "alice", "team")
    for n in range(5):  # from five addresses: the limit is per name too
        assert isinstance(refusal(logins, "alice", OTHER, f"192.0.2.{n}"), LoginRefused)
    throttled = refusal(logins, "Alice", PASSWORD, "198.51.100.7")
    assert isinstance(throttled, Throttled)
    assert 0 < throttled.retry_after <= 15 * 60
    assert "try again" in str(throttled)
    # An unknown name is throttled after as many failures, with the same answer.
    for n in range(5):
        refusal(logins, "nobody", OTHER, f"192.0.2.{n}")
    unknown = refusal(logins, "nobody", OTHER, "198.51.100.8")
    assert type(unknown) is Throttled
    assert str(unknown).split(":")[0] == str(throttled).split(":")[0]


@pytest.mark.slow
def test_twenty_failures_from_one_address_make_that_address_wait(logins):
    make_account(logins.store(), "alice", "team")
    for n in range(20):  # a different name each time: only the address adds up
        refusal(logins, f"guess-{n}", OTHER, "203.0.113.9")
    assert isinstance(refusal(logins, "alice", PASSWORD, "203.0.113.9"), Throttled)
    assert logins.log_in("alice", PASSWORD, "198.51.100.1")  # another address may


@pytest.mark.parametrize(
    ("username", "password", "says"),
    [
        ("", PASSWORD, "enter your user name and your password"),
        ("alice", "", "enter your user name and your password"),
        ("   ", PASSWORD, "enter your user name and your password"),
        ("a" * 41, PASSWORD, "a user name is at most 40 characters"),
        ("alice", "x" * 257, "a password is at most 256 characters"),
        ("ali\x00ce", PASSWORD, "a user name or password cannot hold control characters"),
        ("alice", PASSWORD + "\x00", "a user name or password cannot hold control characters"),
        ("ali\u0085ce\x7f", PASSWORD, "a user name or password cannot hold control characters"),
    ],
)
def test_a_malformed_log_in_is_refused_unread_and_counted(hub_store, username, password, says):
    # One failure an address is enough here, to see that this one counted.
    logins = Logins(lambda: hub_store, per_address=FailureLimiter(1, 60))
    make_account(logins.store(), "alice", "team")
    with pytest.raises(MalformedLogin, match=f"^{says}$") as caught:
        logins.log_in(username, password, "192.0.2.1")
    assert isinstance(caught.value, LoginRefused)  # for callers that know only refusals
    assert isinstance(refusal(logins, "alice", PASSWORD, "192.0.2.1"), Throttled)
    assert logins.log_in("alice", PASSWORD, "192.0.2.2")


def test_malformed_log_ins_at_one_name_make_that_name_wait(logins):
    make_account(logins.store(), "alice", "team")
    for n, password in enumerate(["", "x" * 300, PASSWORD + "\x00", "", "x" * 257]):
        assert isinstance(refusal(logins, " Alice ", password, f"192.0.2.{n}"), MalformedLogin)
    assert isinstance(refusal(logins, "alice", PASSWORD, "198.51.100.1"), Throttled)


def test_failures_are_logged_once_a_minute_per_address_with_a_count_of_the_rest(
    hub_store, clock, caplog
):
    logins = Logins(lambda: hub_store, clock=clock, failure_log=FailureLog(clock=clock))
    make_account(logins.store(), "alice", "team")
    with caplog.at_level(logging.WARNING, logger="hub.logins"):
        for n in range(3):
            refusal(logins, f"guess-{n}", "hunter2 guess", "203.0.113.1")
        refusal(logins, "alice", "x" * 300, "2001:db8::1")
        refusal(logins, "alice", "x" * 300, "2001:db8::2")  # the same /64: the same bucket
        clock.now += 61
        refusal(logins, "alice", "\x00", "203.0.113.1")
        logins.failed_attempt("alice", "not an address\nFAKE line", "form token missing or wrong")
    assert [r.getMessage() for r in caplog.records] == [
        "failed log-in from 203.0.113.1: wrong user name or password",
        "failed log-in from 2001:db8::/64: malformed: a password is at most 256 characters",
        "failed log-in from 203.0.113.1: malformed: a user name or password cannot hold"
        " control characters (and 2 more since the last line)",
        "failed log-in from an address that is not an IP address: form token missing or wrong",
    ]
    assert "hunter2" not in caplog.text
    assert "alice" not in caplog.text
    assert "guess" not in caplog.text


def test_the_failure_log_forgets_the_quietest_addresses_first():
    now = [0.0]
    failures = FailureLog(clock=lambda: now[0], max_clients=3)
    for n in range(10):
        failures.failed(f"192.0.2.{n}", "wrong user name or password")
    assert failures.limiter.remembered() == 3


# --- API tokens and roles ---


def test_api_tokens_are_shown_once_stored_hashed_and_revocable(logins, hub_store):
    alice = make_account(logins.store(), "alice", "team")
    token = logins.issue_token(alice, "nightly export")
    assert len(token) >= 43
    stored = every_value(hub_store, "api_tokens")
    assert token not in stored
    assert digest(token) in stored
    assert logins.token_account(token) == Account("alice", "team", (), "read")  # the default
    assert logins.token_account(token + "x") is None
    assert hub_store.revoke_token("alice", "nightly export") == 1
    assert logins.token_account(token) is None


def test_a_disabled_account_loses_its_tokens(logins, hub_store):
    alice = make_account(logins.store(), "alice", "team")
    token = logins.issue_token(alice, "script")
    hub_store.set_disabled("alice", True)
    assert logins.token_account(token) is None
    hub_store.set_disabled("alice", False)
    assert logins.token_account(token) is None  # revoked for good, not just paused


def test_a_clerk_sees_only_their_own_halls_by_session_and_by_token(logins):
    make_account(logins.store(), "team", "team")
    clerk = make_account(logins.store(), "clerk", "clerk", ("askrigg", "askrigg", "reeth"))
    assert clerk.halls == ("askrigg", "reeth")
    session_id, _ = logins.log_in("clerk", PASSWORD, "192.0.2.1")
    by_session = logins.session(session_id)[0]
    by_token = logins.token_account(logins.issue_token(clerk, "script"))
    for who in (by_session, by_token):
        assert not who.is_team
        assert who.may_see("askrigg")
        assert who.may_see("reeth")
        assert not who.may_see("hawes")
    team_session, _ = logins.log_in("team", PASSWORD, "192.0.2.1")
    team = logins.session(team_session)[0]
    assert team.is_team
    assert team.may_see("hawes")
