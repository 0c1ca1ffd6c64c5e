"""A wheelhouse for the nodes: hallsense and every runtime dependency as wheels, per machine.

``hallsense provision wheelhouse --out DIR`` runs on a machine with internet access (or
with a local mirror: pip honours ``PIP_INDEX_URL``, ``PIP_FIND_LINKS`` and
``PIP_NO_INDEX`` from the environment) and fills ``DIR/<architecture>/`` with wheels a
Raspberry Pi can install with no index and no compiler: ``pip download --only-binary``
for the target's platform tags and Python (Raspberry Pi OS bookworm: CPython 3.11,
glibc 2.36). The 32-bit Pi also asks piwheels, Raspberry Pi OS's own wheel index, since
PyPI has no armv7l wheels of cryptography and others.

The dependencies are those the hallsense wheel itself declares (its ``Requires-Dist``,
extras left out), so a wheelhouse is whole for the version it carries even when that is
not the version installed here. The wheel is the one given, or one built from this
checkout with ``pip wheel --no-deps``.
"""

from __future__ import annotations

import email.parser
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Sequence
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from hub_sync.release_contract import ARCHITECTURES

PIWHEELS = "https://www.piwheels.org/simple"
"""Raspberry Pi OS's own index of wheels built for the Pi (armv6l and armv7l)."""
TARGET_PYTHON = "3.11"
"""Raspberry Pi OS bookworm's Python."""
GLIBC_MINORS = range(17, 37)
"""manylinux_2_17 (manylinux2014, the oldest for ARM) to bookworm's glibc 2.36."""
PIP_TIMEOUT_S = 1800.0


class WheelhouseError(ValueError):
    """A wheelhouse that cannot be made or used, saying why."""


def platform_tags(architecture: str) -> list[str]:
    """The wheel platform tags a bookworm node of ``architecture`` can install.

    Raises:
        WheelhouseError: not one of :data:`ARCHITECTURES`.
    """
    manylinux = [f"manylinux_2_{minor}_{architecture}" for minor in GLIBC_MINORS]
    if architecture == "aarch64":
        return ["manylinux2014_aarch64", *manylinux, "linux_aarch64"]
    if architecture == "armv7l":
        return ["linux_armv7l", *manylinux]
    if architecture == "x86_64":
        older = [f"manylinux_2_{minor}_x86_64" for minor in range(5, 17)]
        legacy = ["manylinux1_x86_64", "manylinux2010_x86_64", "manylinux2014_x86_64"]
        return [*legacy, *older, *manylinux, "linux_x86_64"]
    raise WheelhouseError(
        f"{architecture!r} is not a node's architecture ({', '.join(ARCHITECTURES)})"
    )


def runtime_requirements(wheel: Path) -> list[str]:
    """What ``wheel`` needs to run: its ``Requires-Dist``, without the extras'.

    Raises:
        WheelhouseError: not a wheel, or one without metadata.
    """
    try:
        with zipfile.ZipFile(wheel) as archive:
            names = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
            if len(names) != 1:
                raise WheelhouseError(f"{wheel} has no wheel metadata")
            text = archive.read(names[0]).decode("utf-8")
    except (OSError, zipfile.BadZipFile) as error:
        raise WheelhouseError(f"{wheel} is not a wheel: {error}") from None
    requirements = []
    for line in email.parser.Parser().parsestr(text).get_all("Requires-Dist") or []:
        try:
            requirement = Requirement(line)
        except InvalidRequirement as error:
            raise WheelhouseError(f"{wheel} requires {line!r}: {error}") from None
        if requirement.marker is not None and "extra" in str(requirement.marker):
            continue
        requirements.append(line)
    return requirements


def download_command(
    architecture: str, requirements: Sequence[str], dest: Path, *, python: str = sys.executable
) -> list[str]:
    """The ``pip download`` that fetches ``requirements`` as wheels for ``architecture``."""
    command = [python, "-m", "pip", "download", "--quiet", "--only-binary=:all:"]
    for tag in platform_tags(architecture):
        command += ["--platform", tag]
    command += ["--python-version", TARGET_PYTHON, "--implementation", "cp", "--dest", str(dest)]
    if architecture == "armv7l":
        command += ["--extra-index-url", PIWHEELS]
    return [*command, *requirements]


