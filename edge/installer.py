"""Install, repair or remove a node from its bundle: ``hallsense edge install`` / ``uninstall``.

The bundle (``hallsense provision add-device``) brings the node's settings, the council
CA, the one-time enrolment token, the council's first release root, and a wheelhouse per
machine architecture. Its ``install.sh`` makes the first version's environment with pip
and no index, then runs that version's ``hallsense edge install``, which does the rest
here, in this order, each step safe to run again:

1. the service user and its device groups (``edge.install_accounts``);
2. the settings, CA and release root under ``/etc/hallsense``: written when missing; on a
   node that has them they are kept (the node's own edge.env may have been edited since)
   unless ``replace_settings``; their owners and modes are always put right;
3. the data directory (made, or its own owner and mode put right; what is in it, the
   readings, is never touched) and the enrolment token, 0600 and the service user's,
   where the settings say, unless the node has enrolled already;
4. the version (``edge.release_slots``): installed whole if it is not, and ``current``
   pointed at it if ``current`` is missing, broken, or older: a repair never goes back
   from a version the node has updated itself to;
5. the systemd units (``edge.unit_files``), then enabled and (re)started.

Uninstalling removes the units, ``/opt/hallsense`` and ``/etc/hallsense``, and keeps the
data directory unless asked. Every path is taken under ``root``, so the tests install
into a scratch directory as a node would into ``/``.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from packaging.version import InvalidVersion, Version

from edge.install_accounts import ServiceAccount, ensure_service_account, machine_groups
from edge.install_files import InstallError, ensure_dir, fix_owner_mode, run, under, write_file
from edge.layout import DataDir
from edge.release_slots import ReleaseSlots
from edge.unit_files import (
    CONFIG_DIR,
    DATA_DIR,
    DEVICE_GROUPS,
    ENABLED,
    ENV_FILE,
    RELEASE_DIR,
    SERVICE_USER,
    UNIT_DIR,
    UNITS,
    UPDATE_UNIT,
    unit_files,
)

BUNDLE_ENV = "edge.env"
BUNDLE_CA = "ca.crt"
BUNDLE_TOKEN = "hallsense-enrol.token"  # noqa: S105 - a file name, not a secret
BUNDLE_RELEASE_ROOT = "release-root.json"
BUNDLE_WHEELHOUSE = "wheelhouse"
"""The bundle's files, as ``provisioning.bundle`` names them (a test checks they agree)."""

PUBLIC_MODE = 0o644
SECRET_MODE = 0o600
DATA_DIR_MODE = 0o750
KEPT_ROOTS = frozenset({"/", "/var", "/var/lib", "/srv", "/opt", "/home", "/usr", "/etc"})
"""Directories ``uninstall --remove-data`` refuses to delete, whatever the settings say."""


@dataclass(frozen=True)
class NodeFiles:
    """Where the node's settings put its files: absolute paths, as on the node."""

    data_dir: PurePosixPath
    token_file: PurePosixPath
    ca_file: PurePosixPath | None
    release_root_file: PurePosixPath
    settings_hold_a_secret: bool = False
    """The settings name a broker password: edge.env is then 0640, root:hallsense."""


@dataclass(frozen=True)
class InstallRequest:
    """One run of ``edge install``."""

    bundle: Path
    root: Path
    version: str
    """The version to install: the one running ``edge install``."""
    architecture: str
    files: NodeFiles
    replace_settings: bool = False
    start: bool = True


def check_bundle(bundle: Path) -> None:
    """Refuse a folder that is not a node's bundle, saying what it lacks.

    Raises:
        InstallError: no edge.env in it.
    """
    if not (bundle / BUNDLE_ENV).is_file():
        raise InstallError(
            f"{bundle} is not a node's bundle: it has no {BUNDLE_ENV} (make one with "
            "`hallsense provision add-device`)"
        )


def settings_file(root: Path, bundle: Path, *, replace_settings: bool = False) -> Path:
    """The edge.env the node will run with: its own, if it has one and it is kept."""
    installed = under(root, ENV_FILE)
    return installed if installed.is_file() and not replace_settings else bundle / BUNDLE_ENV


def bundle_wheelhouse(bundle: Path, architecture: str) -> Path:
    """The bundle's wheels for ``architecture``.

    Raises:
        InstallError: the bundle has none (or none with hallsense in it).
    """
    top = bundle / BUNDLE_WHEELHOUSE
    wheels = top / architecture
    if not top.is_dir():
        raise InstallError(
            f"the bundle {bundle} has no wheelhouse: make one with `hallsense provision "
            f"wheelhouse --out DIR` and the bundle with `provision add-device --wheelhouse DIR`"
        )
    if not any(wheels.glob("hallsense-*.whl")):
        has = ", ".join(sorted(p.name for p in top.iterdir() if p.is_dir())) or "nothing"
        raise InstallError(
            f"the bundle's wheelhouse has no wheels for this machine ({architecture}); it has "
            f"{has}: make one with `hallsense provision wheelhouse --architecture {architecture}`"
        )
    return wheels


