"""The fleet page during a staged rollout in real headless Chromium: WCAG 2.2 AA by axe-core,
reflow at 320 px and visible focus, with a failed hall's update shown in words."""

from __future__ import annotations

import threading
import time

import pytest
from cheroot import wsgi

from hub.store_sqlite import SqliteHubStore
from hub_sync.node_status import encode_status
from tests.hub.test_hub_browser import logged_in
from tests.hub.web_support import account, make_app
from tests.support.browser import (
    assert_no_axe_violations,
    assert_no_horizontal_scroll,
    assert_no_page_errors,
    assert_visible_focus,
    load,
)

NOW_US = time.time_ns() // 1000


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    directory = tmp_path_factory.mktemp("rollout-browser")
    store = SqliteHubStore(directory / "hub.db")
    statuses = {
        "askrigg": {"version": "1.5.0", "update_state": "updated", "update_version": "1.5.0"},
        "reeth": {
            "version": "1.4.0",
            "update_state": "rolled back",
            "update_version": "1.5.0",
            "update_error": "the health check failed: no readings for 5 minutes",
        },
        "hawes": {"version": "1.4.0", "update_state": "downloading", "update_version": "1.5.0"},
    }
    for device, status in statuses.items():
        store.add_device(device, f"{device.title()} Village Hall")
        store.record_status(device, True, encode_status("online", **status).decode(), NOW_US)
    account(store, "iot-team")
    rollout, _ = store.start_rollout("1.5.0", list(statuses), 0, 0.25, actor="jo")
    store.stop_rollout(
        rollout.rollout_id,
        "1 of the 2 halls that finished failed (50 %), at or over the stop share of 25 %",
        actor="hallsense",
    )
    server = wsgi.Server(("127.0.0.1", 0), make_app(directory, store), numthreads=2)
    server.prepare()
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.bind_addr[1]}"
    server.stop()
    thread.join(10)
    store.close()


def test_the_fleet_with_a_stopped_rollout_meets_wcag_22_aa(hub, new_page):
    page = logged_in(new_page, hub, "iot-team")
    load(page, hub + "/fleet", heading="Fleet")
    assert_no_axe_violations(page)
    assert_visible_focus(page)
    assert_no_page_errors(page)
    rollout = page.get_by_role("region", name="Release rollout")
    assert "Rollout 1 of release 1.5.0: stopped" in rollout.inner_text()
    progress = page.get_by_role("table", name="Halls in rollout 1, by progress")
    assert progress.get_by_role("columnheader", name="Failed").count() == 1
    row = page.get_by_role("row", name="reeth")
    assert "rolled back 1.5.0: the health check failed" in row.inner_text()
    narrow = logged_in(new_page, hub, "iot-team", viewport="reflow")
    load(narrow, hub + "/fleet", heading="Fleet")
    assert_no_horizontal_scroll(narrow)
