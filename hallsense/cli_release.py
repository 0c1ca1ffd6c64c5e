"""``hallsense provision release …``: the council's signing keys and its release repository.

Run on the council's own machine, with the keys on a medium kept off the hub: the
repository directory these commands write is what the hub serves at ``/releases/``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from hub_sync.release_contract import ARCHITECTURES
from provisioning.release_keys import ONLINE_ROLES, ROLES, ReleaseKeyError, generate_release_keys
from provisioning.release_repository import ReleaseError, ReleaseRepository
from provisioning.release_rotation import short
from provisioning.release_wheel import ReleaseWheelError, release_schema

F = TypeVar("F", bound=Callable[..., Any])


def release_errors(command: F) -> F:
    """Turn a refused key or release into one ``Error:`` line and exit status 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (ReleaseKeyError, ReleaseError, ReleaseWheelError) as error:
            raise click.ClickException(str(error)) from None

    return wrapper  # type: ignore[return-value]


keys_dir_option = click.option(
    "--keys-dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The directory of the release signing keys (kept off the hub).",
)
repo_option = click.option(
    "--repo",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The release repository's directory (what the hub serves at /releases/).",
)


@click.group()
def release() -> None:
    """Sign and publish releases of the node's software (The Update Framework).

    \b
    Example:
        hallsense provision release keys --keys-dir /media/council-keys
        hallsense provision release init --repo /srv/hallsense/releases \\
            --keys-dir /media/council-keys
    """


@click.command()
@keys_dir_option
@click.option(
    "--root-keys",
    type=click.IntRange(1, 9),
    default=3,
    show_default=True,
    help="How many root keys (for as many keyholders).",
)
@release_errors
def keys(keys_dir: Path, root_keys: int) -> None:
    """Make the release signing keys: each 0600 in a 0700 directory, never replaced.

    \b
    Example:
        hallsense provision release keys --keys-dir /media/council-keys
    """
    counts = generate_release_keys(keys_dir, root_keys=root_keys)
    made = ", ".join(f"{count} {role}" for role, count in counts.items())
    click.echo(f"made {made} key(s) in {keys_dir}; keep it off the hub, backed up")


@click.command()
@repo_option
@keys_dir_option
@click.option(
    "--root-threshold",
    type=click.IntRange(1, 9),
    default=2,
    show_default=True,
    help="How many root keys must sign a new root.",
)
@release_errors
def init(repo: Path, keys_dir: Path, root_threshold: int) -> None:
    """Start the release repository: its first root, targets, snapshot and timestamp.

    \b
    Example:
        hallsense provision release init --repo /srv/hallsense/releases \\
            --keys-dir /media/council-keys
    """
    ReleaseRepository(repo).create(keys_dir, root_threshold=root_threshold)
    click.echo(f"release repository started in {repo}; nodes trust {repo}/metadata/1.root.json")


@click.command()
@repo_option
@keys_dir_option
@click.option("--version", "version", required=True, help="The release's version (PEP 440).")
@click.option(
    "--architecture",
    required=True,
    type=click.Choice(ARCHITECTURES),
    help="The machine the release is for.",
)
@click.option(
    "--schema",
    type=click.IntRange(1),
    default=None,
    help="The node store's schema version the release migrates to "
    "[default: read from the hallsense wheel among FILES].",
)
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@release_errors
def publish(
    repo: Path,
    keys_dir: Path,
    version: str,
    architecture: str,
    schema: int | None,
    files: tuple[Path, ...],
) -> None:
    """Sign and publish a release: its files and its manifest, newer than the last.

    Refused when its store schema is older than the last release's: store migrations go
    forward only, so nodes that ran the last one could not run it.

    \b
    Example:
        hallsense provision release publish --repo /srv/hallsense/releases \\
            --keys-dir /media/council-keys --version 1.1.0 --architecture aarch64 \\
            wheelhouse/*.whl
    """
    manifest = ReleaseRepository(repo).publish(
        list(files),
        version=version,
        architecture=architecture,
        schema=release_schema(files) if schema is None else schema,
        keys_dir=keys_dir,
    )
    click.echo(f"published {manifest.version} for {architecture}: {len(manifest.files)} file(s)")


@click.command()
@repo_option
@keys_dir_option
@release_errors
def refresh(repo: Path, keys_dir: Path) -> None:
    """Re-sign the repository's freshness (snapshot, timestamp) for another week.

    Needs only the online keys: run it daily, or nodes refuse the metadata as expired.

    \b
    Example:
        hallsense provision release refresh --repo /srv/hallsense/releases \\
            --keys-dir /etc/hallsense/online-keys
    """
    ReleaseRepository(repo).refresh(keys_dir)
    click.echo(f"re-signed the freshness of {repo}")


@click.command()
@repo_option
@keys_dir_option
@click.option(
    "--role",
    required=True,
    type=click.Choice(ROLES),
    help="Whose keys to replace: root's keyholders, targets, or the hub's online "
    "snapshot or timestamp key.",
)
@click.option(
    "--replace",
    metavar="KEY",
    default=None,
    help="With --role root: the one root key to replace, by its number (2 for root-2.pem) "
    "or its keyid (a lost key) [default: every root key].",
)
@click.option(
    "--root-threshold",
    type=click.IntRange(1, 9),
    default=None,
    help="How many root keys must sign a new root from now on [default: as it is].",
)
@release_errors
def rotate(
    repo: Path, keys_dir: Path, role: str, replace: str | None, root_threshold: int | None
) -> None:
    """Replace a role's signing key: a new root names it, signed by the old root keys.

    Needs a threshold of the current root's keys in --keys-dir (and, for root, of the new
    root's). The replaced key file is kept, renamed .retired-DATE; the new one takes its
    name. Nodes follow the new root on their next pass.

    \b
    Example:
        hallsense provision release rotate --repo /srv/hallsense/releases \\
            --keys-dir /media/council-keys --role timestamp
        hallsense provision release rotate --repo /srv/hallsense/releases \\
            --keys-dir /media/council-keys --role root --replace 2 --root-threshold 2
    """
    done = ReleaseRepository(repo).rotate(
        keys_dir, role, replace=replace, root_threshold=root_threshold
    )
    added = ", ".join(short(keyid) for keyid in done.added)
    click.echo(
        f"root v{done.root_version} names the new {role} key(s) {added}; a new root needs "
        f"{done.root_threshold} of its {done.root_keys} root keys"
    )
    for retired in done.retired:
        click.echo(f"retired {retired.name.split('.retired-')[0]} as {retired.name}")
    for made in done.made:
        click.echo(f"new key: {made}")
    if role in ONLINE_ROLES:
        click.echo(
            f"put the new {role} key on the hub (HALLSENSE_RELEASE_KEYS_DIR) within a day: "
            "nodes refuse its daily re-signing with the old one"
        )