def install_node(request: InstallRequest) -> list[str]:
    """Install or repair the node under ``request.root``; a line for each thing done.

    Everything is checked before anything is changed.

    Raises:
        InstallError: the bundle is not one, or it lacks what this node still needs.
        edge.release_slots.ReleaseSlotError: pip could not install the version.
    """
    check_bundle(request.bundle)
    slots = ReleaseSlots(under(request.root, RELEASE_DIR))
    wheelhouse = None
    if request.version not in slots.installed():
        wheelhouse = bundle_wheelhouse(request.bundle, request.architecture)
    account, done = ensure_service_account(request.root, request.files.data_dir)
    done += _install_settings(request, account)
    done += _install_data(request, account)
    done += _install_release(slots, request.version, wheelhouse)
    done += _keep_bundle_wheels(slots, request)
    groups = tuple(g for g in DEVICE_GROUPS if g in machine_groups(request.root))
    done += write_units(request.root, groups, request.files.data_dir)
    done += start_units(request.root) if request.start else ["units not started (--no-start)"]
    return done


def _install_copy(
    request: InstallRequest,
    name: str,
    target: PurePosixPath,
    what: str,
    *,
    mode: int = PUBLIC_MODE,
    gid: int = 0,
) -> list[str]:
    """The bundle's file ``name`` at ``target``: written if missing (or if replacing)."""
    source = request.bundle / name
    path = under(request.root, target)
    if not source.is_file():
        return []
    if not path.parent.is_dir():
        ensure_dir(path.parent, mode=0o755)
    if path.is_file() and not request.replace_settings:
        fixed = fix_owner_mode(path, mode=mode, uid=0, gid=gid)
        kept = f"kept the node's {what} {target}" + (", owner and mode put right" if fixed else "")
        if path.read_bytes() != source.read_bytes():
            kept += " (it differs from the bundle's: --replace-settings puts the bundle's)"
        return [kept]
    previous = path.with_name(path.name + ".previous")
    content = source.read_bytes()
    if path.is_file() and path.read_bytes() != content:
        write_file(previous, path.read_bytes(), mode=mode, gid=gid)
        write_file(path, content, mode=mode, gid=gid)
        return [f"replaced the {what} {target} with the bundle's (the old one: {previous.name})"]
    write_file(path, content, mode=mode, gid=gid)
    return [f"{what}: {target}"]


def _install_settings(request: InstallRequest, account: ServiceAccount) -> list[str]:
    files = request.files
    done = ["made " + str(CONFIG_DIR)] if not under(request.root, CONFIG_DIR).is_dir() else []
    ensure_dir(under(request.root, CONFIG_DIR), mode=0o755)
    secret = files.settings_hold_a_secret
    done += _install_copy(
        request,
        BUNDLE_ENV,
        ENV_FILE,
        "settings",
        mode=0o640 if secret else PUBLIC_MODE,
        gid=account.gid if secret else 0,
    )
    if files.ca_file is not None:
        done += _install_copy(request, BUNDLE_CA, files.ca_file, "council CA")
    done += _install_copy(request, BUNDLE_RELEASE_ROOT, files.release_root_file, "release root")
    return done


def _install_data(request: InstallRequest, account: ServiceAccount) -> list[str]:
    files = request.files
    data = under(request.root, files.data_dir)
    existed = data.is_dir()
    ensure_dir(data, mode=DATA_DIR_MODE, uid=account.uid, gid=account.gid)
    done = [
        f"kept the data directory {files.data_dir} and everything in it"
        if existed
        else f"made the data directory {files.data_dir}"
    ]
    token = under(request.root, files.token_file)
    source = request.bundle / BUNDLE_TOKEN
    if DataDir(data).credentials.exists():
        done.append("the node has enrolled already: its enrolment token is not needed")
    elif source.is_file():
        if not token.parent.is_dir():
            ensure_dir(token.parent, mode=0o755)
        content = source.read_bytes()
        changed = write_file(token, content, mode=SECRET_MODE, uid=account.uid, gid=account.gid)
        as_it_was = "" if changed else ", as it was"
        done.append(f"enrolment token: {files.token_file} (0600, {SERVICE_USER}'s{as_it_was})")
    elif token.is_file():
        fix_owner_mode(token, mode=SECRET_MODE, uid=account.uid, gid=account.gid)
        done.append(f"kept the enrolment token {files.token_file}")
    else:
        done.append(f"no enrolment token: put one at {files.token_file} for the node to enrol")
    return done


def _keep_bundle_wheels(slots: ReleaseSlots, request: InstallRequest) -> list[str]:
    """Leave the bundle's wheels where the updater keeps what it holds.

    The first update from the hub then sends only the wheels that changed since the
    bundle was made.
    """
    wheels = request.bundle / BUNDLE_WHEELHOUSE / request.architecture
    kept = slots.keep_downloads(sorted(wheels.glob("*.whl"))) if wheels.is_dir() else 0
    return [f"kept the bundle's {kept} wheels for updates"] if kept else []


