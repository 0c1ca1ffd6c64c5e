"""``provision init --web-proxy``: its options, and what ``init`` says about the proxy.

One TLS port (``--ws-port``, 443) for the hub's web and MQTT over WebSockets, with a
reverse proxy in front (docs/operations.md, "One port for the hub's web and MQTT").
"""

from __future__ import annotations

from functools import wraps
from typing import Any

import click

from hallsense.cli_options import F
from provisioning.nginx_config import (
    DEFAULT_WEB_PORT,
    DEFAULT_WS_BACKEND_PORT,
    WEB_PROXIES,
    WebProxy,
)
from provisioning.state import ProvisioningState


def web_proxy_from(
    kind: str | None, web_port: int | None, ws_backend_port: int | None, ws_port: int
) -> WebProxy | None:
    """The proxy the options ask for, or None for none.

    Raises:
        click.BadParameter: a loopback port without ``--web-proxy``, or a proxy with no
            WebSockets port to serve on.
    """
    if kind is None:
        for option, value in (("--web-port", web_port), ("--ws-backend-port", ws_backend_port)):
            if value is not None:
                raise click.BadParameter(
                    "only with --web-proxy: it is where the proxy forwards to",
                    param_hint=option,
                )
        return None
    if not ws_port:
        raise click.BadParameter(
            f"--web-proxy {kind} serves the hub's web and MQTT over WebSockets on this "
            "port (443): give one, not 0",
            param_hint="--ws-port",
        )
    return WebProxy(
        web_port=web_port or DEFAULT_WEB_PORT,
        ws_backend_port=ws_backend_port or DEFAULT_WS_BACKEND_PORT,
    )


def web_proxy_options(command: F) -> F:
    """``--web-proxy nginx [--web-port N] [--ws-backend-port N]``, as one argument.

    The command gets ``web_proxy``, a :class:`WebProxy` or None, in place of the three
    options; it must have ``--ws-port`` (``ws_port``) too, where the proxy listens.
    """

    @wraps(command)
    def wrapper(
        *args: Any,
        web_proxy: str | None,
        web_port: int | None,
        ws_backend_port: int | None,
        **kwargs: Any,
    ) -> Any:
        proxy = web_proxy_from(web_proxy, web_port, ws_backend_port, kwargs["ws_port"])
        return command(*args, web_proxy=proxy, **kwargs)

    port = click.IntRange(1, 65535)
    options = [
        click.option(
            "--web-proxy",
            type=click.Choice(WEB_PROXIES),
            default=None,
            help="Serve the hub's web and MQTT over WebSockets together on --ws-port, "
            "behind this reverse proxy: writes its site file (nginx/hallsense-hub.conf).",
        ),
        click.option(
            "--web-port",
            type=port,
            default=None,
            help="With --web-proxy: where `hub web --plain-http-behind-proxy` listens on "
            f"127.0.0.1 [default: {DEFAULT_WEB_PORT}].",
        ),
        click.option(
            "--ws-backend-port",
            type=port,
            default=None,
            help="With --web-proxy: Mosquitto's WebSockets listener, plain, on 127.0.0.1 "
            f"[default: {DEFAULT_WS_BACKEND_PORT}].",
        ),
    ]
    decorated: Any = wrapper
    for option in reversed(options):
        decorated = option(decorated)
    return decorated  # type: ignore[no-any-return]


def web_proxy_summary(state: ProvisioningState, proxy: WebProxy) -> str:
    """What ``init`` prints about the proxy it wrote a site for: where each part listens."""
    return (
        f"  one TLS port for the hub's web and MQTT over WebSockets: {proxy.kind} on port "
        f"{state.settings.ws_port} with the site {state.layout.nginx_site} (copy it to "
        "/etc/nginx/sites-available/ and enable it)\n"
        "  behind it, on 127.0.0.1: hallsense hub web --plain-http-behind-proxy --port "
        f"{proxy.web_port}; Mosquitto's WebSockets on {proxy.ws_backend_port}"
    )
