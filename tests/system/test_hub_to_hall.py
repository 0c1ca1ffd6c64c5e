"""End to end in Chromium: the IoT team finds a node that needs attention; a parish clerk
changes only the hall's opening hours at the hub, and the hall's own page shows every
measurement it showed before plus the new hours, and the hub when it took effect; the
clerk then unticks one measurement, and exactly that one leaves the hall's page and the
open data.

Real parts throughout: Mosquitto, `hallsense hub run`, `hallsense edge run`,
`hallsense edge web`, and the hub web app as `hallsense hub web` builds it (served by
cheroot)."""

from __future__ import annotations

import dataclasses
import json
import threading

from cheroot import wsgi

from hallsense.cli_hub_web import hub_pages
from hallsense.settings import load_settings
from hub.settings import HubSettings
from hub.store_sqlite import SqliteHubStore
from hub.web import create_hub_web
from provisioning.broker_config import HUB_ACCOUNT
from provisioning.enrolment_tokens import TokenStore
from tests.hub.web_support import PASSWORD, account
from tests.support.broker import Broker, free_port
from tests.support.browser import assert_no_axe_violations, load, screenshot
from tests.support.edge_process import EdgeProcess, wait_for, write_env
from tests.support.hub_process import HubProcess

PASSWORDS = {HUB_ACCOUNT: "hub-pw-for-hub-to-hall", "askrigg": "askrigg-pw-for-hub-to-hall"}


def log_in(page, base, username):
    load(page, base + "/login", heading="Log in")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")


def shown_measurements(page, url: str) -> list[str]:
    """The measurements a visitor sees under "Now" on the hall's page."""
    load(page, url)
    return page.locator(".figures dt").all_inner_texts()


def open_data_sections(page, url: str) -> list[str]:
    load(page, url)
    return page.locator("main section h2").all_inner_texts()


def test_a_clerks_change_at_the_hub_reaches_the_halls_own_page(tmp_path, new_page):
    broker = Broker(tmp_path / "broker", PASSWORDS).start()
    hub_db = tmp_path / "hub.db"
    store = SqliteHubStore(hub_db)
    store.add_device("askrigg", "Askrigg Village Hall")
    store.add_device("reeth", "Reeth Memorial Hall")  # registered, never connected
    account(store, "iot-team")
    account(store, "clerk-askrigg", "clerk", ("askrigg",))
    store.close()
    hub_env = write_env(
        tmp_path / "hub.env",
        hub_store=hub_db,
        broker_host="127.0.0.1",
        broker_port=broker.port,
        broker_password=PASSWORDS[HUB_ACCOUNT],
    )
    edge_env = write_env(
        tmp_path / "edge.env",
        data_dir=tmp_path / "node",
        hall_name="Askrigg Village Hall",
        drivers="simulated",
        simulated_interval_s=0.5,
        clock_check="trust",
        device_id="askrigg",
        broker_host="127.0.0.1",
        broker_port=broker.port,
        broker_password=PASSWORDS["askrigg"],
        uplink_start_jitter_s=0,
        uplink_heartbeat_s=1,
        web_host="127.0.0.1",
        web_port=(web_port := free_port()),
    )
    hub = HubProcess(hub_env, tmp_path / "hub.log").start()
    node = EdgeProcess(edge_env, tmp_path / "edge.log").start()
    node_web = EdgeProcess(edge_env, tmp_path / "edge-web.log", command="web").start()
    hall = f"http://127.0.0.1:{web_port}/"
    pages = dataclasses.replace(
        hub_pages(load_settings(HubSettings, hub_env)), secure_cookies=False
    )  # plain HTTP on loopback in this test
    app = create_hub_web(TokenStore(tmp_path / "enrolment"), lambda device_id: {}, pages=pages)
    server = wsgi.Server(("127.0.0.1", 0), app, numthreads=4)
    server.prepare()
    serving = threading.Thread(target=server.serve, daemon=True)
    serving.start()
    base = f"http://127.0.0.1:{server.bind_addr[1]}"
    try:

        def online() -> bool:
            check = SqliteHubStore(hub_db)
            try:
                return any(s.device_id == "askrigg" and s.online for s in check.fleet())
            finally:
                check.close()

        wait_for(online, 30, "the node never came online: see edge.log")
        visitor = new_page(javascript=False)

        def every_measurement_shown() -> bool:
            try:
                return len(shown_measurements(visitor, hall)) >= 4
            except Exception:  # edge web still starting
                return False

        wait_for(every_measurement_shown, 30, "the hall's page never showed the simulated hall")
        before = shown_measurements(visitor, hall)

        # The IoT team: the node that has never connected needs attention.
        team = new_page()
        log_in(team, base, "iot-team")
        team.click("text=Show only the nodes that need attention")
        assert team.locator("tbody tr").count() == 1
        assert "Has never connected" in team.content()
        assert_no_axe_violations(team)

        # The clerk changes the opening hours.
        clerk = new_page(javascript=False)
        log_in(clerk, base, "clerk-askrigg")
        clerk.goto(base + "/fleet/askrigg/settings")
        clerk.fill("#opening_hours", "Mon to Sat, 9:00 to 22:00")
        with clerk.expect_navigation():
            clerk.click("text=Send to the node")
        assert clerk.url.endswith("/fleet/askrigg")

        # It reaches the node over the broker and shows on the hall's own page, with every
        # measurement it showed before (the form once sent an empty selection: "No readings").
        def hours_on_the_halls_page() -> bool:
            load(visitor, hall)
            return "Open Mon to Sat, 9:00 to 22:00" in visitor.content()

        wait_for(hours_on_the_halls_page, 30, "the opening hours never reached the page")
        assert shown_measurements(visitor, hall) == before

        # The node's status says it runs that revision: the hub shows when it took effect.
        def in_effect() -> bool:
            clerk.goto(base + "/fleet/askrigg")
            return "In effect since" in clerk.content()

        wait_for(in_effect, 30, "the hub never saw the node apply it: see hub.log")
        screenshot(clerk, "hub-to-hall-in-effect")
        page_file = json.loads((tmp_path / "node" / "page-settings.json").read_text())
        assert page_file["opening_hours"] == "Mon to Sat, 9:00 to 22:00"

        # The clerk unticks noise: exactly that measurement leaves the page and open data.
        published = open_data_sections(visitor, base + "/open-data/askrigg-village-hall")
        assert "A-weighted sound level" in published
        clerk.goto(base + "/fleet/askrigg/settings")
        clerk.uncheck("#public-noise")
        with clerk.expect_navigation():
            clerk.click("text=Send to the node")
        noise = next(m for m in before if "noise" in m.lower() or "sound" in m.lower())

        def noise_gone() -> bool:
            return shown_measurements(visitor, hall) == [m for m in before if m != noise]

        wait_for(noise_gone, 30, "unticking noise never reached the hall's page")
        after = open_data_sections(visitor, base + "/open-data/askrigg-village-hall")
        assert after == [s for s in published if s != "A-weighted sound level"]
    finally:
        node_web.stop()
        server.stop()
        serving.join(10)
        node.stop()
        hub.stop()
        broker.stop()
