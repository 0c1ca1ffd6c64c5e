"""The documentation covers every command and every setting."""

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
