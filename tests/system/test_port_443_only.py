"""A hall whose network lets only web traffic out: a node in a network namespace.

First, only TCP 443 to the hub's side gets out: the node (``transport=auto``) finds MQTT/TLS
on the broker port silent, falls back to WebSockets/TLS on 443, and every reading its
counter driver makes arrives at the hub exactly once. Second, only a real HTTP proxy
(tinyproxy, with a password) is reachable, and it is restarted mid-run: still exactly once.
"""

import random
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from hub.store_sqlite import SqliteHubStore
from provisioning.device_accounts import add_device_account
from provisioning.state import load_state, reload_broker
from sensors.counter import read_tally
from tests.support.broker import free_port
from tests.support.edge_process import EdgeProcess, wait_for
from tests.support.hub_process import HubProcess
from tests.support.ports import wait_listening
from tests.support.provisioned import node_env, provision, provisioned_hub_env
from tests.support.proxy import TinyProxy

# Each node start waits out one connect timeout (5 s) on the dropped MQTT/TLS port before
# falling back.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

DEVICE = "askrigg-village-hall"


def _run(*args: str) -> None:
    subprocess.run(list(args), check=True, capture_output=True)


@dataclass(frozen=True)
class Hall:
    name: str
    hub_address: str

    def command(self) -> tuple[str, ...]:
        return ("ip", "netns", "exec", self.name)


@contextmanager
def walled_hall(allowed_port: int) -> Iterator[Hall]:
    """A namespace on a veth pair whose only way out is TCP to ``allowed_port`` of the
    hub's side (and its own loopback): everything else is dropped, silently."""
    tag = random.randrange(1 << 16)
    name, host_if, node_if = f"hw{tag}", f"hwh{tag}", f"hwn{tag}"
    octet = tag % 250 + 1
    hub, node = f"10.232.{octet}.1", f"10.232.{octet}.2"
    _run("ip", "netns", "add", name)
    try:
        inside = ("ip", "netns", "exec", name)
        _run("ip", "link", "add", host_if, "type", "veth", "peer", "name", node_if)
        _run("ip", "link", "set", node_if, "netns", name)
        _run("ip", "addr", "add", f"{hub}/30", "dev", host_if)
        _run("ip", "link", "set", host_if, "up")
        _run(*inside, "ip", "addr", "add", f"{node}/30", "dev", node_if)
        _run(*inside, "ip", "link", "set", node_if, "up")
        _run(*inside, "ip", "link", "set", "lo", "up")
        _run(*inside, "iptables", "-A", "OUTPUT", "-o", "lo", "-j", "ACCEPT")
        _run(*inside, "iptables", "-A", "OUTPUT", "-p", "tcp", "-d", hub,
             "--dport", str(allowed_port), "-j", "ACCEPT")  # fmt: skip
        _run(*inside, "iptables", "-P", "OUTPUT", "DROP")
        yield Hall(name, hub)
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
        subprocess.run(["ip", "link", "del", host_if], capture_output=True)


def hub_values(hub_db):
    store = SqliteHubStore(hub_db)
    try:
        return [int(r.value) for _, r in store.readings(DEVICE) if r.metric == "test_counter"]
    finally:
        store.close()


