"""nginx's site for one TLS port that serves both the hub's web and MQTT over WebSockets.

``hallsense provision init --web-proxy nginx`` puts nginx in front: it terminates TLS on
the public port (``--ws-port``, 443) with the broker's server certificate, passes the
WebSockets path (``/mqtt``) to Mosquitto's WebSockets listener on 127.0.0.1
(``--ws-backend-port``, plain, since nginx already decrypted it), and everything else to
``hallsense hub web --plain-http-behind-proxy`` on 127.0.0.1 (``--web-port``). A node
still logs in to Mosquitto with its own account, so the broker's accounts, ACL and
client ids apply as on any other listener.

The site names the certificate and key by path; nginx's master process reads them as
root when it starts or reloads, so the key stays 0600 and the broker's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from provisioning.passwords import replace_private_file
from provisioning.state_layout import StateLayout

WEB_PROXIES = ("nginx",)
"""The reverse proxies ``--web-proxy`` can write a configuration for."""
DEFAULT_WEB_PORT = 8080
"""Where ``hub web`` listens on loopback behind the proxy (``--web-port``)."""
DEFAULT_WS_BACKEND_PORT = 9001
"""Where Mosquitto's WebSockets listener listens on loopback behind the proxy
(``--ws-backend-port``; 9001 is Mosquitto's customary WebSockets port)."""
DEFAULT_WS_PATH = "/mqtt"
"""The path nodes ask for (``HALLSENSE_BROKER_WS_PATH``'s default)."""
WS_IDLE_TIMEOUT_S = 3 * 3600
"""How long a WebSockets tunnel may carry nothing before nginx closes it. A node sends
nothing between keepalive pings, which the satellite link profile spaces 90 minutes
apart, so this must be longer than that; a node that vanished is dropped by Mosquitto
(at 1.5 keepalives), which closes the tunnel from its end."""
TLS_SESSION_CACHE = "hallsense_tls:10m"
"""Resumed TLS sessions make a node's reconnect over a slow link one round trip shorter."""

_SAFE_PATH = re.compile(r"[A-Za-z0-9_./+@%,:=-]+(?: [A-Za-z0-9_./+@%,:=-]+)*")
"""Paths nginx reads literally inside double quotes: no quote, backslash, ``$`` (nginx
expands variables in certificate paths), ``;``, braces or control characters."""
_SAFE_NAME = re.compile(r"[A-Za-z0-9.*-]+|\[[0-9A-Fa-f:.]+\]")
_SAFE_WS_PATH = re.compile(r"/[A-Za-z0-9_./-]*")


class NginxConfigError(ValueError):
    """A value that cannot go into nginx's site, naming ``provision init``'s option."""


@dataclass(frozen=True)
class WebProxy:
    """``provision init --web-proxy``: the proxy and the two loopback ports behind it.

    Kept in ``state.json``; the public port is the state's ``ws_port``.
    """

    kind: Literal["nginx"] = "nginx"
    web_port: int = DEFAULT_WEB_PORT
    ws_backend_port: int = DEFAULT_WS_BACKEND_PORT


@dataclass(frozen=True)
class NginxSite:
    """What the site needs. Each port is named after the option that sets it."""

    public_port: int
    """``--ws-port``: the one TLS port nodes and browsers reach (443)."""
    server_names: tuple[str, ...]
    certfile: Path
    keyfile: Path
    web_port: int
    """``--web-port``: ``hub web`` on 127.0.0.1."""
    ws_backend_port: int
    """``--ws-backend-port``: Mosquitto's WebSockets listener on 127.0.0.1."""
    ws_path: str = DEFAULT_WS_PATH


def check_port(option: str, port: int) -> int:
    """``port`` if it is a TCP port (1-65535).

    Raises:
        NginxConfigError: naming ``option`` and the value.
    """
    if not 1 <= port <= 65535:
        raise NginxConfigError(f"{option}: {port} is not a TCP port (1-65535)")
    return port


def _check_site(site: NginxSite) -> None:
    ports = {
        "--ws-port": site.public_port,
        "--web-port": site.web_port,
        "--ws-backend-port": site.ws_backend_port,
    }
    for option, port in ports.items():
        check_port(option, port)
    if len(set(ports.values())) != len(ports):
        raise NginxConfigError(f"the proxy's ports must differ: {ports}")
    for what, path in (("certificate", site.certfile), ("key", site.keyfile)):
        if not path.is_absolute() or not _SAFE_PATH.fullmatch(str(path)):
            raise NginxConfigError(
                f"the {what} path {str(path)!r} cannot go in nginx's configuration: it must "
                "be absolute, with no quote, backslash, $, ; or braces"
            )
    for name in site.server_names:
        if not _SAFE_NAME.fullmatch(name):
            raise NginxConfigError(f"--hostname: {name!r} cannot be an nginx server_name")
    if not site.server_names:
        raise NginxConfigError("--hostname: the site needs at least one host name")
    if not _SAFE_WS_PATH.fullmatch(site.ws_path):
        raise NginxConfigError(f"the WebSockets path {site.ws_path!r} is not a plain /path")


def nginx_site_text(site: NginxSite) -> str:
    """The site (a ``server`` block for nginx's ``http`` context), for sites-available.

    Raises:
        NginxConfigError: a port outside 1-65535 or used twice, or a path or name nginx
            would read differently from what it is, naming the option.
    """
    _check_site(site)
    forwarded = [
        # The client's own address, not appended to what it sent: hub web trusts one hop.
        "        proxy_set_header X-Forwarded-For $remote_addr;",
        "        proxy_set_header X-Forwarded-Proto https;",
    ]
    lines = [
        "# Made by `hallsense provision init --web-proxy nginx` for /etc/nginx/sites-available/",
        f"# (docs/operations.md). One TLS port: MQTT over WebSockets at {site.ws_path} goes to",
        "# Mosquitto, everything else to `hallsense hub web --plain-http-behind-proxy`, both",
        "# on 127.0.0.1.",
        "server {",
        f"    listen {site.public_port} ssl;",
        f"    server_name {' '.join(site.server_names)};",
        "    server_tokens off;",
        "",
        "    # The broker's certificate from the council CA, which the nodes pin.",
        f'    ssl_certificate "{site.certfile}";',
        f'    ssl_certificate_key "{site.keyfile}";',
        "    ssl_protocols TLSv1.2 TLSv1.3;",
        f"    ssl_session_cache shared:{TLS_SESSION_CACHE};",
        "    ssl_session_timeout 1d;",
        "",
        "    # MQTT over WebSockets. Upgrade and Connection are hop-by-hop headers, so they",
        "    # are passed on by name; Sec-WebSocket-Protocol (mqtt) passes through as it is,",
        "    # both ways. Mosquitto checks the node's account and ACL as on any listener.",
        f"    location = {site.ws_path} {{",
        f"        proxy_pass http://127.0.0.1:{site.ws_backend_port};",
        "        proxy_http_version 1.1;",
        "        proxy_set_header Upgrade $http_upgrade;",
        '        proxy_set_header Connection "upgrade";',
        "        proxy_set_header Host $http_host;",
        *forwarded,
        "        proxy_connect_timeout 5s;",
        f"        proxy_read_timeout {WS_IDLE_TIMEOUT_S}s;",
        f"        proxy_send_timeout {WS_IDLE_TIMEOUT_S}s;",
        "        proxy_buffering off;",
        "    }",
        "",
        "    # The hub's pages, data API, enrolment and releases.",
        "    location / {",
        f"        proxy_pass http://127.0.0.1:{site.web_port};",
        "        proxy_http_version 1.1;",
        "        proxy_set_header Host $http_host;",
        *forwarded,
        "    }",
        "}",
    ]
    return "\n".join(lines) + "\n"


class ProxiedState(Protocol):
    """What :func:`site_for` reads of a state's settings (``StateSettings``)."""

    @property
    def hostnames(self) -> tuple[str, ...]:
        """The broker's DNS names."""

    @property
    def ips(self) -> tuple[str, ...]:
        """Its IP addresses."""

    @property
    def ws_port(self) -> int | None:
        """The public WebSockets port."""

    @property
    def web_proxy(self) -> WebProxy | None:
        """The proxy in front of it."""


def site_for(layout: StateLayout, settings: ProxiedState) -> NginxSite:
    """The site of a provisioning state: its names, server certificate and ports.

    Raises:
        NginxConfigError: the state has no web proxy, or no WebSockets port for it.
    """
    proxy = settings.web_proxy
    if proxy is None:
        raise NginxConfigError("--web-proxy: this provisioning state has no web proxy")
    if settings.ws_port is None:
        raise NginxConfigError(
            "--ws-port: the web proxy carries MQTT over WebSockets on it, so it cannot be 0"
        )
    ips = (f"[{ip}]" if ":" in ip else ip for ip in settings.ips)
    return NginxSite(
        public_port=settings.ws_port,
        server_names=(*settings.hostnames, *ips),
        certfile=layout.server_cert,
        keyfile=layout.server_key,
        web_port=proxy.web_port,
        ws_backend_port=proxy.ws_backend_port,
    )


def write_nginx_site(path: Path, site: NginxSite) -> Path:
    """Write the site to ``path`` (0644: it names the key, never holds it); returns ``path``.

    Its directory is made (0755) when missing.

    Raises:
        NginxConfigError: as :func:`nginx_site_text`, before anything is written.
    """
    text = nginx_site_text(site)
    path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    return replace_private_file(path, text, mode=0o644)
