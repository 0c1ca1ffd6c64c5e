"""The provisioning state against a real Mosquitto started with the configuration init wrote."""

import gc
import os
import pwd
import queue
import subprocess
import time
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from hub_sync.mqtt import (
    BrokerSettings,
    ConnectRefused,
    MqttClient,
    MqttError,
    NotConnected,
    PublishRefused,
)
from hub_sync.wire_errors import DeviceIdError
from provisioning.broker_config import HUB_ACCOUNT, READER_ACCOUNT
from provisioning.certificates import new_ca, write_certificate
from provisioning.device_accounts import (
    add_device_account,
    add_device_accounts,
    device_accounts,
    remove_device_account,
)
from provisioning.passwords import PasswordFileError, read_password_file, verify
from provisioning.state import (
    ENV_VAR,
    AccountError,
    StateError,
    StateExists,
    StateMissing,
    account_password,
    init_state,
    load_state,
    reload_broker,
    state_dir_from,
)
from tests.support.broker import free_port
from tests.support.ports import wait_listening

NOT_AUTHORISED = 0x87
T = "hallsense/v1"
WRONG_PASSWORD = "not-the-password"  # noqa: S105


class ProvisionedBroker:
    """Mosquitto run with ``mosquitto -c DIR/mosquitto/mosquitto.conf`` of a fresh state."""

    def __init__(self, directory: Path, *, plain: bool = False) -> None:
        self.state = init_state(
            directory,
            hostnames=["localhost"],
            ips=["127.0.0.1"],
            port_tls=free_port(),
            service_port=free_port(),
            plain_port=free_port() if plain else None,
            bind_address="127.0.0.1",
            run_as="root",
        )
        self.passwords = {
            device: add_device_account(self.state, device) for device in ("askrigg", "bainbridge")
        }
        self.passwords[HUB_ACCOUNT] = account_password(self.state, HUB_ACCOUNT)
        self.passwords[READER_ACCOUNT] = account_password(self.state, READER_ACCOUNT)
        self.out = directory.parent / f"{directory.name}.out"
        self.clients: list[MqttClient] = []
        with self.out.open("wb") as sink:
            self.proc = subprocess.Popen(
                ["mosquitto", "-c", str(self.state.layout.conf_path)], stdout=sink, stderr=sink
            )
        settings = self.state.settings
        for port in (settings.port_tls, settings.service_port, settings.plain_port):
            if port is not None:
                wait_listening(port, self.proc, self.out, timeout=10)

    def settings(
        self, user: str, *, password: str | None = None, port: int | None = None, tls: bool = True
    ) -> BrokerSettings:
        if port is None:
            service = self.state.settings.service_port
            port = service if user == HUB_ACCOUNT else self.state.settings.port_tls
        return BrokerSettings(
            host="127.0.0.1",
            port=port,
            username=user,
            password=self.passwords.get(user, "") if password is None else password,
            ca_file=self.state.layout.ca_cert if tls else None,
        )

    def client(self, user: str, *, client_id: str | None = None, inbox=None, **kw) -> MqttClient:
        on_message = inbox.put if inbox is not None else None
        client = MqttClient(
            self.settings(user, **kw),
            client_id=client_id or user,
            on_message=on_message,
            reconnect_min_s=5,
            reconnect_max_s=10,
        )
        self.clients.append(client)
        return client

    def connected(self, user: str, *, timeout: float = 5, **kw) -> MqttClient:
        client = self.client(user, **kw)
        client.connect(timeout=timeout)
        return client

    def close_clients(self) -> None:
        for client in self.clients:
            client.close()
        self.clients.clear()

    def stop(self) -> None:
        self.close_clients()
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    running = ProvisionedBroker(tmp_path_factory.mktemp("provisioned") / "state")
    yield running
    running.stop()


@pytest.fixture
def b(broker):
    yield broker
    broker.close_clients()


def received(inbox: queue.Queue, timeout: float = 3.0) -> paho.MQTTMessage:
    return inbox.get(timeout=timeout)


def nothing_received(inbox: queue.Queue, wait: float = 0.3) -> bool:
    try:
        message = inbox.get(timeout=wait)
    except queue.Empty:
        return True
    raise AssertionError(f"unexpected message on {message.topic}")


