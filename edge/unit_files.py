"""The node's systemd units, as the installer writes them: the agent, the page and updates.

The units ship inside the package, so the version being installed writes its own: each
starts ``/opt/hallsense/current/bin/hallsense``, and ``current`` is the symlink that
``edge.release_slots`` switches. ``deploy/`` holds the same files as this module writes
them for a Raspberry Pi (every supplementary group present, the data in
``/var/lib/hallsense``); tests/provisioning/test_installer.py checks that they agree.

Two things differ from one machine to another, and only these: ``SupplementaryGroups=``
names only the groups the machine has (systemd refuses to start a unit that names a
missing one, status 216/GROUP), and the data directory is ``HALLSENSE_DATA_DIR``.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

RELEASE_DIR = PurePosixPath("/opt/hallsense")
"""Where the node's versions live side by side (``edge.release_slots``)."""
HALLSENSE = RELEASE_DIR / "current" / "bin" / "hallsense"
"""What every unit starts: the running version's command."""
CONFIG_DIR = PurePosixPath("/etc/hallsense")
ENV_FILE = CONFIG_DIR / "edge.env"
UNIT_DIR = PurePosixPath("/etc/systemd/system")
DATA_DIR = PurePosixPath("/var/lib/hallsense")
"""The data directory the bundle's settings name, and the units' default."""

SERVICE_USER = "hallsense"
DEVICE_GROUPS = ("gpio", "i2c", "dialout", "audio", "bluetooth")
"""The pins, /dev/i2c-1, serial ports, the USB microphone, and BlueZ's D-Bus policy."""

EDGE_UNIT = "hallsense-edge.service"
WEB_UNIT = "hallsense-web.service"
UPDATE_UNIT = "hallsense-update.service"
UPDATE_TIMER = "hallsense-update.timer"
UNITS = (EDGE_UNIT, WEB_UNIT, UPDATE_UNIT, UPDATE_TIMER)
ENABLED = (EDGE_UNIT, WEB_UNIT, UPDATE_TIMER)
"""What is enabled and started: the update service runs only when its timer says."""

_WRITTEN_BY = """\
# Written by `hallsense edge install` (docs/operations.md, "Installing on a Raspberry Pi"),
# which writes it again on every install or repair: change the node's settings in
# /etc/hallsense/edge.env, not here. deploy/ keeps a copy as written for a Raspberry Pi.
"""

_EDGE = """\
# systemd unit for the node's agent: reads the sensors and keeps every reading.
{written_by}[Unit]
Description=hallsense edge agent (sensors to the local store)
# After bluetoothd, when it is installed, so that the ble driver finds BlueZ at start-up.
After=local-fs.target bluetooth.service
# Start without waiting for the network or the clock: readings taken before the clock
# is synchronised are held back and corrected (docs/time.md).

[Service]
Type=simple
User=hallsense
Group=hallsense
# gpio: the pins; i2c: /dev/i2c-1; dialout: serial ports; audio: the USB microphone;
# bluetooth: BlueZ's D-Bus policy lets this group scan. Raspberry Pi OS has all five; the
# installer names only those the machine has, or systemd would refuse to start the unit.
{groups}ExecStart={hallsense} edge run --env {env_file}
# SIGTERM makes the agent commit what is waiting before it exits.
KillSignal=SIGTERM
TimeoutStopSec=30
Restart=always
RestartSec=5
{state_directory}NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
ReadWritePaths={data_dir}

[Install]
WantedBy=multi-user.target
"""

