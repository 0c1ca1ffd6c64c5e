"""A node installed from its bundle with no internet: install.sh, `edge install`, repair, removal.

Everything real: the bundle comes from `provision add-device` with a wheelhouse from
`provision wheelhouse` (pointed at the wheels `scripts/setup --tests` fetched, as an
offline council would point it at its mirror), install.sh runs in bash, the user and
groups are made by shadow-utils in the scratch root's own account files, and the
installed agent runs from the scratch root against Mosquitto and a hub.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge.clock import ClockSample
from edge.install_files import machine_architecture
from edge.installer import (
    BUNDLE_CA,
    BUNDLE_ENV,
    BUNDLE_RELEASE_ROOT,
    BUNDLE_TOKEN,
    BUNDLE_WHEELHOUSE,
    start_units,
    write_units,
)
from edge.store import EdgeStore
from edge.unit_files import DEVICE_GROUPS, ENABLED, unit_files
from hallsense import __version__
from hallsense.cli import cli
from hub.store_sqlite import SqliteHubStore
from provisioning import bundle as bundle_files
from provisioning.broker_config import HUB_ACCOUNT
from provisioning.release_keys import generate_release_keys
from provisioning.release_repository import ReleaseRepository
from sensors.reading import Reading
from tests.support.broker import Broker, free_port
from tests.support.edge_process import wait_for, write_env
from tests.support.hub_process import HubProcess
from tests.support.wheelhouse import DEPENDENCIES, hallsense_wheel

ROOT = Path(__file__).resolve().parents[2]
DEVICE = "askrigg-village-hall"
PI_GROUPS = ("gpio", "i2c", "dialout", "audio")
"""The scratch root's device groups: a Pi's, without bluez's bluetooth group."""
ARCH = machine_architecture()


def run_cli(*args: object) -> str:
    result = CliRunner().invoke(cli, [str(arg) for arg in args])
    assert result.exit_code == 0, result.output
    return result.output


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HALLSENSE_", "PIP_"))}
    return {**env, **extra}


def make_bundle(tmp_path: Path, *, wheelhouse: bool = True) -> Path:
    """The council's steps: init, a release repository, a wheelhouse, add-device."""
    state = tmp_path / "state"
    run_cli(
        "provision", "init", "--state-dir", state, "--hostname", "localhost", "--port",
        free_port(), "--service-port", free_port(), "--broker-user", "root",
    )  # fmt: skip
    hub_env = write_env(tmp_path / "hub.env", hub_store=tmp_path / "hub.db")
    generate_release_keys(tmp_path / "keys", root_keys=1)
    ReleaseRepository(tmp_path / "repo").create(tmp_path / "keys", root_threshold=1)
    options = []
    if wheelhouse:
        wheel = hallsense_wheel(tmp_path / "dist", "1.0.0")
        made = subprocess.run(
            [sys.executable, "-m", "hallsense", "provision", "wheelhouse", "--out",
             tmp_path / "wheelhouse", "--architecture", ARCH, "--hallsense-wheel", wheel],
            capture_output=True, text=True, check=False, timeout=300,
            env=clean_env(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(DEPENDENCIES)),
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        options = ["--wheelhouse", tmp_path / "wheelhouse"]
    run_cli(
        "provision", "add-device", "--state-dir", state, "--env", hub_env, "--site",
        "Askrigg Village Hall", "--hub-url", "https://localhost:8443", "--out",
        tmp_path / "bundles", "--release-root", tmp_path / "repo" / "metadata" / "1.root.json",
        *options,
    )  # fmt: skip
    return tmp_path / "bundles" / DEVICE


def pi_root(path: Path) -> Path:
    """A scratch root whose account files are a Pi's: root, and the device groups."""
    etc = path / "etc"
    etc.mkdir(parents=True)
    gids = {"dialout": 20, "audio": 29, "gpio": 993, "i2c": 994}
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (etc / "shadow").write_text("root:*:19000:0:99999:7:::\n")
    (etc / "group").write_text(
        "root:x:0:\n" + "".join(f"{name}:x:{gids[name]}:\n" for name in PI_GROUPS)
    )
    (etc / "gshadow").write_text("root:*::\n" + "".join(f"{name}:!::\n" for name in PI_GROUPS))
    return path


def install_sh(bundle: Path, root: Path, *args: str, path: str | None = None):
    env = clean_env()
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        ["bash", str(bundle / "install.sh"), "--root", str(root), "--no-start", *args],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )  # fmt: skip