def subscribe_maybe(client: MqttClient, topic_filter: str) -> None:
    """Subscribe; a SUBACK refusal is as good as a grant that delivers nothing."""
    try:
        client.subscribe(topic_filter)
    except PublishRefused as refused:
        reason = refused.reason
    else:
        return
    assert reason == NOT_AUTHORISED


def publish(client: MqttClient, topic: str, payload: bytes = b"x", **kw) -> int:
    return client.publish(topic, payload, **kw).wait(5)


# --- who may connect ---


def test_anonymous_clients_are_refused(b):
    answers: queue.Queue = queue.Queue()
    client = paho.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id="nobody",
        protocol=MQTTProtocolVersion.MQTTv5,
    )
    client.tls_set(ca_certs=str(b.state.layout.ca_cert))
    client.on_connect = lambda c, u, f, reason, p: answers.put(reason)
    client.connect("127.0.0.1", b.state.settings.port_tls)
    client.loop_start()
    try:
        reason = answers.get(timeout=5)
    finally:
        client.disconnect()
        client.loop_stop()
    assert reason.is_failure


@pytest.mark.parametrize("user", ["askrigg", HUB_ACCOUNT, READER_ACCOUNT, "nobody"])
def test_wrong_passwords_are_refused(b, user):
    with pytest.raises(ConnectRefused) as refused:
        b.connected(user, password=WRONG_PASSWORD)
    assert refused.value.reason in (0x86, NOT_AUTHORISED)


def test_the_right_password_over_tls_with_the_ca_works(b):
    askrigg = b.connected("askrigg")
    assert publish(askrigg, f"{T}/askrigg/readings") in (0, 0x10)


# paho leaves the socket of a failed TLS handshake for the garbage collector.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_tls_fails_against_another_ca(b, tmp_path):
    stranger = write_certificate(tmp_path / "other-ca.crt", new_ca())
    client = MqttClient(
        BrokerSettings("127.0.0.1", b.state.settings.port_tls, "askrigg", "x", ca_file=stranger),
        client_id="askrigg",
    )
    with pytest.raises(NotConnected, match="certificate verify failed"):
        client.connect(timeout=5)
    client.close()
    gc.collect()


def test_plain_mqtt_is_not_spoken_on_the_tls_port(b):
    with pytest.raises(MqttError):
        b.connected("askrigg", tls=False, port=b.state.settings.port_tls, timeout=1)


def test_every_listener_is_tls_unless_a_plain_port_is_asked_for(b):
    conf = b.state.layout.conf_path.read_text()
    blocks = conf.split("listener ")[1:]
    assert len(blocks) == 2
    assert all("\ncertfile " in block and "tls_version tlsv1.2" in block for block in blocks)
    assert b.state.settings.plain_port is None
    assert "allow_anonymous true" not in conf


@pytest.mark.slow
def test_a_lab_plain_port_only_when_asked_for(tmp_path):
    lab = ProvisionedBroker(tmp_path / "lab", plain=True)
    try:
        plain = lab.state.settings.plain_port
        askrigg = lab.connected("askrigg", tls=False, port=plain)
        assert publish(askrigg, f"{T}/askrigg/readings") in (0, 0x10)
        with pytest.raises(ConnectRefused):
            lab.connected("askrigg", tls=False, port=plain, password=WRONG_PASSWORD)
        with pytest.raises(ConnectRefused):  # the hub has its own listener
            lab.connected(HUB_ACCOUNT, tls=False, port=plain)
    finally:
        lab.stop()


def test_accounts_are_confined_to_their_listener(b):
    with pytest.raises(ConnectRefused):
        b.connected(HUB_ACCOUNT, port=b.state.settings.port_tls)
    with pytest.raises(ConnectRefused):
        b.connected("askrigg", port=b.state.settings.service_port)


# --- what each account may do ---


def test_the_hub_reads_every_device_through_a_shared_subscription(b):
    inbox: queue.Queue = queue.Queue()
    hub = b.connected(HUB_ACCOUNT, client_id="_hub-1", inbox=inbox)
    hub.subscribe(f"$share/hub/{T}/+/readings")
    hub.subscribe(f"$share/hub/{T}/+/status")
    for device in ("askrigg", "bainbridge"):
        publish(b.connected(device), f"{T}/{device}/readings", device.encode())
        assert received(inbox).topic == f"{T}/{device}/readings"
    publish(b.clients[-1], f"{T}/bainbridge/status", b"online", retain=True)
    assert received(inbox).payload == b"online"


