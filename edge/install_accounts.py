"""The node's service user, ``hallsense``, and its device groups, made with shadow-utils.

The user is a system account with no login shell, its home the data directory, in its
own group and in those of :data:`edge.unit_files.DEVICE_GROUPS` that the machine has
(Raspberry Pi OS has all five; plain Debian lacks gpio and i2c, and bluetooth without
bluez). Repair adds the groups it lacks and changes nothing else of an existing user.

Under a root other than ``/`` (the tests' scratch root, or a mounted SD card) the same
tools edit that root's files: ``groupadd``, ``useradd`` and ``usermod`` with ``--prefix``,
which shadow-utils 4.13 (Debian bookworm) takes to mean "the ``/etc`` files under this
directory". A scratch root with no ``etc/passwd`` first gets minimal account files (root
alone), as a freshly made root file system would have. Owners are then read from the
root's own ``etc/passwd`` and ``etc/group``, never from this machine's name service.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from edge.install_files import InstallError, run, write_file
from edge.unit_files import DEVICE_GROUPS, SERVICE_USER

NOLOGIN = "/usr/sbin/nologin"
MINIMAL_ACCOUNT_FILES = {
    "passwd": ("root:x:0:0:root:/root:/bin/bash\n", 0o644),
    "group": ("root:x:0:\n", 0o644),
    "shadow": ("root:*:19000:0:99999:7:::\n", 0o640),
    "gshadow": ("root:*::\n", 0o640),
}
"""What a scratch root without account files is given: root, and nothing else."""


@dataclass(frozen=True)
class ServiceAccount:
    """The service user as the root's account files have it."""

    uid: int
    gid: int
    device_groups: tuple[str, ...]
    """The supplementary device groups it is in, in :data:`DEVICE_GROUPS`' order."""


def _entries(path: Path) -> dict[str, list[str]]:
    """The name → fields of a colon-separated account file (``passwd``, ``group``)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    rows = (line.split(":") for line in text.splitlines() if line and not line.startswith("#"))
    return {fields[0]: fields for fields in rows if len(fields) >= 4}


def machine_groups(root: Path) -> dict[str, int]:
    """The groups the root's ``etc/group`` has: name → gid."""
    return {name: int(fields[2]) for name, fields in _entries(root / "etc" / "group").items()}


def _prefix(root: Path) -> list[str]:
    return [] if root.resolve() == Path("/") else ["--prefix", str(root.resolve())]


def _give_minimal_account_files(root: Path) -> list[str]:
    etc = root / "etc"
    if root.resolve() == Path("/") or (etc / "passwd").exists():
        return []
    etc.mkdir(mode=0o755, parents=True, exist_ok=True)
    for name, (text, mode) in MINIMAL_ACCOUNT_FILES.items():
        if not (etc / name).exists():
            write_file(etc / name, text.encode(), mode=mode)
    return [f"gave {etc} minimal account files (root alone), as a new root file system has"]


def read_service_account(root: Path) -> ServiceAccount | None:
    """The service user under ``root``, or None if there is none."""
    user = _entries(root / "etc" / "passwd").get(SERVICE_USER)
    if user is None:
        return None
    groups = _entries(root / "etc" / "group")
    member_of = tuple(
        name
        for name in DEVICE_GROUPS
        if name in groups and SERVICE_USER in groups[name][3].split(",")
    )
    return ServiceAccount(uid=int(user[2]), gid=int(user[3]), device_groups=member_of)


def ensure_service_account(root: Path, home: PurePosixPath) -> tuple[ServiceAccount, list[str]]:
    """Make the service user under ``root``, or add the device groups it lacks.

    Returns:
        The account, and a line for each thing done.

    Raises:
        InstallError: a tool failed (its words say why).
    """
    done = _give_minimal_account_files(root)
    prefix = _prefix(root)
    present = [name for name in DEVICE_GROUPS if name in machine_groups(root)]
    if SERVICE_USER not in machine_groups(root):
        run(["groupadd", *prefix, "--system", SERVICE_USER], f"making the group {SERVICE_USER}")
        done.append(f"made the group {SERVICE_USER}")
    account = read_service_account(root)
    if account is None:
        run(
            [
                "useradd", *prefix, "--system", "--gid", SERVICE_USER,
                *(["--groups", ",".join(present)] if present else []),
                "--home-dir", str(home), "--no-create-home", "--shell", NOLOGIN,
                "--comment", "hallsense node", SERVICE_USER,
            ],
            f"making the user {SERVICE_USER}",
        )  # fmt: skip
        groups = ", ".join(present) or "none: this machine has no " + "/".join(DEVICE_GROUPS)
        done.append(f"made the system user {SERVICE_USER} (no login; device groups: {groups})")
    else:
        lacking = [name for name in present if name not in account.device_groups]
        if lacking:
            run(
                ["usermod", *prefix, "--append", "--groups", ",".join(lacking), SERVICE_USER],
                f"adding {SERVICE_USER} to {', '.join(lacking)}",
            )
            done.append(f"added {SERVICE_USER} to the groups {', '.join(lacking)}")
    account = read_service_account(root)
    if account is None:  # the tools said they made it
        raise InstallError(f"{root / 'etc' / 'passwd'} has no {SERVICE_USER} after useradd")
    return account, done
