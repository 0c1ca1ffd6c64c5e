"""What several `hub web` processes share through the hub store, on both backends: failed
attempts counted together at their limit and past it, bounded; one lease holder at a time;
the alert state, so an incident alerts once whichever process watches, and an older hub's
alert file taken over without alerting again."""

from __future__ import annotations

import json

import pytest

from hub.alert_state import ALERT_LEASE, StoredAlertState
from hub.alerting import AlertMonitor
from hub.notifiers import WebhookNotifier
from hub.store_postgres import PostgresHubStore
from hub.store_sql_web_state import MAX_FAILURES_KEPT
from hub.store_sqlite import SqliteHubStore
from provisioning.failure_limit import FORGET_EVERY, SharedFailureLimiter, stored_key
from tests.hub.test_alerting import MINUTE, T0, node, webhook  # noqa: F401 (a fixture)

NOW = 1_795_000_000.0


def reopen(store):
    """Another connection to the same hub store, as another `hub web` process has."""
    if isinstance(store, PostgresHubStore):
        return PostgresHubStore(store.url)
    return SqliteHubStore(store.path)


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def two(hub_store):
    """Two connections to one store: two processes' views of it."""
    other = reopen(hub_store)
    yield hub_store, other
    other.close()


def test_failures_spread_over_two_processes_meet_the_limit_together(two):
    first, second = two
    clock = Clock()
    limits = [
        SharedFailureLimiter(lambda s=store: s, "log-in address", 5, 900, clock=clock)
        for store in (first, second)
    ]
    for n in range(4):  # one under the limit: both still let it try
        limits[n % 2].failed("192.0.2.7")
        clock.now += 1
    assert limits[0].retry_after("192.0.2.7") is None
    assert limits[1].retry_after("192.0.2.7") is None
    limits[1].failed("192.0.2.7")  # the fifth, at the limit: both refuse
    assert limits[0].retry_after("192.0.2.7") == pytest.approx(900 - 4)
    assert limits[1].retry_after("192.0.2.7") == pytest.approx(900 - 4)
    assert limits[0].retry_after("192.0.2.8") is None  # another address is not held back
    clock.now = NOW + 900  # the first failure leaves the window
    assert limits[0].retry_after("192.0.2.7") is None


def test_kinds_and_ipv6_networks_are_counted_apart_and_together(two):
    first, _ = two
    clock = Clock()
    names = SharedFailureLimiter(lambda: first, "log-in name", 2, 900, clock=clock)
    addresses = SharedFailureLimiter(lambda: first, "log-in address", 2, 900, clock=clock)
    names.failed("user:alice")
    names.failed("user:alice")
    assert names.retry_after("user:alice") is not None
    assert addresses.retry_after("user:alice") is None
    addresses.failed("2001:db8:1:2::1")
    addresses.failed("2001:db8:1:2::ffff")  # the same /64: one client
    assert addresses.retry_after("2001:db8:1:2:abcd::9") is not None


def test_a_client_failing_in_a_loop_costs_a_bounded_table(two):
    first, _ = two
    clock = Clock()
    limiter = SharedFailureLimiter(lambda: first, "enrolment", 5, 3600, clock=clock)
    for _ in range(MAX_FAILURES_KEPT + 50):
        limiter.failed("198.51.100.9")
        clock.now += 0.001
    (count,) = first._query("SELECT COUNT(*) FROM failures")[0]
    assert count == MAX_FAILURES_KEPT
    assert limiter.retry_after("198.51.100.9") is not None
    assert first.forget_failures("log-in name", int(clock.now * 1e6)) == 0  # another kind
    assert first.forget_failures("enrolment", int(clock.now * 1e6)) == MAX_FAILURES_KEPT


