"""How the node reaches the hub's broker: the transport choice, its fallback, and proxies.

Halls behind school or library networks may let only port 443 out; council networks may
have an HTTP proxy. This module holds the rules, without paho (``hub_sync/mqtt.py`` is the
only module that imports it and applies what is decided here).

**The fallback rule** (``transport="auto"``): the node tries MQTT over TLS on the broker
port. After :data:`FAILS_BEFORE_SWITCH` (3) connection attempts in a row fail to connect
(connection refused, no TLS handshake, the proxy refusing), or after one attempt met with
silence (no answer within the connect timeout: a firewall dropping the port, which is
what a network that lets only web traffic out does), it tries MQTT over WebSockets with
TLS on the WebSockets port (443 by default), and the other way round when that fails as
often: during an outage the node keeps alternating. It stays with whichever transport
connected. The preferred one (TLS) is tried again only when a connection over the
fallback is lost and the last switch to the fallback is at least
:data:`RETRY_PREFERRED_AFTER_S` (an hour) old: a working connection is never dropped to
probe, and a hall that only lets 443 out pays one silent attempt at most hourly. Every
switch is logged once (the first time in an outage at INFO, the alternation afterwards at
DEBUG). ``tls`` or ``websockets`` pins the transport. The uplink's exactly-once
machinery does not care which transport carried a batch: the hub stores idempotently and
the outbox marks readings acknowledged only on the hub's ack.

**Proxies**: ``HALLSENSE_PROXY_URL`` (``http://[user:password@]host:port``) or, when it is
empty, ``HTTPS_PROXY``/``https_proxy``/``ALL_PROXY``/``all_proxy`` minding
``NO_PROXY``/``no_proxy``. Only the composition root reads the environment: it passes a
mapping to :func:`choose_proxy`. The proxy carries MQTT (HTTP CONNECT, through PySocks as
paho does) and the node's HTTPS calls (``requests``' ``proxies=``, still pinning the
council CA). The password never appears in a repr, a log line or an error.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote, unquote, urlsplit

import socks

Transport = Literal["tls", "websockets"]
TransportChoice = Literal["auto", "tls", "websockets"]

FAILS_BEFORE_SWITCH = 3
"""Failed connection attempts in a row before ``auto`` tries the other transport."""

RETRY_PREFERRED_AFTER_S = 3600.0
"""How old a switch to the fallback must be before a reconnect tries TLS first again."""

PROXY_KEYS = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")
NO_PROXY_KEYS = ("NO_PROXY", "no_proxy")


class ProxyUrlError(ValueError):
    """A proxy address that cannot be used (its text is never quoted: it may hold a password)."""


@dataclass(frozen=True)
class Proxy:
    """An HTTP proxy that tunnels with CONNECT. ``password`` never appears in a repr."""

    host: str
    port: int
    username: str = ""
    password: str = field(default="", repr=False)
    source: str = "HALLSENSE_PROXY_URL"

    @classmethod
    def from_url(cls, url: str, *, source: str = "HALLSENSE_PROXY_URL") -> Proxy:
        """The proxy at ``http://[user:password@]host:port``.

        Raises:
            ProxyUrlError: not such an address (named by ``source``, never quoted).
        """
        parts = urlsplit(url.strip())
        if parts.scheme != "http":
            raise ProxyUrlError(f"{source}: must be an http://[user:password@]host:port address")
        try:
            port = parts.port
        except ValueError:
            raise ProxyUrlError(f"{source}: its port is not a number from 1 to 65535") from None
        if not parts.hostname or not port:
            raise ProxyUrlError(f"{source}: must name the proxy's host and port")
        return cls(
            parts.hostname,
            port,
            unquote(parts.username or ""),
            unquote(parts.password or ""),
            source,
        )

    @property
    def where(self) -> str:
        """The proxy named for people: host and port, never the credentials."""
        return f"the proxy at {self.host}:{self.port}"

    def url(self) -> str:
        """The proxy's URL with its credentials, for ``requests`` (never logged)."""
        auth = ""
        if self.username:
            auth = quote(self.username, safe="") + ":" + quote(self.password, safe="") + "@"
        return f"http://{auth}{self.host}:{self.port}"

    def requests_proxies(self) -> dict[str, str]:
        """``requests``' ``proxies=`` for every call to the hub."""
        return {"https": self.url(), "http": self.url()}


