"""Mosquitto's configuration for hallsense: listeners (TLS), password files, ACL, queue limits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from hub_sync.limits import MAX_PAYLOAD_BYTES
from hub_sync.topics import TOPIC_PREFIX
from provisioning.passwords import Owner, replace_private_file
from provisioning.passwords import password_file_text as _password_file_text

HUB_ACCOUNT = "_hub"
"""The ingestion workers' broker account. The underscore keeps it out of the device-id
namespace, so no device can ever be named like it."""

READER_ACCOUNT = "_reader"
"""The read-only account for integrations (Home Assistant, dashboards): it may read every
device's readings and status and write nothing."""

SERVICE_ACCOUNTS = (HUB_ACCOUNT, READER_ACCOUNT)

TLS_MIN_VERSION = "tlsv1.2"

MESSAGE_SIZE_LIMIT = MAX_PAYLOAD_BYTES
"""The largest payload the broker forwards (``message_size_limit``): the protocol's largest
message, a readings batch, to the byte and whatever the topic. Mosquitto 2.0 drops a
bigger one and answers a QoS 1 publisher with reason code 0x95, which paho takes for a
protocol error and closes the connection: nothing reaches a subscriber."""

MAX_PACKET_SIZE = 16 * MAX_PAYLOAD_BYTES
"""The largest MQTT packet the broker reads at all (``max_packet_size``, 4 MiB; Mosquitto
2.0 counts a packet's remaining length plus one byte). Past it Mosquitto disconnects the
sender on the packet's header, before reading its body, so a 32 MiB publish costs the
broker nothing.

It sits well above the protocol's largest packet, not just above it, on purpose. Below it,
an oversized payload is dropped by :data:`MESSAGE_SIZE_LIMIT` after the broker has read
the packet, so what the sender wrote behind it still counts. A packet cut at its header
takes everything behind it down with the connection: for a hub worker, the PUBACKs of
messages it has just committed, which the broker would then deliver again, into the same
cut. The hub's acks are not bounded by the protocol yet (one for a batch of 10,000
scattered readings is about 1.2 MB), so the ceiling leaves them room."""

MAX_QUEUED_BYTES = 256 * MAX_PAYLOAD_BYTES
"""What Mosquitto queues per client beyond its in-flight window (``max_queued_bytes``,
64 MiB: 256 of the largest messages). Beyond it the broker drops, as beyond
``max_queued_messages``: the edge resends what the hub did not acknowledge."""

MAX_QUEUED_MESSAGES = 50_000
"""QoS 1 messages Mosquitto queues per client beyond its in-flight window
(``max_queued_messages``), before :data:`MAX_QUEUED_BYTES` or this drops the rest. It is
the hub's queue that fills: after a broker restart every hall sends its birth and what
waited, at once (the fleet bench: 10,000 halls, about 20,000 messages within seconds).
At Mosquitto's default of 1,000 the broker dropped most of them, and each hall waited out
its 30 s resend; 50,000 holds a country's worth (20,000 halls), and the bytes bound
(64 MiB) still caps the memory."""

MAX_INFLIGHT_MESSAGES = 20
"""QoS 1 messages the broker has out to one client, unacknowledged, at most (Mosquitto's
own default, written out so the bound is visible). The hub acknowledges in arrival order,
so this is its workers' window; it is counted in messages, not bytes, because a byte
window would shrink to one message whenever large batches arrive. The bytes in flight are
bounded anyway: this many messages of at most :data:`MAX_PACKET_SIZE`."""


@dataclass(frozen=True)
class TlsFiles:
    """A TLS listener's files: the CA that signed the server, its certificate and key."""

    cafile: Path
    certfile: Path
    keyfile: Path