def test_many_clients_failing_once_each_are_swept_once_out_of_the_window(two):
    first, _ = two
    clock = Clock()
    limiter = SharedFailureLimiter(lambda: first, "log-in address", 20, 900, clock=clock)
    for n in range(FORGET_EVERY - 1):  # a crowd of addresses, once each, over 99 s
        limiter.failed(f"198.51.100.{n}")
        clock.now += 1
    clock.now += 900  # all of them out of the window, none failing again
    (count,) = first._query("SELECT COUNT(*) FROM failures")[0]
    assert count == FORGET_EVERY - 1
    limiter.failed("203.0.113.1")  # the hundredth failure sweeps
    assert first._query("SELECT client FROM failures") == [(stored_key("203.0.113.1"),)]


def test_one_lease_holder_at_a_time_and_a_dead_one_s_lease_runs_out(two):
    first, second = two
    assert first.claim_lease(ALERT_LEASE, "a", 2_000, 1_000)
    assert first.claim_lease(ALERT_LEASE, "a", 3_000, 1_500)  # the holder renews
    assert not second.claim_lease(ALERT_LEASE, "b", 4_000, 2_000)
    assert second.claim_lease(ALERT_LEASE, "b", 5_000, 3_000)  # "a" died: ran out
    second.release_lease(ALERT_LEASE, "b")
    assert first.claim_lease(ALERT_LEASE, "a", 6_000, 3_001)
    assert first.claim_lease("another", "b", 6_000, 3_001)  # leases are apart by name


def test_two_processes_watching_one_fleet_alert_once_and_recover_once(two, webhook):  # noqa: F811
    url, receiver = webhook
    first, second = two
    monitors = [
        AlertMonitor(StoredAlertState(lambda s=s: s), [WebhookNotifier(url)], after_s=0)
        for s in (first, second)
    ]
    offline, back = [node(False, T0)], [node(True, T0 + 30 * MINUTE)]
    for minute in (20, 21, 22):
        for monitor in monitors:
            monitor.round(offline, T0 + minute * MINUTE)
    for monitor in monitors:
        monitor.round(back, T0 + 31 * MINUTE)
    assert [json.loads(body)["recovered"] for _, body in receiver.received] == [False, True]


def test_a_round_is_skipped_while_another_process_holds_the_lease(two, webhook):  # noqa: F811
    url, receiver = webhook
    first, second = two
    assert second.claim_lease(ALERT_LEASE, "the other process", 2**62, 0)
    monitor = AlertMonitor(StoredAlertState(lambda: first), [WebhookNotifier(url)], after_s=0)
    monitor.round([node(False, T0)], T0 + 20 * MINUTE)
    assert receiver.received == []
    second.release_lease(ALERT_LEASE, "the other process")
    monitor.round([node(False, T0)], T0 + 21 * MINUTE)
    assert len(receiver.received) == 1


def test_an_older_hub_s_alert_file_is_taken_over_without_alerting_again(
    two,
    tmp_path,
    webhook,  # noqa: F811
):
    url, receiver = webhook
    first, _ = two
    earlier = tmp_path / "alerts.json"
    before = AlertMonitor(earlier, [WebhookNotifier(url)], after_s=0)
    before.round([node(False, T0)], T0 + 20 * MINUTE)  # alerted by the older hub
    assert len(receiver.received) == 1
    monitor = AlertMonitor(
        StoredAlertState(lambda: first, earlier_file=earlier), [WebhookNotifier(url)], after_s=0
    )
    monitor.round([node(False, T0)], T0 + 25 * MINUTE)
    assert len(receiver.received) == 1  # the incident was told: not again
    monitor.round([node(True, T0 + 26 * MINUTE)], T0 + 26 * MINUTE)
    assert [json.loads(body)["recovered"] for _, body in receiver.received] == [False, True]
    assert json.loads(first.alert_state())["open"] == {}


def test_the_store_keeps_no_name_that_failed_only_its_digest(two):
    first, _ = two
    limiter = SharedFailureLimiter(lambda: first, "log-in name", 5, 900, clock=Clock())
    limiter.failed("user:correct horse\x00battery")  # a password typed as the name, a NUL
    assert limiter.retry_after("user:correct horse\x00battery") is None
    [(client,)] = first._query("SELECT client FROM failures")
    assert "horse" not in client
    assert len(client) == 64
