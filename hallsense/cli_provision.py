"""`hallsense provision …`: the council IoT team's commands for the broker and the nodes.

Everything lives under one state directory (``--state-dir`` or
``HALLSENSE_PROVISION_DIR``): the council CA, the broker's configuration and accounts,
and the enrolment tokens. The device registry is the hub store named by the hub's
settings file (``--env hub.env``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any

import click

from hallsense.cli_options import F, current_actor, state_dir_option
from hallsense.cli_web_proxy import web_proxy_options, web_proxy_summary
from hallsense.settings import SettingsError, load_settings
from hub.settings import HubSettings
from hub.store import HubStoreError, UnknownDevice
from hub.store_factory import open_hub_store
from hub_sync.release_contract import ARCHITECTURES
from hub_sync.topics import check_device_id
from hub_sync.wire_errors import ProtocolError
from provisioning.bundle import add_installer, env_file_text, release_root_bytes, write_node_bundle
from provisioning.device_accounts import device_accounts, remove_device_account
from provisioning.enrolment_label import label_svg, qr_payload
from provisioning.enrolment_policy import enrolment_tokens
from provisioning.install_script import NO_WHEELHOUSE, README, WITH_WHEELHOUSE
from provisioning.nginx_config import WebProxy
from provisioning.registry import DeviceRegistry, check_name, device_id_from_site
from provisioning.rotation import forget_pending
from provisioning.state import (
    ProvisioningState,
    StateError,
    init_state,
    load_state,
    reload_broker,
    state_dir_from,
    write_broker_config,
)
from provisioning.wheelhouse import make_wheelhouse, wheelhouse_architectures


def hub_env_option(command: F) -> F:
    """``--env hub.env``: where the registry (the hub store) is."""
    return click.option(
        "--env",
        "env_file",
        type=click.Path(dir_okay=False, exists=True, path_type=Path),
        required=True,
        help="The hub's settings file; its HALLSENSE_HUB_STORE holds the device registry.",
    )(command)


def pid_file_option(command: F) -> F:
    """``--broker-pid-file``: reload the running broker after a change."""
    return click.option(
        "--broker-pid-file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Mosquitto's pid file, to reload it at once (else reload it yourself).",
    )(command)


def provisioning_errors(command: F) -> F:
    """Errors an operator can fix become a one-paragraph message and exit status 1."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (StateError, SettingsError, HubStoreError, ProtocolError, ValueError) as error:
            raise click.ClickException(str(error)) from error

    return wrapper  # type: ignore[return-value]


def _state(state_dir: Path | None) -> ProvisioningState:
    return load_state(state_dir_from(state_dir))


@contextmanager
def _registry(env_file: Path) -> Iterator[DeviceRegistry]:
    """The device registry: the hub store the hub's settings name, closed afterwards."""
    store = open_hub_store(load_settings(HubSettings, env_file).hub_store)
    try:
        yield store
    finally:
        store.close()


def _reload(pid_file: Path | None) -> str:
    if pid_file is None:
        return "reload the broker for this to count (systemctl reload mosquitto)"
    pid = reload_broker(pid_file=pid_file)
    return f"reloaded the broker (pid {pid})"


@click.group()
def provision() -> None:
    """Provision the broker and the nodes: accounts, certificates, enrolment.

    \b
    Example:
        hallsense provision init --state-dir /etc/hallsense/provision --hostname hub.example
        hallsense provision add-device --site "Askrigg Village Hall" --env hub.env \\
            --hub-url https://hub.example:8443 --out bundles/
    """