@dataclass(frozen=True)
class Listener:
    """One more port the broker listens on, beside :class:`BrokerConfig`'s own.

    ``bind_address`` None listens on every interface. ``password_path`` gives the listener
    its own password file (then every listener checks its own: Mosquitto's
    ``per_listener_settings true``); None shares the broker's main one.
    """

    port: int
    bind_address: str | None = "127.0.0.1"
    tls: TlsFiles | None = None
    username_as_clientid: bool = False
    password_path: Path | None = None
    websockets: bool = False
    """MQTT over WebSockets (``protocol websockets``), for halls where only port 443 gets
    out; with ``tls``, the same certificate as the main listener."""


@dataclass(frozen=True)
class BrokerConfig:
    """Where and how the broker listens, and what it keeps.

    ``max_queued_messages`` and ``max_queued_bytes`` bound what Mosquitto queues for a
    subscriber, e.g. an offline one (it drops beyond them while still acknowledging the
    sender: the edge's resend covers that); ``max_inflight_messages`` is each client's
    window of unacknowledged QoS 1 messages. The size limits are the protocol's, not
    settings: see :data:`MESSAGE_SIZE_LIMIT` and :data:`MAX_PACKET_SIZE`.
    ``run_as`` is the user Mosquitto drops to (tests running as root say ``root``).
    ``tls`` makes the main listener a TLS one; ``username_as_clientid`` replaces the
    client id of everyone connecting there with their user name, so one account cannot
    take over another's session. ``extra_listeners`` are further ports, e.g. the hub's.
    """

    directory: Path
    port: int
    bind_address: str | None = "127.0.0.1"
    persistence: bool = True
    max_queued_messages: int = MAX_QUEUED_MESSAGES
    max_queued_bytes: int = MAX_QUEUED_BYTES
    max_inflight_messages: int = MAX_INFLIGHT_MESSAGES
    run_as: str | None = None
    log_path: Path | None = None
    tls: TlsFiles | None = None
    username_as_clientid: bool = False
    extra_listeners: tuple[Listener, ...] = ()
    data_directory: Path | None = None

    @property
    def conf_path(self) -> Path:
        """``mosquitto.conf``."""
        return self.directory / "mosquitto.conf"

    @property
    def password_path(self) -> Path:
        """The password file."""
        return self.directory / "passwords"

    @property
    def acl_path(self) -> Path:
        """The ACL file."""
        return self.directory / "acl"

    @property
    def listeners(self) -> tuple[Listener, ...]:
        """Every listener, the main one first."""
        main = Listener(self.port, self.bind_address, self.tls, self.username_as_clientid)
        return (main, *self.extra_listeners)


HA_DISCOVERY_PREFIX = "homeassistant"
"""Home Assistant's default MQTT discovery prefix."""
HA_STATE_PREFIX = "hallsense/ha/v1"
"""Where the hub's bridge publishes decoded per-sensor states and availability."""


def acl_text() -> str:
    """The ACL: each device only under its own id; the hub reads readings and status.

    The hub may also write a device's status, to clear a retained one it cannot use (a
    hostile device's poison stays retained for every new session until cleared).

    Mosquitto checks a shared subscription (``$share/<group>/<filter>``) against the ACL
    with the ``$share/<group>/`` taken off, so the hub's lines name the plain topics.
    Patterns apply to every account, the service accounts too: their names start with an
    underscore, which no device id can, and their own subtrees are denied outright so that
    ``%u`` cannot hand them topics such as ``hallsense/v1/_reader/readings``.
    """
    p = TOPIC_PREFIX
    lines = [
        "# Generated by hallsense. Every device account may only use its own topics;",
        "# %u is the account's user name, which is the device id.",
        f"pattern write {p}/%u/readings",
        f"pattern write {p}/%u/status",
        f"pattern read {p}/%u/ack",
        f"pattern read {p}/%u/config",
        "",
        "# The hub's ingestion workers (through a shared subscription).",
        f"user {HUB_ACCOUNT}",
        f"topic read {p}/+/readings",
        f"topic read {p}/+/status",
        f"topic write {p}/+/ack",
        f"topic write {p}/+/config",
        "# Write on status only to clear a device's retained status (an empty retained",
        "# message), so that a poisoned one cannot greet every new session of the hub.",
        f"topic write {p}/+/status",
        f"topic deny {p}/{HUB_ACCOUNT}/+",
        "# ... and its Home Assistant bridge: discovery and decoded per-sensor states.",
        f"topic write {HA_DISCOVERY_PREFIX}/#",
        f"topic write {HA_STATE_PREFIX}/#",
        "",
        "# Integrations (Home Assistant): read readings, status and the bridge's topics;",
        "# write nothing.",
        f"user {READER_ACCOUNT}",
        f"topic read {p}/+/readings",
        f"topic read {p}/+/status",
        f"topic deny {p}/{READER_ACCOUNT}/+",
        f"topic read {HA_DISCOVERY_PREFIX}/#",
        f"topic read {HA_STATE_PREFIX}/#",
        "",
    ]
    return "\n".join(lines)


