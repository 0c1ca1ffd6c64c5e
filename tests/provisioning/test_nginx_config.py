import json
from dataclasses import replace
from pathlib import Path

import pytest

from provisioning.nginx_config import (
    NginxConfigError,
    NginxSite,
    WebProxy,
    nginx_site_text,
    write_nginx_site,
)
from provisioning.state import init_state, load_state
from tests.support.nginx import Nginx

SITE = NginxSite(
    public_port=443,
    server_names=("hub.example", "localhost", "127.0.0.1", "[::1]"),
    certfile=Path("/etc/hallsense/provision/mosquitto/certs/server.crt"),
    keyfile=Path("/etc/hallsense/provision/mosquitto/certs/server.key"),
    web_port=8080,
    ws_backend_port=9001,
)

PORTS = {
    "--ws-port": "public_port",
    "--web-port": "web_port",
    "--ws-backend-port": "ws_backend_port",
}


def location(text, opening):
    return text.split(opening + " {\n")[1].split("\n    }")[0].splitlines()


def test_the_websockets_path_goes_to_mosquitto_upgraded_and_everything_else_to_hub_web():
    text = nginx_site_text(SITE)
    assert "    listen 443 ssl;" in text.splitlines()
    assert "    server_name hub.example localhost 127.0.0.1 [::1];" in text.splitlines()
    mqtt = [line.strip() for line in location(text, "    location = /mqtt")]
    assert mqtt[0] == "proxy_pass http://127.0.0.1:9001;"
    for line in (
        "proxy_http_version 1.1;",
        "proxy_set_header Upgrade $http_upgrade;",
        'proxy_set_header Connection "upgrade";',
        "proxy_set_header X-Forwarded-For $remote_addr;",
        "proxy_read_timeout 10800s;",
    ):
        assert line in mqtt
    # The mqtt subprotocol is the client's header, passed through untouched.
    assert "Sec-WebSocket-Protocol" not in "".join(mqtt)
    web = [line.strip() for line in location(text, "    location /")]
    assert web[0] == "proxy_pass http://127.0.0.1:8080;"
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in web
    assert "proxy_set_header X-Forwarded-Proto https;" in web
    assert "Upgrade" not in "".join(web)


def test_the_certificate_and_key_are_named_by_path_never_copied():
    text = nginx_site_text(SITE)
    assert f'    ssl_certificate "{SITE.certfile}";' in text.splitlines()
    assert f'    ssl_certificate_key "{SITE.keyfile}";' in text.splitlines()
    assert "    ssl_protocols TLSv1.2 TLSv1.3;" in text.splitlines()
    assert "PRIVATE KEY" not in text
    assert "BEGIN" not in text


@pytest.mark.parametrize("option", PORTS)
@pytest.mark.parametrize("port", [1, 65535])
def test_ports_at_the_limits_are_taken(option, port):
    ports = {"public_port": 2, "web_port": 3, "ws_backend_port": 4, PORTS[option]: port}
    text = nginx_site_text(replace(SITE, **ports))
    expected = {"--ws-port": f"listen {port} ssl;", "--web-port": f"127.0.0.1:{port};"}
    assert expected.get(option, f"proxy_pass http://127.0.0.1:{port};") in text


@pytest.mark.parametrize("option", PORTS)
@pytest.mark.parametrize("port", [0, 65536, -1])
def test_a_port_past_the_limits_is_refused_naming_its_option(option, port):
    with pytest.raises(NginxConfigError) as refused:
        nginx_site_text(replace(SITE, **{PORTS[option]: port}))
    assert str(refused.value) == f"{option}: {port} is not a TCP port (1-65535)"


def test_one_port_for_two_things_is_refused():
    with pytest.raises(NginxConfigError, match="the proxy's ports must differ"):
        nginx_site_text(replace(SITE, ws_backend_port=8080))


@pytest.mark.parametrize(
    "path", ["relative/server.key", "/srv/$host/server.key", '/srv/a"b/server.key', "/srv/a;b"]
)
def test_a_key_path_nginx_would_read_otherwise_is_refused(path):
    with pytest.raises(NginxConfigError, match="cannot go in nginx's configuration"):
        nginx_site_text(replace(SITE, keyfile=Path(path)))


def test_a_path_with_a_space_is_quoted():
    text = nginx_site_text(replace(SITE, certfile=Path("/srv/hall sense/server.crt")))
    assert '    ssl_certificate "/srv/hall sense/server.crt";' in text.splitlines()


def test_a_server_name_nginx_would_read_otherwise_is_refused():
    with pytest.raises(NginxConfigError, match=r"--hostname: 'hub\.example;' cannot be"):
        nginx_site_text(replace(SITE, server_names=("hub.example;",)))


def test_the_site_file_is_readable_by_all_and_replaced_whole(tmp_path):
    path = tmp_path / "nginx" / "hallsense-hub.conf"
    write_nginx_site(path, SITE)
    assert path.read_text() == nginx_site_text(SITE)
    assert path.stat().st_mode & 0o777 == 0o644
    assert path.parent.stat().st_mode & 0o777 == 0o755
    with pytest.raises(NginxConfigError):
        write_nginx_site(path, replace(SITE, web_port=0))
    assert path.read_text() == nginx_site_text(SITE)


def proxied_state(directory, **changes):
    values = {
        "hostnames": ["localhost"],
        "ips": ["127.0.0.1"],
        "port_tls": 18883,
        "service_port": 18884,
        "ws_port": 18443,
        "run_as": "root",
        "web_proxy": WebProxy(web_port=18080, ws_backend_port=19001),
    }
    return init_state(directory, **{**values, **changes})


def test_init_with_a_web_proxy_moves_the_websockets_listener_behind_it(tmp_path):
    state = proxied_state(tmp_path / "state")
    conf = state.layout.conf_path.read_text()
    assert "listener 18443" not in conf
    block = conf.split("listener 19001 127.0.0.1\n")[1].split("listener")[0]
    assert block.splitlines()[:4] == [
        "protocol websockets",
        "use_username_as_clientid true",
        "allow_anonymous false",
        f"password_file {state.layout.password_path}",
    ]
    site = state.layout.nginx_site.read_text()
    assert "listen 18443 ssl;" in site
    assert f'ssl_certificate_key "{state.layout.server_key}";' in site
    assert "proxy_pass http://127.0.0.1:18080;" in site
    assert load_state(state.layout.root) == state
    saved = json.loads(state.layout.settings_path.read_text())
    assert saved["web_proxy"] == {"kind": "nginx", "web_port": 18080, "ws_backend_port": 19001}


def test_a_state_from_before_web_proxies_loads_without_one(tmp_path):
    state = init_state(tmp_path / "state", hostnames=["localhost"], run_as="root", ws_port=18443)
    saved = json.loads(state.layout.settings_path.read_text())
    del saved["web_proxy"]
    state.layout.settings_path.write_text(json.dumps(saved))
    assert load_state(state.layout.root).settings.web_proxy is None
    assert not state.layout.nginx_site.exists()


def test_a_web_proxy_without_a_websockets_port_is_refused_before_anything_is_made(tmp_path):
    with pytest.raises(NginxConfigError, match="--ws-port: the web proxy carries"):
        proxied_state(tmp_path / "state", ws_port=None)
    assert not (tmp_path / "state").exists()


def test_nginx_itself_accepts_the_site(tmp_path):
    state = proxied_state(tmp_path / "state")
    verdict = Nginx(tmp_path / "nginx", state.layout.nginx_site, 18443).check()
    assert "syntax is ok" in verdict
