"""Real releases of hallsense for the release and installer tests, built offline.

A release is a wheelhouse: hallsense's own wheel, built here from this checkout at the
version a test names (and with any changes a test makes to its source, such as an agent
that fails on start), beside its dependencies' wheels, which ``scripts/setup --tests``
downloads once into ``.cache/wheelhouse``. Installing one is what a node does: ``pip
--no-index --find-links`` into a fresh environment.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPENDENCIES = ROOT / ".cache" / "wheelhouse"
PACKAGES = ("presentation", "sensors", "edge", "hub_sync", "provisioning", "hub", "web_local")
SOURCE_FILES = ("pyproject.toml", "README.md")


def dependency_wheels() -> list[Path]:
    """The dependencies' wheels for this machine, as ``scripts/setup --tests`` left them."""
    wheels = sorted(DEPENDENCIES.glob("*.whl"))
    if not wheels:
        raise RuntimeError(f"no wheels in {DEPENDENCIES}: run scripts/setup --tests")
    return wheels


def hallsense_wheel(
    out_dir: Path, version: str, *, changes: Mapping[str, tuple[str, str]] | None = None
) -> Path:
    """Build hallsense at ``version`` into ``out_dir``; returns the wheel.

    ``changes`` maps a source file (``hallsense/cli_edge.py``) to (text, replacement),
    each of which must be there to replace.
    """
    work = out_dir / f".source-{version}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in (*PACKAGES, "hallsense"):
        shutil.copytree(ROOT / package, work / package, ignore=ignore)
    for name in SOURCE_FILES:
        shutil.copy2(ROOT / name, work / name)
    init = work / "hallsense" / "__init__.py"
    text = init.read_text(encoding="utf-8")
    init.write_text(re.sub(r'__version__ = ".*"', f'__version__ = "{version}"', text))
    for name, (old, new) in (changes or {}).items():
        path = work / name
        source = path.read_text(encoding="utf-8")
        if old not in source:
            raise ValueError(f"{name} has no {old!r} to change")
        path.write_text(source.replace(old, new, 1), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    subprocess.run(
        [
            sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
            "--no-build-isolation", "--no-index", "--wheel-dir", str(out_dir), str(work),
        ],
        check=True, capture_output=True, env=env, cwd=out_dir,
    )  # fmt: skip
    shutil.rmtree(work)
    (wheel,) = out_dir.glob(f"hallsense-{version}-*.whl")
    return wheel


def release_wheelhouse(
    dest: Path, version: str, *, changes: Mapping[str, tuple[str, str]] | None = None
) -> Path:
    """A whole release in ``dest``: hallsense at ``version`` and every dependency's wheel."""
    dest.mkdir(parents=True, exist_ok=True)
    for wheel in dependency_wheels():
        target = dest / wheel.name
        if target.exists():
            continue
        try:
            os.link(wheel, target)  # the same bytes, no copy, where the disk allows
        except OSError:
            shutil.copy2(wheel, target)
    hallsense_wheel(dest, version, changes=changes)
    return dest
