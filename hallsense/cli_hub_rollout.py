"""``hallsense hub rollout …``: roll a signed release out to the halls in stages.

``start`` names the halls to update first and a percentage of the others, ``widen``
reaches more, ``stop`` holds the halls that have not started, ``status`` shows how far it
is. The commands record what is asked in the hub store, with the audit trail; the hub's
ingestion workers (``hub run``, :mod:`hub.rollout_keeper`) send each targeted hall the
config that allows the release, stop the rollout by itself when too many fail (the rule
is in :mod:`hub.rollouts`) and alert the IoT team.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import click
from tuf.api.exceptions import RepositoryError

from hallsense.cli_hub import _settings, opened_store
from hallsense.cli_options import current_actor, env_option, json_option
from hub.rollouts import (
    DEFAULT_STOP_SHARE,
    RolloutError,
    check_extent,
    check_published,
    check_widening,
    checked_version,
    extent_words,
    fleet_nodes,
    progress,
    share_words,
    targets,
)
from hub.settings import HubSettings
from hub.store import DeviceRecords, ReadingQueries, Rollout, RolloutRecords
from hub_sync.release_contract import ARCHITECTURES, ReleaseFormatError
from provisioning.release_repository import ReleaseError, ReleaseRepository


class RolloutStore(RolloutRecords, DeviceRecords, ReadingQueries, Protocol):
    """What the rollout commands use of the hub store: rollouts, the registry, the fleet."""


def _fleet(store: RolloutStore) -> list[str]:
    """Registered devices that are not revoked."""
    return [device.device_id for device in store.registered() if not device.revoked]


def _published(settings: HubSettings) -> dict[str, str] | None:
    """Architecture → the version published for it, or None with no repository set."""
    if not settings.releases_dir:
        return None
    repository = ReleaseRepository(Path(settings.releases_dir))
    try:
        return {
            architecture: manifest.version
            for architecture in ARCHITECTURES
            if (manifest := repository.manifest(architecture)) is not None
        }
    except (ReleaseError, ReleaseFormatError, RepositoryError, OSError, ValueError) as error:
        raise click.ClickException(
            f"cannot read the release repository {settings.releases_dir} "
            f"(HALLSENSE_RELEASES_DIR): {error}"
        ) from error


def _check_extent(store: RolloutStore, halls: Sequence[str], percent: int) -> None:
    try:
        check_extent(halls, percent, _fleet(store))
    except RolloutError as error:
        raise click.BadParameter(error.message, param_hint=error.what) from error


def _when(us: int | None) -> str:
    if us is None:
        return ""
    return datetime.fromtimestamp(us / 1e6, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _rule(rollout: Rollout) -> str:
    share = share_words(rollout.stop_share)
    return f"stops by itself once {share} of the halls that finished have failed"


@click.group()
def rollout() -> None:
    """Roll a signed release out to the halls in stages; it stops by itself if it fails.

    The hub's ingestion workers (`hub run`) send each hall in the rollout the config
    that allows the release, stop the rollout when failed / (updated + failed) reaches
    its stop share, hold the halls that had not started and alert the IoT team.

    \b
    Example:
        hallsense hub rollout start 1.5.0 --hall askrigg --hall reeth --env hub.env
        hallsense hub rollout widen --percent 25 --env hub.env
        hallsense hub rollout status --env hub.env
    """


@click.command("start")
@env_option
@click.argument("version")
@click.option(
    "--hall",
    "halls",
    multiple=True,
    metavar="DEVICE_ID",
    help="A hall to update first (repeat for more).",
)
@click.option(
    "--percent",
    type=click.IntRange(0, 100),
    default=0,
    show_default=True,
    help="How many in a hundred of the other halls to reach too.",
)
@click.option(
    "--stop-share",
    type=click.FloatRange(0, 1, min_open=True),
    default=DEFAULT_STOP_SHARE,
    show_default=True,
    help="Stop by itself when failed / (updated + failed) reaches this share.",
)
def start(
    env_file: Path | None, version: str, halls: tuple[str, ...], percent: int, stop_share: float
) -> None:
    """Start rolling VERSION out: the --hall halls, then --percent of the others.

    VERSION must be published in the hub's release repository (HALLSENSE_RELEASES_DIR),
    when one is set. A rollout running already is stopped and replaced by this one.

    \b
    Example:
        hallsense hub rollout start 1.5.0 --hall askrigg --hall reeth --env hub.env
        hallsense hub rollout start 1.5.0 --percent 10 --stop-share 0.2 --env hub.env
    """
    try:
        checked_version(version)
    except RolloutError as error:
        raise click.BadParameter(error.message, param_hint="VERSION") from error
    if not halls and percent == 0:
        raise click.UsageError(
            "give at least one --hall or a --percent above 0: it reaches no hall"
        )
    settings = _settings(env_file)
    published = _published(settings)
    if published is not None:
        try:
            version = check_published(version, published, settings.releases_dir)
        except RolloutError as error:
            raise click.ClickException(error.message) from error
    with opened_store(settings) as store:
        _check_extent(store, halls, percent)
        started, replaced = store.start_rollout(
            version, halls, percent, stop_share, actor=current_actor()
        )
        reached = len(targets(started, _fleet(store)))
    click.echo(
        f"rollout {started.rollout_id} started: release {version} to {extent_words(started)} "
        f"({reached} hall{'s' if reached != 1 else ''} now); it {_rule(started)}"
    )
    if replaced is not None:
        click.echo(f"it replaces rollout {replaced.rollout_id} of {replaced.version}, now stopped")
    click.echo(
        f"the hub's ingestion workers (`hub run`) send the halls the release within "
        f"{settings.rollout_check_s:g} s; follow it with `hallsense hub rollout status`"
    )


@click.command("widen")
@env_option
@click.option(
    "--hall", "halls", multiple=True, metavar="DEVICE_ID", help="A hall to add (repeat for more)."
)
@click.option(
    "--percent",
    type=click.IntRange(0, 100),
    default=None,
    help="The new share of the other halls, never smaller than the rollout's.",
)
def widen(env_file: Path | None, halls: tuple[str, ...], percent: int | None) -> None:
    """Reach more halls with the running rollout: more --hall, or a larger --percent.

    Halls already in the rollout stay in it: a rollout never swaps one hall for another.

    \b
    Example:
        hallsense hub rollout widen --percent 50 --env hub.env
        hallsense hub rollout widen --hall hawes --env hub.env
    """
    if not halls and percent is None:
        raise click.UsageError("give at least one --hall or a --percent to widen to")
    with opened_store(_settings(env_file)) as store:
        running = store.running_rollout()
        if running is None:
            raise click.ClickException(
                "no rollout is running: start one with `hallsense hub rollout start`"
            )
        new_percent = running.percent if percent is None else percent
        _check_extent(store, halls, new_percent)
        try:
            check_widening(running, new_percent)
        except RolloutError as error:
            raise click.BadParameter(error.message, param_hint=error.what) from error
        before = len(targets(running, _fleet(store)))
        widened = store.widen_rollout(running.rollout_id, halls, new_percent, actor=current_actor())
        reached = len(targets(widened, _fleet(store)))
    click.echo(
        f"rollout {widened.rollout_id} of release {widened.version} now reaches "
        f"{extent_words(widened)}: {reached} halls, {reached - before} more"
    )


@click.command("stop")
@env_option
@click.option("--reason", default="", help="Why, for the fleet page and the audit trail.")
def stop(env_file: Path | None, reason: str) -> None:
    """Stop the running rollout: halls that have not started hold where they are.

    Halls already downloading or installing finish (or fail) on their own.

    \b
    Example:
        hallsense hub rollout stop --reason "Reeth's hall is closed this week" --env hub.env
    """
    actor = current_actor()
    reason = " ".join(reason.split()) or f"stopped by {actor}"
    with opened_store(_settings(env_file)) as store:
        running = store.running_rollout()
        if running is None or not store.stop_rollout(running.rollout_id, reason, actor=actor):
            raise click.ClickException("no rollout is running: there is nothing to stop")
    click.echo(
        f"stopped rollout {running.rollout_id} of release {running.version}: {reason}; the "
        "hub's ingestion workers tell the halls that have not started to hold"
    )


@click.command("status")
@env_option
@json_option
def status(env_file: Path | None, as_json: bool) -> None:
    """Show the running (or last) rollout: its halls by progress, and how it ended.

    \b
    Example:
        hallsense hub rollout status --env /etc/hallsense/hub.env
    """
    with opened_store(_settings(env_file)) as store:
        latest = store.latest_rollout()
        nodes = fleet_nodes(store.fleet(), store.registered(), store.sent_releases())
    if latest is None:
        click.echo("null" if as_json else "no rollout yet")
        return
    done = progress(latest, nodes)
    if as_json:
        body: dict[str, Any] = {
            "rollout_id": latest.rollout_id,
            "version": latest.version,
            "state": latest.state,
            "reason": latest.reason,
            "halls": list(latest.halls),
            "percent": latest.percent,
            "stop_share": latest.stop_share,
            "started_by": latest.started_by,
            "started_at": _when(latest.started_at_us),
            "ended_by": latest.ended_by,
            "ended_at": _when(latest.ended_at_us) or None,
            "targeted": list(done.targeted),
            "pending": list(done.pending),
            "updating": list(done.updating),
            "updated": list(done.updated),
            "failed": list(done.failed),
            "failures": list(done.failures),
        }
        click.echo(json.dumps(body, indent=2))
        return
    click.echo(f"rollout {latest.rollout_id} of release {latest.version}: {latest.state}")
    click.echo(f"  reaches {extent_words(latest)}; it {_rule(latest)}")
    click.echo(f"  started by {latest.started_by}, {_when(latest.started_at_us)}")
    if latest.state != "running":
        why = f": {latest.reason}" if latest.reason else ""
        click.echo(f"  {latest.state} by {latest.ended_by}, {_when(latest.ended_at_us)}{why}")
    click.echo(
        f"  {len(done.targeted)} targeted: {len(done.pending)} pending, "
        f"{len(done.updating)} updating, {len(done.updated)} updated, {len(done.failed)} failed"
    )
    for words in done.failures:
        click.echo(f"  failed: {words}")
