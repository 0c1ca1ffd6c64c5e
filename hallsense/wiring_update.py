"""Wiring for the node's updater: its parts made from the node's settings."""

from __future__ import annotations

import platform
import shlex
import struct
import subprocess

from edge.release_slots import ReleaseSlots
from edge.settings import EdgeSettings
from edge.update_files import read_update_state
from hallsense.node_updater import NodeUpdater, UpdaterParts
from hallsense.settings import SettingsError
from hallsense.wiring_enrol import hub_proxies
from hub_sync.metering import MeteringSettings
from hub_sync.release_allowance import UpdateAllowance
from hub_sync.release_client import ReleaseClient
from hub_sync.release_contract import node_architecture

RESTART_TIMEOUT_S = 120.0
STABLE_MAX_S = 90.0
"""How long a healthy new version must stay up and storing: at most this, or a third of
the health check's time (a node sampling once a minute commits within it)."""


def this_architecture() -> str:
    """The release architecture of the machine this runs on."""
    return node_architecture(platform.machine(), struct.calcsize("P"))


def restart_command(command: str) -> str:
    """Run the node's restart command; "" when it worked, else why not."""
    try:
        done = subprocess.run(  # noqa: S603 - the node's own setting, split like a shell
            shlex.split(command), capture_output=True, text=True, timeout=RESTART_TIMEOUT_S
        )
    except (OSError, ValueError, subprocess.TimeoutExpired) as error:
        return f"{command}: {error}"
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return f"{command}: exit status {done.returncode}: {said[0]}"
    return ""


def metering_settings(settings: EdgeSettings) -> MeteringSettings:
    """The link's limits, which the uplink and the updater's allowance share."""
    return MeteringSettings(
        max_bytes_per_s=settings.uplink_max_bytes_per_s,
        daily_budget_bytes=int(settings.uplink_daily_budget_mb * 1_000_000),
        timezone=settings.timezone,
    )


def build_node_updater(settings: EdgeSettings) -> NodeUpdater:
    """The node's updater, ready for ``run_once``.

    Raises:
        SettingsError: updates are off, or the council's root cannot be read.
    """
    if not settings.release_url:
        raise SettingsError(
            "the node's settings", ["HALLSENSE_RELEASE_URL: not set: this node does not update"]
        )
    try:
        trusted_root = settings.release_root_file.read_bytes()
    except OSError as error:
        raise SettingsError(
            "the node's settings",
            [f"HALLSENSE_RELEASE_ROOT_FILE: cannot read {settings.release_root_file}: {error}"],
        ) from error
    slots = ReleaseSlots(settings.release_dir)
    kept = read_update_state(settings.layout.update_state)
    keeper: list[NodeUpdater] = []
    allowance = UpdateAllowance(
        metering_settings(settings),
        day=kept.download_day,
        used=kept.downloaded_today,
        keep=lambda day, used: keeper[0].keep_download_count(day, used),
    )
    client = ReleaseClient(
        slots.metadata,
        settings.release_url,
        trusted_root=trusted_root,
        ca_file=settings.broker_ca_file,
        download_dir=slots.downloads,
        allow=allowance.allow,
        proxies=hub_proxies(settings, settings.release_url),  # trust stays with the council CA
    )
    updater = NodeUpdater(
        UpdaterParts(
            layout=settings.layout,
            slots=slots,
            client=client,
            architecture=this_architecture(),
            restart=lambda: restart_command(settings.update_restart),
            health_s=settings.update_health_s,
            stable_s=min(STABLE_MAX_S, settings.update_health_s / 3),
        )
    )
    keeper.append(updater)
    return updater
