"""``hallsense hub web``: the hub's web process; for now enrolment and password rotation.

It is its own process and systemd unit (deploy/hallsense-hub-web.service), beside the
ingestion workers (``hub run``). What it joins:

- the hub's settings (``--env hub.env``): the hub store, whose device registry says who
  may enrol;
- the provisioning state (``--state-dir`` or ``HALLSENSE_PROVISION_DIR``): the one-time
  tokens under ``DIR/enrolment/``, the broker's password file that each enrolment adds a
  fresh password to, the council CA handed to the node, and the server certificate and
  key it serves TLS with;
- the running broker, reloaded with SIGHUP through ``--broker-pid-file`` after each
  enrolment.

It serves HTTPS itself with cheroot (TLS 1.2 or newer, the state's server certificate),
or, with ``--plain-http-behind-proxy``, plain HTTP on a loopback address only, for an
HTTPS reverse proxy on the same machine that passes the client's address in
``X-Forwarded-For``. SIGTERM or Ctrl-C stops it cleanly: no new connections, requests
under way finish (up to a few seconds).
"""

from __future__ import annotations

import ipaddress
import logging
import signal
import ssl
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import click
from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter
from cryptography import x509

from hallsense.cli_options import env_option, state_dir_option
from hallsense.logs import configure_logging
from hallsense.settings import SettingsError, load_settings
from hub.alert_state import StoredAlertState
from hub.alerting import AlertMonitor
from hub.attention import AttentionRules
from hub.config_downlink import send_config_everywhere
from hub.exports import hub_exporters
from hub.logins import Logins
from hub.open_data_catalog import CatalogueSettings
from hub.presenter import NodePresenter
from hub.report_sender import ReportSender, mail_server
from hub.service import alert_notifiers, every_broker_settings
from hub.settings import HubSettings
from hub.store import Device, DeviceState, HubStoreError
from hub.store_factory import HubStoreConnection, open_hub_store
from hub.web import HubPages, create_hub_web
from hub_sync.mqtt import MqttError
from provisioning.certificates import load_certificate
from provisioning.enrolment_policy import (
    credential_rotation_for,
    enrolment_tokens,
    issue_credentials_for,
)
from provisioning.failure_limit import SharedFailureLimiter
from provisioning.release_freshness import keep_fresh
from provisioning.state import ProvisioningState, StateError, load_state, state_dir_from

DEFAULT_PORT = 8443
THREADS = 4
"""Request threads: enrolment is rare and quick."""
SHUTDOWN_TIMEOUT_S = 5
"""How long requests under way may take to finish after SIGTERM."""
LISTEN_BACKLOG = 128
"""Connections waiting to be accepted. cheroot's default of 5, with its TLS handshakes made
one at a time, turned away nodes when a fleet asked for a release at once (bench update)."""
SERVER_NAME = "hallsense"
log = logging.getLogger(__name__)

ALERT_STATE = "alerts.json"
"""Under the provisioning state directory: open incidents and undelivered alerts."""
"""The ``Server`` header cheroot sends: no software name or version."""


class StoreRegistry:
    """The hub store's device registry and failure counts, opened for each question.

    Enrolments are rare; a connection per enrolment is never stale (a restarted
    PostgreSQL, a replaced SQLite file) and never shared between the server's threads.
    """

    def __init__(self, location: str) -> None:
        self.location = location

    @contextmanager
    def _opened(self) -> Iterator[HubStoreConnection]:
        store = open_hub_store(self.location)
        try:
            yield store
        finally:
            store.close()

    def check(self) -> None:
        """Open the store once, so that a wrong location fails at start-up.

        Raises:
            HubStoreError: the store cannot be opened.
        """
        open_hub_store(self.location).close()

    def device(self, device_id: str) -> Device | None:
        """The registered device, or None."""
        with self._opened() as store:
            return store.device(device_id)

    def finish_rotation(self, device_id: str, *, actor: str = "hallsense") -> None:
        """Record that the device's new broker password is in force."""
        with self._opened() as store:
            store.finish_rotation(device_id, actor=actor)

    def add_failure(self, kind: str, key: str, at_us: int, forget_before_us: int) -> None:
        """Count a failed enrolment or rotation, for every ``hub web`` process to see."""
        with self._opened() as store:
            store.add_failure(kind, key, at_us, forget_before_us)

    def forget_failures(self, kind: str, before_us: int) -> int:
        """Forget the failed enrolments and rotations out of their window."""
        with self._opened() as store:
            return store.forget_failures(kind, before_us)

    def failures_since(self, kind: str, key: str, since_us: int, limit: int) -> list[int]:
        """A client's latest failed enrolments or rotations, newest first."""
        with self._opened() as store:
            return store.failures_since(kind, key, since_us, limit)


