"""The IoT team sees which node sends what the hub refuses, and what it kept aside, in words."""

from __future__ import annotations

import re
import time

import pytest

from hub.attention import concerns
from hub.store_sqlite import SqliteHubStore
from tests.hub.web_support import PASSWORD, Clock, account, make_app
from tests.support.hostile import deep_json

NOW_US = time.time_ns() // 1000
MINUTE = 60_000_000


@pytest.fixture
def store(tmp_path):
    store = SqliteHubStore(tmp_path / "hub.db")
    for device, site in (("askrigg", "Askrigg Village Hall"), ("reeth", "Reeth Memorial Hall")):
        store.add_device(device, site)
        store.record_status(device, True, '{"v":1,"state":"online"}', NOW_US)
    yield store
    store.close()


@pytest.fixture
def team(tmp_path, store):
    app = make_app(tmp_path, store, send=lambda *args: None, clock=Clock(), secure_cookies=True)
    account(store, "iot-team")
    client = app.test_client()
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    client.post("/login", data={"username": "iot-team", "password": PASSWORD, "csrf_token": token})
    return client


def state_of(store, device):
    return next(s for s in store.fleet() if s.device_id == device)


def test_a_healthy_node_raises_no_concern(store):
    assert concerns(state_of(store, "reeth"), NOW_US) == []


def test_refusals_quotas_and_kept_messages_are_concerns_while_recent(store):
    store.count_refused(
        "askrigg", "malformed payload", "quality flags 2147483648", NOW_US - 5 * MINUTE, 3
    )
    store.count_refused(
        "askrigg",
        "over its quota of messages a minute",
        "more than 600 messages a minute",
        NOW_US - 2 * MINUTE,
        1200,
    )
    store.quarantine("askrigg", "hallsense/v1/askrigg/readings", b"HS\x01\x00bad", "bug", NOW_US)
    words = [c.words for c in concerns(state_of(store, "askrigg"), NOW_US)]
    assert words == [
        "1 message the hub could not handle kept aside, the latest less than a minute ago",
        "Over its quota of messages a minute: 1,200 turned away, the latest 2 minutes ago",
        "Sends messages the hub refuses (malformed payload): 3, the latest 5 minutes ago: "
        "quality flags 2147483648",
    ]
    # A quota exceeded over an hour ago, a refusal over a day ago: no longer a concern.
    assert [c.kind for c in concerns(state_of(store, "askrigg"), NOW_US + 61 * MINUTE)] == [
        "quarantined",
        "refused",
    ]
    assert concerns(state_of(store, "askrigg"), NOW_US + 25 * 60 * MINUTE) == []
    assert state_of(store, "askrigg").rejected_batches == 3  # quotas and quarantine apart


def test_the_node_page_lists_refusals_and_the_messages_kept_aside(store, team):
    poison = deep_json(3)
    store.count_refused("askrigg", "malformed status", "status nests deeper than 8", NOW_US)
    for _ in range(2):
        store.quarantine("askrigg", "hallsense/v1/askrigg/status", poison, "ValueError: x", NOW_US)
    page = team.get("/fleet/askrigg").text
    assert "<h2>Messages the hub refused</h2>" in page
    assert re.search(r"<th scope=\"row\">malformed status</th><td class=\"number\">1</td>", page)
    assert "status nests deeper than 8" in page
    assert "<h2>Messages kept aside</h2>" in page
    assert re.search(
        rf"<td>hallsense/v1/askrigg/status</td><td class=\"number\">{len(poison)}</td>"
        r"<td class=\"number\">2</td><td>ValueError: x</td>",
        page,
    )
    assert poison[:8].hex(" ") in page
    fleet = team.get("/fleet?attention=1").text
    assert "2 messages the hub could not handle kept aside" in fleet
    assert "reeth" not in fleet
    healthy = team.get("/fleet/reeth").text
    assert "None: every message from this node was in order." in healthy
    assert "Messages kept aside</h2>" not in healthy


def test_kept_messages_are_bounded_in_size_and_number(store):
    store.quarantine("askrigg", "t", b"x" * 100_000, "too big", NOW_US)
    (kept,) = store.dead_letters("askrigg")
    assert (kept.size, len(kept.payload)) == (100_000, 4096)
    for n in range(1005):
        store.quarantine("reeth", "t", str(n).encode(), "bug", NOW_US + n + 1)
    assert len(store.dead_letters(limit=5000)) == 1000
    assert store.dead_letters("askrigg") == []  # the oldest went first


def test_a_node_told_to_wait_while_catching_up_is_not_a_concern(store):
    store.count_refused(
        "reeth",
        "over its quota of readings a minute",
        "more than 300,000 readings a minute",
        NOW_US - MINUTE,
        12,
    )
    assert concerns(state_of(store, "reeth"), NOW_US) == []
    assert state_of(store, "reeth").refusals[0].count == 12  # still on its page
