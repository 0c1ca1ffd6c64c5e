"""`scripts/demo` installs what the demo needs, `scripts/test` what the tests need too.

A user who wants the demo gets Mosquitto and hallsense, not Chromium, PostgreSQL,
iptables or poppler; and installing hallsense prints no setuptools warning.
"""

import re
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[1]
SCRIPTS = ROOT / "scripts"
TEST_ONLY = (
    "postgresql",
    "iptables",
    "iproute2",
    "poppler-utils",
    "librsvg2-bin",
    "setup-browser",
    "'.[dev]'",
)
"""What scripts/setup installs only when asked with --tests (setup-browser: Chromium)."""


def without_test_blocks(script: str) -> str:
    """The script's commands less its `if [ "$tests" = yes ]; then … fi` blocks (their
    else kept) and its comments."""
    kept, depth = [], 0
    for line in script.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            continue
        if depth == 0 and stripped == 'if [ "$tests" = yes ]; then':
            depth = 1
            continue
        if depth:
            if stripped.startswith("if "):
                depth += 1
            elif stripped == "fi":
                depth -= 1
            elif stripped == "else" and depth == 1:
                depth = 0
                kept.append("if true; then")
            continue
        kept.append(line)
    return "\n".join(kept)


def test_the_demo_sets_up_without_the_test_extras_and_the_tests_with_them():
    demo = (SCRIPTS / "demo").read_text(encoding="utf-8")
    test = (SCRIPTS / "test").read_text(encoding="utf-8")
    assert re.search(r"^bash scripts/setup$", demo, re.MULTILINE), demo
    assert re.search(r"^bash scripts/setup --tests$", test, re.MULTILINE), test
    # scripts/test still ends with every check and the whole suite, deselecting nothing.
    commands = [line for line in test.splitlines() if line and not line.startswith("#")]
    assert commands[-5:] == [
        ".venv/bin/ruff format --check .",
        ".venv/bin/ruff check .",
        ".venv/bin/mypy",
        ".venv/bin/lint-imports",
        '.venv/bin/python -m pytest -n 2 --durations=20 "$@"',
    ]


def test_setup_installs_the_test_only_packages_only_with_tests():
    setup = (SCRIPTS / "setup").read_text(encoding="utf-8")
    for name in TEST_ONLY:
        assert name in setup, name
    demo_part = without_test_blocks(setup)
    for name in TEST_ONLY:
        assert name not in demo_part, f"scripts/setup installs {name} for the demo too"
    for name in ("mosquitto", "python3-venv", "pip install --quiet -e ."):
        assert name in demo_part, name


def test_setup_refuses_an_argument_it_does_not_know():
    result = subprocess.run(
        ["bash", str(SCRIPTS / "setup"), "--everything"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "scripts/setup: unknown argument --everything (only --tests)"


def test_the_package_metadata_gives_setuptools_nothing_to_warn_about():
    """An SPDX licence string, and every folder of package data declared as a package."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["license"] == "Apache-2.0"
    packages = set(project["tool"]["setuptools"]["packages"])
    for data in project["tool"]["setuptools"]["package-data"]:
        assert data in packages, data
    for package in list(packages):
        folder = ROOT / package.replace(".", "/")
        assert folder.is_dir(), package
        for child in folder.iterdir():
            # A folder of files setuptools would ship as data must be a declared package.
            if child.is_dir() and child.name != "__pycache__" and any(child.iterdir()):
                assert f"{package}.{child.name}" in packages, child