def hub_pages(settings: HubSettings) -> HubPages:
    """The hub's pages over the settings' hub store and brokers (the config downlink).

    A config goes to every broker (``HALLSENSE_OTHER_BROKERS`` too), retained for the node
    on whichever it is; it is recorded once one broker has it.
    """
    brokers = every_broker_settings(settings)

    def send(device_id: str, payload: bytes, actor: str) -> None:
        store = open_hub_store(settings.hub_store)
        try:
            missed = send_config_everywhere(brokers, device_id, payload, record=store, actor=actor)
        except MqttError as error:
            raise ConnectionError(str(error)) from error
        finally:
            store.close()
        for where in missed:
            log.warning("the config of %s did not reach the broker at %s", device_id, where)

    return HubPages(
        open_store=lambda: open_hub_store(settings.hub_store),
        exporters=hub_exporters(settings.timezone),
        presenter=NodePresenter(),
        send_config=send,
        secure_cookies=True,
        timezone=settings.timezone,
        attention=attention_rules(settings),
        catalogue=CatalogueSettings.from_settings(settings),
        report_mail=mail_server(settings) is not None,
    )


def attention_rules(settings: HubSettings) -> AttentionRules:
    """The fleet's "needs attention" thresholds the settings give."""
    return AttentionRules(
        offline_after_s=settings.offline_after_s, behind_after_s=settings.behind_after_s
    )


def alert_monitor(settings: HubSettings, state_dir: Path) -> AlertMonitor | None:
    """The alerts the settings ask for (email, webhook, or both), or None for none.

    Their state is in the hub store, shared by every ``hub web`` process; the file an
    older hub kept in ``state_dir`` is taken over on the first round.

    Raises:
        ValueError: naming the alert setting that is wrong.
    """
    notifiers = alert_notifiers(settings)
    if not notifiers:
        return None
    state = StoredAlertState(
        lambda: open_hub_store(settings.hub_store), earlier_file=state_dir / ALERT_STATE
    )
    return AlertMonitor(
        state,
        notifiers,
        after_s=settings.alert_after_s,
        rules=attention_rules(settings),
    )


