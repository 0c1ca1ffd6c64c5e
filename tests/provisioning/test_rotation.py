"""Replacing a device's broker password: the hub's /rotate routes and the node's keeper.

The routes are checked with Flask's test client over a real provisioning state and hub
store; the whole exchange then runs for real: a Mosquitto started with the state's
configuration, the hub's web over TLS, and the node's MQTT client with its keeper.
"""

from __future__ import annotations

import base64
import json
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.store_sqlite import SqliteHubStore
from hub.web import create_hub_web
from hub_sync.enrolment_files import Credentials, read_credentials, write_credentials
from hub_sync.mqtt import ConnectRefused, MqttClient
from hub_sync.rotation import CredentialKeeper, confirm_new_password
from hub_sync.rotation_contract import RotationFailed
from hub_sync.transports import Proxy
from provisioning.device_accounts import device_password_matches
from provisioning.enrolment_tokens import TokenStore
from provisioning.failure_limit import FailureLimiter
from provisioning.passwords import read_password_file, verify
from provisioning.rotation import PENDING_DIR, CredentialRotation, forget_pending
from provisioning.state import reload_broker
from tests.provisioning.test_enrolment import TlsServer
from tests.provisioning.test_state import ProvisionedBroker
from tests.support.proxy import TinyProxy


