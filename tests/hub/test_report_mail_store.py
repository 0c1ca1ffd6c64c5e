"""Monthly report e-mails in the hub store, on SQLite and PostgreSQL: each account's
subscription, mails claimed by one sender at a time and marked sent once, and a version 6
store upgraded in place."""

from __future__ import annotations

import threading

from hub.store_postgres import PostgresHubStore
from hub.store_sql import SCHEMA_VERSION
from hub.store_sqlite import SqliteHubStore
from tests.hub.web_support import account

NOV = "2026-11"


def reopen(store):
    if isinstance(store, PostgresHubStore):
        return PostgresHubStore(store.url)
    return SqliteHubStore(store.path)


def test_an_account_keeps_its_own_subscription_and_only_enabled_subscribers_are_listed(hub_store):
    account(hub_store, "clerk-askrigg", "clerk", ("askrigg",))
    account(hub_store, "clerk-reeth", "clerk", ("reeth",))
    account(hub_store, "iot-team")
    assert hub_store.report_subscription("clerk-askrigg") == ("", False)
    hub_store.set_report_subscription("clerk-askrigg", "clerk@askrigg.example", True, 1)
    hub_store.set_report_subscription("clerk-reeth", "clerk@reeth.example", False, 2)
    hub_store.set_report_subscription("iot-team", "iot@council.example", True, 3)
    assert hub_store.report_subscription("clerk-askrigg") == ("clerk@askrigg.example", True)
    assert hub_store.report_subscription("clerk-reeth") == ("clerk@reeth.example", False)
    assert hub_store.report_subscribers() == [
        ("clerk-askrigg", "clerk@askrigg.example"),
        ("iot-team", "iot@council.example"),
    ]
    hub_store.set_disabled("iot-team", True)
    hub_store.set_report_subscription("clerk-askrigg", "new@askrigg.example", False, 4)
    assert hub_store.report_subscribers() == []


def test_a_mail_is_claimed_by_one_sender_and_never_again_once_sent(hub_store):
    key = ("clerk-askrigg", "askrigg", NOV)
    assert hub_store.claim_report_mail(*key, "a", 1_000, 0)
    assert not hub_store.claim_report_mail(*key, "b", 1_500, 500)  # a holds it
    hub_store.release_report_mail(*key, "a", "connection refused", 600)  # a failed
    assert hub_store.claim_report_mail(*key, "b", 1_600, 600)  # free again at once
    assert not hub_store.mark_report_mail_sent(*key, "a", "x@y.example", 700)  # not a's now
    assert hub_store.sent_report_mails(NOV) == set()
    assert hub_store.mark_report_mail_sent(*key, "b", "clerk@askrigg.example", 700)
    assert hub_store.sent_report_mails(NOV) == {("clerk-askrigg", "askrigg")}
    assert hub_store.sent_report_mails("2026-10") == set()
    for holder, at in (("a", 10**12), ("b", 10**12)):
        assert not hub_store.claim_report_mail(*key, holder, at + 1, at)  # sent: never again
    assert hub_store.report_mail_log() == [("clerk-askrigg", "askrigg", NOV, 700, "")]


def test_an_expired_claim_is_taken_over(hub_store):
    key = ("clerk-askrigg", "askrigg", NOV)
    assert hub_store.claim_report_mail(*key, "a", 1_000, 0)  # a dies holding it
    assert not hub_store.claim_report_mail(*key, "b", 1_999, 999)
    assert hub_store.claim_report_mail(*key, "b", 2_000, 1_000)
    assert hub_store.report_mail_log("clerk-askrigg") == [
        ("clerk-askrigg", "askrigg", NOV, None, "")
    ]
    assert hub_store.report_mail_log("clerk-reeth") == []


def test_senders_on_many_connections_at_once_claim_each_mail_once(hub_store):
    others = [reopen(hub_store) for _ in range(6)]
    won: list[tuple[str, str]] = []
    start = threading.Barrier(len(others))

    def claim(store, holder):
        start.wait()
        for hall in ("askrigg", "reeth", "bainbridge"):
            if store.claim_report_mail("clerk", hall, NOV, holder, 10**9, 0):
                won.append((holder, hall))

    threads = [
        threading.Thread(target=claim, args=(store, f"s{n}")) for n, store in enumerate(others)
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        for store in others:
            store.close()
    assert sorted(hall for _, hall in won) == ["askrigg", "bainbridge", "reeth"]


def test_a_version_6_store_gets_the_report_mail_tables_when_opened(hub_store):
    account(hub_store, "clerk-askrigg", "clerk", ("askrigg",))
    hub_store._run("DROP TABLE report_subscriptions")
    hub_store._run("DROP TABLE report_mails")
    if isinstance(hub_store, PostgresHubStore):
        hub_store._run("UPDATE hallsense_schema SET version = 6")
        version = "SELECT version FROM hallsense_schema"
    else:
        hub_store._run("PRAGMA user_version = 6")
        version = "PRAGMA user_version"
    upgraded = reopen(hub_store)
    try:
        assert upgraded._query(version)[0][0] == SCHEMA_VERSION  # 7 (or later) ran
        assert upgraded.account("clerk-askrigg").halls == ("askrigg",)  # kept as it was
        assert upgraded.report_subscription("clerk-askrigg") == ("", False)
        upgraded.set_report_subscription("clerk-askrigg", "clerk@askrigg.example", True, 1)
        assert upgraded.report_subscribers() == [("clerk-askrigg", "clerk@askrigg.example")]
        assert upgraded.claim_report_mail("clerk-askrigg", "askrigg", NOV, "a", 10, 0)
    finally:
        upgraded.close()
