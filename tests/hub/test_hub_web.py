"""`hallsense hub web` end to end: a real subprocess serving /enroll over TLS, a real broker.

The parts are the real ones: a provisioning state made by ``init_state``, Mosquitto run
with the configuration it wrote (plus a ``pid_file`` line, so that the hub web can reload
it), a SQLite hub store with the devices registered, tokens in the state's token store,
the hub web as ``python … hallsense hub web`` on a free port, the node's own enrolment
client, and an MQTT TLS connection with the credentials it received.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from hub.store_sqlite import SqliteHubStore
from hub.web import SECURITY_HEADERS, create_hub_web
from hub_sync.enrolment import enrol
from hub_sync.enrolment_contract import EnrolmentRefused, TokenUsed
from hub_sync.enrolment_files import Credentials
from hub_sync.mqtt import BrokerSettings, ConnectRefused, MqttClient, PublishRefused
from provisioning.device_accounts import device_accounts
from provisioning.enrolment_policy import ENROLMENT_DIR, enrolment_tokens, issue_credentials_for
from provisioning.enrolment_tokens import TokenStore
from provisioning.failure_limit import FailureLimiter
from provisioning.passwords import read_password_file, verify
from provisioning.state import ProvisioningState, init_state
from tests.support.broker import free_port
from tests.support.ports import wait_listening

HALLSENSE = [sys.executable, "-m", "hallsense"]


def _stop(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait(10)


class StateBroker:
    """Mosquitto run with the state's own mosquitto.conf, plus a pid file."""

    def __init__(self, state: ProvisioningState, directory: Path) -> None:
        self.state = state
        self.pid_file = directory / "mosquitto.pid"
        self.log = directory / "mosquitto.out"
        conf = directory / "mosquitto.conf"
        conf.write_text(
            state.layout.conf_path.read_text(encoding="utf-8") + f"pid_file {self.pid_file}\n",
            encoding="utf-8",
        )
        with self.log.open("wb") as sink:
            self.proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=sink, stderr=sink)
        wait_listening(state.settings.port_tls, self.proc, self.log)
        deadline = time.monotonic() + 5
        while not self.pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert int(self.pid_file.read_text().strip()) == self.proc.pid

    def stop(self) -> None:
        _stop(self.proc)


class HubWeb:
    """`hallsense hub web` as a subprocess, its output kept in a file."""

    def __init__(self, args: list[str], port: int, log: Path) -> None:
        self.port = port
        self.log_path = log
        env = {k: v for k, v in os.environ.items() if not k.startswith("HALLSENSE_")}
        with log.open("wb") as sink:
            self.proc = subprocess.Popen(
                [*HALLSENSE, "hub", "web", *args, "--port", str(port)],
                stdout=sink,
                stderr=sink,
                env=env,
            )

    def wait_listening(self) -> HubWeb:
        wait_listening(self.port, self.proc, self.log_path)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        return _stop(self.proc)


@dataclass
class Hub:
    """A provisioned hub: state, broker, registry, tokens and the running hub web."""

    root: Path
    state: ProvisioningState
    broker: StateBroker
    store_path: Path
    tokens: TokenStore
    web: HubWeb

    @property
    def url(self) -> str:
        return f"https://localhost:{self.web.port}"

    def enrol(self, token: str, device_id: str) -> Credentials:
        return enrol(
            self.url,
            token,
            device_id,
            ca_file=self.state.layout.ca_cert,
            ca_fingerprint=self.state.ca_fingerprint,
            timeout=10,
        )


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    root = tmp_path_factory.mktemp("hub-web")
    state = init_state(
        root / "state",
        hostnames=["localhost"],
        ips=["127.0.0.1"],
        port_tls=free_port(),
        service_port=free_port(),
        bind_address="127.0.0.1",
        run_as="root",
    )
    broker = StateBroker(state, root)
    store_path = root / "hub.db"
    store = SqliteHubStore(store_path)
    try:
        store.add_device("askrigg", "Askrigg Village Hall")
        store.add_device("bainbridge", "Bainbridge Village Hall")
        store.revoke_device("bainbridge")
    finally:
        store.close()
    env_file = root / "hub.env"
    env_file.write_text(f"HALLSENSE_HUB_STORE={store_path}\n", encoding="utf-8")
    args = [
        "--env",
        str(env_file),
        "--state-dir",
        str(state.layout.root),
        "--host",
        "127.0.0.1",
        "--broker-pid-file",
        str(broker.pid_file),
    ]
    web = HubWeb(args, free_port(), root / "hub-web.out")
    try:
        web.wait_listening()
        yield Hub(root, state, broker, store_path, TokenStore(state.layout.root / "enrolment"), web)
    finally:
        web.stop()
        broker.stop()