def basic(device_id: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{device_id}:{password}".encode()).decode("ascii")
    return {"Authorization": f"Basic {token}"}


def wait_until(check, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


class Reloads:
    def __init__(self, pid: int | None = None) -> None:
        self.pid = pid
        self.count = 0

    def __call__(self) -> None:
        self.count += 1
        if self.pid is not None:
            reload_broker(pid=self.pid)


@pytest.fixture(scope="module")
def broker(tmp_path_factory) -> Iterator[ProvisionedBroker]:
    running = ProvisionedBroker(tmp_path_factory.mktemp("rotation") / "state")
    yield running
    running.stop()


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[SqliteHubStore]:
    store = SqliteHubStore(tmp_path / "hub.db")
    store.add_device("askrigg", "Askrigg Village Hall")
    store.add_device("bainbridge", "Bainbridge Village Hall")
    yield store
    store.close()


@pytest.fixture
def b(broker: ProvisionedBroker) -> Iterator[ProvisionedBroker]:
    """The module's broker with askrigg's original password put back after each test."""
    yield broker
    broker.close_clients()
    from provisioning.device_accounts import add_device_account

    add_device_account(broker.state, "askrigg", broker.passwords["askrigg"], replace=True)
    forget_pending(broker.state, "askrigg")
    reload_broker(pid=broker.proc.pid)


def web(b: ProvisionedBroker, registry: SqliteHubStore, reloads: Reloads, **kw):
    rotation = CredentialRotation(b.state, registry, reloads)
    app = create_hub_web(
        TokenStore(b.state.layout.root / "enrolment"),
        lambda device_id: {},
        rotation=rotation,
        **kw,
    )
    return app


# --- the routes ---


def test_a_device_gets_a_new_password_only_when_asked_and_only_with_its_current_one(b, registry):
    reloads = Reloads()
    client = web(b, registry, reloads).test_client()
    old = b.passwords["askrigg"]

    refused = client.post("/rotate", headers=basic("askrigg", old))
    assert refused.status_code == 409
    assert refused.json["error"] == "not_requested"

    registry.request_rotation("askrigg", actor="test")
    wrong = client.post("/rotate", headers=basic("askrigg", "not-the-password"))
    unknown = client.post("/rotate", headers=basic("nowhere", "not-the-password"))
    for answer in (wrong, unknown):  # one answer for both: no probing for device ids
        assert answer.status_code == 401
        assert answer.json == {"error": "unauthorised", "message": unknown.json["message"]}
        assert answer.headers["WWW-Authenticate"].startswith("Basic")
    assert client.post("/rotate").status_code == 401

    answer = client.post("/rotate", headers=basic("askrigg", old))
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    new = answer.json["password"]
    assert answer.json["device_id"] == "askrigg"
    assert len(new) >= 40
    assert new != old
    # Nothing changes at the broker until the node confirms; only a hash rests on disk.
    assert device_password_matches(b.state, "askrigg", old)
    pending = b.state.layout.root / PENDING_DIR / "askrigg.hash"
    assert stat.S_IMODE(pending.stat().st_mode) == 0o600
    assert new not in pending.read_text()
    assert verify(new, pending.read_text().strip())
    assert reloads.count == 0


def test_confirming_with_the_new_password_puts_it_in_force_once(b, registry):
    reloads = Reloads()
    client = web(b, registry, reloads).test_client()
    old = b.passwords["askrigg"]
    registry.request_rotation("askrigg", actor="test")
    first = client.post("/rotate", headers=basic("askrigg", old)).json["password"]
    # The answer was lost: the node asks again and the first password is void.
    new = client.post("/rotate", headers=basic("askrigg", old)).json["password"]
    assert client.post("/rotate/confirm", headers=basic("askrigg", first)).status_code == 401
    current = client.post("/rotate/confirm", headers=basic("askrigg", old))
    assert current.status_code == 200
    assert current.json["rotated"] is False  # that was no confirmation, and it says so
    assert "still waits for its confirmation" in current.json["reason"]
    assert device_password_matches(b.state, "askrigg", old)

    answer = client.post("/rotate/confirm", headers=basic("askrigg", new))
    assert answer.status_code == 200
    assert answer.json == {"version": 1, "device_id": "askrigg", "rotated": True, "in_force": True}
    assert device_password_matches(b.state, "askrigg", new)
    assert not device_password_matches(b.state, "askrigg", old)
    assert reloads.count == 1
    assert not registry.device("askrigg").rotation_requested
    assert registry.audit_log("askrigg")[-1].action == "credentials rotated"
    # The answer to the confirmation was lost: confirming again says the password is in
    # force, and that this request did not rotate it.
    again = client.post("/rotate/confirm", headers=basic("askrigg", new))
    assert again.status_code == 200
    assert again.json == {
        "version": 1,
        "device_id": "askrigg",
        "rotated": False,
        "in_force": True,
        "reason": "this password is the one in force already; "
        "no new password was waiting for confirmation",
    }
    assert reloads.count == 1
    # The other device's account is untouched.
    accounts = read_password_file(b.state.layout.password_path)
    assert verify(b.passwords["bainbridge"], accounts["bainbridge"])


def test_confirming_with_the_current_password_rotates_nothing_and_says_so(b, registry):
    reloads = Reloads()
    client = web(b, registry, reloads).test_client()
    old = b.passwords["askrigg"]
    password_file = b.state.layout.password_path
    before = password_file.read_bytes()

    answer = client.post("/rotate/confirm", headers=basic("askrigg", old))
    assert answer.status_code == 200
    assert answer.json["rotated"] is False
    assert answer.json["in_force"] is True
    assert "no new password was waiting" in answer.json["reason"]
    assert password_file.read_bytes() == before
    assert reloads.count == 0
    assert all(e.action != "credentials rotated" for e in registry.audit_log("askrigg"))

    registry.request_rotation("askrigg", actor="test")
    new = client.post("/rotate", headers=basic("askrigg", old)).json["password"]
    rotated = client.post("/rotate/confirm", headers=basic("askrigg", new))
    assert rotated.json["rotated"] is True
    assert password_file.read_bytes() != before
    assert verify(new, read_password_file(password_file)["askrigg"])
    assert reloads.count == 1


@pytest.mark.parametrize(
    ("body", "content_type", "said"),
    [
        ("[" * 500 + "]" * 500, "application/json", "nests deeper than"),
        ("[" * 2048 + "]" * 2048, "application/json", "larger than 1024 bytes"),
        ('{"a": 1' + "0" * 5000 + "}", "application/json", "larger than 1024 bytes"),
        ('{"a": 1' + "0" * 100 + "}", "application/json", "number of 101 characters"),
        ('{"a": "\\u0000"}', "application/json", "control character U+0000"),
        ('{"a": ', "application/json", "not JSON"),
        ('{"a": "\\x"}', "application/json", "not JSON"),
        (b'{"a": "\xff"}', "application/json", "not UTF-8"),
        ("[1]", "application/json", "a JSON object, or nothing"),
        ("a=1", "application/x-www-form-urlencoded", "take no body"),
        ("x" * 1025, "text/plain", "larger than 1024 bytes"),
    ],
)
def test_a_malformed_body_is_refused_by_name_and_counts_as_a_failure(
    b, registry, body, content_type, said
):
    limiter = FailureLimiter(2, 60.0)
    client = web(b, registry, Reloads(), limiter=limiter).test_client()
    registry.request_rotation("askrigg")
    headers = basic("askrigg", b.passwords["askrigg"])
    for path in ("/rotate", "/rotate/confirm"):
        answer = client.post(path, data=body, content_type=content_type, headers=headers)
        assert answer.status_code == 400, answer.json
        assert answer.json["error"] == "bad_request"
        assert said in answer.json["message"]
    blocked = client.post("/rotate", headers=headers)
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) >= 1


def test_a_body_at_the_limit_is_read_and_ignored(b, registry):
    client = web(b, registry, Reloads()).test_client()
    headers = basic("askrigg", b.passwords["askrigg"])
    at_limit = json.dumps({"pad": "x" * (1024 - len('{"pad": ""}'))})
    assert len(at_limit) == 1024
    for body in ("", "{}", at_limit):
        answer = client.post(
            "/rotate/confirm", data=body, headers=headers, content_type="application/json"
        )
        assert answer.status_code == 200, answer.json
        assert answer.json["in_force"] is True


def test_a_revoked_device_cannot_rotate(b, registry):
    client = web(b, registry, Reloads()).test_client()
    registry.request_rotation("askrigg")
    new = client.post("/rotate", headers=basic("askrigg", b.passwords["askrigg"])).json["password"]
    registry.revoke_device("askrigg")
    answer = client.post("/rotate/confirm", headers=basic("askrigg", new))
    assert answer.status_code == 403
    assert answer.json["error"] == "refused"
    assert device_password_matches(b.state, "askrigg", b.passwords["askrigg"])


def test_guessing_passwords_is_slowed_down(b, registry):
    client = web(b, registry, Reloads(), limiter=FailureLimiter(5, 60.0)).test_client()
    registry.request_rotation("askrigg")
    for _ in range(5):
        assert client.post("/rotate", headers=basic("askrigg", "guess")).status_code == 401
    blocked = client.post("/rotate", headers=basic("askrigg", b.passwords["askrigg"]))
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) >= 1