def password_file_text(hashed: Mapping[str, str]) -> str:
    """The password file from account → ``$7$`` hash."""
    return _password_file_text(dict(hashed))


def _listener_lines(listener: Listener) -> list[str]:
    address = f" {listener.bind_address}" if listener.bind_address else ""
    lines = [f"listener {listener.port}{address}"]
    if listener.websockets:
        lines.append("protocol websockets")
    if listener.tls is not None:
        lines += [
            f"cafile {listener.tls.cafile}",
            f"certfile {listener.tls.certfile}",
            f"keyfile {listener.tls.keyfile}",
            f"tls_version {TLS_MIN_VERSION}",
        ]
    if listener.username_as_clientid:
        lines.append("use_username_as_clientid true")
    return lines


def mosquitto_conf_text(config: BrokerConfig) -> str:
    """A complete ``mosquitto.conf`` for ``mosquitto -c``."""
    listeners = config.listeners
    per_listener = any(listener.password_path is not None for listener in listeners)
    lines = [
        "# Generated by hallsense; regenerate rather than edit.",
        f"per_listener_settings {'true' if per_listener else 'false'}",
    ]
    for n, listener in enumerate(listeners):
        lines += _listener_lines(listener)
        if per_listener or n == 0:
            lines += [
                "allow_anonymous false",
                f"password_file {listener.password_path or config.password_path}",
                f"acl_file {config.acl_path}",
            ]
    # Mosquitto 2.0 applies these to every listener alike (no per-listener form).
    lines += [
        f"message_size_limit {MESSAGE_SIZE_LIMIT}",
        f"max_packet_size {MAX_PACKET_SIZE}",
        f"max_inflight_messages {config.max_inflight_messages}",
        f"max_queued_messages {config.max_queued_messages}",
        f"max_queued_bytes {config.max_queued_bytes}",
        f"persistence {'true' if config.persistence else 'false'}",
    ]
    if config.persistence:
        lines.append(f"persistence_location {config.data_directory or config.directory}/")
    if config.run_as:
        lines.append(f"user {config.run_as}")
    if config.log_path is not None:
        lines.append(f"log_dest file {config.log_path}")
    else:
        lines.append("log_dest stderr")
    lines.append("log_type error")
    lines.append("log_type warning")
    lines.append("log_type notice")
    lines.append("log_type information")
    return "\n".join(lines) + "\n"


def write_broker_files(
    config: BrokerConfig, hashed: Mapping[str, str], *, owner: Owner | None = None
) -> Path:
    """Write mosquitto.conf, the password file (0600) and the ACL; returns the conf path.

    ``owner`` (uid, gid) owns the password file and the ACL, which Mosquitto reads after
    dropping to its own user (and again on every reload).
    """
    config.directory.mkdir(parents=True, exist_ok=True)
    replace_private_file(config.acl_path, acl_text(), owner=owner, mode=0o640)
    replace_private_file(config.password_path, password_file_text(hashed), owner=owner)
    replace_private_file(config.conf_path, mosquitto_conf_text(config), mode=0o644)
    return config.conf_path