def test_hub_workers_each_keep_their_own_client_id(b):
    first = b.connected(HUB_ACCOUNT, client_id="_hub-1")
    second = b.connected(HUB_ACCOUNT, client_id="_hub-2")
    time.sleep(0.3)
    assert first.connected
    assert second.connected


def test_the_hub_acks_but_cannot_write_readings(b):
    # It may write status, to clear a retained one: see test_broker_limits.
    inbox: queue.Queue = queue.Queue()
    askrigg = b.connected("askrigg", inbox=inbox)
    askrigg.subscribe(f"{T}/askrigg/ack")
    askrigg.subscribe(f"{T}/askrigg/config")
    hub = b.connected(HUB_ACCOUNT, client_id="_hub-1")
    publish(hub, f"{T}/askrigg/ack", b"ack")
    assert received(inbox).payload == b"ack"
    publish(hub, f"{T}/askrigg/config", b"config")
    assert received(inbox).payload == b"config"
    for topic in (f"{T}/askrigg/readings", f"{T}/_hub/readings", f"{T}/_hub/status"):
        with pytest.raises(PublishRefused) as refused:
            publish(hub, topic)
        assert refused.value.reason == NOT_AUTHORISED


def test_the_read_only_account_reads_and_writes_nothing(b):
    inbox: queue.Queue = queue.Queue()
    reader = b.connected(READER_ACCOUNT, inbox=inbox)
    reader.subscribe(f"{T}/+/readings")
    publish(b.connected("askrigg"), f"{T}/askrigg/readings", b"r")
    assert received(inbox).payload == b"r"
    for kind in ("readings", "status", "ack", "config"):
        for device in ("askrigg", READER_ACCOUNT):
            with pytest.raises(PublishRefused) as refused:
                publish(reader, f"{T}/{device}/{kind}")
            assert refused.value.reason == NOT_AUTHORISED
    with pytest.raises(PublishRefused):
        publish(reader, "elsewhere")
    for kind in ("ack", "config"):
        subscribe_maybe(reader, f"{T}/askrigg/{kind}")
    hub = b.connected(HUB_ACCOUNT, client_id="_hub-1")
    publish(hub, f"{T}/askrigg/ack", b"ack")
    publish(hub, f"{T}/askrigg/config", b"config")
    assert nothing_received(inbox)


def test_a_device_cannot_speak_for_another(b):
    askrigg = b.connected("askrigg")
    for kind in ("readings", "status"):
        with pytest.raises(PublishRefused) as refused:
            publish(askrigg, f"{T}/bainbridge/{kind}")
        assert refused.value.reason == NOT_AUTHORISED
    for kind in ("ack", "config"):
        with pytest.raises(PublishRefused):  # nor write what the hub writes
            publish(askrigg, f"{T}/askrigg/{kind}")


@pytest.mark.parametrize(
    "topic_filter",
    [f"{T}/bainbridge/ack", f"{T}/bainbridge/config", f"{T}/+/ack", f"{T}/+/+", "#"],
)
def test_a_device_never_receives_another_device_s_ack_or_config(b, topic_filter):
    # Mosquitto's acl_file grants every SUBSCRIBE and checks "read" on each message it
    # would deliver (eclipse-mosquitto/mosquitto#2208): the guarantee is that nothing of
    # bainbridge's reaches askrigg, whatever it subscribes to.
    spy: queue.Queue = queue.Queue()
    askrigg = b.connected("askrigg", inbox=spy)
    subscribe_maybe(askrigg, topic_filter)
    owner: queue.Queue = queue.Queue()
    bainbridge = b.connected("bainbridge", inbox=owner)
    bainbridge.subscribe(f"{T}/bainbridge/+")
    hub = b.connected(HUB_ACCOUNT, client_id="_hub-1")
    publish(hub, f"{T}/bainbridge/ack", b"ack")
    publish(hub, f"{T}/bainbridge/config", b"config")
    assert {received(owner).payload, received(owner).payload} == {b"ack", b"config"}
    assert nothing_received(spy)


def test_a_device_s_client_id_is_its_user_name(b):
    bainbridge = b.connected("bainbridge")
    # askrigg's credentials with bainbridge's client id: forced to "askrigg", so
    # bainbridge's session is not taken over.
    intruder = b.connected("askrigg", client_id="bainbridge")
    time.sleep(0.3)
    assert bainbridge.connected
    assert publish(bainbridge, f"{T}/bainbridge/readings") in (0, 0x10)
    # A second connection with askrigg's name and yet another client id is askrigg
    # again: it takes the first one's place.
    b.connected("askrigg", client_id="askrigg-second")
    deadline = time.monotonic() + 3
    while intruder.connected and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not intruder.connected


