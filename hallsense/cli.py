"""The ``hallsense`` command: its root group and the groups of each role."""

from __future__ import annotations

import click

import hallsense.cli_edge_calibrate  # registers `edge calibrate-footfall`
import hallsense.cli_hub_accounts
import hallsense.cli_hub_web  # noqa: F401 - registers `hub web` on the hub group
from hallsense import __version__
from hallsense.cli_edge import edge
from hallsense.cli_hub import hub
from hallsense.cli_provision import provision
from hallsense.demo import demo


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hallsense")
def cli() -> None:
    """hallsense: offline-capable sensing for village halls.

    \b
    Example:
        hallsense demo
        hallsense edge run --env /etc/hallsense/edge.env
    """


cli.add_command(edge)
cli.add_command(hub)
cli.add_command(demo)
cli.add_command(provision)