def _connect_as(credentials: Credentials, ca_file: Path, timeout: float = 10.0) -> MqttClient:
    """A connected MQTT client with ``credentials``; retried while the reload takes effect."""
    settings = BrokerSettings(
        host=credentials.broker_host,
        port=credentials.broker_port,
        username=credentials.username,
        password=credentials.password,
        ca_file=ca_file,
    )
    deadline = time.monotonic() + timeout
    while True:
        client = MqttClient(settings, client_id=credentials.client_id or credentials.username)
        try:
            client.connect(timeout=5)
        except ConnectRefused:
            client.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
        else:
            return client


def test_a_node_enrols_once_and_its_credentials_reach_the_broker_over_tls(hub: Hub) -> None:
    assert "askrigg" not in device_accounts(hub.state)  # no password anywhere before enrolment
    issued = hub.tokens.issue("askrigg")

    started = time.monotonic()
    credentials = hub.enrol(issued.token, "askrigg")
    enrol_s = time.monotonic() - started

    assert credentials.device_id == credentials.username == "askrigg"
    assert credentials.broker_host == "localhost"  # the state's first host name
    assert credentials.broker_port == hub.state.settings.port_tls
    assert credentials.ca_pem == hub.state.layout.ca_cert.read_text()
    assert len(credentials.password) >= 20
    # Only the hash rests on the hub's disk, and it is the password the node got.
    hashed = read_password_file(hub.state.layout.password_path)
    assert verify(credentials.password, hashed["askrigg"])
    for path in hub.state.layout.root.rglob("*"):
        if path.is_file():
            assert credentials.password.encode() not in path.read_bytes(), path

    ca_file = hub.root / "node-ca.crt"
    ca_file.write_text(credentials.ca_pem)
    client = _connect_as(credentials, ca_file)
    try:
        # 0x10 "no matching subscribers" is a success; another device's topic is not.
        assert client.publish("hallsense/v1/askrigg/status", b"{}").wait(5) in (0x00, 0x10)
        with pytest.raises(PublishRefused) as refused:
            client.publish("hallsense/v1/bainbridge/status", b"{}").wait(5)
        assert refused.value.reason == 0x87
    finally:
        client.close()

    with pytest.raises(TokenUsed, match="used"):
        hub.enrol(issued.token, "askrigg")
    assert enrol_s < 5, f"enrolment took {enrol_s:.2f} s"


def test_a_revoked_device_cannot_enrol_and_its_token_stays_unused(hub: Hub) -> None:
    issued = hub.tokens.issue("bainbridge")
    with pytest.raises(EnrolmentRefused) as refused:
        hub.enrol(issued.token, "bainbridge")
    assert refused.value.status == 403
    assert "revoked" in str(refused.value)
    assert "bainbridge" not in device_accounts(hub.state)
    assert [t.state(t.created_at) for t in hub.tokens.tokens("bainbridge")] == ["pending"]


def test_an_unregistered_device_cannot_enrol(hub: Hub) -> None:
    issued = hub.tokens.issue("hawes")
    with pytest.raises(EnrolmentRefused, match="not registered") as refused:
        hub.enrol(issued.token, "hawes")
    assert refused.value.status == 403
    assert "hawes" not in device_accounts(hub.state)