@click.command()
@state_dir_option
@click.option(
    "--hostname",
    "hostnames",
    multiple=True,
    required=True,
    help="A DNS name nodes use for the broker (repeat for more).",
)
@click.option("--ip", "ips", multiple=True, help="An IP address nodes use for the broker.")
@click.option("--port", default=8883, show_default=True, help="The devices' TLS port.")
@click.option("--service-port", default=8884, show_default=True, help="The hub workers' TLS port.")
@click.option(
    "--plain-port",
    type=int,
    default=None,
    help="Also listen without TLS on this port: for a lab only, never in a hall.",
)
@click.option(
    "--ws-port",
    type=click.IntRange(0, 65535),
    default=443,
    show_default=True,
    help="Also MQTT over WebSockets/TLS here, for halls letting only web traffic out (0: none).",
)
@click.option(
    "--broker-user",
    default=None,
    help="The user Mosquitto runs as [default: mosquitto where it exists].",
)
@web_proxy_options
@provisioning_errors
def init(
    state_dir: Path | None,
    hostnames: tuple[str, ...],
    ips: tuple[str, ...],
    port: int,
    service_port: int,
    plain_port: int | None,
    ws_port: int,
    broker_user: str | None,
    web_proxy: WebProxy | None,
) -> None:
    """Create the council CA, the broker's certificate, configuration and service accounts.

    \b
    Example:
        hallsense provision init --state-dir /etc/hallsense/provision --hostname hub.example
        mosquitto -c /etc/hallsense/provision/mosquitto/mosquitto.conf
        hallsense provision init --hostname hub.example --web-proxy nginx  # all on 443
    """
    state = init_state(
        state_dir_from(state_dir),
        hostnames=hostnames,
        ips=ips,
        port_tls=port,
        plain_port=plain_port,
        service_port=service_port,
        run_as=broker_user,
        ws_port=ws_port or None,
        web_proxy=web_proxy,
    )
    layout = state.layout
    click.echo(f"made the provisioning state in {layout.root}")
    click.echo(f"  council CA: {layout.ca_cert} ({state.ca_fingerprint})")
    click.echo(f"  broker: mosquitto -c {layout.conf_path}")
    click.echo(f"  devices connect with TLS on port {port}; hub workers on {service_port}")
    if web_proxy is not None:
        click.echo(web_proxy_summary(state, web_proxy))
    elif ws_port:
        click.echo(f"  devices behind web-only networks: WebSockets with TLS on port {ws_port}")
    if plain_port is not None:
        click.echo(f"  WARNING: plain MQTT on port {plain_port} as asked: for a lab only")


@click.command("add-device")
@state_dir_option
@hub_env_option
@click.option("--site", required=True, help='The hall, e.g. "Askrigg Village Hall".')
@click.option("--id", "device_id", default=None, help="The device id [default: from the site].")
@click.option("--location", default="", help='Where in the hall, e.g. "main hall, north wall".')
@click.option("--hub-url", required=True, help="The hub's enrolment address, https://host:port.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("bundles"),
    show_default=True,
    help="Where to write the installer's bundle (a folder per device).",
)
@click.option(
    "--wheelhouse",
    "wheelhouse_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Put this wheelhouse (`provision wheelhouse`) in the bundle, for install.sh.",
)
@click.option(
    "--release-root",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="The release repository's metadata/1.root.json, which the node trusts for updates.",
)
@provisioning_errors
def add_device(
    state_dir: Path | None,
    env_file: Path,
    site: str,
    device_id: str | None,
    location: str,
    hub_url: str,
    out: Path,
    wheelhouse_dir: Path | None,
    release_root: Path | None,
) -> None:
    """Register a node and write its installer bundle with a one-time enrolment token.

    The bundle holds the node's settings, the council CA, the token, a printable QR
    label and install.sh, which installs the node with no internet from the bundle's
    wheelhouse (--wheelhouse); the node gets its broker password from the hub once,
    over TLS, when it first starts.

    \b
    Example:
        hallsense provision add-device --site "Askrigg Village Hall" --env hub.env \\
            --hub-url https://hub.example:8443 --wheelhouse wheelhouse \\
            --release-root /srv/hallsense/releases/metadata/1.root.json
    """
    # Checked before anything is registered or issued, so a refused name leaves nothing.
    check_name("--site", site)
    check_name("--location", location)
    check_name("--hub-url", hub_url)
    architectures = wheelhouse_architectures(wheelhouse_dir) if wheelhouse_dir else []
    root = release_root_bytes(release_root) if release_root else None
    state = _state(state_dir)
    # The label's QR code is built only once the token exists; its checks of the hub's
    # address (https) come first, so a bad --hub-url registers nothing either.
    qr_payload(hub_url, "", state.ca_fingerprint)
    with _registry(env_file) as registry:
        taken = {d.device_id for d in registry.registered()}
        if device_id is None:
            device_id = device_id_from_site(site, taken)
        else:
            check_device_id(device_id)
            if device_id in taken:
                raise click.ClickException(f"device {device_id!r} is registered already")
        bundle = out / device_id
        if bundle.exists():
            raise click.ClickException(f"{bundle} exists: move it away or choose --out")
        issued = enrolment_tokens(state).issue(device_id)
        registry.add_device(device_id, site, location=location, actor=current_actor())
    settings = state.settings
    write_node_bundle(
        bundle,
        settings=env_file_text(
            {
                "HALLSENSE_DATA_DIR": "/var/lib/hallsense",
                "HALLSENSE_HALL_NAME": site,
                "HALLSENSE_DEVICE_ID": device_id,
                "HALLSENSE_BROKER_HOST": settings.hostnames[0],
                "HALLSENSE_BROKER_PORT": str(settings.port_tls),
                **({"HALLSENSE_BROKER_WS_PORT": str(settings.ws_port)} if settings.ws_port else {}),
                "HALLSENSE_BROKER_CA_FILE": "/etc/hallsense/ca.crt",
                "HALLSENSE_ENROL_URL": hub_url.rstrip("/"),
                # Not the boot partition: FAT keeps no owner, and the agent deletes it.
                "HALLSENSE_ENROL_TOKEN_FILE": "/var/lib/hallsense/enrol.token",
                **({"HALLSENSE_RELEASE_URL": hub_url.rstrip("/") + "/releases/"} if root else {}),
            },
            comments=[
                "hallsense node settings, made by `hallsense provision add-device`.",
                "No password here: the node enrols once with its one-time token.",
            ],
        ),
        ca_certificate=state.layout.ca_cert.read_bytes(),
        token=issued.token,
        label_svg=label_svg(
            hub_url=hub_url,
            token=issued.token,
            ca_fingerprint=state.ca_fingerprint,
            device_id=device_id,
            site=site,
            expires_at=issued.expires_at,
        ),
        readme=README.format(
            site=site,
            device_id=device_id,
            expires=issued.expires_at.strftime("%d %B %Y %H:%M UTC"),
            fingerprint=state.ca_fingerprint,
            wheelhouse=WITH_WHEELHOUSE.format(architectures=", ".join(architectures))
            if architectures
            else NO_WHEELHOUSE,
        ),
    )
    add_installer(bundle, wheelhouse=wheelhouse_dir, architectures=architectures, release_root=root)
    click.echo(f"registered {device_id} ({site}); bundle in {bundle}")
    click.echo(f"  the enrolment token works once, until {issued.expires_at:%Y-%m-%d %H:%M} UTC")
    if architectures:
        click.echo(f"  on the node: sudo bash install.sh (wheels for {', '.join(architectures)})")
    else:
        click.echo("  no --wheelhouse: install.sh cannot install hallsense from this bundle")


