"""``hallsense hub account …``: the hub web's accounts and API tokens, from the hub's shell.

The first account is made in the browser with the set-up code ``hallsense hub web``
prints; after that the council IoT team adds colleagues and parish clerks here. A new
account's password is typed (twice, not echoed) or read from a file; an API token is
printed once and only its hash is kept. A token reads only unless made ``--scope full``
(issue #14): most scripts (Prometheus, exports) only read, and a leaked read-only token
cannot change a hall.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import click

from hallsense.cli_hub import _settings, opened_store
from hallsense.cli_options import env_option
from hub.login_store import LoginStore
from hub.logins import READ_ONLY, ROLES, SCOPES, Account, Logins, PasswordRejected
from hub.store import DeviceRecords


class AccountStore(LoginStore, DeviceRecords, Protocol):
    """What the account commands use of the hub store: the logins, and which halls exist."""


@contextmanager
def _logins(env_file: Path | None) -> Iterator[tuple[Logins, AccountStore]]:
    with opened_store(_settings(env_file)) as store:
        yield Logins(lambda: store), store


@click.group()
def account() -> None:
    """Accounts of the hub's web: the council IoT team and parish clerks.

    \b
    Example:
        hallsense hub account add jo-clerk --role clerk --hall askrigg --env hub.env
        hallsense hub account list --env hub.env
    """


@click.command("add")
@env_option
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True, help="team or clerk.")
@click.option(
    "--hall",
    "halls",
    multiple=True,
    metavar="DEVICE_ID",
    help="A clerk's hall (repeat for more).",
)
@click.option(
    "--password-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the password from this file instead of asking.",
)
def add(
    env_file: Path | None,
    username: str,
    role: str,
    halls: tuple[str, ...],
    password_file: Path | None,
) -> None:
    """Add an account; a clerk sees and edits only their --hall devices.

    \b
    Example:
        hallsense hub account add jo-clerk --role clerk --hall askrigg --env hub.env
    """
    if role == "clerk" and not halls:
        raise click.BadParameter("a clerk needs at least one --hall", param_hint="--hall")
    if role == "team" and halls:
        raise click.BadParameter("the IoT team sees every hall: no --hall", param_hint="--hall")
    if password_file is not None:
        password = password_file.read_text(encoding="utf-8").strip()
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with _logins(env_file) as (logins, store):
        unknown = sorted(set(halls) - {d.device_id for d in store.registered()})
        if unknown:
            raise click.BadParameter(
                f"{', '.join(unknown)} is not a registered device", param_hint="--hall"
            )
        try:
            made = logins.create_account(username, password, role, halls)
        except (PasswordRejected, ValueError) as error:
            raise click.ClickException(str(error)) from error
    where = f" for {', '.join(made.halls)}" if made.halls else ""
    click.echo(f"added {made.username} ({made.role}{where})")


@click.command("halls")
@env_option
@click.argument("username")
@click.option(
    "--hall",
    "halls",
    multiple=True,
    required=True,
    metavar="DEVICE_ID",
    help="A hall the clerk looks after (repeat for more); replaces the list.",
)
def set_halls(env_file: Path | None, username: str, halls: tuple[str, ...]) -> None:
    """Change which halls a parish clerk sees and edits.

    \b
    Example:
        hallsense hub account halls jo-clerk --hall askrigg --hall reeth --env hub.env
    """
    with _logins(env_file) as (_, store):
        row = store.account(username.lower())
        if row is None:
            raise click.ClickException(f"no account called {username!r}")
        if row.role != "clerk":
            raise click.ClickException(f"{row.username} is in the IoT team: it sees every hall")
        unknown = sorted(set(halls) - {d.device_id for d in store.registered()})
        if unknown:
            raise click.BadParameter(
                f"{', '.join(unknown)} is not a registered device", param_hint="--hall"
            )
        store.set_halls(row.username, halls)
    click.echo(f"{username.lower()} now looks after {', '.join(sorted(set(halls)))}")


@click.command("list")
@env_option
def list_accounts(env_file: Path | None) -> None:
    """One line per account: name, role, halls, disabled.

    \b
    Example:
        hallsense hub account list --env hub.env
    """
    with _logins(env_file) as (_, store):
        for row in store.accounts():
            state = " (disabled)" if row.disabled else ""
            halls = ", ".join(row.halls) or "every hall"
            click.echo(f"{row.username:<24} {row.role:<6} {halls}{state}")


@click.command("disable")
@env_option
@click.argument("username")
def disable(env_file: Path | None, username: str) -> None:
    """Disable an account: its sessions end and its API tokens stop working.

    \b
    Example:
        hallsense hub account disable jo-clerk --env hub.env
    """
    with _logins(env_file) as (_, store):
        if store.account(username.lower()) is None:
            raise click.ClickException(f"no account called {username!r}")
        store.set_disabled(username.lower(), True)
    click.echo(f"disabled {username.lower()}")


@click.command("token")
@env_option
@click.argument("username")
@click.option("--name", required=True, help="What the token is for, e.g. prometheus.")
@click.option(
    "--scope",
    type=click.Choice(SCOPES),
    default=READ_ONLY,
    show_default=True,
    help="read: GET the data, exports, metrics and pages only; full: all the account may.",
)
def token(env_file: Path | None, username: str, name: str, scope: str) -> None:
    """Make an API token for scripts (Authorization: Bearer …), printed this once.

    A token only reads unless made with --scope full (for a script that changes a
    hall's settings); it never has more rights than its account.

    \b
    Example:
        hallsense hub account token iot-team --name prometheus --env hub.env
        hallsense hub account token iot-team --name settings-sync --scope full --env hub.env
    """
    with _logins(env_file) as (logins, store):
        row = store.account(username.lower())
        if row is None or row.disabled:
            raise click.ClickException(f"no usable account called {username!r}")
        issued = logins.issue_token(Account(row.username, row.role, row.halls), name, scope)
    click.echo(issued)  # alone on stdout, for TOKEN=$(hallsense hub account token …)
    what = "read-only" if scope == READ_ONLY else "full (it may change what its account may)"
    click.echo(f"a {what} token for {row.username}, named {name[:80]!r}", err=True)


@click.command("tokens")
@env_option
@click.argument("username", required=False)
def list_tokens(env_file: Path | None, username: str | None) -> None:
    """One line per API token (of one account, if named): account, name, scope, made, state.

    \b
    Example:
        hallsense hub account tokens --env hub.env
        hallsense hub account tokens iot-team --env hub.env
    """
    with _logins(env_file) as (_, store):
        if username is not None and store.account(username.lower()) is None:
            raise click.ClickException(f"no account called {username!r}")
        rows = store.tokens(None if username is None else username.lower())
    for row in rows:
        made = datetime.fromtimestamp(row.created_us / 1e6, UTC).strftime("%Y-%m-%d %H:%M UTC")
        state = "revoked" if row.revoked else "live"
        click.echo(f"{row.username:<24} {row.name:<24} {row.scope:<5} {made}  {state}")


@click.command("revoke-token")
@env_option
@click.argument("username")
@click.option("--name", required=True, help="The token's name.")
def revoke_token(env_file: Path | None, username: str, name: str) -> None:
    """Stop an account's API tokens of that name working.

    \b
    Example:
        hallsense hub account revoke-token data-team --name nightly-export --env hub.env
    """
    with _logins(env_file) as (_, store):
        count = store.revoke_token(username.lower(), name)
    if not count:
        raise click.ClickException(f"{username} has no live token called {name!r}")
    click.echo(f"revoked {count} token(s)")