# --- accounts change while the broker runs ---


def test_an_added_account_works_after_a_reload_and_a_removed_one_stops(b):
    password = add_device_account(b.state, "carperby")
    b.passwords["carperby"] = password
    assert "carperby" in device_accounts(b.state)
    reload_broker(pid=b.proc.pid)
    deadline = time.monotonic() + 5
    while True:
        try:
            carperby = b.connected("carperby")
            break
        except ConnectRefused:
            assert time.monotonic() < deadline, "the reload did not take the new account"
            time.sleep(0.05)
    assert publish(carperby, f"{T}/carperby/readings") in (0, 0x10)

    assert remove_device_account(b.state, "carperby")
    assert not remove_device_account(b.state, "carperby")
    pid_file = b.out.parent / "mosquitto.pid"
    pid_file.write_text(f"{b.proc.pid}\n")
    reload_broker(pid_file=pid_file)
    deadline = time.monotonic() + 5
    while carperby.connected and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not carperby.connected, "the reload left a removed account connected"
    with pytest.raises(ConnectRefused):
        b.connected("carperby")


def test_an_account_is_added_once_unless_replaced(b):
    with pytest.raises(AccountError, match="askrigg"):
        add_device_account(b.state, "askrigg")
    before = read_password_file(b.state.layout.password_path)
    mode = b.state.layout.password_path.stat().st_mode & 0o777
    assert mode == 0o600
    assert add_device_account(b.state, "dent", "chosen") == "chosen"
    after = read_password_file(b.state.layout.password_path)
    assert after["askrigg"] == before["askrigg"]
    assert verify("chosen", after["dent"])
    assert add_device_account(b.state, "dent", replace=True) != "chosen"
    assert b.state.layout.password_path.stat().st_mode & 0o777 == 0o600
    assert remove_device_account(b.state, "dent")


def test_many_accounts_are_added_in_one_write_and_work_after_a_reload(b):
    halls = [f"bulk-{n:04d}" for n in range(300)]
    made = add_device_accounts(b.state, halls, {"bulk-0007": "chosen"})
    try:
        assert sorted(made) == halls
        assert made["bulk-0007"] == "chosen"
        assert len(set(made.values())) == len(halls)  # each its own password
        assert b.state.layout.password_path.stat().st_mode & 0o777 == 0o600
        reload_broker(pid=b.proc.pid)
        b.passwords.update(made)
        deadline = time.monotonic() + 5
        while True:
            try:
                b.connected("bulk-0299").close()
                break
            except ConnectRefused:
                assert time.monotonic() < deadline, "the reload did not take the new accounts"
                time.sleep(0.05)
        b.connected("bulk-0007").close()
    finally:
        for hall in halls:
            remove_device_account(b.state, hall)


def test_bulk_accounts_are_all_or_nothing(b):
    before = b.state.layout.password_path.read_bytes()
    with pytest.raises(AccountError, match="'askrigg'"):
        add_device_accounts(b.state, ["fresh-1", "askrigg", "fresh-2"])
    with pytest.raises(AccountError, match="fresh-1"):
        add_device_accounts(b.state, ["fresh-1", "fresh-2", "fresh-1"])
    with pytest.raises(DeviceIdError, match="Bad"):
        add_device_accounts(b.state, ["fresh-1", "Bad"])
    assert b.state.layout.password_path.read_bytes() == before


@pytest.mark.parametrize("bad", ["_hub", "_reader", "Askrigg", "a/b", "+", "#", "a" * 33, ""])
def test_only_device_ids_become_device_accounts(b, bad):
    with pytest.raises(DeviceIdError):
        add_device_account(b.state, bad)
    with pytest.raises(DeviceIdError):
        remove_device_account(b.state, bad)


def test_reload_needs_a_broker(tmp_path):
    with pytest.raises(StateError, match="pid"):
        reload_broker()
    with pytest.raises(StateError, match="cannot read"):
        reload_broker(pid_file=tmp_path / "none.pid")


# --- password files ---


