"""The shape of the code that DESIGN.md and docs/architecture.md promise, checked.

import-linter (scripts/test) checks which package may import which, and that no package
has an import circle; this checks what it cannot: module size and the module docstrings
that say each module's job.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PACKAGES = ("presentation", "sensors", "edge", "hub_sync", "provisioning", "hub", "web_local")
PACKAGES += ("hallsense",)
MAX_LINES = 500
REASON = "Longer than 500 lines because"
"""How a module that must be longer says why, in its docstring."""

MODULES = sorted(path for package in PACKAGES for path in (ROOT / package).rglob("*.py"))


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", MODULES, ids=relative)
def test_every_module_says_its_job_at_the_top(path):
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    assert docstring, f"{relative(path)} has no docstring saying its job"


def size_problem(path: Path) -> str | None:
    """Why ``path`` is too long, or None."""
    source = path.read_text(encoding="utf-8")
    lines = source.count("\n")
    if lines <= MAX_LINES or REASON in (ast.get_docstring(ast.parse(source)) or ""):
        return None
    return (
        f"{path.name} has {lines} lines; split it along its seams, or say at its top {REASON!r} …"
    )


@pytest.mark.parametrize("path", MODULES, ids=relative)
def test_no_module_is_over_500_lines_without_a_reason_at_its_top(path):
    problem = size_problem(path)
    assert problem is None, problem


def test_the_size_limit_holds_at_500_lines_and_not_at_501(tmp_path):
    module = tmp_path / "module.py"
    module.write_text('"""A module."""\n' + "x = 1\n" * (MAX_LINES - 1))
    assert size_problem(module) is None
    module.write_text('"""A module."""\n' + "x = 1\n" * MAX_LINES)
    assert "501 lines" in (size_problem(module) or "")
    module.write_text(f'"""A module.\n\n{REASON} it must be."""\n' + "x = 1\n" * MAX_LINES)
    assert size_problem(module) is None