@click.command("list")
@state_dir_option
@hub_env_option
@provisioning_errors
def list_devices(state_dir: Path | None, env_file: Path) -> None:
    """One line per device: site, state, enrolment, last seen.

    \b
    Example:
        hallsense provision list --env hub.env
    """
    state = _state(state_dir)
    with _registry(env_file) as registry:
        devices = registry.registered()
    tokens = enrolment_tokens(state)
    now = datetime.now(UTC)
    click.echo(f"{'device':<32} {'site':<30} {'state':<8} {'enrolment':<10} last seen (UTC)")
    for d in devices:
        records = tokens.tokens(d.device_id)
        enrolment = records[-1].state(now) if records else "none"
        seen = (
            datetime.fromtimestamp(d.last_seen_us / 1e6, UTC).strftime("%Y-%m-%d %H:%M")
            if d.last_seen_us
            else "never"
        )
        state_word = "revoked" if d.revoked else "rotating" if d.rotation_requested_us else "active"
        click.echo(f"{d.device_id:<32} {d.site[:30]:<30} {state_word:<8} {enrolment:<10} {seen}")


@click.command()
@state_dir_option
@hub_env_option
@pid_file_option
@click.argument("device_id")
@provisioning_errors
def revoke(
    state_dir: Path | None, env_file: Path, broker_pid_file: Path | None, device_id: str
) -> None:
    """Take a device's credentials away: the broker and the hub refuse it from now on.

    \b
    Example:
        hallsense provision revoke askrigg-village-hall --env hub.env \\
            --broker-pid-file /run/mosquitto/mosquitto.pid
    """
    check_device_id(device_id)
    state = _state(state_dir)
    with _registry(env_file) as registry:
        if not registry.revoke_device(device_id, actor=current_actor()):
            raise click.ClickException(f"device {device_id!r} is not registered")
    removed = remove_device_account(state, device_id)
    forget_pending(state, device_id)
    withdrawn = enrolment_tokens(state).revoke(device_id)
    click.echo(
        f"revoked {device_id}: broker account {'removed' if removed else 'had none'}, "
        f"{withdrawn} unused enrolment token(s) withdrawn; {_reload(broker_pid_file)}"
    )


