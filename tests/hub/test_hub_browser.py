"""The hub's pages in real headless Chromium: WCAG 2.2 AA by axe-core on every page,
reflow at 320 px, visible focus, nothing from another origin, and the log-in, a clerk's
settings change and the open data clicked through as people do it (JavaScript off)."""

from __future__ import annotations

import json
import math
import threading
import time
from pathlib import Path

import pytest
from cheroot import wsgi

from hub import fleet_pages
from hub.config_downlink import build_config
from hub.store_sqlite import SqliteHubStore
from hub_sync.batch_codec import Batch, WireReading
from tests.hub.web_support import PASSWORD, account, make_app
from tests.support.browser import (
    assert_no_axe_violations,
    assert_no_horizontal_scroll,
    assert_no_page_errors,
    assert_visible_focus,
    load,
    screenshot,
)

HOUR = 3_600_000_000
NOW_US = time.time_ns() // 1000
SERIES = (
    ("bme-1", "temperature", "°C", 19.0, 2.0),
    ("scd-1", "co2", "ppm", 700.0, 300.0),
    ("door", "footfall", "people", 3.0, 3.0),
)


def fill(store: SqliteHubStore) -> None:
    for device, site in (("askrigg", "Askrigg Village Hall"), ("reeth", "Reeth Memorial Hall")):
        store.add_device(device, site, location="Main hall")
        seq = 0
        readings = []
        for step in range(8 * 24 * 4):  # eight days every 15 minutes
            ts = NOW_US - (8 * 24 * 4 - step) * 900_000_000
            for sensor, metric, unit, base, swing in SERIES:
                seq += 1
                value = base + swing * math.sin(2 * math.pi * step / 96)
                readings.append(WireReading(seq, sensor, metric, unit, ts, round(value, 1)))
        store._run("UPDATE devices SET added_at_us = ?", (NOW_US - 30 * 24 * HOUR,))
        store.store_batch(Batch(device, 3, tuple(readings)), NOW_US)
    store.record_status(
        "askrigg", True, json.dumps({"v": 1, "state": "online", "backlog": 0}), NOW_US
    )
    store.record_status(
        "reeth",
        False,
        json.dumps({"v": 1, "state": "offline", "last_error": "scd-1: no reply"}),
        NOW_US - 3 * HOUR,
    )
    _, payload = build_config(
        100,
        {},
        {"hall_name": "Askrigg Village Hall", "public_metrics": ["temperature", "co2", "footfall"]},
    )
    store.save_config("askrigg", 100, payload.decode(), actor="tests")
    account(store, "iot-team")
    account(store, "clerk-askrigg", "clerk", ("askrigg",))


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    directory: Path = tmp_path_factory.mktemp("hub-browser")
    store = SqliteHubStore(directory / "hub.db")
    fill(store)
    sent: list[tuple[str, bytes, str]] = []

    def send(device_id: str, payload: bytes, actor: str) -> None:
        sent.append((device_id, payload, actor))
        store.save_config(device_id, json.loads(payload)["revision"], payload.decode(), actor=actor)

    server = wsgi.Server(("127.0.0.1", 0), make_app(directory, store, send=send), numthreads=4)
    server.prepare()
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.bind_addr[1]}", sent
    server.stop()
    thread.join(10)
    store.close()


def logged_in(new_page, base: str, username: str, **options):
    page = new_page(**options)
    load(page, base + "/login", heading="Log in")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.wait_for_load_state("load")
    return page


PUBLIC = {
    "/open-data": "Open data from the county's village halls",
    "/open-data/askrigg-village-hall": "Askrigg Village Hall",
    "/open-data/askrigg-village-hall?period=year": "Askrigg Village Hall",
    "/accessibility": "Accessibility statement",
    "/login": "Log in",
    "/open-data/nowhere": "Not Found",
    "/open-data/askrigg-village-hall?period=fortnight": "Bad Request",
}
TEAM = {
    "/fleet": "Fleet",
    "/fleet?attention=1": "Nodes needing attention",
    "/fleet/reeth": "Reeth Memorial Hall (reeth)",
    "/fleet/askrigg/settings": "Askrigg Village Hall: settings",
    "/account/password": "Change your password",
}


def check(page, url: str, heading: str, new_page, cookies=None) -> None:
    status = 404 if "nowhere" in url else 400 if "fortnight" in url else 200
    load(page, url, status=status, heading=heading)
    assert_no_axe_violations(page)
    assert_visible_focus(page)
    if status == 200:
        assert_no_page_errors(page)
    narrow = new_page("reflow")
    if cookies:
        narrow.context.add_cookies(cookies)
    load(narrow, url, status=status)
    assert_no_horizontal_scroll(narrow)