def test_the_generated_password_file_is_mosquitto_s_own_format(b):
    hashed = read_password_file(b.state.layout.password_path)
    assert set(hashed) >= {"askrigg", "bainbridge", READER_ACCOUNT}
    assert HUB_ACCOUNT not in hashed
    assert all(value.startswith("$7$") for value in hashed.values())
    assert verify(b.passwords["askrigg"], hashed["askrigg"])
    service = read_password_file(b.state.layout.service_password_path)
    assert list(service) == [HUB_ACCOUNT]


def test_a_file_from_mosquitto_passwd_verifies(tmp_path):
    path = tmp_path / "pw"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(path), "alice", "s3cret"], check=True)
    subprocess.run(["mosquitto_passwd", "-b", str(path), "bob", "other pw"], check=True)
    hashed = read_password_file(path)
    assert sorted(hashed) == ["alice", "bob"]
    assert verify("s3cret", hashed["alice"])
    assert verify("other pw", hashed["bob"])
    assert not verify("s3cret", hashed["bob"])


def test_a_broken_password_file_is_named_with_its_line(tmp_path):
    path = tmp_path / "pw"
    path.write_text("# comment\n\nalice:$7$101$a$b\nbob\n")
    with pytest.raises(PasswordFileError, match=r"pw, line 4: not of the form user:hash"):
        read_password_file(path)
    path.write_text("alice:$7$1$a$b\nalice:$7$1$c$d\n")
    with pytest.raises(PasswordFileError, match="listed twice"):
        read_password_file(path)


# --- the state directory ---


def test_init_refuses_to_overwrite_a_state(broker):
    root = broker.state.layout.root
    before = broker.state.layout.ca_cert.read_bytes()
    with pytest.raises(StateExists, match=str(root)):
        init_state(root, hostnames=["localhost"], run_as="root")
    assert broker.state.layout.ca_cert.read_bytes() == before


def test_a_state_loads_back(broker):
    loaded = load_state(broker.state.layout.root)
    assert loaded == broker.state
    assert loaded.ca_fingerprint.startswith("sha256:")


def test_a_missing_state_is_named(tmp_path):
    with pytest.raises(StateMissing, match=str(tmp_path)):
        load_state(tmp_path)


def test_the_state_directory_comes_from_the_option_or_the_environment(tmp_path):
    assert state_dir_from(tmp_path / "a", {ENV_VAR: "/b"}) == tmp_path / "a"
    assert state_dir_from(None, {ENV_VAR: str(tmp_path / "b")}) == tmp_path / "b"
    with pytest.raises(StateError, match=f"--state-dir DIR or set {ENV_VAR}"):
        state_dir_from(None, {})


def test_secrets_are_private(broker):
    layout = broker.state.layout
    for path in (
        layout.ca_key,
        layout.server_key,
        layout.password_path,
        layout.service_password_path,
        layout.account_password_path(HUB_ACCOUNT),
        layout.account_password_path(READER_ACCOUNT),
    ):
        assert path.stat().st_mode & 0o777 == 0o600, path
    for directory in (layout.ca_dir, layout.secrets_dir):
        assert directory.stat().st_mode & 0o777 == 0o700
    assert broker.passwords[HUB_ACCOUNT] != broker.passwords[READER_ACCOUNT]
    assert len(broker.passwords[HUB_ACCOUNT]) >= 43


@pytest.mark.skipif(os.geteuid() != 0, reason="giving files to another user needs root")
def test_the_broker_s_user_owns_what_it_reads(tmp_path):
    try:
        broker_user = pwd.getpwnam("mosquitto")
    except KeyError:
        pytest.skip("no mosquitto user here")
    state = init_state(tmp_path / "state", hostnames=["hub.example.org"])
    layout = state.layout
    assert state.settings.run_as == "mosquitto"
    assert "user mosquitto" in layout.conf_path.read_text()
    for path in (layout.server_key, layout.password_path, layout.service_password_path):
        assert (path.stat().st_uid, path.stat().st_mode & 0o777) == (broker_user.pw_uid, 0o600)
    assert layout.acl_path.stat().st_uid == broker_user.pw_uid
    assert layout.data_dir.stat().st_uid == broker_user.pw_uid
    # What the broker never needs stays with the one who provisioned.
    for path in (layout.ca_key, layout.account_password_path(HUB_ACCOUNT)):
        assert path.stat().st_uid == 0
    add_device_account(state, "askrigg")
    assert layout.password_path.stat().st_uid == broker_user.pw_uid
    assert layout.password_path.stat().st_mode & 0o777 == 0o600