@click.command()
@state_dir_option
@hub_env_option
@click.argument("device_id")
@provisioning_errors
def rotate(state_dir: Path | None, env_file: Path, device_id: str) -> None:
    """Give a device a new broker password, which it fetches over HTTPS by itself.

    The hub's acks tell the node to; the node asks `hallsense hub web` for a new password
    with its current one, confirms with the new one, and only then does the broker
    switch. Nothing secret goes over MQTT. `provision list` shows "rotating" until done.

    \b
    Example:
        hallsense provision rotate askrigg-village-hall --env hub.env
    """
    check_device_id(device_id)
    state = _state(state_dir)
    if device_id not in device_accounts(state):
        raise click.ClickException(
            f"device {device_id!r} has no broker password to replace: it has not enrolled "
            "yet, or it was revoked"
        )
    with _registry(env_file) as registry:
        if not registry.request_rotation(device_id, actor=current_actor()):
            raise click.ClickException(f"device {device_id!r} is not registered or is revoked")
    click.echo(
        f"{device_id} will fetch a new broker password the next time it sends readings; "
        "`hallsense provision list` shows it as rotating until it has confirmed"
    )


@click.command("delete-device")
@state_dir_option
@hub_env_option
@pid_file_option
@click.option("--with-data", is_flag=True, help="Also delete every reading it sent.")
@click.argument("device_id")
@provisioning_errors
def delete_device(
    state_dir: Path | None,
    env_file: Path,
    broker_pid_file: Path | None,
    with_data: bool,
    device_id: str,
) -> None:
    """Remove a device's credentials and, with --with-data, its data at the hub.

    \b
    Example:
        hallsense provision delete-device askrigg-village-hall --with-data --env hub.env
    """
    check_device_id(device_id)
    state = _state(state_dir)
    with _registry(env_file) as registry:
        try:
            deleted = registry.delete_device(device_id, with_data=with_data, actor=current_actor())
        except UnknownDevice as error:
            raise click.ClickException(str(error)) from error
    remove_device_account(state, device_id)
    forget_pending(state, device_id)
    enrolment_tokens(state).revoke(device_id)
    kept = "" if with_data else " (its readings are kept)"
    click.echo(
        f"deleted {device_id}: {deleted:,} readings deleted{kept}; {_reload(broker_pid_file)}"
    )


@click.command("broker-config")
@state_dir_option
@pid_file_option
@provisioning_errors
def broker_config(state_dir: Path | None, broker_pid_file: Path | None) -> None:
    """Write the broker's configuration and ACL again, and reload it.

    \b
    Example:
        hallsense provision broker-config --broker-pid-file /run/mosquitto/mosquitto.pid
    """
    conf = write_broker_config(_state(state_dir))
    click.echo(f"wrote {conf}; {_reload(broker_pid_file)}")


@click.command("wheelhouse")
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to put the wheels: a folder per architecture (kept and topped up).",
)
@click.option(
    "--architecture",
    "architectures",
    multiple=True,
    type=click.Choice(ARCHITECTURES),
    default=("aarch64", "armv7l"),
    show_default=True,
    help="A machine to fetch for (repeat): the 64-bit or 32-bit Pi, or a PC.",
)
@click.option(
    "--hallsense-wheel",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="hallsense's own wheel [default: built from this checkout].",
)
@provisioning_errors
def wheelhouse(out: Path, architectures: tuple[str, ...], hallsense_wheel: Path | None) -> None:
    """Fetch hallsense and its dependencies as wheels for the nodes' install with no internet.

    Runs `pip download` for each architecture's platform tags and Raspberry Pi OS's
    Python 3.11 (armv7l also from piwheels, Raspberry Pi OS's wheel index). pip's
    PIP_INDEX_URL, PIP_FIND_LINKS and PIP_NO_INDEX point it at a local mirror instead.
    Give the folder to `provision add-device --wheelhouse`.

    \b
    Example:
        hallsense provision wheelhouse --out wheelhouse
        hallsense provision wheelhouse --out wheelhouse --architecture aarch64 \\
            --hallsense-wheel dist/hallsense-1.0.0-py3-none-any.whl
    """
    counts = make_wheelhouse(out, architectures, hallsense_wheel=hallsense_wheel)
    for architecture, count in counts.items():
        click.echo(f"{out / architecture}: {count} wheels")