def _newer(version: str, than: str) -> bool:
    try:
        return Version(version) > Version(than)
    except InvalidVersion:
        return version != than


def _install_release(slots: ReleaseSlots, version: str, wheelhouse: Path | None) -> list[str]:
    done = []
    if wheelhouse is not None:
        slots.install(version, wheelhouse, f"hallsense=={version}")
        done.append(f"installed hallsense {version} in {RELEASE_DIR}/releases/{version}")
    link = slots.root / "current"
    current = slots.current()
    if current is not None and current not in slots.installed():
        link.unlink()
        done.append(f"removed {RELEASE_DIR}/current, which led to no whole version ({current})")
        current = None
    if current is None or _newer(version, current):
        slots.switch(version)
        done.append(f"{RELEASE_DIR}/current → releases/{version}")
    elif current == version:
        done.append(f"{RELEASE_DIR}/current → releases/{version}, as it was")
    else:
        done.append(f"kept {RELEASE_DIR}/current → releases/{current}, newer than {version}")
    return done


def write_units(
    root: Path,
    groups: tuple[str, ...],
    data_dir: PurePosixPath = DATA_DIR,
) -> list[str]:
    """Write the node's units under ``root`` (each 0644, root's); what was written.

    Raises:
        ValueError: a data directory systemd cannot take as it is.
    """
    directory = under(root, UNIT_DIR)
    ensure_dir(directory, mode=0o755)
    written = [
        name
        for name, text in unit_files(groups, data_dir).items()
        if write_file(directory / name, text.encode(), mode=PUBLIC_MODE)
    ]
    supplementary = ", ".join(groups) or "none"
    if not written:
        return [f"units in place in {UNIT_DIR} (supplementary groups: {supplementary})"]
    return [f"wrote {', '.join(written)} (supplementary groups: {supplementary})"]


def systemd_running(root: Path) -> bool:
    """Whether ``root`` is this machine's, booted with systemd (not a chroot or container)."""
    return root.resolve() == Path("/") and Path("/run/systemd/system").is_dir()


def start_units(root: Path) -> list[str]:
    """Enable the units and (re)start them; where systemd is not running, enable them only.

    Enabling without systemd running (a chroot, a mounted SD card) makes the links that
    start the units at the next boot, with ``systemctl --root``.
    """
    if systemd_running(root):
        run(["systemctl", "daemon-reload"], "reloading systemd")
        run(["systemctl", "enable", *ENABLED], "enabling the units")
        run(["systemctl", "restart", *ENABLED], "starting the units")
        return [f"enabled and started {', '.join(ENABLED)}"]
    if shutil.which("systemctl") is None:
        return [f"no systemctl here: enable {', '.join(ENABLED)} on the node"]
    run(["systemctl", f"--root={root.resolve()}", "enable", *ENABLED], "enabling the units")
    return [f"systemd is not running here: enabled {', '.join(ENABLED)} for the next boot"]


def uninstall_node(
    root: Path, data_dir: PurePosixPath, *, remove_data: bool = False, stop: bool = True
) -> list[str]:
    """Remove the units, the versions and the settings under ``root``; what was done.

    The data directory (the readings) is kept unless ``remove_data``; the service user is
    kept, owning it.

    Raises:
        InstallError: ``remove_data`` with a data directory that is no node's own.
    """
    if remove_data and str(data_dir) in KEPT_ROOTS:
        raise InstallError(f"HALLSENSE_DATA_DIR={data_dir} is not a directory to delete")
    unit_dir = under(root, UNIT_DIR)
    present = [name for name in UNITS if (unit_dir / name).exists()]
    done = []
    if stop and present and systemd_running(root):
        run(
            ["systemctl", "disable", "--now", *[u for u in present if u != UPDATE_UNIT]],
            "stopping the units",
        )
        if UPDATE_UNIT in present:
            run(["systemctl", "stop", UPDATE_UNIT], "stopping an update")
        done.append(f"stopped and disabled {', '.join(present)}")
    for name in UNITS:
        for path in [unit_dir / name, *unit_dir.glob(f"*.wants/{name}")]:
            if path.is_symlink() or path.exists():
                path.unlink()
    if present:
        done.append(f"removed {', '.join(present)} from {UNIT_DIR}")
        if stop and systemd_running(root):
            run(["systemctl", "daemon-reload"], "reloading systemd")
    for directory in (RELEASE_DIR, CONFIG_DIR):
        if under(root, directory).exists():
            shutil.rmtree(under(root, directory))
            done.append(f"removed {directory}")
    data = under(root, data_dir)
    if remove_data and data.exists():
        shutil.rmtree(data)
        done.append(f"removed {data_dir} and the readings in it")
    elif data.exists():
        done.append(f"kept {data_dir}, the readings (--remove-data deletes them)")
    done.append(f"kept the user {SERVICE_USER} (userdel {SERVICE_USER} removes it)")
    return done
