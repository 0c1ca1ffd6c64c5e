"""`hallsense provision …` against a real Mosquitto started with the configuration `init` wrote."""

import os
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge.settings import EdgeSettings
from hallsense.cli import cli
from hallsense.settings import load_settings
from hub.store import UnknownDevice
from hub.store_sqlite import SqliteHubStore
from hub_sync.batch_codec import Batch, WireReading
from hub_sync.mqtt import BrokerSettings, ConnectRefused, MqttClient
from provisioning.device_accounts import add_device_account
from provisioning.enrolment_policy import enrolment_tokens
from provisioning.state import load_state
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
        "--ws-port", "0",  # init's 443 is tests/system/test_port_443_only.py's alone
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
    assert 'HALLSENSE_DEVICE_ID="askrigg-village-hall"' in env
    assert f'HALLSENSE_BROKER_PORT="{port}"' in env
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


@pytest.mark.slow
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


# --- names that could break the bundle, and files that hold secrets ---


@pytest.fixture(params=[0o022, 0o000], ids=["umask-022", "umask-000"])
def umask(request):
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


@pytest.fixture
def initialised(tmp_path, umask):
    """`provision init` done (under the test's umask, as the CLI would run), no broker."""
    state_dir = tmp_path / "state"
    result = invoke(
        "init", "--state-dir", state_dir, "--hostname", "localhost", "--port", free_port(),
        "--service-port", free_port(), "--broker-user", "root",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    hub_env = write_env(tmp_path / "hub.env", hub_store=tmp_path / "hub" / "hub.db")
    return state_dir, hub_env


def add_device(state_dir, hub_env, out, *options):
    return invoke(
        "add-device", "--state-dir", state_dir, "--env", hub_env,
        "--hub-url", "https://localhost:8443", "--out", out, *options,
    )  # fmt: skip


def mode(path):
    return path.stat().st_mode & 0o777


AWKWARD_SITE = 'The "Old School" Hall, St Mary\'s #2 — $5 ${HOME} C:\\ ☃'
AWKWARD_LOCATION = "back room # by the 'door' \\ ${X:-y} $"


def test_a_site_with_quotes_and_symbols_reaches_the_node_exactly(initialised, tmp_path):
    state_dir, hub_env = initialised
    result = add_device(
        state_dir, hub_env, tmp_path / "out", "--site", AWKWARD_SITE, "--location", AWKWARD_LOCATION
    )
    assert result.exit_code == 0, result.output
    [bundle] = (tmp_path / "out").iterdir()
    node = load_settings(EdgeSettings, bundle / "edge.env", environ={})
    assert node.hall_name == AWKWARD_SITE
    assert node.device_id == bundle.name == "the-old-school-hall-st-mary-s-2"
    assert node.broker_host == "localhost"
    assert node.enrol_url == "https://localhost:8443"
    assert node.data_dir == Path("/var/lib/hallsense")
    assert AWKWARD_SITE in (bundle / "README.txt").read_text(encoding="utf-8")
    store = SqliteHubStore(tmp_path / "hub" / "hub.db")
    try:
        [device] = store.registered()
    finally:
        store.close()
    assert (device.site, device.location) == (AWKWARD_SITE, AWKWARD_LOCATION)


@pytest.mark.parametrize(
    ("option", "value", "described"),
    [
        ("--site", 'The "Old School" Hall\nHALLSENSE_DEVICE_ID=bainbridge', "U+000A (line feed)"),
        ("--site", "Askrigg\rHall", "U+000D (carriage return)"),
        ("--location", "main hall\x1b[2J", "U+001B (escape)"),
        ("--location", "north wall\x00", "U+0000 (NUL)"),
        ("--hub-url", "https://hub.example:8443\n", "U+000A (line feed)"),
    ],
)
def test_a_control_character_in_a_name_is_refused_before_anything_is_made(
    initialised, tmp_path, option, value, described
):
    state_dir, hub_env = initialised
    options = {"--site": "Askrigg Village Hall", option: value}
    result = add_device(
        state_dir, hub_env, tmp_path / "out", *[part for pair in options.items() for part in pair]
    )
    assert result.exit_code == 1
    assert f"{option} holds the character {described}" in result.output
    assert_nothing_made(state_dir, hub_env, tmp_path / "out")


def assert_nothing_made(state_dir, hub_env, out):
    assert not out.exists()
    listing = invoke("list", "--state-dir", state_dir, "--env", hub_env)
    assert listing.exit_code == 0, listing.output
    assert listing.output.splitlines()[1:] == []  # nothing registered
    assert enrolment_tokens(load_state(state_dir)).tokens() == []  # and no token issued


def test_a_hub_address_without_tls_is_refused_before_anything_is_made(initialised, tmp_path):
    state_dir, hub_env = initialised
    result = invoke(
        "add-device", "--state-dir", state_dir, "--env", hub_env, "--site", "Askrigg",
        "--hub-url", "http://hub.example:8080", "--out", tmp_path / "out",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "the hub URL must be https://host[:port], not 'http://hub.example:8080'" in (
        result.output
    )
    assert_nothing_made(state_dir, hub_env, tmp_path / "out")


def test_init_refuses_a_host_name_with_a_line_break(tmp_path):
    result = invoke(
        "init", "--state-dir", tmp_path / "state", "--hostname", "hub.example\nlocalhost",
        "--broker-user", "root",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "host name holds the character U+000A (line feed)" in result.output
    assert not (tmp_path / "state").exists()


def test_what_holds_a_secret_is_0600_whatever_the_umask(initialised, tmp_path):
    state_dir, hub_env = initialised
    result = add_device(state_dir, hub_env, tmp_path / "out", "--site", "Askrigg Village Hall")
    assert result.exit_code == 0, result.output
    bundle = tmp_path / "out" / "askrigg-village-hall"
    assert mode(bundle) == 0o700
    assert mode(bundle / "hallsense-enrol.token") == 0o600
    assert mode(bundle / "label.svg") == 0o600  # its QR code carries the token
    assert mode(bundle / "edge.env") == 0o644  # no secret; the node's user reads a copy
    # The hub store the CLI made: accounts' scrypt hashes, token digests.
    db = tmp_path / "hub" / "hub.db"
    assert mode(db) == 0o600
    assert mode(db.parent) == 0o700  # made by the store: nobody else may swap the file
    # SQLite makes the WAL and its index while a connection writes: the main file's mode.
    store = SqliteHubStore(db)
    try:
        store.add_device("reeth", "Reeth Memorial Hall")
        assert mode(db.with_name("hub.db-wal")) == 0o600
        assert mode(db.with_name("hub.db-shm")) == 0o600
    finally:
        store.close()
    # The enrolment tokens' store, beside the state.
    tokens = load_state(state_dir).layout.root / "enrolment"
    assert {path.name: mode(path) for path in tokens.iterdir()} == {
        path.name: 0o600 for path in tokens.iterdir()
    }