def watch_fleet(
    settings: HubSettings, monitor: AlertMonitor, stop: threading.Event
) -> threading.Thread:
    """Check the fleet for alerts in a thread until ``stop``."""

    def fleet() -> Sequence[DeviceState]:
        store = open_hub_store(settings.hub_store)
        try:
            return store.fleet()
        finally:
            store.close()

    thread = threading.Thread(
        target=monitor.run,
        args=(fleet, lambda: time.time_ns() // 1000, stop, settings.alert_check_s),
        name="alerts",
        daemon=True,
    )
    thread.start()
    return thread


def send_reports(settings: HubSettings, hub_url: str, stop: threading.Event) -> bool:
    """Mail the monthly reports to the accounts that want them, in a thread until ``stop``.

    False when no mail server is set (nothing is started).
    """
    server = mail_server(settings)
    if server is None:
        return False
    sender = ReportSender(
        lambda: open_hub_store(settings.hub_store),
        server,
        settings.alert_email_from,
        hub_url=settings.hub_url or hub_url,
        timezone=settings.timezone,
    )
    threading.Thread(
        target=sender.run,
        args=(stop, settings.report_mail_check_s),
        name="report-mail",
        daemon=True,
    ).start()
    return True


def first_start_code(settings: HubSettings) -> str | None:
    """A one-time set-up code while the hub has no account yet, else None."""
    store = open_hub_store(settings.hub_store)
    try:
        return Logins(lambda: store).issue_setup_code()
    finally:
        store.close()


def certificate_names(path: Path) -> set[str]:
    """The DNS names (lowercase) and IP addresses a server certificate is valid for."""
    try:
        names = load_certificate(path).extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        )
    except (OSError, ValueError, x509.ExtensionNotFound) as error:
        raise click.ClickException(f"cannot read the names in {path}: {error}") from error
    dns = {name.lower() for name in names.value.get_values_for_type(x509.DNSName)}
    ips = {str(ip) for ip in names.value.get_values_for_type(x509.IPAddress)}
    return dns | ips


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _tls_adapter(state: ProvisioningState) -> BuiltinSSLAdapter:
    layout = state.layout
    try:
        adapter = BuiltinSSLAdapter(str(layout.server_cert), str(layout.server_key))
    except (OSError, ssl.SSLError) as error:
        raise click.ClickException(
            f"cannot load the server certificate {layout.server_cert} and its key "
            f"{layout.server_key}: {error} (the key belongs to the broker's user; run "
            "hub web as root, as the systemd unit does)"
        ) from error
    adapter.context.minimum_version = ssl.TLSVersion.TLSv1_2
    return adapter


