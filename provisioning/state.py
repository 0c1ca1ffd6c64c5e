"""The hub's provisioning state directory: the CA, the broker's files and its accounts.

Everything provisioning keeps lives under one directory (``--state-dir DIR`` or
``HALLSENSE_PROVISION_DIR``), laid out as :mod:`provisioning.state_layout` says.

Mosquitto reads its certificates, key, password files and ACL after it has dropped to its
own user, and again on every reload, so those belong to that user (when provisioning runs
as root); the CA key and the service passwords stay with whoever ran provisioning.

Two listeners, because a client id cannot be bound to the user name for some accounts
only: the network listener (TLS, ``port_tls``) replaces every client's id with its user
name, so a device cannot take over another's session; the hub's ingestion workers share
one account but need one client id each, so they connect to the service listener
(``service_port``, TLS, on 127.0.0.1 by default), whose password file holds only the hub's
account. A lab may add a plain-text listener (``plain_port``) that behaves like the TLS one.
Halls whose networks let only web traffic out reach a WebSockets listener (``ws_port``,
443 from ``provision init``): TLS with the same certificate, and the same accounts, ACL,
client ids and limits as the TLS listener. With ``web_proxy`` nginx owns ``ws_port`` and
passes the WebSockets path to that listener on 127.0.0.1, plain (:mod:`.nginx_config`).
"""

from __future__ import annotations

import json
import logging
import os
import pwd
import shutil
import signal
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from provisioning.broker_config import (
    HUB_ACCOUNT,
    READER_ACCOUNT,
    BrokerConfig,
    Listener,
    TlsFiles,
    acl_text,
    mosquitto_conf_text,
)
from provisioning.certificates import (
    ca_fingerprint,
    issue_server_certificate,
    load_certificate,
    new_ca,
    write_certificate,
    write_private_key,
)
from provisioning.nginx_config import WebProxy, nginx_site_text, site_for, write_nginx_site
from provisioning.passwords import (
    Owner,
    mosquitto_hash,
    new_password,
    password_file_text,
    replace_private_file,
    write_private_file,
)
from provisioning.registry import check_name
from provisioning.state_layout import StateLayout

log = logging.getLogger(__name__)

ENV_VAR = "HALLSENSE_PROVISION_DIR"
STATE_VERSION = 1
DEFAULT_SERVICE_PORT = 8884
BROKER_USER = "mosquitto"
"""The user Debian's Mosquitto drops to, and which must read its files."""
LOCAL_NAMES = ("localhost",)
LOCAL_IPS = ("127.0.0.1", "::1")


class StateError(Exception):
    """A provisioning state directory that is missing, already there, or not usable."""


class StateExists(StateError, FileExistsError):
    """``init`` was asked to make a state where one already is."""


class StateMissing(StateError, FileNotFoundError):
    """No provisioning state in the directory (``init`` has not been run there)."""


class AccountError(StateError, ValueError):
    """A device account that is already there, or not there, when it must (not) be."""


@dataclass(frozen=True)
class StateSettings:
    """What ``init`` was asked for; kept in ``state.json`` to regenerate the broker's files."""

    hostnames: tuple[str, ...]
    ips: tuple[str, ...]
    port_tls: int
    service_port: int
    service_bind_address: str
    bind_address: str | None
    plain_port: int | None
    run_as: str
    created: str
    version: int = STATE_VERSION
    ws_port: int | None = None
    web_proxy: WebProxy | None = None


@dataclass(frozen=True)
class ProvisioningState:
    """An initialised provisioning state directory."""

    layout: StateLayout
    settings: StateSettings

    @property
    def ca_fingerprint(self) -> str:
        """``sha256:<hex>`` of the council CA, for enrolment labels."""
        return ca_fingerprint(load_certificate(self.layout.ca_cert))


def state_dir_from(option: str | Path | None, environ: Mapping[str, str] = os.environ) -> Path:
    """The state directory: ``--state-dir`` if given, else ``HALLSENSE_PROVISION_DIR``.

    Raises:
        StateError: neither is set.
    """
    value = str(option) if option else environ.get(ENV_VAR, "")
    if not value:
        raise StateError(f"no provisioning state directory: give --state-dir DIR or set {ENV_VAR}")
    return Path(value).expanduser()


def broker_owner(run_as: str) -> Owner | None:
    """(uid, gid) for files the broker reads; None when they can stay the caller's."""
    if os.geteuid() != 0:
        return None  # only root can give files away; Mosquitto then runs as the caller
    entry = pwd.getpwnam(run_as)
    if entry.pw_uid == os.geteuid():
        return None
    return entry.pw_uid, entry.pw_gid


def _default_run_as() -> str:
    try:
        pwd.getpwnam(BROKER_USER)
    except KeyError:
        return pwd.getpwuid(os.geteuid()).pw_name
    return BROKER_USER


