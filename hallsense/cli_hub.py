"""``hallsense hub …``: run ingestion workers, register devices, show the fleet."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import click

from hallsense.cli_options import current_actor, env_option, json_option
from hallsense.logs import configure_logging
from hallsense.settings import SettingsError, load_settings
from hub.config_downlink import build_config, next_revision, send_config_everywhere
from hub.service import IngestService, every_broker_settings
from hub.settings import HubSettings
from hub.store import DeviceState, HubStoreError, ReadingQueries
from hub.store_factory import HubStoreConnection, open_hub_store
from hub_sync.mqtt import MqttError
from hub_sync.topics import check_device_id
from hub_sync.wire_errors import ProtocolError
from provisioning.registry import DeviceRegistry, UnsafeName, check_name


def _settings(env_file: Path | None) -> HubSettings:
    try:
        return load_settings(HubSettings, env_file)
    except SettingsError as error:
        raise click.ClickException(str(error)) from error


@contextmanager
def opened_store(settings: HubSettings) -> Iterator[HubStoreConnection]:
    """The settings' hub store, closed afterwards; one that cannot be opened is a ClickException.

    A command hands each part of it to the code that uses that part's interface.
    """
    try:
        store = open_hub_store(settings.hub_store)
    except HubStoreError as error:
        raise click.ClickException(str(error)) from error
    try:
        yield store
    finally:
        store.close()


@click.group()
def hub() -> None:
    """Run the central hub: ingestion workers, the device registry and the fleet status.

    \b
    Example:
        hallsense hub add-device askrigg --name "Askrigg Village Hall" --env hub.env
        hallsense hub run --env hub.env
    """


@click.command()
@env_option
def run(env_file: Path | None) -> None:
    """Run one ingestion worker until SIGTERM or Ctrl-C.

    Start several (each with its own HALLSENSE_WORKER_ID) to share the load.

    \b
    Example:
        hallsense hub run --env /etc/hallsense/hub.env
    """
    settings = _settings(env_file)
    configure_logging(settings.log_level)
    try:
        service = IngestService(settings, lambda: open_hub_store(settings.hub_store))
    except (HubStoreError, ValueError) as error:
        raise click.ClickException(str(error)) from error

    def stop(signum: int, frame: FrameType | None) -> None:
        service.stop_event.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    service.run()


@click.command("add-device")
@env_option
@click.argument("device_id")
@click.option("--name", required=True, help='The hall\'s name, e.g. "Askrigg Village Hall".')
def add_device(env_file: Path | None, device_id: str, name: str) -> None:
    """Register a device so the hub accepts its readings.

    \b
    Example:
        hallsense hub add-device askrigg --name "Askrigg Village Hall" --env hub.env
    """
    try:
        check_device_id(device_id)
    except ProtocolError as error:
        raise click.BadParameter(str(error), param_hint="DEVICE_ID") from error
    try:
        check_name("--name", name)
    except UnsafeName as error:
        raise click.BadParameter(str(error), param_hint="--name") from error
    with opened_store(_settings(env_file)) as store:
        _register(store, device_id, name)
    click.echo(f"registered {device_id} ({name})")


@click.command("set-config")
@env_option
@click.argument("device_id")
@click.option(
    "--interval",
    "intervals",
    multiple=True,
    metavar="DRIVER=SECONDS",
    help="A driver's sample interval, e.g. simulated=30 (repeat for more).",
)
@click.option("--hall-name", default=None, help="The hall's name on its page.")
@click.option("--opening-hours", default=None, help='E.g. "Mon to Sat, 9:00 to 22:00".')
@click.option("--contact", default=None, help="Who visitors ask about the sensors.")
@click.option(
    "--public-metrics",
    default=None,
    metavar="METRIC,...",
    help="Comma-separated metrics shown to visitors, e.g. temperature,co2,footfall.",
)
@click.option(
    "--sensor-label",
    "sensor_labels",
    multiple=True,
    metavar="SENSOR=LABEL",
    help='A sensor\'s name on the page, e.g. "gpio-door=Main door" (repeat for more).',
)
def set_config(
    env_file: Path | None,
    device_id: str,
    intervals: tuple[str, ...],
    hall_name: str | None,
    opening_hours: str | None,
    contact: str | None,
    public_metrics: str | None,
    sensor_labels: tuple[str, ...],
) -> None:
    """Send a node new settings (retained, so it gets them when it next connects).

    Sample intervals, and what the hall's community page shows. The page settings sent
    replace those sent before; those not sent fall back to the node's settings file.
    The node checks everything, applies all or none, and answers in its status
    (config_revision, or config_error with the reason); see `hallsense hub status --json`.

    \b
    Example:
        hallsense hub set-config askrigg --interval simulated=30 --interval system=300 --env hub.env
        hallsense hub set-config askrigg --hall-name "Askrigg Village Hall" \\
            --sensor-label "gpio-door=Main door" --env hub.env
    """
    page: dict[str, object] = {}
    for key, value in (
        ("hall_name", hall_name),
        ("opening_hours", opening_hours),
        ("contact", contact),
    ):
        if value is not None:
            page[key] = value
    if public_metrics is not None:
        page["public_metrics"] = [m.strip() for m in public_metrics.split(",") if m.strip()]
    if sensor_labels:
        labels = {}
        for item in sensor_labels:
            sensor, sep, label = item.partition("=")
            if not sep:
                raise click.BadParameter(
                    f"{item!r} is not SENSOR=LABEL", param_hint="--sensor-label"
                )
            labels[sensor.strip()] = label.strip()
        page["sensor_labels"] = labels
    if not intervals and not page:
        raise click.UsageError("give at least one --interval or page setting")
    try:
        check_device_id(device_id)
        pairs = {}
        for item in intervals:
            name, _, seconds = item.partition("=")
            pairs[name.strip()] = float(seconds)
        _, payload = build_config(next_revision(None), pairs, page)
    except (ProtocolError, ValueError) as error:
        raise click.BadParameter(str(error)) from error
    settings = _settings(env_file)
    with opened_store(settings) as store:
        try:
            missed = send_config_everywhere(
                every_broker_settings(settings),
                device_id,
                payload,
                record=store,
                actor=current_actor(),
            )
        except (MqttError, ValueError) as error:
            raise click.ClickException(f"could not send the config: {error}") from error
        for where in missed:
            click.echo(f"warning: the broker at {where} did not get it", err=True)
    sent = [f"{k}={v:g} s" for k, v in pairs.items()] + [f"page {k}" for k in page]
    click.echo(f"sent config to {device_id}: " + ", ".join(sent))


@click.command()
@env_option
@json_option
def status(env_file: Path | None, as_json: bool) -> None:
    """Show every node: online, last seen, readings stored, missing ranges, rejections.

    \b
    Example:
        hallsense hub status --env /etc/hallsense/hub.env
    """
    with opened_store(_settings(env_file)) as store:
        fleet = _fleet(store)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "device_id": d.device_id,
                        "name": d.name,
                        "online": d.online,
                        "last_seen": _iso(d.last_seen_us),
                        "readings": d.readings,
                        "missing": [
                            {"store_epoch": str(e), "first": a, "last": b} for e, a, b in d.missing
                        ],
                        "rejected_batches": d.rejected_batches,
                        "quarantined": d.quarantined,
                        "refused": {r.reason: r.count for r in d.refusals},
                        "status": json.loads(d.status) if d.status else None,
                    }
                    for d in fleet
                ],
                indent=2,
            )
        )
        return
    header = f"{'device':<20} {'hall':<28} {'state':<8} {'last seen (UTC)':<20} "
    header += f"{'readings':>10} {'missing':>8} {'backlog':>8} {'clock':<6} {'rejected':>8}"
    click.echo(header)
    for d in fleet:
        missing = sum(b - a + 1 for _, a, b in d.missing)
        node = json.loads(d.status) if d.status else {}
        backlog = f"{node['backlog']:,}" if "backlog" in node else "?"
        synced = node.get("clock_synchronised")
        clock = "?" if synced is None else ("ok" if synced else "unset")
        click.echo(
            f"{d.device_id:<20} {d.name[:28]:<28} {'online' if d.online else 'offline':<8} "
            f"{(_iso(d.last_seen_us) or 'never')[:19]:<20} {d.readings:>10,} {missing:>8,} "
            f"{backlog:>8} {clock:<6} {d.rejected_batches:>8,}"
        )


def _register(registry: DeviceRegistry, device_id: str, name: str) -> None:
    registry.add_device(device_id, name)


def _fleet(queries: ReadingQueries) -> Sequence[DeviceState]:
    return queries.fleet()


def _iso(us: int | None) -> str | None:
    return datetime.fromtimestamp(us / 1e6, UTC).isoformat() if us else None