def _pip(command: Sequence[str], doing: str, cwd: Path | None = None) -> None:
    try:
        done = subprocess.run(  # noqa: S603 - this Python's pip, arguments made here
            list(command), capture_output=True, text=True, timeout=PIP_TIMEOUT_S, cwd=cwd
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise WheelhouseError(f"{doing} failed: {error}") from None
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()[-4:] or ["no output"]
        raise WheelhouseError(f"{doing} failed: {' / '.join(said)}")


def project_source() -> Path | None:
    """The hallsense checkout this code runs from, or None if it is installed from a wheel."""
    project = Path(__file__).resolve().parents[1]
    try:
        meta = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return project if meta.get("project", {}).get("name") == "hallsense" else None


def build_hallsense_wheel(project: Path, out_dir: Path) -> Path:
    """Build hallsense's wheel from the checkout ``project`` into ``out_dir``; returns it.

    It is built from a copy of the packages, so the checkout gains no build directory.

    Raises:
        WheelhouseError: pip could not build it.
    """
    meta = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {name.split(".")[0] for name in meta["tool"]["setuptools"]["packages"]}
    files = ["pyproject.toml", meta["project"].get("readme", "README.md")]
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hallsense-wheel-") as work:
        source = Path(work) / "hallsense"
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        for package in sorted(packages):
            shutil.copytree(project / package, source / package, ignore=ignore)
        for name in files:
            shutil.copy2(project / name, source / name)
        built = Path(work) / "wheels"
        _pip(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
             "--wheel-dir", str(built), str(source)],
            "building hallsense's wheel",
            cwd=Path(work),
        )  # fmt: skip
        (wheel,) = built.glob("hallsense-*.whl")
        return Path(shutil.copy2(wheel, out_dir / wheel.name))


def make_wheelhouse(
    out: Path, architectures: Sequence[str], *, hallsense_wheel: Path | None = None
) -> dict[str, int]:
    """Fill ``out/<architecture>/`` for each architecture; the wheels each holds.

    Wheels there already are kept (pip does not fetch them again), except an older
    hallsense: each directory holds one hallsense wheel, the one given or built.

    Raises:
        WheelhouseError: no wheel given and no checkout to build one from, or pip failed.
    """
    for architecture in architectures:
        platform_tags(architecture)  # a bad name refused before anything is fetched
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hallsense-wheel-") as work:
        if hallsense_wheel is None:
            project = project_source()
            if project is None:
                raise WheelhouseError(
                    "this hallsense is installed from a wheel, with no checkout to build one "
                    "from: give --hallsense-wheel FILE"
                )
            hallsense_wheel = build_hallsense_wheel(project, Path(work))
        requirements = runtime_requirements(hallsense_wheel)
        counts = {}
        for architecture in architectures:
            dest = out / architecture
            dest.mkdir(exist_ok=True)
            _pip(
                download_command(architecture, requirements, dest),
                f"downloading the wheels for {architecture}",
            )
            for old in dest.glob("hallsense-*.whl"):
                old.unlink()
            shutil.copy2(hallsense_wheel, dest / hallsense_wheel.name)
            os.chmod(dest / hallsense_wheel.name, 0o644)
            counts[architecture] = len(list(dest.glob("*.whl")))
    return counts


def wheelhouse_architectures(directory: Path) -> list[str]:
    """The architectures ``directory`` has wheels for, each with one hallsense wheel.

    Raises:
        WheelhouseError: none, or an architecture's directory with no or several hallsense.
    """
    found = []
    for architecture in ARCHITECTURES:
        wheels = sorted((directory / architecture).glob("hallsense-*.whl"))
        if not (directory / architecture).is_dir():
            continue
        if len(wheels) != 1:
            raise WheelhouseError(
                f"{directory / architecture} must hold one hallsense wheel, not {len(wheels)}"
            )
        found.append(architecture)
    if not found:
        raise WheelhouseError(
            f"{directory} is not a wheelhouse: it has no {', '.join(ARCHITECTURES)} folder "
            "(make one with `hallsense provision wheelhouse --out DIR`)"
        )
    return found
