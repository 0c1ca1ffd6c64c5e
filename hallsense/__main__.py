"""Run the hallsense CLI as ``python -m hallsense``."""

from hallsense.cli import cli

cli(prog_name="hallsense")
