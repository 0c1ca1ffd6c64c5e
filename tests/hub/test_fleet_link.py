"""The fleet's node page says how fresh the hub's copy can be under the node's link profile."""

from __future__ import annotations

import json

from hub.fleet_pages import link_words
from hub.store_sqlite import SqliteHubStore
from tests.hub.test_hub_pages import NOW_US, log_in
from tests.hub.web_support import account, make_app


def test_the_node_page_names_the_link_and_how_fresh_its_readings_are(tmp_path):
    store = SqliteHubStore(tmp_path / "hub.db")
    store.add_device("askrigg", "Askrigg Village Hall")
    status = {"v": 1, "state": "online", "link_profile": "metered", "batch_window_s": 1800}
    store.record_status("askrigg", True, json.dumps(status), NOW_US)
    account(store, "iot-team")
    client = make_app(tmp_path, store).test_client()
    assert log_in(client, "iot-team").status_code == 303
    page = client.get("/fleet/askrigg").text
    assert "metered link: readings reach the hub within 30 minutes" in page
    store.close()


def test_the_words_for_each_kind_of_status():
    assert link_words({"link_profile": "live", "batch_window_s": 120}) == (
        "live link: readings reach the hub within 2 minutes"
    )
    assert link_words({"link_profile": "live", "batch_window_s": 5}) == (
        "live link: readings reach the hub within a minute"
    )
    assert link_words({}) == "not known"  # an older node says nothing of its link
    assert link_words({"link_profile": "<b>", "batch_window_s": 5}) == "not known"