def _mkdir(path: Path, mode: int, owner: Owner | None = None) -> None:
    path.mkdir(mode=mode)
    path.chmod(mode)  # mkdir's mode passes through the umask
    if owner is not None:
        os.chown(path, *owner)


def init_state(
    directory: str | Path,
    *,
    hostnames: Sequence[str],
    ips: Sequence[str] = (),
    port_tls: int = 8883,
    plain_port: int | None = None,
    run_as: str | None = None,
    service_port: int = DEFAULT_SERVICE_PORT,
    service_bind_address: str = "127.0.0.1",
    bind_address: str | None = None,
    now: datetime | None = None,
    ws_port: int | None = None,
    web_proxy: WebProxy | None = None,
) -> ProvisioningState:
    """Create a provisioning state: the CA, the broker's certificate, files and accounts.

    The hub's account and the read-only account get fresh passwords, kept 0600 under
    ``secrets/``; no device account exists yet.

    Args:
        directory: the state directory; it may exist if it is empty.
        hostnames: the DNS names nodes and the hub use for the broker (``localhost`` added).
        ips: its IP addresses (127.0.0.1 and ::1 added).
        port_tls: the TLS listener for nodes and integrations.
        plain_port: a plain-text listener as well, for a lab only.
        run_as: the user Mosquitto drops to; ``mosquitto`` when that user exists, else
            the caller. Tests running as root say ``root``.
        service_port: the hub's TLS listener.
        service_bind_address: where the hub's listener listens (127.0.0.1: the hub's own
            machine only).
        bind_address: where the nodes' listeners listen; every interface by default.
        now: the issue time of the certificates (tests).
        ws_port: a WebSockets (TLS) listener for nodes as well, for halls that only let
            web traffic out (``provision init`` asks for 443); None: none.
        web_proxy: nginx on ``ws_port`` for the hub's web too, and its loopback ports.

    Raises:
        StateExists: the directory holds anything already (naming it).
        CertificateError: no usable host name or address.
        UnsafeName: a host name with a control character or line break in it.
        NginxConfigError: a web proxy with no ``ws_port``, or a value nginx cannot take.
    """
    root = Path(directory).absolute()
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise StateExists(
            f"{root} is not empty: it holds a provisioning state (or something else) already; "
            "choose another directory or remove it"
        )
    proxied = (web_proxy.web_port, web_proxy.ws_backend_port) if web_proxy else ()
    optional = [p for p in (plain_port, ws_port, *proxied) if p is not None]
    ports = [port_tls, service_port, *optional]
    if len(set(ports)) != len(ports):
        raise StateError(f"the listeners need different ports, not {ports}")
    for hostname in hostnames:
        # It reaches the certificate, state.json and every node's edge.env.
        check_name("host name", hostname)
    run_as = run_as or _default_run_as()
    issued_at = now or datetime.now(UTC)
    settings = StateSettings(
        hostnames=tuple(dict.fromkeys([*(h.strip().lower() for h in hostnames), *LOCAL_NAMES])),
        ips=tuple(dict.fromkeys([*ips, *LOCAL_IPS])),
        port_tls=port_tls,
        service_port=service_port,
        service_bind_address=service_bind_address,
        bind_address=bind_address,
        plain_port=plain_port,
        run_as=run_as,
        created=issued_at.isoformat(),
        ws_port=ws_port,
        web_proxy=web_proxy,
    )
    state = ProvisioningState(StateLayout(root), settings)
    if web_proxy is not None:  # refused before anything is made
        nginx_site_text(site_for(state.layout, settings))
    created_root = not root.exists()
    try:
        _create(state, issued_at)
    except BaseException:
        # Leave nothing half-made: the next init must not find a directory it refuses.
        if created_root:
            shutil.rmtree(root, ignore_errors=True)
        elif root.is_dir():
            for child in root.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
        raise
    log.info("provisioning state made in %s", root)
    return state


def _create(state: ProvisioningState, issued_at: datetime) -> None:
    layout, settings = state.layout, state.settings
    owner = broker_owner(settings.run_as)
    layout.root.mkdir(parents=True, exist_ok=True, mode=0o755)
    layout.root.chmod(0o755)  # the broker's user must reach mosquitto/
    _mkdir(layout.ca_dir, 0o700)
    _mkdir(layout.secrets_dir, 0o700)
    _mkdir(layout.mosquitto_dir, 0o755)
    _mkdir(layout.certs_dir, 0o755)
    _mkdir(layout.data_dir, 0o700, owner)

    ca = new_ca(now=issued_at)
    write_private_key(layout.ca_key, ca)
    write_certificate(layout.ca_cert, ca)
    write_certificate(layout.broker_ca_cert, ca)
    server = issue_server_certificate(
        ca, hostnames=settings.hostnames, ips=settings.ips, now=issued_at
    )
    write_private_key(layout.server_key, server, owner=owner)
    write_certificate(layout.server_cert, server)

    hashed: dict[str, dict[str, str]] = {"passwords": {}, "service": {}}
    for account, file in ((HUB_ACCOUNT, "service"), (READER_ACCOUNT, "passwords")):
        password = new_password()
        write_private_file(layout.account_password_path(account), password + "\n")
        hashed[file][account] = mosquitto_hash(password)
    write_private_file(layout.password_path, password_file_text(hashed["passwords"]), owner=owner)
    write_private_file(
        layout.service_password_path, password_file_text(hashed["service"]), owner=owner
    )
    write_broker_config(state)
    if settings.web_proxy is not None:
        write_nginx_site(layout.nginx_site, site_for(layout, settings))
    write_private_file(
        layout.settings_path, json.dumps(asdict(settings), indent=2) + "\n", mode=0o644
    )


