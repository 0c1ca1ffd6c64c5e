"""The fleet page during a staged rollout: each node's version and update, and the rollout's
progress, as a person reads them (the real app over a real SQLite hub store)."""

from __future__ import annotations

import re
import time
from html.parser import HTMLParser

import pytest

from hub.store_sqlite import SqliteHubStore
from hub_sync.node_status import encode_status
from tests.hub.web_support import PASSWORD, account, make_app

NOW_US = time.time_ns() // 1000


class Tables(HTMLParser):
    """Each table's caption and its rows of cell texts, as a screen reader reads them."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._caption: list[str] | None = None
        self._rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._rows = []
        elif tag == "caption":
            self._caption = []
        elif tag == "tr":
            self._rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "caption":
            self.tables[" ".join("".join(self._caption).split())] = self._rows
            self._caption = None
        elif tag in ("td", "th") and self._cell is not None:
            self._rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        for part in (self._caption, self._cell):
            if part is not None:
                part.append(data)


def tables(html: str) -> dict[str, list[list[str]]]:
    parser = Tables()
    parser.feed(html)
    return parser.tables


def text(html: str) -> str:
    """The page's words, without markup."""
    from html import unescape

    inline = re.sub(r"</?(strong|em|a|span)\b[^>]*>", "", html)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", inline)).split())


@pytest.fixture
def store(tmp_path):
    store = SqliteHubStore(tmp_path / "hub.db")
    statuses = {
        "askrigg": {"version": "1.5.0", "update_state": "updated", "update_version": "1.5.0"},
        "reeth": {
            "version": "1.4.0",
            "update_state": "rolled back",
            "update_version": "1.5.0",
            "update_error": "the health check failed: no readings for 5 minutes",
        },
        "hawes": {"version": "1.4.0", "update_state": "downloading", "update_version": "1.5.0"},
        "muker": {"version": "1.4.0", "update_state": "idle"},
        "thwaite": {"version": "1.4.0"},
    }
    for device, status in statuses.items():
        store.add_device(device, f"{device.title()} Village Hall")
        store.record_status(device, True, encode_status("online", **status).decode(), NOW_US)
    yield store
    store.close()


def log_in(client, username):
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})


def test_the_fleet_shows_each_nodes_update_and_the_rollouts_progress(tmp_path, store):
    account(store, "iot-team")
    store.start_rollout("1.5.0", ["askrigg", "reeth", "hawes", "muker"], 0, 0.5, actor="jo")
    client = make_app(tmp_path, store).test_client()
    log_in(client, "iot-team")

    page = client.get("/fleet").text
    words = text(page)
    assert "Release rollout" in words
    assert "Rollout 1 of release 1.5.0: running." in words
    assert "It reaches askrigg, reeth, hawes, muker" in words
    assert "stops by itself once 50 % of the halls that finished have failed" in words
    assert re.search(r"Started \d\d \w{3} \d{4}, \d\d:\d\d by jo\.", words)
    progress = tables(page)["Halls in rollout 1, by progress"]
    assert progress == [
        ["Targeted", "Pending", "Updating", "Updated", "Failed"],
        ["4", "1", "1", "1", "1"],
    ]
    assert "Halls where the release failed reeth: rolled back: the health check failed" in words

    nodes = tables(page)["Nodes, by name"]
    header = nodes[0]
    version, update = header.index("Version"), header.index("Update")
    rows = {row[0]: (row[version], row[update]) for row in nodes[1:]}
    assert rows == {
        "askrigg": ("1.5.0", "updated 1.5.0"),
        "hawes": ("1.4.0", "downloading 1.5.0"),
        "muker": ("1.4.0", "idle"),
        "reeth": (
            "1.4.0",
            "rolled back 1.5.0: the health check failed: no readings for 5 minutes",
        ),
        "thwaite": ("1.4.0", "not known"),
    }
    assert "<strong>rolled back 1.5.0" in page  # not by colour alone either


def test_a_stopped_rollout_says_why(tmp_path, store):
    account(store, "iot-team")
    rollout, _ = store.start_rollout("1.5.0", ["reeth"], 100, 0.25, actor="jo")
    store.stop_rollout(rollout.rollout_id, "Reeth's hall is closed this week", actor="sam")
    team = make_app(tmp_path, store).test_client()
    log_in(team, "iot-team")
    words = text(team.get("/fleet").text)
    assert (
        "Rollout 1 of release 1.5.0: stopped (Reeth's hall is closed this week). It reaches "
        "reeth and 100 % of the others" in words
    )
    assert re.search(r"by jo; stopped \d\d \w{3} \d{4}, \d\d:\d\d by sam\.", words)


def test_a_clerk_sees_their_halls_updates_but_not_the_fleets_rollout(tmp_path, store):
    account(store, "clerk-reeth", "clerk", ("reeth",))
    store.start_rollout("1.5.0", ["reeth"], 100, 0.25, actor="jo")
    clerk = make_app(tmp_path, store).test_client()
    log_in(clerk, "clerk-reeth")
    page = clerk.get("/fleet").text
    assert "Release rollout" not in page
    nodes = tables(page)["Nodes, by name"]
    assert [row[0] for row in nodes[1:]] == ["reeth"]
    assert "rolled back 1.5.0: the health check failed" in text(page)


def test_no_rollout_yet_shows_no_rollout(tmp_path, store):
    account(store, "iot-team")
    client = make_app(tmp_path, store).test_client()
    log_in(client, "iot-team")
    page = client.get("/fleet").text
    assert "Release rollout" not in page
    assert "Update" in tables(page)["Nodes, by name"][0]
