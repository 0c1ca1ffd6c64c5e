"""`hallsense provision …` against a real Mosquitto started with the configuration `init` wrote."""

import subprocess
import time

import pytest
from click.testing import CliRunner

from hallsense.cli import cli
from hub.store import UnknownDevice
from hub.store_sqlite import SqliteHubStore
from hub_sync.mqtt import BrokerSettings, ConnectRefused, MqttClient
from hub_sync.protocol import Batch, WireReading
from provisioning.state import add_device_account, load_state
from tests.support.broker import free_port
from tests.support.edge_process import write_env
from tests.support.ports import wait_listening


def invoke(*args):
    result = CliRunner().invoke(cli, ["provision", *map(str, args)])
    return result


@pytest.fixture
def provisioned(tmp_path):
    """`provision init` done, its broker running with a pid file, a hub settings file."""
    state_dir = tmp_path / "state"
    port = free_port()
    result = invoke(
        "init", "--state-dir", state_dir, "--hostname", "localhost", "--ip", "127.0.0.1",
        "--port", port, "--service-port", free_port(), "--broker-user", "root",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "sha256:" in result.output
    state = load_state(state_dir)
    log = (tmp_path / "mosquitto.out").open("wb")
    broker = subprocess.Popen(
        ["mosquitto", "-c", str(state.layout.conf_path)], stdout=log, stderr=log
    )
    pid_file = tmp_path / "mosquitto.pid"
    pid_file.write_text(f"{broker.pid}\n")
    wait_listening(port, broker, tmp_path / "mosquitto.out", timeout=10)
    hub_env = write_env(tmp_path / "hub.env", hub_store=tmp_path / "hub.db")
    yield state_dir, state, hub_env, pid_file, port
    broker.terminate()
    broker.wait(5)
    log.close()


def connect(state, port, device, password):
    client = MqttClient(
        BrokerSettings("127.0.0.1", port, device, password, ca_file=state.layout.ca_cert),
        client_id=device,
    )
    try:
        client.connect(timeout=5)
    finally:
        client.close()


def test_init_refuses_a_state_that_exists(provisioned):
    state_dir = provisioned[0]
    again = invoke("init", "--state-dir", state_dir, "--hostname", "localhost")
    assert again.exit_code == 1
    assert str(state_dir) in again.output


def test_add_device_writes_a_bundle_with_no_password_and_a_one_time_token(provisioned, tmp_path):
    state_dir, state, hub_env, _, port = provisioned
    out = tmp_path / "bundles"
    for site in ("Askrigg Village Hall", "Askrigg Village Hall"):
        result = invoke(
            "add-device", "--state-dir", state_dir, "--env", hub_env, "--site", site,
            "--hub-url", "https://localhost:8443", "--out", out,
        )  # fmt: skip
        assert result.exit_code == 0, result.output
    bundle = out / "askrigg-village-hall"
    assert (out / "askrigg-village-hall-2").is_dir()  # a second hall of the same name
    env = (bundle / "edge.env").read_text()
    assert "HALLSENSE_DEVICE_ID=askrigg-village-hall" in env
    assert f"HALLSENSE_BROKER_PORT={port}" in env
    assert "PASSWORD" not in env
    token = bundle / "hallsense-enrol.token"
    assert token.stat().st_mode & 0o777 == 0o600
    assert len(token.read_text().strip()) >= 40
    assert token.read_text().strip() not in (bundle / "label.svg").read_text()  # QR only
    assert (bundle / "ca.crt").read_bytes() == state.layout.ca_cert.read_bytes()
    listing = invoke("list", "--state-dir", state_dir, "--env", hub_env)
    assert listing.exit_code == 0, listing.output
    rows = {line.split()[0]: line for line in listing.output.splitlines()[1:]}
    assert set(rows) == {"askrigg-village-hall", "askrigg-village-hall-2"}
    assert all(" active " in row and " pending " in row for row in rows.values())


def test_a_revoked_device_is_refused_by_the_broker_and_the_hub(provisioned, tmp_path):
    state_dir, state, hub_env, pid_file, port = provisioned
    for site in ("Askrigg Village Hall", "Reeth Memorial Hall"):
        added = invoke(
            "add-device", "--state-dir", state_dir, "--env", hub_env, "--site", site,
            "--hub-url", "https://localhost:8443", "--out", tmp_path / "b",
        )  # fmt: skip
        assert added.exit_code == 0, added.output
    # What enrolment does: an account with a fresh password, then a reload.
    passwords = {
        d: add_device_account(state, d) for d in ("askrigg-village-hall", "reeth-memorial-hall")
    }
    assert (
        invoke("broker-config", "--state-dir", state_dir, "--broker-pid-file", pid_file).exit_code
        == 0
    )
    time.sleep(0.3)
    for device, password in passwords.items():
        connect(state, port, device, password)

    result = invoke(
        "revoke", "askrigg-village-hall", "--state-dir", state_dir, "--env", hub_env,
        "--broker-pid-file", pid_file,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "broker account removed" in result.output
    time.sleep(0.3)
    with pytest.raises(ConnectRefused):
        connect(state, port, "askrigg-village-hall", passwords["askrigg-village-hall"])
    connect(state, port, "reeth-memorial-hall", passwords["reeth-memorial-hall"])
    store = SqliteHubStore(tmp_path / "hub.db")
    try:
        reading = WireReading(1, "t", "temperature", "°C", time.time_ns() // 1000, 20.0)
        with pytest.raises(UnknownDevice):
            store.store_batch(Batch("askrigg-village-hall", 1, (reading,)), time.time_ns() // 1000)
        store.store_batch(Batch("reeth-memorial-hall", 1, (reading,)), time.time_ns() // 1000)
        actions = [(e.action, e.device_id) for e in store.audit_log()]
        assert ("revoked", "askrigg-village-hall") in actions
    finally:
        store.close()

    deleted = invoke(
        "delete-device", "reeth-memorial-hall", "--with-data", "--state-dir", state_dir,
        "--env", hub_env, "--broker-pid-file", pid_file,
    )  # fmt: skip
    assert deleted.exit_code == 0, deleted.output
    assert "1 readings deleted" in deleted.output
    time.sleep(0.3)
    with pytest.raises(ConnectRefused):
        connect(state, port, "reeth-memorial-hall", passwords["reeth-memorial-hall"])
    unknown = invoke("revoke", "nowhere", "--state-dir", state_dir, "--env", hub_env)
    assert unknown.exit_code == 1
    assert "not registered" in unknown.output


def test_a_bad_device_id_and_a_missing_state_are_clear_errors(tmp_path):
    hub_env = write_env(tmp_path / "hub.env", hub_store=tmp_path / "hub.db")
    missing = invoke("list", "--state-dir", tmp_path / "nowhere", "--env", hub_env)
    assert missing.exit_code == 1
    assert "provision init" in missing.output
    bad = invoke("revoke", "Bad/Id", "--state-dir", tmp_path / "nowhere", "--env", hub_env)
    assert bad.exit_code == 1
    assert "not valid" in bad.output
