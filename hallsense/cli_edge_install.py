"""``hallsense edge install`` and ``edge uninstall``: a node from its bundle, and away again.

The bundle's ``install.sh`` makes the first version's environment and runs this
version's ``edge install``; the work itself is in ``edge/installer.py``. This module
reads the settings (only the composition root reads ``.env`` files), turns them into
the paths the installer needs, and turns what it refuses into one ``Error:`` line.
"""

from __future__ import annotations

import os
from functools import wraps
from pathlib import Path, PurePosixPath
from typing import Any

import click

from edge.install_files import InstallError, machine_architecture, under
from edge.installer import (
    InstallRequest,
    NodeFiles,
    check_bundle,
    install_node,
    settings_file,
    uninstall_node,
)
from edge.release_slots import ReleaseSlotError
from edge.settings import EdgeSettings
from edge.unit_files import DATA_DIR, ENV_FILE, RELEASE_DIR
from hallsense import __version__
from hallsense.cli_options import F
from hallsense.settings import SettingsError, load_settings


def install_errors(command: F) -> F:
    """What the installer refuses becomes a one-paragraph message and exit status 1."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (InstallError, ReleaseSlotError, SettingsError, ValueError) as error:
            raise click.ClickException(str(error)) from error

    return wrapper  # type: ignore[return-value]


def root_option(command: F) -> F:
    """``--root DIR``: install into (or remove from) a directory as if it were ``/``."""
    return click.option(
        "--root",
        type=click.Path(file_okay=False, exists=True, path_type=Path),
        default=Path("/"),
        show_default=True,
        help="Treat this directory as / (a scratch root for tests, or a mounted SD card).",
    )(command)


def _need_root(command: str) -> None:
    if os.geteuid() != 0:
        raise click.ClickException(
            f"{command} must run as root (it makes a system user and writes /etc and /opt): "
            f"sudo hallsense {command} …"
        )


def _absolute(key: str, path: Path) -> PurePosixPath:
    if not path.is_absolute():
        raise InstallError(f"HALLSENSE_{key}={path} must be an absolute path on the node")
    return PurePosixPath(path)


def node_files(settings: EdgeSettings) -> NodeFiles:
    """Where the settings put the node's files.

    Raises:
        InstallError: a relative path, or versions kept elsewhere than /opt/hallsense.
    """
    if PurePosixPath(settings.release_dir) != RELEASE_DIR:
        raise InstallError(
            f"HALLSENSE_RELEASE_DIR={settings.release_dir}: an installed node keeps its "
            f"versions in {RELEASE_DIR}, where its units start them; leave the setting out"
        )
    ca_file = settings.broker_ca_file
    return NodeFiles(
        data_dir=_absolute("DATA_DIR", settings.data_dir),
        token_file=_absolute("ENROL_TOKEN_FILE", settings.enrol_token_file),
        ca_file=_absolute("BROKER_CA_FILE", ca_file) if ca_file is not None else None,
        release_root_file=_absolute("RELEASE_ROOT_FILE", settings.release_root_file),
        settings_hold_a_secret=bool(settings.broker_password),
    )


@click.command()
@click.option(
    "--bundle",
    required=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="The node's bundle from `hallsense provision add-device` (install.sh's folder).",
)
@root_option
@click.option("--no-start", is_flag=True, help="Write the units but neither enable nor start them.")
@click.option(
    "--replace-settings",
    is_flag=True,
    help="Put the bundle's edge.env, CA and release root in place of the node's own.",
)
@install_errors
def install(bundle: Path, root: Path, no_start: bool, replace_settings: bool) -> None:
    """Install or repair this node from its bundle: user, settings, version, units.

    Run by the bundle's install.sh, which first makes this version's environment in
    /opt/hallsense/releases/VERSION from the bundle's wheelhouse, with no internet. Safe
    to run again: it repairs what is missing or wrong (the user's groups, owners and
    modes, the token, a broken `current` link, the units) and never touches the
    readings. A node's own edge.env, CA and release root are kept unless
    --replace-settings; `current` never goes back from a newer version.

    \b
    Example:
        sudo bash /boot/firmware/hallsense/install.sh
        sudo /opt/hallsense/current/bin/hallsense edge install --bundle /media/usb/askrigg
    """
    _need_root("edge install")
    bundle, root = bundle.resolve(), root.resolve()
    check_bundle(bundle)
    source = settings_file(root, bundle, replace_settings=replace_settings)
    settings = load_settings(EdgeSettings, source, environ={})
    request = InstallRequest(
        bundle=bundle,
        root=root,
        version=__version__,
        architecture=machine_architecture(),
        files=node_files(settings),
        replace_settings=replace_settings,
        start=not no_start,
    )
    for line in install_node(request):
        click.echo(f"  {line}")
    click.echo(
        f"hallsense {__version__} is installed for {settings.device_id or 'this node'}; "
        f"check it with: {RELEASE_DIR}/current/bin/hallsense edge status --env {ENV_FILE}"
    )


@click.command()
@root_option
@click.option("--remove-data", is_flag=True, help="Also delete the data directory: the readings.")
@click.option("--no-stop", is_flag=True, help="Leave running units running (no systemctl).")
@install_errors
def uninstall(root: Path, remove_data: bool, no_stop: bool) -> None:
    """Remove the node's units, versions and settings; keep its readings unless asked.

    Removes the systemd units, /opt/hallsense and /etc/hallsense. The data directory
    (HALLSENSE_DATA_DIR, the readings) and the hallsense user are kept, and it says so;
    --remove-data deletes the data directory too.

    \b
    Example:
        sudo /opt/hallsense/current/bin/hallsense edge uninstall
        sudo /opt/hallsense/current/bin/hallsense edge uninstall --remove-data
    """
    _need_root("edge uninstall")
    root = root.resolve()
    env = under(root, ENV_FILE)
    data_dir = DATA_DIR
    if env.is_file():
        try:
            settings = load_settings(EdgeSettings, env, environ={})
        except SettingsError:
            if remove_data:  # deleting a guess at the data directory is not on
                raise
        else:
            data_dir = _absolute("DATA_DIR", settings.data_dir)
    for line in uninstall_node(root, data_dir, remove_data=remove_data, stop=not no_stop):
        click.echo(f"  {line}")
    click.echo("hallsense is uninstalled")
