"""The node's ways to the hub: MQTT over WebSockets/TLS, the auto fallback, HTTP proxies.

Real parts only: Mosquitto on the configuration ``provision`` generates (its WebSockets
listener included), tinyproxy as the hall's proxy, and an HTTPS server with the council
CA's certificate for the enrolment call.
"""

import http.server
import json
import logging
import ssl
import subprocess
import threading

import pytest

from hub_sync.hub_https import TlsFailure, post_to_hub
from hub_sync.mqtt import BrokerSettings, MqttClient, NotConnected
from hub_sync.topics import TOPIC_PREFIX, topic
from hub_sync.transports import (
    FAILS_BEFORE_SWITCH,
    RETRY_PREFERRED_AFTER_S,
    Fallback,
    Proxy,
    Route,
    bypassed,
    choose_proxy,
)
from provisioning.broker_config import HUB_ACCOUNT
from provisioning.certificates import new_ca, write_certificate
from provisioning.device_accounts import add_device_account
from provisioning.state import account_password, init_state, load_state
from tests.support.broker import free_port
from tests.support.ports import wait_listening
from tests.support.proxy import TinyProxy

DEVICE = "askrigg"


@pytest.fixture
def hub_broker(tmp_path):
    """Mosquitto on what ``init_state`` generates: TLS, the hub's port and WebSockets/TLS."""
    state = init_state(
        tmp_path / "state",
        hostnames=["localhost"],
        ips=["127.0.0.1"],
        port_tls=free_port(),
        service_port=free_port(),
        ws_port=free_port(),
        run_as="root",
        bind_address="127.0.0.1",
    )
    password = add_device_account(state, DEVICE)
    log_path = tmp_path / "mosquitto.out"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            ["mosquitto", "-c", str(state.layout.conf_path)], stdout=log, stderr=log
        )
    try:
        for port in (state.settings.port_tls, state.settings.ws_port):
            wait_listening(port, proc, log_path)
        yield state, password
    finally:
        proc.terminate()
        proc.wait(10)


def node_settings(state, password, *, transport, port=None, proxy=None):
    return BrokerSettings(
        "127.0.0.1",
        port or state.settings.port_tls,
        DEVICE,
        password,
        state.layout.ca_cert,
        route=Route(transport, state.settings.ws_port, "/mqtt", proxy),
    )


def hub_listening(state):
    """The hub's subscription to every device's readings; returns (client, got, arrived)."""
    got, arrived = [], threading.Event()

    def on_message(message):
        got.append(message.payload)
        arrived.set()

    hub = MqttClient(
        BrokerSettings(
            "127.0.0.1",
            state.settings.service_port,
            HUB_ACCOUNT,
            account_password(state, HUB_ACCOUNT),
            state.layout.ca_cert,
        ),
        client_id="hub-1",
        on_message=on_message,
    )
    hub.connect()
    hub.subscribe(f"{TOPIC_PREFIX}/+/readings")
    return hub, got, arrived


def test_the_generated_websockets_listener_speaks_tls_with_the_same_accounts_and_acl(
    hub_broker,
):
    state, password = hub_broker
    conf = state.layout.conf_path.read_text()
    ws_block = conf.split(f"listener {state.settings.ws_port} 127.0.0.1\n")[1]
    assert ws_block.startswith("protocol websockets\ncafile ")
    assert "use_username_as_clientid true" in ws_block.split("listener")[0]
    hub, got, arrived = hub_listening(state)
    try:
        with MqttClient(
            node_settings(state, password, transport="websockets"), client_id=DEVICE
        ) as node:
            node.connect()
            assert node.transport == "websockets"
            node.publish(topic(DEVICE, "readings"), b"over 443").wait(10)
            assert arrived.wait(10)
            assert got == [b"over 443"]
            # The same ACL: another device's topic is not this account's.
            refused = node.publish(topic("bainbridge", "readings"), b"x")
            with pytest.raises(Exception, match="Not authorized"):
                refused.wait(10)
        with (
            pytest.raises(Exception, match="refused"),
            MqttClient(
                node_settings(state, "wrong", transport="websockets"), client_id=DEVICE
            ) as node,
        ):
            node.connect()
    finally:
        hub.close()


def test_auto_falls_back_from_a_closed_tls_port_to_websockets_and_says_so_once(hub_broker, caplog):
    state, password = hub_broker
    caplog.set_level(logging.INFO, logger="hub_sync.mqtt")
    closed = free_port()
    settings = node_settings(state, password, transport="auto", port=closed)
    with MqttClient(settings, client_id=DEVICE, reconnect_min_s=0.1, reconnect_max_s=0.3) as node:
        node.start_background()
        assert node.wait_connected(30)
        assert node.transport == "websockets"
        node.publish(topic(DEVICE, "readings"), b"fell back").wait(10)
    switches = [r for r in caplog.records if "trying MQTT over WebSockets/TLS" in r.message]
    assert len(switches) == 1
    unreachable = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(unreachable) == 1, [r.message for r in unreachable]
    assert f"127.0.0.1:{closed}" in unreachable[0].message
    assert password not in caplog.text


