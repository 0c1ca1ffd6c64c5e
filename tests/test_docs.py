"""The documentation covers every command and every setting."""

import json
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from edge.settings import EdgeSettings
from hallsense.cli import cli
from hallsense.settings import describe_fields
from hub.settings import HubSettings

DOCS = Path(__file__).parents[1] / "docs"


def all_commands(group: click.Group, prefix: str = "hallsense"):
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        yield path, command
        if isinstance(command, click.Group):
            yield from all_commands(command, path)


COMMANDS = list(all_commands(cli))


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[p for p, _ in COMMANDS])
def test_every_command_has_help_with_an_example(path, command):
    assert command.help, path
    assert "Example:" in command.help, path


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS])
def test_every_command_is_documented(path):
    assert f"`{path}" in (DOCS / "cli.md").read_text(encoding="utf-8"), path


# The command tree as a fresh `python -m hallsense` builds it: in this process another
# test's import of a cli module could not add a command, but a fresh interpreter proves it.
TREE = """
import json, click
from hallsense.cli import cli
def walk(group, prefix):
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        yield path, isinstance(command, click.Group)
        if isinstance(command, click.Group):
            yield from walk(command, path)
print(json.dumps(sorted(walk(cli, "hallsense"))))
"""


def test_the_cli_exposes_exactly_the_commands_docs_cli_md_has_a_heading_for():
    """A command lost from the tree (as `hub home-assistant` was) or never documented."""
    result = subprocess.run(
        [sys.executable, "-c", TREE], capture_output=True, text=True, check=True, timeout=60
    )
    tree = json.loads(result.stdout)
    commands = {path for path, is_group in tree if not is_group}
    groups = {path for path, is_group in tree if is_group}
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    headings = set(re.findall(r"^#{2,3} `(hallsense [a-z -]+)`$", text, flags=re.MULTILINE))
    assert "hallsense hub home-assistant" in headings
    assert sorted(headings - groups - commands) == [], "documented but not in the CLI"
    assert sorted(commands - headings) == [], "in the CLI but without a heading in docs/cli.md"


SETTINGS = [("## Edge node", row) for row in describe_fields(EdgeSettings)] + [
    ("## Hub ingestion", row) for row in describe_fields(HubSettings)
]


@pytest.mark.parametrize(
    ("section", "row"), SETTINGS, ids=[f"{s[3:7]}-{r[0]}" for s, r in SETTINGS]
)
def test_every_setting_is_documented_with_its_default_and_unit(section, row):
    key, default, unit, _help = row
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    part = text[text.index(section) :]
    following = part.find("\n## ", 1)
    part = part if following == -1 else part[:following]
    rows = [line for line in part.splitlines() if line.startswith(f"| `{key}` |")]
    assert rows, f"{key} is not in the {section!r} part of docs/configuration.md"
    cells = [cell.strip() for cell in rows[0].strip("|").split("|")]
    assert cells[1] == f"`{default}`", key
    assert cells[2] == unit, key
