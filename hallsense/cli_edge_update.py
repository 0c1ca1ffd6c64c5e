"""``hallsense edge update``: one pass of the node's updater (run by hallsense-update.timer)."""

from __future__ import annotations

from pathlib import Path

import click

from hallsense.cli_options import env_option
from hallsense.logs import configure_logging
from hallsense.settings import SettingsError
from hallsense.wiring import load_edge_settings


@click.command()
@env_option
def update(env_file: Path | None) -> None:
    """Take the release the hub's rollout allows: verify, install, switch, check, or go back.

    Does nothing unless the hub allows a version newer than the one running. The
    release must be signed by the council's keys, for this machine, newer, and not
    expired; it is downloaded within the link's budget (resuming where the last pass
    stopped), installed beside the running version, switched to, and must pass its
    health check within HALLSENSE_UPDATE_HEALTH_S or the node goes back by itself.
    What happened is in `hallsense edge status` and on the hub's fleet page. Runs as
    root (it installs under HALLSENSE_RELEASE_DIR and restarts the services).

    \b
    Example:
        sudo /opt/hallsense/current/bin/hallsense edge update --env /etc/hallsense/edge.env
    """
    # Imported here: python-tuf and cryptography are for this command alone, kept out of
    # the agent's memory (`edge run` loads this module with the rest of the edge group).
    from hallsense.wiring_update import build_node_updater

    settings = load_edge_settings(env_file)
    configure_logging(settings.log_level)
    try:
        updater = build_node_updater(settings)
    except SettingsError as error:
        raise click.ClickException(str(error)) from error
    state = updater.run_once()
    version = f" {state.version}" if state.version else ""
    click.echo(f"update: {state.state}{version}" + (f": {state.error}" if state.error else ""))