@contextmanager
def hub_for(tmp_path, hall: Hall, ws_port: int) -> Iterator[tuple[object, object]]:
    """The provisioned broker (TLS, and WebSockets on ``ws_port`` unless 0) and the hub,
    with one registered device holding a broker password: (node's env file, hub db)."""
    state_dir = tmp_path / "state"
    device_port, service_port = free_port(), free_port()
    provision(
        "init", "--state-dir", state_dir, "--hostname", "localhost", "--ip", "127.0.0.1",
        "--ip", hall.hub_address, "--port", device_port, "--service-port", service_port,
        "--ws-port", ws_port, "--broker-user", "root",
    )  # fmt: skip
    state = load_state(state_dir)
    pid_file = tmp_path / "mosquitto.pid"
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(state.layout.conf_path.read_text() + f"pid_file {pid_file}\n")
    log = tmp_path / "mosquitto.log"
    with log.open("wb") as sink:
        broker = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=sink, stderr=sink)
    hub = None
    try:
        wait_listening(device_port, broker, log)
        hub_db = tmp_path / "hub.db"
        hub_env = provisioned_hub_env(tmp_path, state, service_port, hub_db)
        provision(
            "add-device", "--state-dir", state_dir, "--env", hub_env, "--site",
            "Askrigg Village Hall", "--hub-url", "https://localhost:1", "--out",
            tmp_path / "bundles",
        )  # fmt: skip
        password = add_device_account(state, DEVICE)
        reload_broker(pid_file=pid_file)
        secret = tmp_path / "broker-password"
        secret.write_text(password)
        secret.chmod(0o600)
        env = node_env(tmp_path / "bundles" / DEVICE, tmp_path, DEVICE)
        text = env.read_text().replace("HALLSENSE_BROKER_HOST=localhost", "")
        env.write_text(
            text + f"HALLSENSE_BROKER_HOST={hall.hub_address}\n"
            f"HALLSENSE_BROKER_PASSWORD_FILE={secret}\n"
            "HALLSENSE_BROKER_TRANSPORT=auto\n"
        )
        hub = HubProcess(hub_env, tmp_path / "hub.log").start()
        yield env, hub_db
    finally:
        if hub is not None:
            hub.stop()
        broker.terminate()
        broker.wait(10)


def deliver_everything(tmp_path, hall: Hall, env, hub_db, node: EdgeProcess) -> None:
    """Stop the node, let it catch up if it must, and check each reading arrived once."""
    assert node.terminate() == 0
    produced = [v for v, _ in read_tally(tmp_path / DEVICE / "tally.txt")]
    if len(hub_values(hub_db)) < len(produced):
        again = EdgeProcess(env, tmp_path / "node.2.log").start(prefix=hall.command())
        try:
            wait_for(lambda: len(hub_values(hub_db)) >= len(produced), 90, "never caught up")
        finally:
            again.terminate()
    values = hub_values(hub_db)
    assert len(values) == len(set(values)), "a reading stored twice"
    assert set(produced) <= set(values)


def test_only_443_gets_out_so_the_node_falls_back_to_websockets(tmp_path):
    if subprocess.run(["ss", "-ltnH", "sport = :443"], capture_output=True).stdout.strip():
        pytest.fail("something on this machine listens on 443 already")
    with walled_hall(443) as hall, hub_for(tmp_path, hall, 443) as (env, hub_db):
        node = EdgeProcess(env, tmp_path / "node.log").start(prefix=hall.command())
        try:
            wait_for(lambda: len(hub_values(hub_db)) >= 50, 120, "no readings: see node.log")
            # One silent attempt was enough: a dropped port is not waited on three times.
            assert (
                "no answer at all over MQTT/TLS: trying MQTT over WebSockets/TLS on port 443"
                in (node.log())
            )
            assert node.log().count("trying MQTT over WebSockets") == 1
            deliver_everything(tmp_path, hall, env, hub_db, node)
        finally:
            node.stop()


def test_only_the_proxy_gets_out_and_it_restarts_mid_run(tmp_path):
    proxy_port = free_port()
    with walled_hall(proxy_port) as hall, hub_for(tmp_path, hall, 0) as (env, hub_db):
        state = load_state(tmp_path / "state")
        proxy = TinyProxy(
            tmp_path / "proxy",
            connect_ports=(state.settings.port_tls,),
            credentials=("hall", "proxy-pw"),
            listen=hall.hub_address,
            port=proxy_port,
        ).start()
        env.write_text(
            env.read_text() + f"HALLSENSE_PROXY_URL=http://hall:proxy-pw@{hall.hub_address}:"
            f"{proxy_port}\n"
        )
        node = EdgeProcess(env, tmp_path / "node.log").start(prefix=hall.command())
        try:
            wait_for(lambda: len(hub_values(hub_db)) >= 30, 120, "no readings: see node.log")
            proxy.restart()
            before = len(hub_values(hub_db))
            wait_for(lambda: len(hub_values(hub_db)) >= before + 30, 120, "none after restart")
            assert "proxy-pw" not in node.log()
            deliver_everything(tmp_path, hall, env, hub_db, node)
            assert "CONNECT" in proxy.log()
        finally:
            node.stop()
            proxy.stop()
