"""Page settings from the hub reach the node's page, survive a restart, and bad ones don't."""

import json
import time

from edge.settings import EdgeSettings
from hallsense.settings import load_settings
from hallsense.wiring_web import build_site
from hub.store_sqlite import SqliteHubStore
from provisioning.broker_config import HUB_ACCOUNT
from tests.support.broker import Broker
from tests.support.edge_process import EdgeProcess, write_env
from tests.system.test_edge_run import run_cli
from web_local.app import create_app

PASSWORDS = {HUB_ACCOUNT: "hub-pw-for-page-tests", "askrigg": "askrigg-pw-for-page-tests"}


def wait_for(check, timeout, message):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(message())


def test_the_hub_sets_the_page_the_file_gives_defaults_and_a_bad_config_changes_nothing(tmp_path):
    broker = Broker(tmp_path / "broker", PASSWORDS).start()
    edge_env = write_env(
        tmp_path / "edge.env",
        data_dir=tmp_path / "node",
        hall_name="Askrigg hall (from the file)",
        contact="The hall committee",
        drivers="simulated",
        simulated_interval_s=0.5,
        clock_check="trust",
        device_id="askrigg",
        broker_host="127.0.0.1",
        broker_port=broker.port,
        broker_password=PASSWORDS["askrigg"],
        uplink_start_jitter_s=0,
    )
    hub_env = write_env(
        tmp_path / "hub.env",
        hub_store=tmp_path / "hub.db",
        broker_host="127.0.0.1",
        broker_port=broker.port,
        broker_password=PASSWORDS[HUB_ACCOUNT],
    )
    edge = EdgeProcess(edge_env, tmp_path / "edge.log").start()
    page_file = tmp_path / "node" / "page-settings.json"
    try:
        sent = run_cli(
            "hub", "set-config", "askrigg", "--hall-name", "Askrigg Village Hall",
            "--sensor-label", "sim-co2=Main hall CO2", "--env", str(hub_env),
        )  # fmt: skip
        assert sent.returncode == 0, sent.stderr
        wait_for(page_file.exists, 20, edge.log)
        settings = load_settings(EdgeSettings, edge_env)
        page = build_site(settings).page_settings()
        assert (page.hall_name, page.source("hall_name")) == ("Askrigg Village Hall", "hub")
        assert (page.contact, page.source("contact")) == ("The hall committee", "settings file")
        assert page.label("sim-co2", "co2") == "Main hall CO2"
        html = create_app(build_site(settings)).test_client().get("/status").text
        assert "<td>Askrigg Village Hall</td><td>hub</td>" in html

        before = page_file.read_bytes()
        bad = run_cli(
            "hub", "set-config", "askrigg", "--public-metrics", "temperature,teleportation",
            "--env", str(hub_env),
        )  # fmt: skip
        assert bad.returncode == 0, bad.stderr  # shape is fine; the node knows no such metric
        wait_for(lambda: "teleportation" in edge.log(), 20, edge.log)
        assert page_file.read_bytes() == before
        assert "rejected config from the hub" in edge.log()
        hub_store = SqliteHubStore(tmp_path / "hub.db")
        try:  # the hub keeps what it sent last, for the fleet pages
            assert "teleportation" in hub_store.node_config("askrigg").config_json
        finally:
            hub_store.close()

        # The last good settings outlive a restart of the node.
        edge.stop()
        assert json.loads(page_file.read_text())["hall_name"] == "Askrigg Village Hall"
        assert build_site(settings).page_settings().hall_name == "Askrigg Village Hall"
    finally:
        edge.stop()
        broker.stop()