# --- the whole exchange, for real ---


def node_credentials(tmp_path: Path, b: ProvisionedBroker, password: str, previous=None) -> Path:
    path = tmp_path / "node" / "credentials.json"
    path.parent.mkdir(exist_ok=True)
    write_credentials(
        path,
        Credentials(
            device_id="askrigg",
            broker_host="127.0.0.1",
            broker_port=b.state.settings.port_tls,
            username="askrigg",
            password=password,
            ca_pem=b.state.layout.ca_cert.read_text(),
            client_id="askrigg",
            previous_password=previous,
        ),
    )
    return path


def node_client(b: ProvisionedBroker, keeper: CredentialKeeper) -> MqttClient:
    client = MqttClient(
        b.settings("askrigg", password=keeper.password),
        client_id="askrigg",
        on_connect=lambda _client: keeper.connected(),
        on_refused=keeper.refused,
        reconnect_min_s=0.2,
        reconnect_max_s=0.5,
    )
    b.clients.append(client)
    keeper.attach(client)
    return client


@pytest.fixture
def hub_web(b, registry) -> Iterator[TlsServer]:
    app = web(b, registry, Reloads(b.proc.pid))
    server = TlsServer(app, b.state.layout.server_cert, b.state.layout.server_key)
    yield server
    server.stop()


@pytest.mark.slow
def test_a_connected_node_rotates_and_the_broker_then_knows_only_the_new_password(
    tmp_path, b, registry, hub_web
):
    old = b.passwords["askrigg"]
    path = node_credentials(tmp_path, b, old)
    keeper = CredentialKeeper(path, hub_url=hub_web.url, ca_file=b.state.layout.ca_cert)
    client = node_client(b, keeper)
    client.start_background()
    assert client.wait_connected(10)

    with pytest.raises(RotationFailed, match="not_requested"):
        keeper.rotate()  # nobody asked
    # Confirming the password in force answers truthfully, and the node takes it as such.
    assert not confirm_new_password(hub_web.url, "askrigg", old, ca_file=b.state.layout.ca_cert)
    registry.request_rotation("askrigg", actor="test")
    keeper.rotate()

    saved = read_credentials(path)
    assert saved.password == keeper.password != old
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # The reload drops the session made with the old password; the node comes back with
    # the new one and only then forgets the old.
    assert wait_until(lambda: read_credentials(path).previous_password is None)
    assert client.wait_connected(10)
    with pytest.raises(ConnectRefused):
        b.connected("askrigg", password=old, client_id="askrigg-old")
    assert b.connected("askrigg", password=saved.password, client_id="askrigg-new").connected
    assert not registry.device("askrigg").rotation_requested
    assert "password" not in json.dumps(repr(saved))


def test_a_node_behind_the_halls_proxy_rotates_through_it(tmp_path, b, registry, hub_web):
    old = b.passwords["askrigg"]
    path = node_credentials(tmp_path, b, old)
    proxy = TinyProxy(
        tmp_path / "proxy", connect_ports=(hub_web.port,), credentials=("hall", "proxy-pw")
    ).start()
    try:
        keeper = CredentialKeeper(
            path,
            hub_url=hub_web.url,
            ca_file=b.state.layout.ca_cert,
            proxies=Proxy.from_url(proxy.url_with("hall", "proxy-pw")).requests_proxies(),
        )
        registry.request_rotation("askrigg", actor="test")
        keeper.rotate()
        fresh = read_credentials(path).password
        assert fresh != old
        assert device_password_matches(b.state, "askrigg", fresh)
        # Both calls went through the proxy: the request and the confirmation.
        assert proxy.log().count(f"CONNECT 127.0.0.1:{hub_web.port} ") == 2, proxy.log()
    finally:
        proxy.stop()


def test_a_node_whose_new_password_never_took_falls_back_to_the_old_one(tmp_path, b):
    old = b.passwords["askrigg"]
    # Crashed between receiving a new password and the hub's confirmation.
    path = node_credentials(tmp_path, b, "never-confirmed-password", previous=old)
    keeper = CredentialKeeper(path, hub_url="", ca_file=None)
    client = node_client(b, keeper)
    client.start_background()
    assert client.wait_connected(10)
    assert keeper.password == old
    # Both are kept: the hub may yet confirm the new one.
    assert read_credentials(path).previous_password == old