def bypassed(host: str, no_proxy: str) -> bool:
    """Whether ``host`` is in a ``NO_PROXY`` list (names, .suffixes, IPs, networks, ``*``)."""
    host = host.strip().lower().rstrip(".")
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        entry = entry.split(":")[0] if entry.count(":") == 1 else entry
        try:
            if ipaddress.ip_address(host) in ipaddress.ip_network(entry, strict=False):
                return True
            continue
        except ValueError:
            pass
        suffix = entry.lstrip("*").lstrip(".")
        if host == suffix or host.endswith("." + suffix):
            return True
    return False


def choose_proxy(explicit_url: str, environ: Mapping[str, str], host: str) -> Proxy | None:
    """The proxy for reaching ``host``: the setting's, else the environment's, else none.

    ``environ`` is what the composition root read; ``NO_PROXY`` applies to the
    environment's proxy only (a proxy set in the node's settings is meant).

    Raises:
        ProxyUrlError: the chosen address cannot be used.
    """
    if explicit_url:
        return Proxy.from_url(explicit_url)
    for key in PROXY_KEYS:
        url = environ.get(key, "").strip()
        if not url:
            continue
        no_proxy = next((environ[k] for k in NO_PROXY_KEYS if environ.get(k)), "")
        if host and bypassed(host, no_proxy):
            return None
        return Proxy.from_url(url, source=key)
    return None


@dataclass(frozen=True)
class Route:
    """Everything about the way to the broker except the broker's own address."""

    transport: TransportChoice = "tls"
    ws_port: int = 443
    ws_path: str = "/mqtt"
    proxy: Proxy | None = None


