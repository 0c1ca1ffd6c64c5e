"""The update benchmark (``python -m bench update``) in miniature, so its code cannot rot:
small releases, one node's bytes per update beside the naive baseline (a typical release
must cost less), and fleets of a few nodes, in this process's threads and, as the
benchmark runs them, in processes of their own."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from bench.update import (
    FleetPlan,
    Release,
    bumped_wheel,
    bytes_per_update,
    fleet,
    make_tls,
)
from provisioning.release_keys import generate_release_keys


def wheel(directory: Path, name: str, version: str, size: int) -> Path:
    """A small wheel of ``name``: a module of ``size`` random bytes and its dist-info."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    with zipfile.ZipFile(path, "w") as made:
        made.writestr(f"{name}/data.bin", os.urandom(size))
        made.writestr(
            f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        )
        made.writestr(f"{info}/RECORD", "")
    return path


@pytest.fixture
def releases(tmp_path: Path) -> tuple[Release, Release, Release]:
    deps = [wheel(tmp_path / "deps", f"dep{n}", "1.0.0", 30_000) for n in range(4)]
    made = []
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        ours = wheel(tmp_path / version, "hallsense", version, 10_000)
        made.append(Release(version, (ours, *deps)))
    changed = bumped_wheel(deps[0], tmp_path / "1.2.0")
    made[2] = Release("1.2.0", (made[2].files[0], changed, *deps[1:]))
    return made[0], made[1], made[2]


@pytest.fixture
def keys_and_tls(tmp_path: Path):
    keys = tmp_path / "keys"
    generate_release_keys(keys)
    return keys, make_tls(tmp_path / "tls")


def test_a_bumped_wheel_is_the_next_patch_version_with_its_metadata(tmp_path):
    made = bumped_wheel(wheel(tmp_path, "dep", "2.3.4", 100), tmp_path / "out")
    assert made.name == "dep-2.3.5-py3-none-any.whl"
    with zipfile.ZipFile(made) as bumped:
        assert "Version: 2.3.5" in bumped.read("dep-2.3.5.dist-info/METADATA").decode()
        record = bumped.read("dep-2.3.5.dist-info/RECORD").decode()
    assert "dep/data.bin,sha256=" in record


def test_a_typical_update_sends_only_the_changed_wheel(tmp_path, releases, keys_and_tls):
    keys, tls = keys_and_tls
    rows, taken = bytes_per_update(tmp_path / "bytes", keys, tls, releases, own_process=False)
    first, typical, with_dependency, idle = rows
    assert [t.release.version for t in taken] == ["1.0.0", "1.1.0", "1.2.0"]
    assert first.wheels_sent == 5
    assert first.ours.down > releases[0].size()
    assert (typical.wheels_sent, with_dependency.wheels_sent) == (1, 2)
    assert typical.naive is not None
    assert typical.wheel_bytes < typical.ours.total < typical.naive.total
    assert typical.naive.down > releases[1].size()  # every wheel again
    assert 0 < idle.ours.total < typical.ours.total


@pytest.mark.parametrize("naive", [False, True])
def test_a_small_fleet_is_updated(tmp_path, releases, keys_and_tls, naive):
    keys, tls = keys_and_tls
    old, new, _ = releases
    row = fleet(tmp_path, keys, tls, old, new, FleetPlan(3, 0.2, naive), own_process=False)
    assert row.failed == 0
    sent = new.size() if naive else new.size(new.names() - old.names())
    assert row.hub.down > 3 * sent
    assert row.all_updated_s >= row.publish_s


@pytest.mark.slow
def test_the_fleet_in_processes_of_its_own(tmp_path, releases, keys_and_tls):
    keys, tls = keys_and_tls
    old, new, _ = releases
    row = fleet(tmp_path, keys, tls, old, new, FleetPlan(4, 0.2))
    assert row.failed == 0
    assert row.hub.down > 4 * new.size(new.names() - old.names())
    assert row.hub_cpu_s > 0
