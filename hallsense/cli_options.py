"""The options that several ``hallsense`` command modules share, as decorators.

As sqlite-utils' ``output_options``: one definition of each option's name, type and help,
so the same option reads the same wherever it appears.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def env_option(command: F) -> F:
    """The ``--env FILE`` option every edge and hub command takes."""
    return click.option(
        "--env",
        "env_file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Settings file (.env). Without it, HALLSENSE_* variables are read from the "
        "environment.",
    )(command)


def json_option(command: F) -> F:
    """``--json``: print JSON for scripts instead of lines for people."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(command)


def date_range_options(command: F) -> F:
    """``--from DAY --to DAY``: a range of the hall's local days (or date-times)."""
    command = click.option(
        "--to", "end", required=True, help="Last day, included, or date-time (excluded)."
    )(command)
    return click.option(
        "--from", "start", required=True, help="First day (2026-11-01) or date-time."
    )(command)


def state_dir_option(command: F) -> F:
    """``--state-dir DIR``: the provisioning state directory."""
    return click.option(
        "--state-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="The provisioning state directory [default: $HALLSENSE_PROVISION_DIR].",
    )(command)


def _month(ctx: click.Context, param: click.Parameter, value: str) -> Any:
    # Imported here: the commands that take no month need not load the report's months.
    from presentation.report_month import BadMonth, parse_month

    try:
        return parse_month(value)
    except BadMonth as error:
        raise click.BadParameter(str(error), ctx=ctx, param=param) from error


def report_options(command: F) -> F:
    """The monthly hall report's ``--month YYYY-MM`` and ``--format pdf|html``.

    On the node and at the hub alike; the month reaches the command as a ``ReportMonth``.
    """
    command = click.option(
        "--format",
        "fmt",
        type=click.Choice(["pdf", "html"]),
        default="pdf",
        show_default=True,
        help="PDF to print; HTML to read on screen, with a screen reader, or print from a browser.",
    )(command)
    return click.option(
        "--month",
        required=True,
        metavar="YYYY-MM",
        callback=_month,
        help="The month to report on, e.g. 2026-11; it must have ended.",
    )(command)


def current_actor() -> str:
    """Who is running the command, for the registry's audit trail."""
    return os.environ.get("SUDO_USER") or getpass.getuser()