def test_every_answer_has_security_headers_json_errors_and_no_version(hub: Hub) -> None:
    verify_ca = str(hub.state.layout.ca_cert)
    with requests.Session() as session:
        session.trust_env = False
        answers = {
            "404": session.get(f"{hub.url}/api/v1/nothing", verify=verify_ca, timeout=10),
            "405": session.get(f"{hub.url}/enroll", verify=verify_ca, timeout=10),
            "400": session.post(f"{hub.url}/enroll", data="x", verify=verify_ca, timeout=10),
        }
    for status, response in answers.items():
        assert str(response.status_code) == status
        assert response.headers["Content-Type"] == "application/json"
        assert set(response.json()) == {"error", "message"}
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value, (status, name)
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["Strict-Transport-Security"].startswith("max-age=")
        server = response.headers.get("Server", "")
        assert server in ("", "hallsense"), server
        assert not any(c.isdigit() for c in server)
        assert "Werkzeug" not in response.text
        assert "Traceback" not in response.text
    assert answers["405"].headers["Allow"].split(", ").count("POST") == 1
    with requests.Session() as session:
        session.trust_env = False
        page = session.get(f"{hub.url}/admin", verify=verify_ca, timeout=10)
    assert page.status_code == 404  # a page, for people: the same headers, in HTML
    assert page.headers["Content-Type"].startswith("text/html")
    assert page.headers["Content-Security-Policy"] == SECURITY_HEADERS["Content-Security-Policy"]
    assert "<h1>Not Found</h1>" in page.text


def test_plain_http_to_the_tls_port_gets_no_credentials(hub: Hub) -> None:
    issued = hub.tokens.issue("askrigg")
    try:
        with requests.Session() as session:
            session.trust_env = False
            response = session.post(
                f"http://127.0.0.1:{hub.web.port}/enroll",
                json={"token": issued.token, "device_id": "askrigg"},
                timeout=10,
            )
    except requests.exceptions.ConnectionError:
        pass  # the TLS port would not speak plain HTTP at all
    else:
        assert response.status_code == 400
        assert "password" not in response.text
    assert [t.state(t.created_at) for t in hub.tokens.tokens("askrigg")][-1] == "pending"


def test_provisioning_and_the_hub_web_share_one_token_store(hub: Hub) -> None:
    # `provision add-device` issues tokens through enrolment_tokens, as `hub web` reads them.
    assert enrolment_tokens(hub.state).path == hub.tokens.path
    assert hub.tokens.path.parent == hub.state.layout.root / ENROLMENT_DIR


def test_nothing_secret_is_logged(hub: Hub) -> None:
    issued = hub.tokens.issue("askrigg")
    credentials = hub.enrol(issued.token, "askrigg")
    log = hub.web.log()
    assert "enrolled askrigg" in log
    assert f"asked the broker (pid {hub.broker.proc.pid}) to reload" in log
    assert issued.token not in log
    assert credentials.password not in log


@pytest.mark.slow
def test_sigterm_stops_the_hub_web_cleanly(hub: Hub, tmp_path: Path) -> None:
    env_file = hub.root / "hub.env"
    port = free_port()
    web = HubWeb(
        ["--env", str(env_file), "--state-dir", str(hub.state.layout.root), "--host", "127.0.0.1"],
        port,
        tmp_path / "web.out",
    ).wait_listening()
    started = time.monotonic()
    assert web.stop() == 0
    assert time.monotonic() - started < 5
    assert "hub web stopped" in web.log()
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port)):
        pass