def test_auto_in_the_foreground_connects_over_websockets_when_tls_is_closed(hub_broker):
    state, password = hub_broker
    settings = node_settings(state, password, transport="auto", port=free_port())
    with MqttClient(settings, client_id=DEVICE) as node:
        node.connect()
        assert node.transport == "websockets"


def test_an_outage_is_logged_once_per_change_of_state_not_per_attempt(tmp_path, caplog):
    state = init_state(
        tmp_path / "state",
        hostnames=["localhost"],
        ips=["127.0.0.1"],
        port_tls=free_port(),
        service_port=free_port(),
        run_as="root",
        bind_address="127.0.0.1",
    )
    password = add_device_account(state, DEVICE)
    caplog.set_level(logging.DEBUG, logger="hub_sync.mqtt")

    def start():
        proc = subprocess.Popen(
            ["mosquitto", "-c", str(state.layout.conf_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_listening(state.settings.port_tls, proc, tmp_path / "none")
        return proc

    proc = start()
    settings = node_settings(state, password, transport="tls")
    try:
        with MqttClient(
            settings, client_id=DEVICE, reconnect_min_s=0.1, reconnect_max_s=0.2
        ) as node:
            node.start_background()
            assert node.wait_connected(10)
            proc.terminate()
            proc.wait(10)
            deadline = threading.Event()
            while len([r for r in caplog.records if "attempt" in r.message]) < 5:
                assert not deadline.wait(0.1)
            proc = start()
            assert node.wait_connected(10)
            for _ in range(50):
                if any("reconnected" in r.message for r in caplog.records):
                    break
                deadline.wait(0.1)
    finally:
        proc.terminate()
        proc.wait(10)
    said = [r.message for r in caplog.records if r.levelno >= logging.INFO]
    assert len(said) == 4, said  # however many attempts the outage took
    assert "askrigg connected to the broker" in said[0]
    assert "lost the connection" in said[1]
    assert "cannot reach the broker" in said[2]
    assert "reconnected to the broker" in said[3]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.fixture
def proxy(tmp_path, hub_broker):
    state, _ = hub_broker
    proxy = TinyProxy(
        tmp_path / "proxy",
        connect_ports=(state.settings.port_tls, state.settings.ws_port),
        credentials=("hall", "proxy-secret"),
    ).start()
    yield proxy
    proxy.stop()


@pytest.mark.parametrize("transport", ["tls", "websockets"])
def test_mqtt_goes_through_an_authenticating_proxy(hub_broker, proxy, transport):
    state, password = hub_broker
    through = Proxy.from_url(proxy.url_with("hall", "proxy-secret"))
    hub, _got, arrived = hub_listening(state)
    try:
        settings = node_settings(state, password, transport=transport, proxy=through)
        with MqttClient(settings, client_id=DEVICE) as node:
            node.connect()
            node.publish(topic(DEVICE, "readings"), b"via the proxy").wait(10)
            assert arrived.wait(10)
    finally:
        hub.close()
    port = state.settings.ws_port if transport == "websockets" else state.settings.port_tls
    assert f"127.0.0.1:{port}" in proxy.log()
    assert "proxy-secret" not in repr(settings)


def test_a_proxy_refusing_the_password_is_named_in_the_error(hub_broker, proxy):
    state, password = hub_broker
    wrong = Proxy.from_url(proxy.url_with("hall", "not-the-password"))
    settings = node_settings(state, password, transport="tls", proxy=wrong)
    with MqttClient(settings, client_id=DEVICE) as node, pytest.raises(NotConnected) as caught:
        node.connect()
    words = str(caught.value)
    # tinyproxy's BasicAuth answers 401 where RFC 9110 says 407; either is a refusal.
    assert f"the proxy at 127.0.0.1:{proxy.port} refused the tunnel: 401: Unauthorized" in words
    assert "not-the-password" not in words


@pytest.fixture
def https_hub(hub_broker):
    """An HTTPS server with the broker's certificate (the council CA's), answering JSON."""
    state, _ = hub_broker

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.dumps({"seen": self.path}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(state.layout.server_cert, state.layout.server_key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_the_enrolment_call_goes_through_the_proxy_and_still_pins_the_council_ca(
    tmp_path, hub_broker, https_hub
):
    state, _ = hub_broker
    proxy = TinyProxy(
        tmp_path / "web-proxy", connect_ports=(https_hub,), credentials=("hall", "pw")
    ).start()
    try:
        proxies = Proxy.from_url(proxy.url_with("hall", "pw")).requests_proxies()
        url = f"https://localhost:{https_hub}/enroll"
        answer = post_to_hub(url, ca_file=state.layout.ca_cert, body={}, proxies=proxies)
        assert answer.json() == {"seen": "/enroll"}
        assert f"localhost:{https_hub}" in proxy.log()
        other_ca = write_certificate(tmp_path / "other-ca.crt", new_ca())
        with pytest.raises(TlsFailure):
            post_to_hub(url, ca_file=other_ca, body={}, proxies=proxies)
    finally:
        proxy.stop()


def test_the_proxy_comes_from_the_setting_else_the_environment_minding_no_proxy():
    env = {"HTTPS_PROXY": "http://env-proxy:3128", "NO_PROXY": "localhost,.council.example"}
    chosen = choose_proxy("http://hall:pw@set-proxy:8080", env, "hub.council.example")
    assert (chosen.host, chosen.port, chosen.username, chosen.password) == (
        "set-proxy",
        8080,
        "hall",
        "pw",
    )
    assert "pw" not in repr(chosen)
    assert choose_proxy("", env, "hub.council.example") is None
    assert choose_proxy("", env, "hub.elsewhere.example").host == "env-proxy"
    assert choose_proxy("", {"ALL_PROXY": "http://all:1"}, "hub").host == "all"
    assert choose_proxy("", {}, "hub") is None
    assert bypassed("10.1.2.3", "10.0.0.0/8")
    assert not bypassed("11.1.2.3", "10.0.0.0/8")
    assert bypassed("anything", "*")
    with pytest.raises(ValueError, match="HTTPS_PROXY: must be an http://") as caught:
        choose_proxy("", {"HTTPS_PROXY": "socks5://u:secret@h:1"}, "hub")
    assert "secret" not in str(caught.value)


def test_the_fallback_rule():
    now = [0.0]
    said = []
    rule = Fallback(
        Route("auto", 443, "/mqtt"),
        log=lambda first, words: said.append(words),
        clock=lambda: now[0],
    )
    assert [rule.failed() for _ in range(FAILS_BEFORE_SWITCH)][-1] == "websockets"
    rule.connected()
    now[0] += RETRY_PREFERRED_AFTER_S - 1
    assert rule.lost() is None  # within the hour: stay with what works
    now[0] += 1
    assert rule.lost() == "tls"  # an hour on: the preferred one first again
    assert len(said) == 2
    pinned = Fallback(Route("tls"), log=lambda first, words: said.append(words))
    assert all(pinned.failed() is None for _ in range(10))
    assert all(pinned.failed(silent=True) is None for _ in range(10))


def test_one_silent_attempt_is_enough_to_fall_back():
    said = []
    rule = Fallback(Route("auto", 443, "/mqtt"), log=lambda first, words: said.append(words))
    assert rule.failed() is None  # refused: the port answered, so try it again
    assert rule.failed(silent=True) == "websockets"  # dropped: a firewall, switch now
    assert said == ["no answer at all over MQTT/TLS: trying MQTT over WebSockets/TLS on port 443"]
    assert rule.failed(silent=True) == "tls"  # an outage: it keeps alternating


@pytest.mark.parametrize("ws_port", [0, 1, 65535])
def test_init_writes_the_websockets_listener_and_add_device_tells_the_node(tmp_path, ws_port):
    from tests.support.provisioned import provision, provisioned_hub_env

    state_dir = tmp_path / "state"
    service_port = free_port()
    provision(
        "init", "--state-dir", state_dir, "--hostname", "localhost", "--port", free_port(),
        "--service-port", service_port, "--ws-port", ws_port, "--broker-user", "root",
    )  # fmt: skip
    state = load_state(state_dir)
    hub_env = provisioned_hub_env(tmp_path, state, service_port, tmp_path / "hub.db")
    provision(
        "add-device", "--state-dir", state_dir, "--env", hub_env, "--site", "Askrigg",
        "--hub-url", "https://localhost:8443", "--out", tmp_path / "bundles",
    )  # fmt: skip
    conf = state.layout.conf_path.read_text()
    bundle = (tmp_path / "bundles" / "askrigg" / "edge.env").read_text()
    if ws_port:
        assert f"listener {ws_port}\nprotocol websockets\n" in conf
        assert f'HALLSENSE_BROKER_WS_PORT="{ws_port}"' in bundle
    else:
        assert "websockets" not in conf
        assert "HALLSENSE_BROKER_WS_PORT" not in bundle


def test_init_refuses_a_websockets_port_past_the_last_one(tmp_path):
    from click.testing import CliRunner

    from hallsense.cli import cli

    result = CliRunner().invoke(
        cli,
        ["provision", "init", "--state-dir", str(tmp_path / "s"), "--hostname", "localhost",
         "--ws-port", "65536"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "--ws-port" in result.output
    assert "65536" in result.output


def test_the_composition_root_hands_the_environment_proxy_down(tmp_path):
    from edge.settings import EdgeSettings
    from hallsense.settings import SettingsError
    from hallsense.wiring_enrol import hub_proxy

    settings = EdgeSettings(data_dir=tmp_path)
    env = {"https_proxy": "http://u:pw@proxy.school:3128", "no_proxy": "localhost"}
    assert hub_proxy(settings, "https://hub.county.example:8443/", env).host == "proxy.school"
    assert hub_proxy(settings, "localhost", env) is None
    with pytest.raises(SettingsError, match="HALLSENSE_PROXY_URL") as caught:
        hub_proxy(EdgeSettings(data_dir=tmp_path, proxy_url="ftp://u:pw@x:1"), "hub", {})
    assert "pw" not in str(caught.value)
