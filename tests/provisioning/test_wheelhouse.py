"""`hallsense provision wheelhouse` and the bundle's wheels, offline.

pip takes its index from PIP_NO_INDEX and PIP_FIND_LINKS, as an offline council points
it at its mirror: here the wheels `scripts/setup --tests` fetched for this machine. An
armv7l wheelhouse cannot be fetched offline, so its pip command is checked instead.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from packaging.requirements import Requirement

from hallsense.cli import cli
from provisioning.wheelhouse import (
    PIWHEELS,
    WheelhouseError,
    download_command,
    platform_tags,
    runtime_requirements,
    wheelhouse_architectures,
)
from tests.support.broker import free_port
from tests.support.edge_process import write_env
from tests.support.wheelhouse import DEPENDENCIES, ROOT, hallsense_wheel

ARCHITECTURE = "x86_64"


def offline(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HALLSENSE_", "PIP_"))}
    return {**env, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(DEPENDENCIES), **extra}


def wheelhouse(*args: object, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hallsense", "provision", "wheelhouse", *map(str, args)],
        capture_output=True, text=True, env=env, timeout=300, check=False, cwd=ROOT,
    )  # fmt: skip


def names(directory: Path) -> set[str]:
    return {wheel.name.split("-")[0].lower() for wheel in directory.glob("*.whl")}


def wanted(requirements: list[str]) -> set[str]:
    return {Requirement(line).name.lower().replace("-", "_") for line in requirements}


def tiny_wheel(directory: Path, *requires: str) -> Path:
    """A wheel of nothing but its metadata, requiring ``requires``."""
    wheel = directory / "hallsense-1.0.0-py3-none-any.whl"
    metadata = "Metadata-Version: 2.1\nName: hallsense\nVersion: 1.0.0\n"
    metadata += "".join(f"Requires-Dist: {line}\n" for line in requires)
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("hallsense-1.0.0.dist-info/METADATA", metadata)
    return wheel


@pytest.mark.slow
def test_the_wheels_are_fetched_offline_for_every_runtime_dependency(tmp_path):
    wheel = hallsense_wheel(tmp_path / "dist", "1.0.0")
    done = wheelhouse("--out", tmp_path / "w", "--architecture", ARCHITECTURE,
                      "--hallsense-wheel", wheel, env=offline())  # fmt: skip
    assert done.returncode == 0, done.stderr
    fetched = tmp_path / "w" / ARCHITECTURE
    assert f"{fetched}: " in done.stdout
    assert sorted(fetched.glob("hallsense-*.whl")) == [fetched / wheel.name]
    assert wanted(runtime_requirements(wheel)) <= names(fetched)
    assert "pytest" not in names(fetched)  # the dev extra is left out
    assert wheelhouse_architectures(tmp_path / "w") == [ARCHITECTURE]
    # Topping up with another version leaves one hallsense wheel, the new one.
    newer = hallsense_wheel(tmp_path / "dist", "1.1.0")
    again = wheelhouse("--out", tmp_path / "w", "--architecture", ARCHITECTURE,
                       "--hallsense-wheel", newer, env=offline())  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert sorted(fetched.glob("hallsense-*.whl")) == [fetched / newer.name]


@pytest.mark.slow
def test_without_a_wheel_it_builds_hallsense_from_the_checkout_and_leaves_it_clean(tmp_path):
    before = set(ROOT.iterdir())
    done = wheelhouse("--out", tmp_path / "w", "--architecture", ARCHITECTURE, env=offline())
    assert done.returncode == 0, done.stderr
    version = importlib.metadata.version("hallsense")
    assert list((tmp_path / "w" / ARCHITECTURE).glob(f"hallsense-{version}-*.whl"))
    assert set(ROOT.iterdir()) == before  # no build/ left in the checkout


@pytest.mark.slow
def test_the_requirements_are_the_wheels_own_and_those_of_the_installed_hallsense(tmp_path):
    wheel = hallsense_wheel(tmp_path, "1.0.0")
    installed = [
        line for line in importlib.metadata.requires("hallsense") or [] if "extra" not in line
    ]
    assert sorted(runtime_requirements(wheel)) == sorted(installed)
    assert any(line.startswith("cryptography") for line in installed)


def test_an_armv7l_wheelhouse_asks_piwheels_for_the_32_bit_pi(tmp_path):
    command = download_command("armv7l", ["cryptography>=42,<52"], tmp_path / "armv7l")
    assert command[:4] == [sys.executable, "-m", "pip", "download"]
    assert "--only-binary=:all:" in command
    platforms = [command[i + 1] for i, part in enumerate(command) if part == "--platform"]
    assert platforms[0] == "linux_armv7l"
    assert {"manylinux_2_17_armv7l", "manylinux_2_36_armv7l"} <= set(platforms)
    assert "manylinux_2_37_armv7l" not in platforms  # bookworm's glibc is 2.36
    assert command[command.index("--python-version") + 1] == "3.11"
    assert command[command.index("--implementation") + 1] == "cp"
    assert command[command.index("--extra-index-url") + 1] == PIWHEELS
    assert command[command.index("--dest") + 1] == str(tmp_path / "armv7l")
    assert command[-1] == "cryptography>=42,<52"


def test_the_64_bit_pi_takes_manylinux2014_and_plain_linux_wheels_and_no_piwheels(tmp_path):
    tags = platform_tags("aarch64")
    assert tags[0] == "manylinux2014_aarch64"
    assert "manylinux_2_36_aarch64" in tags
    assert tags[-1] == "linux_aarch64"
    assert PIWHEELS not in download_command("aarch64", ["click"], tmp_path)
    with pytest.raises(WheelhouseError, match="not a node's architecture"):
        platform_tags("riscv64")


@pytest.mark.slow  # a process and pip's start: three seconds
def test_pip_that_cannot_fetch_is_one_error_line(tmp_path):
    wheel = tiny_wheel(tmp_path, "click>=8.1,<9", 'pytest>=8; extra == "dev"')
    assert runtime_requirements(wheel) == ["click>=8.1,<9"]
    nothing = offline(PIP_FIND_LINKS=str(tmp_path))  # no index, and no wheels there
    done = wheelhouse("--out", tmp_path / "w", "--architecture", ARCHITECTURE,
                      "--hallsense-wheel", wheel, env=nothing)  # fmt: skip
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1
    assert "downloading the wheels for x86_64 failed" in errors[0]


def test_a_file_that_is_not_a_wheel_is_refused(tmp_path):
    (tmp_path / "hallsense-1.0.0-py3-none-any.whl").write_bytes(b"not a zip")
    with pytest.raises(WheelhouseError, match="is not a wheel"):
        runtime_requirements(tmp_path / "hallsense-1.0.0-py3-none-any.whl")
    empty = tmp_path / "empty.whl"
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("x.py", "")
    with pytest.raises(WheelhouseError, match="no wheel metadata"):
        runtime_requirements(empty)


@pytest.fixture
def hub(tmp_path):
    """`provision init` done, a hub settings file: what add-device needs."""
    state = tmp_path / "state"
    result = CliRunner().invoke(
        cli,
        ["provision", "init", "--state-dir", str(state), "--hostname", "localhost", "--port",
         str(free_port()), "--service-port", str(free_port()), "--broker-user", "root"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return state, write_env(tmp_path / "hub.env", hub_store=tmp_path / "hub.db")


def add_device(hub, out: Path, *options: object):
    state, hub_env = hub
    return CliRunner().invoke(
        cli,
        ["provision", "add-device", "--state-dir", str(state), "--env", str(hub_env),
         "--site", "Askrigg Village Hall", "--hub-url", "https://localhost:8443",
         "--out", str(out), *map(str, options)],
    )  # fmt: skip


def registered(hub) -> str:
    state, hub_env = hub
    listing = CliRunner().invoke(
        cli, ["provision", "list", "--state-dir", str(state), "--env", str(hub_env)]
    )
    return listing.output


def test_add_device_copies_each_architectures_wheels_into_the_bundle(tmp_path, hub):
    source = tmp_path / "w"
    for architecture in ("aarch64", "armv7l"):
        (source / architecture).mkdir(parents=True)
        (source / architecture / "hallsense-1.0.0-py3-none-any.whl").write_bytes(b"wheel")
        (source / architecture / f"cffi-2.0-cp311-cp311-linux_{architecture}.whl").write_bytes(
            b"cffi"
        )
    result = add_device(hub, tmp_path / "out", "--wheelhouse", source)
    assert result.exit_code == 0, result.output
    assert "wheels for aarch64, armv7l" in result.output
    bundle = tmp_path / "out" / "askrigg-village-hall"
    for architecture in ("aarch64", "armv7l"):
        copied = bundle / "wheelhouse" / architecture
        assert sorted(p.name for p in copied.iterdir()) == sorted(
            p.name for p in (source / architecture).iterdir()
        )
        assert all(p.stat().st_mode & 0o777 == 0o644 for p in copied.iterdir())
    assert "wheelhouse has hallsense for: aarch64, armv7l" in (bundle / "README.txt").read_text()
    assert (bundle / "install.sh").stat().st_mode & 0o777 == 0o755
    env = (bundle / "edge.env").read_text()
    assert 'HALLSENSE_ENROL_TOKEN_FILE="/var/lib/hallsense/enrol.token"' in env
    assert "HALLSENSE_RELEASE_URL" not in env  # no release root: no updates


@pytest.mark.parametrize(
    ("make", "said"),
    [
        (lambda w: w.mkdir(), "is not a wheelhouse: it has no aarch64, armv7l, x86_64 folder"),
        (lambda w: (w / "aarch64").mkdir(parents=True), "must hold one hallsense wheel, not 0"),
    ],
    ids=["an empty folder", "no hallsense wheel"],
)
def test_add_device_refuses_a_folder_that_is_not_a_wheelhouse_before_registering(
    tmp_path, hub, make, said
):
    make(tmp_path / "w")
    result = add_device(hub, tmp_path / "out", "--wheelhouse", tmp_path / "w")
    assert result.exit_code == 1
    assert said in result.output
    assert not (tmp_path / "out").exists()
    assert "askrigg" not in registered(hub)


def test_add_device_refuses_a_release_root_that_is_not_one(tmp_path, hub):
    (tmp_path / "root.json").write_text('{"signed": {"_type": "targets"}}')
    result = add_device(hub, tmp_path / "out", "--release-root", tmp_path / "root.json")
    assert result.exit_code == 1
    assert "is not a release repository's root" in result.output
    assert "askrigg" not in registered(hub)