def accounts(root: Path, name: str) -> dict[str, list[str]]:
    lines = (root / "etc" / name).read_text().splitlines()
    return {line.split(":")[0]: line.split(":") for line in lines}


def owner_mode(path: Path) -> tuple[int, int, int]:
    status = path.lstat()
    return status.st_uid, status.st_gid, stat.S_IMODE(status.st_mode)


def verify_units(root: Path, tmp_path: Path) -> None:
    """systemd-analyze verify, with the units' paths moved under the scratch root: it
    checks that each ExecStart's binary exists, which it does only there."""
    copies = tmp_path / "verify"
    copies.mkdir()
    for unit in (root / "etc/systemd/system").iterdir():
        if unit.is_file():
            text = unit.read_text().replace("/opt/hallsense/", f"{root}/opt/hallsense/")
            (copies / unit.name).write_text(text)
    checked = subprocess.run(
        ["systemd-analyze", "verify", *sorted(str(p) for p in copies.iterdir())],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    assert checked.stderr == "", checked.stderr


@pytest.mark.slow
@pytest.mark.timeout(600)  # pip installs some fifty wheels: a minute on a busy machine
def test_install_sh_installs_a_node_from_its_bundle_and_its_agent_runs(tmp_path):
    bundle = make_bundle(tmp_path)
    assert owner_mode(bundle / "install.sh")[2] == 0o755
    assert owner_mode(bundle)[2] == 0o700
    root = pi_root(tmp_path / "root")
    half_made = root / "opt" / "hallsense" / "releases" / "1.0.0"
    half_made.mkdir(parents=True)  # a power cut during an earlier pip: no .complete
    (half_made / "pyvenv.cfg").write_text("home = /nowhere\n")
    done = install_sh(bundle, root)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "making hallsense 1.0.0's environment" in done.stdout
    token = (bundle / "hallsense-enrol.token").read_text().strip()
    assert token not in done.stdout + done.stderr  # never in the output

    user = accounts(root, "passwd")["hallsense"]
    uid, gid = int(user[2]), int(user[3])
    assert 0 < uid < 1000  # a system account
    assert user[5:] == ["/var/lib/hallsense", "/usr/sbin/nologin"]
    groups = accounts(root, "group")
    assert int(groups["hallsense"][2]) == gid
    assert "bluetooth" not in groups  # the machine has none: none was made
    assert all(groups[name][3].split(",") == ["hallsense"] for name in PI_GROUPS)
    assert "hallsense" in accounts(root, "shadow")  # made by useradd, not written by hand

    etc = root / "etc" / "hallsense"
    assert owner_mode(etc / "edge.env") == (0, 0, 0o644)
    assert (etc / "edge.env").read_bytes() == (bundle / "edge.env").read_bytes()
    assert owner_mode(etc / "ca.crt") == (0, 0, 0o644)
    root_json = (tmp_path / "repo" / "metadata" / "1.root.json").read_bytes()
    assert (etc / "release-root.json").read_bytes() == root_json
    data = root / "var" / "lib" / "hallsense"
    assert owner_mode(data) == (uid, gid, 0o750)
    assert owner_mode(data / "enrol.token") == (uid, gid, 0o600)
    assert (data / "enrol.token").read_text().strip() == token

    current = root / "opt" / "hallsense" / "current"
    assert os.readlink(current) == "releases/1.0.0"  # relative: the same on the node
    release = root / "opt" / "hallsense" / "releases" / "1.0.0"
    assert (release / ".complete").read_text() == "1.0.0\n"
    assert "home = /nowhere" not in (release / "pyvenv.cfg").read_text()
    assert owner_mode(release)[:2] == (0, 0)
    # The bundle's wheels are kept where the updater looks: the first update sends only
    # what changed since the bundle was made.
    held = root / "opt" / "hallsense" / "update" / "downloads"
    assert "hallsense-1.0.0-py3-none-any.whl" in {p.name for p in held.glob("*.whl")}

    units = root / "etc" / "systemd" / "system"
    expected = unit_files(PI_GROUPS)
    assert {p.name: p.read_text() for p in units.iterdir()} == expected
    edge_unit = expected["hallsense-edge.service"]
    assert "SupplementaryGroups=gpio i2c dialout audio\n" in edge_unit
    assert (
        "ExecStart=/opt/hallsense/current/bin/hallsense edge run --env /etc/hallsense/edge.env\n"
        in edge_unit
    )
    assert all(owner_mode(p) == (0, 0, 0o644) for p in units.iterdir())
    verify_units(root, tmp_path)
    run_installed_agent(root, tmp_path)


def node_env_for_scratch(root: Path, tmp_path: Path, port: int, password: str) -> Path:
    """The installed edge.env with the scratch root's data directory and a lab broker."""
    dropped = (
        "HALLSENSE_DATA_DIR", "HALLSENSE_BROKER_HOST", "HALLSENSE_BROKER_PORT",
        "HALLSENSE_BROKER_CA_FILE", "HALLSENSE_ENROL_URL", "HALLSENSE_RELEASE_URL",
    )  # fmt: skip
    lines = (root / "etc" / "hallsense" / "edge.env").read_text().splitlines()
    kept = [line for line in lines if line.split("=", 1)[0] not in dropped]
    env = tmp_path / "scratch-edge.env"
    env.write_text(
        "\n".join(kept)
        + "\n"
        + write_env(
            tmp_path / "overrides.env",
            data_dir=root / "var" / "lib" / "hallsense",
            broker_host="127.0.0.1",
            broker_port=port,
            broker_password=password,
            drivers="simulated",
            simulated_interval_s=0.05,
            commit_interval_s=0.2,
            clock_check="trust",
            uplink_start_jitter_s=0,
        ).read_text()
    )
    return env


def run_installed_agent(root: Path, tmp_path: Path) -> None:
    """`current/bin/hallsense edge run` from the scratch root: readings in its store and
    at the hub, through a real Mosquitto."""
    passwords = {HUB_ACCOUNT: "hub-pw-for-tests", DEVICE: "node-pw-for-tests"}
    broker = Broker(tmp_path / "broker", passwords).start()
    hub_env = tmp_path / "hub.env"
    hub_env.write_text(
        hub_env.read_text()
        + f"HALLSENSE_BROKER_HOST=127.0.0.1\nHALLSENSE_BROKER_PORT={broker.port}\n"
        + f"HALLSENSE_BROKER_PASSWORD={passwords[HUB_ACCOUNT]}\n"
    )
    hub = HubProcess(hub_env, tmp_path / "hub.log").start()
    env = node_env_for_scratch(root, tmp_path, broker.port, passwords[DEVICE])
    log_path = tmp_path / "agent.log"
    db = root / "var" / "lib" / "hallsense" / "hallsense.db"
    with log_path.open("wb") as log:
        agent = subprocess.Popen(
            [str(root / "opt/hallsense/current/bin/hallsense"), "edge", "run", "--env", str(env)],
            stdout=log, stderr=log, env=clean_env(),
        )  # fmt: skip
    try:
        wait_for(lambda: node_rows(db) >= 20, 60, f"no readings stored:\n{log_path.read_text()}")
        wait_for(lambda: hub_rows(tmp_path / "hub.db") > 0, 60, f"none at the hub:\n{hub.log()}")
    finally:
        agent.terminate()
        assert agent.wait(30) == 0, log_path.read_text()
        hub.stop()
        broker.stop()
    assert "version 1.0.0" in subprocess.run(
        [str(root / "opt/hallsense/current/bin/hallsense"), "--version"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def node_rows(db: Path) -> int:
    if not db.exists():
        return 0
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(connection.execute("SELECT count(*) FROM readings").fetchone()[0])
    except sqlite3.OperationalError:  # the store is being made
        return 0
    finally:
        connection.close()


def hub_rows(db: Path) -> int:
    store = SqliteHubStore(db)
    try:
        return len(store.readings(DEVICE))
    finally:
        store.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_second_run_repairs_and_never_touches_the_readings_then_uninstall(tmp_path):
    bundle = make_bundle(tmp_path)
    root = tmp_path / "root"
    root.mkdir()
    first = install_sh(bundle, root)  # no account files: it gives the root minimal ones
    assert first.returncode == 0, first.stderr + first.stdout
    assert accounts(root, "passwd").keys() == {"root", "hallsense"}
    data = root / "var" / "lib" / "hallsense"
    store = EdgeStore(data / "hallsense.db")
    now = datetime.now(UTC)
    store.append(
        [Reading("t1", "temperature", 20.0 + i, "°C", now) for i in range(50)],
        ClockSample(now, 10**12, True, "boot"),
    )
    store.close()
    rows, before = node_rows(data / "hallsense.db"), digest(data / "hallsense.db")
    assert rows == 50

    units = root / "etc" / "systemd" / "system"
    (units / "hallsense-web.service").unlink()
    (data / "enrol.token").chmod(0o644)
    (root / "etc" / "hallsense" / "edge.env").chmod(0o600)
    (root / "opt" / "hallsense" / "current").unlink()
    (root / "etc" / "hallsense" / "edge.env").write_text(
        (bundle / "edge.env").read_text() + 'HALLSENSE_HALL_NAME="Askrigg Hall"\n'
    )  # the committee's own edit

    again = install_sh(bundle, root)
    assert again.returncode == 0, again.stderr + again.stdout
    assert "making hallsense" not in again.stdout  # installed whole: kept as it is
    assert os.readlink(root / "opt" / "hallsense" / "current") == "releases/1.0.0"
    assert (units / "hallsense-web.service").read_text() == unit_files(())["hallsense-web.service"]
    uid = int(accounts(root, "passwd")["hallsense"][2])
    assert owner_mode(data / "enrol.token")[0::2] == (uid, 0o600)
    edge_env = root / "etc" / "hallsense" / "edge.env"
    assert owner_mode(edge_env) == (0, 0, 0o644)
    assert "Askrigg Hall" in edge_env.read_text()  # kept: the node's own settings
    assert "differs from the bundle's" in again.stdout
    assert node_rows(data / "hallsense.db") == 50
    assert digest(data / "hallsense.db") == before

    installed = root / "opt" / "hallsense" / "current" / "bin" / "hallsense"
    kept = subprocess.run(
        [str(installed), "edge", "uninstall", "--root", str(root), "--no-stop"],
        capture_output=True, text=True, env=clean_env(), timeout=60, check=False,
    )  # fmt: skip
    assert kept.returncode == 0, kept.stderr
    assert "kept /var/lib/hallsense, the readings" in kept.stdout
    assert not (root / "opt" / "hallsense").exists()
    assert not (root / "etc" / "hallsense").exists()
    assert not any(units.iterdir())
    assert digest(data / "hallsense.db") == before
    assert "hallsense" in accounts(root, "passwd")  # the user stays, owning the data

    removed = CliRunner().invoke(
        cli, ["edge", "uninstall", "--root", str(root), "--no-stop", "--remove-data"]
    )
    assert removed.exit_code == 0, removed.output
    assert "removed /var/lib/hallsense and the readings in it" in removed.output
    assert not data.exists()


STUB = """#!/bin/sh
# python3 as a machine without {missing} has it.
case "$*" in
    *"{trigger}"*) {action} ;;
esac
exec {python} "$@"
"""


@pytest.mark.parametrize(
    ("missing", "trigger", "action", "said"),
    [
        (
            "python3-venv",
            "import venv",
            'echo "No module named venv" >&2; exit 1',
            "python3-venv is missing; install it with: sudo apt-get install -y python3-venv",
        ),
        (
            "Python 3.11",
            "version_info",
            "exit 1",
            "hallsense needs Python 3.11 or newer",
        ),
    ],
    ids=["without python3-venv", "with python 3.9"],
)
def test_install_sh_says_which_apt_get_to_run_when_python_falls_short(
    tmp_path, missing, trigger, action, said
):
    bundle = make_bundle(tmp_path, wheelhouse=False)
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    stub = stubs / "python3"
    python = shutil.which("python3")
    stub.write_text(STUB.format(missing=missing, trigger=trigger, action=action, python=python))
    stub.chmod(0o755)
    root = tmp_path / "root"
    root.mkdir()
    done = install_sh(bundle, root, path=f"{stubs}:{os.environ['PATH']}")
    assert done.returncode == 1
    assert said in done.stderr
    assert list(root.iterdir()) == []


def test_install_sh_from_a_bundle_without_a_wheelhouse_says_how_to_make_one(tmp_path):
    bundle = make_bundle(tmp_path, wheelhouse=False)
    assert "no wheelhouse" in (bundle / "README.txt").read_text()
    root = tmp_path / "root"
    root.mkdir()
    done = install_sh(bundle, root)
    assert done.returncode == 1
    assert "this bundle has no wheelhouse" in done.stderr
    assert "hallsense provision wheelhouse --out wheelhouse" in done.stderr
    assert list(root.iterdir()) == []


def test_install_sh_with_no_wheels_for_this_machine_names_the_ones_it_has(tmp_path):
    bundle = make_bundle(tmp_path, wheelhouse=False)
    other = "armv7l" if ARCH != "armv7l" else "aarch64"
    (bundle / "wheelhouse" / other).mkdir(parents=True)
    (bundle / "wheelhouse" / other / "hallsense-1.0.0-py3-none-any.whl").write_bytes(b"")
    done = install_sh(bundle, tmp_path)
    assert done.returncode == 1
    assert f"no wheels for this machine ({ARCH}), only for: {other}" in done.stderr
    assert f"--architecture {ARCH}" in done.stderr


def test_install_sh_repairs_a_node_that_updated_itself_with_the_version_it_runs(tmp_path):
    bundle = make_bundle(tmp_path, wheelhouse=False)
    wheels = bundle / "wheelhouse" / ARCH
    wheels.mkdir(parents=True)
    (wheels / "hallsense-1.0.0-py3-none-any.whl").write_bytes(b"")  # never installed here
    root = tmp_path / "root"
    newer = root / "opt" / "hallsense" / "releases" / "1.2.0"
    (newer / "bin").mkdir(parents=True)
    (newer / ".complete").write_text("1.2.0\n")
    (newer / "bin" / "python").write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    (newer / "bin" / "hallsense").write_text('#!/bin/sh\necho "$@" >"$(dirname "$0")/../ran"\n')
    for name in ("python", "hallsense"):
        (newer / "bin" / name).chmod(0o755)
    (root / "opt" / "hallsense" / "current").symlink_to("releases/1.2.0")
    done = install_sh(bundle, root)
    assert done.returncode == 0, done.stderr
    assert "runs hallsense 1.2.0, newer than the bundle's 1.0.0" in done.stdout
    ran = (newer / "ran").read_text().split()
    assert ran == ["edge", "install", "--bundle", str(bundle), "--root", str(root), "--no-start"]
    assert not (root / "opt" / "hallsense" / "releases" / "1.0.0").exists()


def fake_release(root: Path, version: str) -> None:
    """A version's environment as edge.release_slots leaves one whole (without pip)."""
    release = root / "opt" / "hallsense" / "releases" / version
    (release / "bin").mkdir(parents=True)
    (release / ".complete").write_text(version + "\n")


def test_a_repair_never_takes_current_back_from_a_newer_version(tmp_path):
    bundle = make_bundle(tmp_path, wheelhouse=False)
    root = tmp_path / "root"
    fake_release(root, __version__)
    fake_release(root, "99.0.0")
    (root / "opt" / "hallsense" / "current").symlink_to("releases/99.0.0")
    result = CliRunner().invoke(
        cli, ["edge", "install", "--bundle", str(bundle), "--root", str(root), "--no-start"]
    )
    assert result.exit_code == 0, result.output
    assert os.readlink(root / "opt" / "hallsense" / "current") == "releases/99.0.0"
    assert f"newer than {__version__}" in result.output
    (root / "opt" / "hallsense" / "current").unlink()
    (root / "opt" / "hallsense" / "current").symlink_to("releases/0.0.1")  # led nowhere
    again = CliRunner().invoke(
        cli, ["edge", "install", "--bundle", str(bundle), "--root", str(root), "--no-start"]
    )
    assert again.exit_code == 0, again.output
    assert os.readlink(root / "opt" / "hallsense" / "current") == f"releases/{__version__}"


def test_edge_install_refuses_what_is_not_a_bundle_and_a_bundle_without_this_machine(
    tmp_path,
):
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "photos").mkdir()
    refused = CliRunner().invoke(
        cli, ["edge", "install", "--bundle", str(tmp_path / "photos"), "--root", str(root)]
    )
    assert refused.exit_code == 1
    assert "is not a node's bundle: it has no edge.env" in refused.output
    bundle = make_bundle(tmp_path, wheelhouse=False)
    no_wheels = CliRunner().invoke(
        cli, ["edge", "install", "--bundle", str(bundle), "--root", str(root)]
    )
    assert no_wheels.exit_code == 1
    assert "has no wheelhouse" in no_wheels.output
    assert list(root.iterdir()) == []  # refused before anything was made


def test_edge_install_and_uninstall_need_root(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    for args in (["install", "--bundle", str(tmp_path)], ["uninstall"]):
        result = CliRunner().invoke(cli, ["edge", *args, "--root", str(tmp_path)])
        assert result.exit_code == 1
        assert "must run as root" in result.output


def test_uninstall_with_remove_data_refuses_a_data_directory_that_is_not_the_nodes(tmp_path):
    (tmp_path / "etc" / "hallsense").mkdir(parents=True)
    (tmp_path / "var" / "lib").mkdir(parents=True)
    write_env(tmp_path / "etc" / "hallsense" / "edge.env", data_dir="/var/lib")
    result = CliRunner().invoke(
        cli, ["edge", "uninstall", "--root", str(tmp_path), "--no-stop", "--remove-data"]
    )
    assert result.exit_code == 1
    assert "HALLSENSE_DATA_DIR=/var/lib is not a directory to delete" in result.output
    assert (tmp_path / "var" / "lib").is_dir()


def test_deploy_holds_the_units_as_the_installer_writes_them_for_a_pi():
    for name, text in unit_files(DEVICE_GROUPS).items():
        assert (ROOT / "deploy" / name).read_text() == text, f"deploy/{name}: run the installer"


def test_units_name_only_the_groups_the_machine_has_and_a_plain_data_directory(tmp_path):
    written = unit_files(("dialout",), Path("/srv/hall"))
    edge_unit = written["hallsense-edge.service"]
    assert "SupplementaryGroups=dialout\n" in edge_unit
    assert "ReadWritePaths=/srv/hall\n" in edge_unit
    assert "StateDirectory" not in edge_unit
    assert "SupplementaryGroups" not in unit_files(())["hallsense-edge.service"]
    assert "ReadOnlyPaths=/srv/hall\n" in written["hallsense-web.service"]
    with pytest.raises(ValueError, match="without spaces"):
        unit_files((), Path("/srv/village hall"))
    with pytest.raises(ValueError, match="not a device group"):
        unit_files(("wheel",))


def test_the_update_unit_runs_the_current_version_as_root_from_an_hourly_timer():
    units = unit_files()
    update = units["hallsense-update.service"]
    assert "Type=oneshot\n" in update
    assert "User=root\n" in update
    assert (
        "ExecStart=/opt/hallsense/current/bin/hallsense edge update "
        "--env /etc/hallsense/edge.env\n" in update
    )
    timer = units["hallsense-update.timer"]
    for line in ("OnBootSec=15min", "OnUnitActiveSec=1h", "RandomizedDelaySec=20min"):
        assert f"\n{line}\n" in timer
    assert "\nPersistent=true\n" in timer


def test_without_systemd_running_the_units_are_enabled_for_the_next_boot(tmp_path):
    write_units(tmp_path, ())
    said = start_units(tmp_path)
    assert "enabled" in said[0]
    assert "next boot" in said[0]
    wants = {
        "hallsense-edge.service": "multi-user.target.wants",
        "hallsense-web.service": "multi-user.target.wants",
        "hallsense-update.timer": "timers.target.wants",
    }
    for unit in ENABLED:
        link = tmp_path / "etc" / "systemd" / "system" / wants[unit] / unit
        assert os.readlink(link) == f"/etc/systemd/system/{unit}"


def test_the_installer_names_the_bundles_files_as_provisioning_writes_them():
    assert BUNDLE_ENV == bundle_files.ENV_FILE
    assert BUNDLE_CA == bundle_files.CA_FILE
    assert BUNDLE_TOKEN == bundle_files.TOKEN_FILE
    assert BUNDLE_RELEASE_ROOT == bundle_files.RELEASE_ROOT_FILE
    assert BUNDLE_WHEELHOUSE == bundle_files.WHEELHOUSE_DIR
