"""Versions side by side: each installed whole from a wheelhouse with no index, switched to
atomically, rolled back to, a half-made one never run, old ones pruned. Real venvs and
pip, from wheels built here (a stand-in package whose `hallsense` script says its
version)."""

from __future__ import annotations

import os
import re
import subprocess
import zipfile
from pathlib import Path

import pytest

from edge.release_slots import COMPLETE, ReleaseSlotError, ReleaseSlots

pytestmark = pytest.mark.slow  # a venv and a pip install each: seconds


def build_wheel(wheelhouse: Path, version: str) -> None:
    """A pure-Python wheel of a stand-in `hallsense` with a console script."""
    wheelhouse.mkdir(parents=True, exist_ok=True)
    info = f"hallsense-{version}.dist-info"
    files = {
        "standin/__init__.py": f"def main():\n    print('hallsense {version}')\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: hallsense\nVersion: {version}\n",
        f"{info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
        f"{info}/entry_points.txt": "[console_scripts]\nhallsense = standin:main\n",
    }
    record = "".join(f"{name},,\n" for name in files) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(wheelhouse / f"hallsense-{version}-py3-none-any.whl", "w") as wheel:
        for name, text in files.items():
            wheel.writestr(name, text)
        wheel.writestr(f"{info}/RECORD", record)


def runs(root: Path) -> str:
    """What the units would start says of itself."""
    done = subprocess.run(
        [str(root / "current" / "bin" / "hallsense")], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_versions_install_side_by_side_switch_and_roll_back(tmp_path):
    wheelhouse = tmp_path / "wheelhouse"
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        build_wheel(wheelhouse, version)
    slots = ReleaseSlots(tmp_path / "opt")
    assert (slots.current(), slots.previous()) == (None, None)
    slots.install("1.0.0", wheelhouse, "hallsense==1.0.0")
    slots.switch("1.0.0")
    assert runs(slots.root) == "hallsense 1.0.0"
    slots.install("1.1.0", wheelhouse, "hallsense==1.1.0")
    assert runs(slots.root) == "hallsense 1.0.0"  # installed beside, not yet running
    slots.switch("1.1.0")
    assert runs(slots.root) == "hallsense 1.1.0"
    assert (slots.current(), slots.previous()) == ("1.1.0", "1.0.0")
    assert slots.roll_back() == "1.0.0"
    assert runs(slots.root) == "hallsense 1.0.0"
    assert (slots.current(), slots.previous()) == ("1.0.0", "1.1.0")
    # The links are relative: the tree can be moved (a scratch root, an image).
    assert os.readlink(slots.root / "current") == "releases/1.0.0"
    slots.install("1.2.0", wheelhouse, "hallsense==1.2.0")
    slots.switch("1.2.0")
    assert slots.prune() == ["1.1.0"]
    assert sorted(slots.installed()) == ["1.0.0", "1.2.0"]


def test_a_half_made_version_is_never_run_and_is_made_again(tmp_path):
    wheelhouse = tmp_path / "wheelhouse"
    build_wheel(wheelhouse, "1.0.0")
    slots = ReleaseSlots(tmp_path / "opt")
    half = slots.path("1.0.0")
    (half / "bin").mkdir(parents=True)  # a power cut during pip left this
    with pytest.raises(ReleaseSlotError, match="not installed whole"):
        slots.switch("1.0.0")
    assert slots.installed() == []
    slots.install("1.0.0", wheelhouse, "hallsense==1.0.0")
    assert (half / COMPLETE).exists()
    slots.switch("1.0.0")
    assert runs(slots.root) == "hallsense 1.0.0"


def test_a_release_pip_cannot_install_says_why_and_changes_nothing(tmp_path):
    wheelhouse = tmp_path / "wheelhouse"
    build_wheel(wheelhouse, "1.0.0")
    slots = ReleaseSlots(tmp_path / "opt")
    slots.install("1.0.0", wheelhouse, "hallsense==1.0.0")
    slots.switch("1.0.0")
    with pytest.raises(ReleaseSlotError, match=re.escape("installing hallsense==9.9.9 failed")):
        slots.install("9.9.9", wheelhouse, "hallsense==9.9.9")  # not in the wheelhouse
    assert slots.current() == "1.0.0"
    assert "9.9.9" not in slots.installed()
    assert not slots.path("9.9.9").exists()  # nothing half-made left on the card
    with pytest.raises(ReleaseSlotError, match="no previous version"):
        slots.roll_back()
    for bad in ("", "../etc", ".hidden"):
        with pytest.raises(ReleaseSlotError, match="not a version"):
            slots.path(bad)
