"""The ``hallsense`` command: its root group, and every group's commands listed here.

Each role's module defines its group and its commands; this module attaches them, one
``add_command`` a command, so that reading it shows the whole command tree and no module
is imported only for what its decorators do (a command that is not listed here does not
exist, as ``hub home-assistant`` once did not). ``tests/test_docs.py`` checks this tree
against docs/cli.md both ways.

Every failure a user can fix ends a command with one ``Error: …`` message and exit status
1 (2 for a wrong command line), never a traceback: each command turns the errors it knows
into a ``click.ClickException``, and the root group turns any file or network error that
still escapes (a directory that is not there, a full disk, a port in use) into one too.
``tests/test_cli_errors.py`` runs every error case docs/cli.md lists.

Each top-level group is attached by a loader function here that imports its modules only
when the group is used (:class:`LazyCommands`): ``hallsense edge run`` does not carry
Flask, cryptography, segno or the hub's web in the agent's memory (issue #18), while
``hallsense --help`` and the docs test still see every command.
``tests/cli/test_lazy_imports.py`` checks what ``edge run`` imports.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

import click

from hallsense import __version__


def _os_error_message(error: OSError) -> str:
    """``cannot use FILE: reason`` for a file error, else the error's own words."""
    reason = error.strerror or str(error)
    if error.filename is not None:
        return f"cannot use {error.filename}: {reason}"
    return reason


class HallsenseGroup(click.Group):
    """The root group: an OSError no command caught is one line and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; an OSError that escapes it becomes a ClickException."""
        try:
            return super().invoke(ctx)
        except OSError as error:
            if error.errno == errno.EPIPE:  # click's own handling of `| head`
                raise
            raise click.ClickException(_os_error_message(error)) from error


@click.group(cls=HallsenseGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hallsense")
def cli() -> None:
    """hallsense: offline-capable sensing for village halls.

    \b
    Example:
        hallsense demo
        hallsense edge run --env /etc/hallsense/edge.env
    """


class LazyCommands(MutableMapping[str, click.Command]):
    """A group's commands by name, each made by its loader the first time it is asked for.

    Listing the names imports nothing; looking a command up imports its modules once.
    """

    def __init__(self, loaders: dict[str, Callable[[], click.Command]]) -> None:
        self._loaders = dict(loaders)
        self._loaded: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._loaded:
            self._loaded[name] = self._loaders[name]()
        return self._loaded[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._loaders[name] = lambda: command
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self._loaders[name]
        self._loaded.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaders)

    def __len__(self) -> int:
        return len(self._loaders)


def _edge() -> click.Command:
    from hallsense import (
        cli_edge,
        cli_edge_calibrate,
        cli_edge_install,
        cli_edge_report,
        cli_edge_update,
    )

    edge = cli_edge.edge
    edge.add_command(cli_edge.run)
    edge.add_command(cli_edge.web)
    edge.add_command(cli_edge.poster)
    edge.add_command(cli_edge.wipe)
    edge.add_command(cli_edge.status)
    edge.add_command(cli_edge.export)
    edge.add_command(cli_edge_report.report)
    edge.add_command(cli_edge_calibrate.calibrate_footfall)
    edge.add_command(cli_edge.drain)
    edge.add_command(cli_edge.backup)
    edge.add_command(cli_edge_install.install)
    edge.add_command(cli_edge_install.uninstall)
    edge.add_command(cli_edge_update.update)
    return edge


def _hub() -> click.Command:
    from hallsense import (
        cli_hub,
        cli_hub_accounts,
        cli_hub_ha,
        cli_hub_report,
        cli_hub_rollout,
        cli_hub_web,
    )

    account = cli_hub_accounts.account
    account.add_command(cli_hub_accounts.add)
    account.add_command(cli_hub_accounts.set_halls)
    account.add_command(cli_hub_accounts.list_accounts)
    account.add_command(cli_hub_accounts.disable)
    account.add_command(cli_hub_accounts.token)
    account.add_command(cli_hub_accounts.list_tokens)
    account.add_command(cli_hub_accounts.revoke_token)

    hub = cli_hub.hub
    hub.add_command(cli_hub.run)
    hub.add_command(cli_hub.add_device)
    hub.add_command(cli_hub.set_config)
    hub.add_command(cli_hub.status)
    hub.add_command(cli_hub_report.report)
    hub.add_command(cli_hub_web.web)
    hub.add_command(cli_hub_ha.home_assistant)
    hub.add_command(account)

    rollout = cli_hub_rollout.rollout
    rollout.add_command(cli_hub_rollout.start)
    rollout.add_command(cli_hub_rollout.widen)
    rollout.add_command(cli_hub_rollout.stop)
    rollout.add_command(cli_hub_rollout.status)
    hub.add_command(rollout)
    return hub


def _provision() -> click.Command:
    from hallsense import cli_provision, cli_release

    provision = cli_provision.provision
    provision.add_command(cli_provision.init)
    provision.add_command(cli_provision.add_device)
    provision.add_command(cli_provision.list_devices)
    provision.add_command(cli_provision.revoke)
    provision.add_command(cli_provision.rotate)
    provision.add_command(cli_provision.delete_device)
    provision.add_command(cli_provision.broker_config)
    provision.add_command(cli_provision.wheelhouse)

    release = cli_release.release
    release.add_command(cli_release.keys)
    release.add_command(cli_release.init)
    release.add_command(cli_release.publish)
    release.add_command(cli_release.refresh)
    release.add_command(cli_release.rotate)
    provision.add_command(release)
    return provision


def _demo() -> click.Command:
    from hallsense.demo import demo

    return demo


cli.commands = LazyCommands({"edge": _edge, "hub": _hub, "demo": _demo, "provision": _provision})