@click.command("web")
@env_option
@state_dir_option
@click.option(
    "--host",
    default=None,
    help="Address to listen on [default: 0.0.0.0, every IPv4 address; 127.0.0.1 behind a proxy].",
)
@click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True)
@click.option(
    "--broker-host",
    default=None,
    help="The broker's host name as nodes reach it, which its certificate must name "
    "[default: the first host name given to `provision init`].",
)
@click.option(
    "--broker-pid-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Mosquitto's pid file: reload it after each enrolment. Without it, reload "
    "Mosquitto yourself for enrolled nodes' passwords to count.",
)
@click.option(
    "--plain-http-behind-proxy",
    is_flag=True,
    help="Serve plain HTTP on a loopback address, for an HTTPS reverse proxy on this "
    "machine that sets X-Forwarded-For. Never expose this port.",
)
def web(
    env_file: Path | None,
    state_dir: Path | None,
    host: str | None,
    port: int,
    broker_host: str | None,
    broker_pid_file: Path | None,
    plain_http_behind_proxy: bool,
) -> None:
    """Serve the hub's enrolment and password rotation over HTTPS until SIGTERM or Ctrl-C.

    A node posts its one-time token there on its first start and receives its broker
    password, made at that moment (only its hash is kept). TLS uses the server
    certificate `provision init` made, so the hub URL given to `provision add-device`
    must use one of the names it was given.

    \b
    Example:
        hallsense hub web --env /etc/hallsense/hub.env \\
            --state-dir /etc/hallsense/provision \\
            --broker-pid-file /run/mosquitto/mosquitto.pid
    """
    if host is None:
        host = "127.0.0.1" if plain_http_behind_proxy else "0.0.0.0"  # noqa: S104
    elif plain_http_behind_proxy and not _is_loopback(host):
        raise click.BadParameter(
            "plain HTTP is served on a loopback address only (127.0.0.1, ::1, localhost); "
            "the proxy in front of it terminates TLS",
            param_hint="--host",
        )
    try:
        settings = load_settings(HubSettings, env_file)
        state = load_state(state_dir_from(state_dir))
        registry = StoreRegistry(settings.hub_store)
        registry.check()
    except (SettingsError, StateError, HubStoreError) as error:
        raise click.ClickException(str(error)) from error
    configure_logging(settings.log_level)
    broker_host = broker_host or state.settings.hostnames[0]
    names = certificate_names(state.layout.server_cert)
    if broker_host.lower() not in names:
        raise click.BadParameter(
            f"{broker_host!r} is not a name in the broker's certificate "
            f"({', '.join(sorted(names))}): nodes would refuse the broker's TLS",
            param_hint="--broker-host",
        )
    issue = issue_credentials_for(
        state, registry, broker_host=broker_host, pid_file=broker_pid_file
    )
    rotation = credential_rotation_for(state, registry, pid_file=broker_pid_file)
    if not settings.security_contact:
        click.echo(
            "warning: HALLSENSE_SECURITY_CONTACT is not set, so /.well-known/security.txt "
            "is not served: nobody can tell you about a vulnerability",
            err=True,
        )
    try:
        app = create_hub_web(
            enrolment_tokens(state),
            issue,
            limiter=SharedFailureLimiter(lambda: registry, "enrolment"),
            rotation=rotation,
            security_contact=settings.security_contact,
            pages=hub_pages(settings),
            behind_proxy=plain_http_behind_proxy,
            releases_dir=Path(settings.releases_dir) if settings.releases_dir else None,
        )
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="HALLSENSE_SECURITY_CONTACT") from error
    setup_code = first_start_code(settings)
    try:
        monitor = alert_monitor(settings, state.layout.root)
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    server = wsgi.Server(
        (host, port),
        app,
        numthreads=THREADS,
        request_queue_size=LISTEN_BACKLOG,
        server_name=SERVER_NAME,
        shutdown_timeout=SHUTDOWN_TIMEOUT_S,
    )
    if not plain_http_behind_proxy:
        server.ssl_adapter = _tls_adapter(state)
    # Signals are caught before the port opens: a SIGTERM the moment it listens (from
    # systemd, or a test that waits for the port) must stop it cleanly, not kill it.
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        try:
            server.prepare()
        except OSError as error:
            raise click.ClickException(f"cannot listen on {host}:{port}: {error}") from error
        scheme = "http" if plain_http_behind_proxy else "https"
        shown = f"[{host}]" if ":" in host else host
        click.echo(
            f"serving the hub on {scheme}://{shown}:{port}/ (nodes enrol at /enroll and get "
            f"broker {broker_host}:{state.settings.port_tls})",
            err=True,
        )
        if settings.releases_dir and settings.release_keys_dir:
            keep_fresh(Path(settings.releases_dir), Path(settings.release_keys_dir), stop)
        if monitor is not None:
            watch_fleet(settings, monitor, stop)
            click.echo("alerts go to " + ", ".join(n.name for n in monitor.notifiers), err=True)
        own_url = f"https://{broker_host}" + ("" if plain_http_behind_proxy else f":{port}")
        if send_reports(settings, own_url, stop):
            click.echo(f"monthly reports are mailed from {settings.alert_email_from}", err=True)
            if not settings.alert_email_to.strip():
                click.echo(
                    "alerts are not e-mailed: HALLSENSE_ALERT_EMAIL_TO is empty (the mail "
                    "server sends the monthly report e-mails only)",
                    err=True,
                )
        if setup_code is not None:
            click.echo(
                f"no account yet: make the first one at {scheme}://{shown}:{port}/setup "
                f"with the one-time set-up code {setup_code} (valid for 24 hours; a restart "
                "makes a new one)",
                err=True,
            )
        _serve_until(server, stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _serve_until(server: wsgi.Server, stop: threading.Event) -> None:
    """Serve in a thread until ``stop`` is set (by SIGTERM or SIGINT), then stop the server."""
    serving = threading.Thread(target=server.serve, name="hub-web", daemon=True)
    serving.start()
    try:
        while serving.is_alive() and not stop.wait(0.5):
            pass
    finally:
        server.stop()
        serving.join(SHUTDOWN_TIMEOUT_S + 5)
    if not stop.is_set():
        raise click.ClickException("the web server stopped unexpectedly; see the log above")
    click.echo("hub web stopped", err=True)