@pytest.mark.parametrize("path", list(PUBLIC))
def test_every_public_page_meets_wcag_22_aa(hub, new_page, path):
    base, _ = hub
    check(new_page("desktop"), base + path, PUBLIC[path], new_page)


@pytest.mark.parametrize("path", list(TEAM))
def test_every_team_page_meets_wcag_22_aa(hub, new_page, path):
    base, _ = hub
    page = logged_in(new_page, base, "iot-team")
    check(page, base + path, TEAM[path], new_page, page.context.cookies())


def test_the_team_finds_the_node_that_needs_attention(hub, new_page):
    base, _ = hub
    page = logged_in(new_page, base, "iot-team", javascript=False)
    page.click("text=Show only the nodes that need attention")
    assert page.locator("h1").inner_text() == "Nodes needing attention"
    assert page.locator("tbody tr").count() == 1
    page.click("text=reeth")
    assert "Sensor failing: scd-1: no reply" in page.content()
    screenshot(page, "hub-node-needing-attention")


def test_a_fleet_of_several_pages_is_paged_through_by_its_links(hub, new_page, monkeypatch):
    """A page a node here, so that two nodes make two pages (a page is 500 nodes)."""
    monkeypatch.setattr(fleet_pages, "PAGE_ROWS", 1)
    base, _ = hub
    checked = logged_in(new_page, base, "iot-team")
    check(checked, base + "/fleet?page=2", "Fleet", new_page, checked.context.cookies())
    page = logged_in(new_page, base, "iot-team", javascript=False)
    load(page, base + "/fleet?page=2", heading="Fleet")
    assert page.get_by_role("navigation", name="Pages of nodes").inner_text() == (
        "Page 2 of 2: first, previous."
    )
    second = page.locator("tbody th").inner_text()
    page.click("text=previous")
    assert page.locator("caption").inner_text() == "Nodes, by name: 1 to 1 of 2"
    first = page.locator("tbody th").inner_text()
    page.click("text=next")
    assert page.locator("tbody th").inner_text() == second
    assert {first, second} == {"askrigg", "reeth"}


def test_on_a_phone_the_fleet_shows_what_needs_attention_without_scrolling(hub, new_page):
    """The column once sat off the right edge of a phone's screen."""
    base, _ = hub
    page = logged_in(new_page, base, "iot-team", viewport="phone", javascript=False)
    load(page, base + "/fleet", heading="Fleet")
    header = page.get_by_role("columnheader", name="Needs attention").bounding_box()
    concern = page.get_by_text("Sensor failing: scd-1: no reply").bounding_box()
    assert header is not None
    assert concern is not None
    width = page.viewport_size["width"]
    assert header["x"] + header["width"] <= width
    assert concern["x"] + concern["width"] <= width


def test_a_clerk_changes_the_opening_hours_without_javascript(hub, new_page):
    base, sent = hub
    page = logged_in(new_page, base, "clerk-askrigg", javascript=False)
    assert page.locator("tbody tr").count() == 1  # their own hall only
    page.goto(base + "/fleet/askrigg/settings")
    page.fill("#opening_hours", "Mon to Sat, 9:00 to 22:00")
    page.click("text=Send to the node")
    assert page.locator("h1").inner_text().startswith("Askrigg Village Hall")
    assert "Waiting for the node to confirm it" in page.content()
    device, payload, actor = sent[-1]
    assert (device, actor) == ("askrigg", "clerk-askrigg")
    assert json.loads(payload)["page"]["opening_hours"] == "Mon to Sat, 9:00 to 22:00"
    screenshot(page, "hub-settings-sent")


def test_open_data_shows_charts_with_tables_and_downloads(hub, new_page):
    base, _ = hub
    page = new_page(javascript=False)
    load(page, base + "/open-data/askrigg-village-hall", heading="Askrigg Village Hall")
    assert page.locator("svg[role=img]").count() == 3
    assert page.locator("table").count() == 3
    with page.expect_download() as download:
        page.click("text=Download this hall's hourly averages")
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    header, *rows = text.splitlines()
    assert header.startswith("hall,device,sensor,metric")
    assert {row.split(",")[3] for row in rows} == {"temperature", "co2", "footfall"}
    screenshot(page, "hub-open-data-hall")