_WEB = """\
# systemd unit for the hall's community page: serves it, read-only, on the hall's Wi-Fi.
{written_by}# To serve on port 80, set HALLSENSE_WEB_PORT=80 in /etc/hallsense/edge.env: the
# capability below lets the unprivileged user bind it, and nothing else.
# The page is found as <hostname>.local through avahi-daemon (mDNS), installed and
# running by default on Raspberry Pi OS.
[Unit]
Description=hallsense community page (read-only)
After=network.target hallsense-edge.service

[Service]
Type=simple
User=hallsense
Group=hallsense
ExecStart={hallsense} edge web --env {env_file}
AmbientCapabilities=CAP_NET_BIND_SERVICE
CapabilityBoundingSet=CAP_NET_BIND_SERVICE
Restart=always
RestartSec=5
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
# The page only reads the store; the agent's unit owns the data directory.
ReadOnlyPaths={data_dir}
MemoryMax=150M
# glibc keeps what a long download freed in per-thread arenas; returning large blocks to
# the system at once held the page at 50 MB instead of 110 MB after six month-long CSVs.
Environment=MALLOC_MMAP_THRESHOLD_=131072

[Install]
WantedBy=multi-user.target
"""

_UPDATE = """\
# systemd unit for the node's updates: fetch the release the council's hub offers, check
# its signatures, install it beside the running one and switch (docs/operations.md).
# Started by hallsense-update.timer, not enabled by itself.
{written_by}[Unit]
Description=hallsense update (signed releases from the council's hub)
After=network-online.target hallsense-edge.service
Wants=network-online.target

[Service]
Type=oneshot
# Root: it installs versions under /opt/hallsense and restarts the node's services.
User=root
ExecStart={hallsense} edge update --env {env_file}
# Downloads resume where they stopped, so a run cut short by the limit loses nothing;
# the limit keeps one stuck run from holding back the timer's next.
TimeoutStartSec=50min
# The agent comes first: the update waits for the processor and the SD card.
Nice=10
IOSchedulingClass=idle
ProtectSystem=full
# pip keeps its cache under $HOME: an empty, throwaway /root for it.
ProtectHome=tmpfs
PrivateTmp=yes
"""

_TIMER = """\
# systemd timer for hallsense-update.service: a while after boot, then every hour, each
# node at its own random moment, so a county's nodes do not all ask the hub at once.
{written_by}[Unit]
Description=hallsense update, hourly

[Timer]
OnBootSec=15min
OnUnitActiveSec=1h
RandomizedDelaySec=20min
# A check missed while the node was off runs at the next boot.
Persistent=true
Unit=hallsense-update.service

[Install]
WantedBy=timers.target
"""


def unit_files(
    groups: tuple[str, ...] = DEVICE_GROUPS, data_dir: PurePosixPath | Path = DATA_DIR
) -> dict[str, str]:
    """Each unit's file name and text, for a machine with ``groups`` of :data:`DEVICE_GROUPS`.

    Args:
        groups: the supplementary groups the machine has, in :data:`DEVICE_GROUPS`' order.
        data_dir: the node's ``HALLSENSE_DATA_DIR`` (an absolute path on the node).

    Raises:
        ValueError: a group that is not one of :data:`DEVICE_GROUPS`, or a data directory
            that is not an absolute path systemd can take as it is.
    """
    unknown = [group for group in groups if group not in DEVICE_GROUPS]
    if unknown:
        raise ValueError(f"not a device group: {', '.join(unknown)}")
    text = str(data_dir)
    if not text.startswith("/") or any(c.isspace() or c in "\"'\\%$;" for c in text):
        raise ValueError(
            f"HALLSENSE_DATA_DIR={text!r} must be an absolute path without spaces or quotes "
            "for the systemd units"
        )
    values = {
        "written_by": _WRITTEN_BY,
        "hallsense": HALLSENSE,
        "env_file": ENV_FILE,
        "data_dir": text,
        "groups": f"SupplementaryGroups={' '.join(groups)}\n" if groups else "",
        # systemd makes /var/lib/<name> for the unit's user at each start, mode 0750.
        "state_directory": "StateDirectory=hallsense\nStateDirectoryMode=0750\n"
        if PurePosixPath(text) == DATA_DIR
        else "",
    }
    return {
        EDGE_UNIT: _EDGE.format(**values),
        WEB_UNIT: _WEB.format(**values),
        UPDATE_UNIT: _UPDATE.format(**values),
        UPDATE_TIMER: _TIMER.format(**values),
    }
