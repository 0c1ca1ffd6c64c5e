"""One TLS port for the hub's web and MQTT over WebSockets, with nginx in front.

Real parts only: ``provision init --web-proxy nginx`` makes the broker's configuration and
nginx's site; Mosquitto runs on the first, a real nginx on the second (on a free port in
place of 443), and ``hallsense hub web`` serves plain HTTP on loopback behind it. A node
reaches the broker through nginx with the council CA pinned and its own account, and a
browser's HTTPS request on the same port gets the hub's page; the node enrols there too.
"""

import ssl
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
from dotenv import dotenv_values

from hub_sync.enrolment import enrol
from hub_sync.mqtt import BrokerSettings, MqttClient, MqttError
from hub_sync.topics import TOPIC_PREFIX, topic
from hub_sync.transports import Route
from provisioning.broker_config import HUB_ACCOUNT
from provisioning.state import account_password, load_state
from tests.support.broker import free_port
from tests.support.nginx import Nginx
from tests.support.ports import wait_listening
from tests.support.provisioned import provision, provisioned_hub_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]

DEVICE = "askrigg-village-hall"


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def connect_when_reloaded(client: MqttClient, timeout: float = 10) -> None:
    """Connect once the broker has reloaded the password enrolment just made."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.connect()
            return
        except MqttError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_one_tls_port_serves_enrolment_the_hub_web_and_mqtt_over_websockets(tmp_path):
    state_dir = tmp_path / "state"
    device_port, service_port, public_port = free_port(), free_port(), free_port()
    web_port, backend_port = free_port(), free_port()
    provision(
        "init", "--state-dir", state_dir, "--hostname", "localhost", "--ip", "127.0.0.1",
        "--port", device_port, "--service-port", service_port, "--broker-user", "root",
        "--ws-port", public_port, "--web-proxy", "nginx", "--web-port", web_port,
        "--ws-backend-port", backend_port,
    )  # fmt: skip
    state = load_state(state_dir)
    conf = state.layout.conf_path.read_text()
    # Mosquitto's WebSockets listener is on loopback, plain: nginx terminates TLS.
    ws_block = conf.split(f"listener {backend_port} 127.0.0.1\n")[1].split("listener")[0]
    assert ws_block.startswith("protocol websockets\nuse_username_as_clientid true\n")
    assert f"listener {public_port}" not in conf

    hub_url = f"https://localhost:{public_port}"  # the hub's web on the same port
    hub_env = provisioned_hub_env(tmp_path, state, service_port, tmp_path / "hub.db")
    provision(
        "add-device", "--state-dir", state_dir, "--env", hub_env, "--site",
        "Askrigg Village Hall", "--hub-url", hub_url, "--out", tmp_path / "bundles",
    )  # fmt: skip
    bundle = tmp_path / "bundles" / DEVICE
    settings = dotenv_values(bundle / "edge.env")
    assert settings["HALLSENSE_BROKER_WS_PORT"] == str(public_port)  # as without a proxy
    assert settings["HALLSENSE_ENROL_URL"] == hub_url

    pid_file = tmp_path / "mosquitto.pid"
    broker_conf = tmp_path / "mosquitto.conf"
    broker_conf.write_text(conf + f"pid_file {pid_file}\n")
    broker_log = tmp_path / "mosquitto.log"
    with broker_log.open("wb") as log:
        broker = subprocess.Popen(["mosquitto", "-c", str(broker_conf)], stdout=log, stderr=log)
    web_log = tmp_path / "hub-web.log"
    with web_log.open("wb") as log:
        web = subprocess.Popen(
            [sys.executable, "-m", "hallsense", "hub", "web", "--env", str(hub_env),
             "--state-dir", str(state_dir), "--plain-http-behind-proxy",
             "--host", "127.0.0.1", "--port", str(web_port), "--broker-pid-file", str(pid_file)],
            stdout=log, stderr=log,
        )  # fmt: skip
    nginx = Nginx(tmp_path / "nginx", state.layout.nginx_site, public_port)
    hub = None
    try:
        nginx.check()
        nginx.start()
        for port in (service_port, backend_port):
            wait_listening(port, broker, broker_log)
        wait_listening(web_port, web, web_log)

        # A browser on the one port: the hub's own page, behind the council's certificate.
        tls = ssl.create_default_context(cafile=state.layout.ca_cert)
        with urllib.request.urlopen(
            f"https://localhost:{public_port}/accessibility", context=tls, timeout=10
        ) as response:
            page = response.read().decode()
            assert response.status == 200
            assert response.headers["Strict-Transport-Security"]  # hub web's, not nginx's
            assert response.headers["Server"] == "nginx"  # and no version: server_tokens off
        assert "<h1>Accessibility statement</h1>" in page

        # The node enrols on the one port, pinning the council CA, as it does on first start.
        token = (bundle / "hallsense-enrol.token").read_text().strip()
        credentials = enrol(hub_url, token, DEVICE, ca_file=bundle / "ca.crt")

        got, arrived = [], threading.Event()

        def on_message(message):
            got.append((message.topic, message.payload))
            arrived.set()

        hub = MqttClient(
            BrokerSettings(
                "localhost", service_port, HUB_ACCOUNT,
                account_password(state, HUB_ACCOUNT), state.layout.ca_cert,
            ),
            client_id="hub-1",
            on_message=on_message,
        )  # fmt: skip
        hub.connect()
        hub.subscribe(f"{TOPIC_PREFIX}/+/readings")

        def node(device, secret):
            # What the bundle says: WebSockets/TLS on the public port, at /mqtt.
            route = Route("websockets", public_port, "/mqtt")
            broker_settings = BrokerSettings(
                "localhost", device_port, device, secret, bundle / "ca.crt", route=route
            )
            return MqttClient(broker_settings, client_id=device)

        with node(DEVICE, credentials.password) as askrigg:
            connect_when_reloaded(askrigg)
            assert askrigg.transport == "websockets"
            askrigg.publish(topic(DEVICE, "readings"), b"through nginx").wait(10)
            assert arrived.wait(10)
            # The broker's ACL still applies behind the proxy: not another device's topic.
            refused = askrigg.publish(topic("bainbridge", "readings"), b"forged")
            with pytest.raises(Exception, match="Not authorized"):
                refused.wait(10)
        with pytest.raises(Exception, match="refused"), node(DEVICE, "wrong") as intruder:
            intruder.connect()
        assert got == [(topic(DEVICE, "readings"), b"through nginx")]
        access = nginx.access_log.read_text()
        assert '"POST /enroll HTTP/1.1" 200' in access
        assert '"GET /mqtt HTTP/1.1" 101' in access
    finally:
        if hub is not None:
            hub.close()
        nginx.stop()
        stop(web)
        stop(broker)
