"""The whole provisioning path: init, three nodes added, enrolled over TLS and syncing;
one given a new password and one revoked while syncing, with nothing lost and nothing
stored twice."""

import time

import pytest

from hub.store_sqlite import SqliteHubStore
from hub_sync.enrolment_files import read_credentials
from hub_sync.mqtt import BrokerSettings, ConnectRefused, MqttClient
from sensors.counter import read_tally
from tests.support.broker import free_port
from tests.support.edge_process import EdgeProcess, wait_for
from tests.support.hub_process import HubProcess
from tests.support.ports import wait_listening
from tests.support.provisioned import (
    node_env,
    provision,
    provisioned_hub_env,
    start_hub_web,
    start_provisioned_broker,
)

SITES = ("Askrigg Village Hall", "Bainbridge Village Hall", "Reeth Memorial Hall")


def hub_values(hub_db, device):
    store = SqliteHubStore(hub_db)
    try:
        return [int(r.value) for _, r in store.readings(device) if r.metric == "test_counter"]
    finally:
        store.close()


def test_three_nodes_enrol_sync_over_tls_one_rotates_and_one_is_revoked(tmp_path):
    state_dir = tmp_path / "state"
    device_port, service_port, web_port = free_port(), free_port(), free_port()
    state, pid_file, broker = start_provisioned_broker(
        tmp_path, state_dir, device_port, service_port
    )
    procs = []
    try:
        wait_listening(device_port, broker, tmp_path / "mosquitto.log")
        hub_db = tmp_path / "hub.db"
        hub_env = provisioned_hub_env(
            tmp_path,
            state,
            service_port,
            hub_db,
            session_expiry_s=5,
        )
        hub_url = f"https://localhost:{web_port}"
        for site in SITES:
            provision(
                "add-device", "--state-dir", state_dir, "--env", hub_env, "--site", site,
                "--hub-url", hub_url, "--out", tmp_path / "bundles",
            )  # fmt: skip
        hub = HubProcess(hub_env, tmp_path / "hub.log").start()
        procs.append(hub)
        web = start_hub_web(hub_env, state_dir, web_port, pid_file, tmp_path / "web.log")
        devices = [site.lower().replace(" ", "-") for site in SITES]
        nodes = {}
        for device in devices:
            env = node_env(tmp_path / "bundles" / device, tmp_path, device)
            nodes[device] = EdgeProcess(env, tmp_path / f"{device}.log").start()
        procs.extend(nodes.values())

        def synced(device):
            tally = tmp_path / device / "tally.txt"
            return tally.exists() and len(hub_values(hub_db, device)) >= 50

        for device in devices:
            wait_for(lambda d=device: synced(d), 60, f"{device} never synced: see its log")
            assert not (tmp_path / "bundles" / device / "hallsense-enrol.token").exists()

        rotated = devices[1]
        credentials = tmp_path / rotated / "credentials.json"
        old = read_credentials(credentials).password
        provision("rotate", rotated, "--state-dir", state_dir, "--env", hub_env)

        def rotated_and_reconnected():
            now = read_credentials(credentials)
            return now.password != old and now.previous_password is None

        wait_for(rotated_and_reconnected, 60, f"{rotated} never rotated: see its log")
        listing = provision("list", "--state-dir", state_dir, "--env", hub_env)
        assert "rotating" not in listing
        with (
            pytest.raises(ConnectRefused),
            MqttClient(
                BrokerSettings("localhost", device_port, rotated, old, state.layout.ca_cert),
                client_id=rotated,
            ) as stale,
        ):
            stale.connect()

        revoked = devices[0]
        provision(
            "revoke", revoked, "--state-dir", state_dir, "--env", hub_env,
            "--broker-pid-file", pid_file,
        )  # fmt: skip
        at_revoke = {d: len(hub_values(hub_db, d)) for d in devices}
        time.sleep(3)
        for device in devices[1:]:
            assert len(hub_values(hub_db, device)) > at_revoke[device]  # still syncing
        for node in nodes.values():
            assert node.terminate() == 0
        # The two still enrolled deliver everything they produced, each once.
        for device in devices[1:]:
            produced = [v for v, _ in read_tally(tmp_path / device / "tally.txt")]

            def caught_up(d=device, p=produced):
                return len(hub_values(hub_db, d)) >= len(p)

            if not caught_up():
                node = EdgeProcess(tmp_path / f"{device}.env", tmp_path / f"{device}.2.log")
                procs.append(node.start())
                wait_for(caught_up, 60, f"{device} never caught up: see its log")
                node.terminate()
            values = hub_values(hub_db, device)
            assert len(values) == len(set(values)), f"{device}: a reading stored twice"
            assert set(produced) <= set(values)
        # The revoked one got nothing in after its revocation went through.
        assert len(hub_values(hub_db, revoked)) == at_revoke[revoked]
        web.terminate()
        assert web.wait(10) == 0
    finally:
        if "web" in locals() and web.poll() is None:
            web.kill()
            web.wait(5)
        for proc in procs:
            proc.stop()
        broker.terminate()
        broker.wait(5)