@pytest.mark.slow
def test_plain_http_is_only_for_a_proxy_on_a_loopback_address(hub: Hub, tmp_path: Path) -> None:
    args = ["--env", str(hub.root / "hub.env"), "--state-dir", str(hub.state.layout.root)]
    everywhere = "0.0.0.0"  # noqa: S104 - refused, which is the point
    refused = HubWeb(
        [*args, "--plain-http-behind-proxy", "--host", everywhere], free_port(), tmp_path / "a.out"
    )
    assert refused.proc.wait(20) == 2
    assert "loopback" in refused.log()

    web = HubWeb([*args, "--plain-http-behind-proxy"], free_port(), tmp_path / "b.out")
    try:
        web.wait_listening()
        with requests.Session() as session:
            session.trust_env = False
            response = session.get(f"http://127.0.0.1:{web.port}/enroll", timeout=10)
        assert response.status_code == 405
        assert (
            response.headers["Content-Security-Policy"]
            == SECURITY_HEADERS["Content-Security-Policy"]
        )
    finally:
        assert web.stop() == 0


# --- in process: the app's proxy mode and the credential callback's edges ---


class _Registry:
    def __init__(self, **revoked: bool) -> None:
        self.revoked = revoked

    def device(self, device_id: str) -> _Device | None:
        if device_id not in self.revoked:
            return None
        return _Device(self.revoked[device_id])


@dataclass(frozen=True)
class _Device:
    revoked: bool


def test_behind_a_proxy_failed_attempts_count_per_forwarded_client(tmp_path: Path) -> None:
    def never(device_id: str) -> dict[str, object]:
        raise AssertionError("no token here is valid")

    app = create_hub_web(
        TokenStore(tmp_path),
        never,
        limiter=FailureLimiter(max_failures=2, window_s=60),
        behind_proxy=True,
    )
    client = app.test_client()
    body = {"token": "x" * 43, "device_id": "askrigg"}

    def attempt(forwarded_for: str) -> int:
        headers = {"X-Forwarded-For": forwarded_for}
        return client.post("/enroll", json=body, headers=headers).status_code

    assert [attempt("192.0.2.1") for _ in range(3)] == [401, 401, 429]
    assert attempt("192.0.2.2") == 401  # another node behind the same proxy is not blocked


def test_without_a_pid_file_the_reload_is_skipped_and_said_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = init_state(tmp_path / "state", hostnames=["hub.example"], run_as="root")
    issue = issue_credentials_for(state, _Registry(askrigg=False), broker_host="hub.example")
    with caplog.at_level(logging.INFO):
        first = issue("askrigg")
        second = issue("askrigg")
    assert first["password"] != second["password"]  # each enrolment makes a new one
    hashed = read_password_file(state.layout.password_path)
    assert verify(second["password"], hashed["askrigg"])
    assert not verify(first["password"], hashed["askrigg"])
    assert sum("no broker pid file" in r.getMessage() for r in caplog.records) == 1
    assert not any(first["password"] in r.getMessage() for r in caplog.records)
    assert set(first) == {
        "device_id",
        "broker_host",
        "broker_port",
        "username",
        "client_id",
        "password",
        "ca_pem",
    }
    assert json.loads(json.dumps(first))["broker_port"] == state.settings.port_tls


def test_a_reload_that_fails_fails_the_enrolment(tmp_path: Path) -> None:
    from provisioning.state import StateError

    state = init_state(tmp_path / "state", hostnames=["hub.example"], run_as="root")
    issue = issue_credentials_for(
        state, _Registry(askrigg=False), broker_host="hub.example", pid_file=tmp_path / "none.pid"
    )
    with pytest.raises(StateError, match="pid"):
        issue("askrigg")


def test_the_broker_host_must_be_given(tmp_path: Path) -> None:
    state = init_state(tmp_path / "state", hostnames=["hub.example"], run_as="root")
    with pytest.raises(ValueError, match="host"):
        issue_credentials_for(state, _Registry(), broker_host="")


def test_a_broker_host_the_certificate_does_not_name_is_refused(hub: Hub, tmp_path: Path) -> None:
    args = ["--env", str(hub.root / "hub.env"), "--state-dir", str(hub.state.layout.root)]
    web = HubWeb([*args, "--broker-host", "elsewhere.example"], free_port(), tmp_path / "w.out")
    assert web.proc.wait(20) == 2
    assert "not a name in the broker's certificate" in web.log()