class Fallback:
    """The ``auto`` rule's state: which transport to try next (see the module's notes).

    Called from paho's network thread only. ``log(level_is_info, words)`` is told of
    each switch.
    """

    def __init__(
        self,
        route: Route,
        *,
        log: Callable[[bool, str], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.route = route
        self.current: Transport = "websockets" if route.transport == "websockets" else "tls"
        self.failures = 0
        self._log = log
        self._clock = clock
        self._switched_at: float | None = None
        self._switches_this_outage = 0

    @property
    def automatic(self) -> bool:
        """Whether this route may switch transports."""
        return self.route.transport == "auto"

    def failed(self, *, silent: bool = False) -> Transport | None:
        """One attempt failed to connect; the transport to switch to, or None to stay.

        ``silent``: nothing answered within the connect timeout (a dropped port), which
        switches at once: waiting out three timeouts would only delay the fallback.
        """
        self.failures += 1
        if not self.automatic or (self.failures < FAILS_BEFORE_SWITCH and not silent):
            return None
        return self._switch("tls" if self.current == "websockets" else "websockets", silent=silent)

    def connected(self) -> None:
        """An attempt connected: stay with this transport."""
        self.failures = 0
        self._switches_this_outage = 0

    def lost(self) -> Transport | None:
        """A connection was lost; the transport to reconnect with if not the same one."""
        self.failures = 0
        if not self.automatic or self.current == "tls" or self._switched_at is None:
            return None
        if self._clock() - self._switched_at < RETRY_PREFERRED_AFTER_S:
            return None
        return self._switch("tls", again=True)

    def _switch(self, to: Transport, *, again: bool = False, silent: bool = False) -> Transport:
        before = self.current
        self.current = to
        self.failures = 0
        if to != "tls":
            self._switched_at = self._clock()
        why = "no answer at all" if silent else f"no connection in {FAILS_BEFORE_SWITCH} attempts"
        if again:
            words = f"trying MQTT over TLS again after an hour over {before}"
        elif to == "websockets":
            words = (
                f"{why} over MQTT/TLS: trying MQTT over WebSockets/TLS on port {self.route.ws_port}"
            )
        else:
            words = f"{why} over WebSockets: trying MQTT/TLS again"
        self._log(self._switches_this_outage < 2, words)
        self._switches_this_outage += 1
        return to


def describe_route(host: str, port: int, tls: bool, route: Route, transport: Transport) -> str:
    """The broker and the way to it, for people (never a credential)."""
    ws = transport == "websockets"
    kind = ("WebSockets" if ws else "MQTT") + ("/TLS" if tls else "")
    via = f" through {route.proxy.where}" if route.proxy is not None else ""
    return f"the broker at {host}:{route.ws_port if ws else port} over {kind}{via}"


def describe_failure(error: BaseException | None, proxy: Proxy | None) -> str:
    """Why an attempt failed, naming the proxy when it was the proxy that refused."""
    if isinstance(error, socks.ProxyError) and proxy is not None:
        detail = str(error.socket_err if error.socket_err is not None else error.msg)
        return f"{proxy.where} refused the tunnel: {detail.strip()}"
    return str(error) if error is not None else "no connection"


class LinkLog:
    """Logs the link to the broker once per change of state, not once per attempt.

    connected → lost → (quiet attempts) → reconnected: an outage of a day is three lines,
    plus one per transport switch and one per new kind of refusal. Every attempt is still
    logged at DEBUG. Called from paho's network thread.
    """

    def __init__(self, client_id: str, log: logging.Logger) -> None:
        self.client_id = client_id
        self.log = log
        self.state: Literal["new", "connected", "lost", "down"] = "new"
        self.ever_connected = False
        self.down_since: float | None = None
        self.attempts = 0
        self._refusals: set[str] = set()

    def connected(self, where: str) -> None:
        """A connection is up."""
        if self.state == "new":
            self.log.info("%s connected to %s", self.client_id, where)
        elif self.state != "connected":
            took = time.monotonic() - (self.down_since or time.monotonic())
            self.log.info(
                "%s %s to %s after %.0f s and %d failed attempts",
                self.client_id,
                "reconnected" if self.ever_connected else "connected",
                where,
                took,
                self.attempts,
            )
        self.ever_connected = True
        self.state = "connected"
        self.down_since = None
        self.attempts = 0
        self._refusals.clear()

    def lost(self, reason: str) -> None:
        """An established connection dropped; paho reconnects by itself."""
        self.log.warning(
            "%s lost the connection to the broker (%s); reconnecting", self.client_id, reason
        )
        self.state = "lost"
        self.down_since = time.monotonic()

    def failed(self, where: str, reason: str) -> None:
        """One attempt failed to connect: said once per outage, then only at DEBUG."""
        self.attempts += 1
        if self.state in ("new", "connected", "lost"):
            self.log.warning(
                "%s cannot reach %s: %s; retrying quietly until it answers",
                self.client_id,
                where,
                reason,
            )
            self.down_since = self.down_since or time.monotonic()
            self.state = "down"
        else:
            self.log.debug(
                "%s: attempt %d to reach %s: %s", self.client_id, self.attempts, where, reason
            )

    def refused(self, reason: str) -> None:
        """The broker answered with a refusal: each kind said once until connected."""
        self.attempts += 1
        if reason not in self._refusals:
            self._refusals.add(reason)
            self.log.warning("the broker refused %s: %s", self.client_id, reason)
        else:
            self.log.debug("the broker refused %s again: %s", self.client_id, reason)

    def switched(self, first: bool, words: str) -> None:
        """The ``auto`` rule switched transports."""
        self.log.log(logging.INFO if first else logging.DEBUG, "%s: %s", self.client_id, words)