def load_state(directory: str | Path) -> ProvisioningState:
    """The provisioning state in ``directory``.

    Raises:
        StateMissing: ``init`` has not made one there.
        StateError: its ``state.json`` is unreadable or from a newer hallsense.
    """
    layout = StateLayout(Path(directory).absolute())
    try:
        raw = json.loads(layout.settings_path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise StateMissing(
            f"{layout.root} holds no provisioning state: run `hallsense provision init` first"
        ) from error
    except (OSError, ValueError) as error:
        raise StateError(f"{layout.settings_path} is unreadable: {error}") from error
    if not isinstance(raw, dict) or raw.get("version") != STATE_VERSION:
        raise StateError(f"{layout.settings_path} is not a version {STATE_VERSION} state")
    try:
        proxy = WebProxy(**raw["web_proxy"]) if raw.get("web_proxy") else None
        names = {"hostnames": tuple(raw["hostnames"]), "ips": tuple(raw["ips"])}
        settings = StateSettings(**{**raw, **names, "web_proxy": proxy})
    except (TypeError, KeyError) as error:
        raise StateError(f"{layout.settings_path} is incomplete: {error}") from error
    return ProvisioningState(layout, settings)


def broker_config(state: ProvisioningState) -> BrokerConfig:
    """The broker configuration of a state: the TLS, hub's, lab's and WebSockets listeners."""
    layout, settings = state.layout, state.settings
    tls = TlsFiles(layout.broker_ca_cert, layout.server_cert, layout.server_key)
    extra = [
        Listener(
            settings.service_port,
            settings.service_bind_address,
            tls,
            username_as_clientid=False,
            password_path=layout.service_password_path,
        )
    ]
    if settings.plain_port is not None:
        extra.append(
            Listener(
                settings.plain_port,
                settings.bind_address,
                None,
                username_as_clientid=True,
                password_path=layout.password_path,
            )
        )
    if settings.ws_port is not None:
        proxy = settings.web_proxy  # then nginx terminates TLS and forwards from loopback
        extra.append(
            Listener(
                proxy.ws_backend_port if proxy else settings.ws_port,
                "127.0.0.1" if proxy else settings.bind_address,
                None if proxy else tls,
                username_as_clientid=True,
                password_path=layout.password_path,
                websockets=True,
            )
        )
    return BrokerConfig(
        directory=layout.mosquitto_dir,
        port=settings.port_tls,
        bind_address=settings.bind_address,
        persistence=True,
        run_as=settings.run_as,
        tls=tls,
        username_as_clientid=True,
        extra_listeners=tuple(extra),
        data_directory=layout.data_dir,
    )


def write_broker_config(state: ProvisioningState) -> Path:
    """(Re)write ``mosquitto.conf`` and the ACL from the state; returns the conf's path.

    Password files are left as they are; reload the broker afterwards (the listeners
    themselves change only when Mosquitto restarts).
    """
    config = broker_config(state)
    owner = broker_owner(state.settings.run_as)
    replace_private_file(config.acl_path, acl_text(), owner=owner, mode=0o640)
    replace_private_file(config.conf_path, mosquitto_conf_text(config), mode=0o644)
    return config.conf_path


def account_password(state: ProvisioningState, account: str) -> str:
    """A service account's password (``_hub`` or ``_reader``), for its settings file."""
    path = state.layout.account_password_path(account)
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError as error:
        raise AccountError(f"no password kept for {account!r} in {path.parent}") from error


def reload_broker(*, pid: int | None = None, pid_file: str | Path | None = None) -> int:
    """Make a running Mosquitto re-read its password files and ACL (SIGHUP); returns its pid.

    Mosquitto disconnects clients whose account is gone at the reload. Listeners and
    certificates change only with a restart.

    Raises:
        StateError: neither ``pid`` nor a readable ``pid_file``, or no such process.
    """
    if pid is None:
        if pid_file is None:
            raise StateError("reload_broker needs the broker's pid or its pid file")
        try:
            pid = int(Path(pid_file).read_text(encoding="ascii").strip())
        except (OSError, ValueError) as error:
            raise StateError(f"cannot read the broker's pid from {pid_file}: {error}") from error
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError as error:
        raise StateError(f"no broker process {pid} to reload") from error
    log.info("asked the broker (pid %d) to reload", pid)
    return pid
