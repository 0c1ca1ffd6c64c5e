"""``hallsense edge …``: run the node, show its status, export and back up its data."""

from __future__ import annotations

import json
import signal
import sqlite3
import sys
import threading
from datetime import UTC, date, datetime, time, timedelta
from functools import wraps
from pathlib import Path
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

import click

from edge.agent import Agent
from edge.lock import AgentLock, AgentRunning
from edge.settings import EdgeSettings
from edge.status import format_status, node_status
from edge.store_errors import StoreError
from hallsense.cli_options import F, date_range_options, env_option, json_option
from hallsense.logs import configure_logging
from hallsense.settings import SettingsError
from hallsense.wiring import (
    NoWorkingDriver,
    build_edge_agent,
    drain_to_hub,
    edge_clock,
    load_edge_settings,
    open_edge_store,
)
from presentation.csv_export import write_csv
from presentation.senml_export import write_senml
from presentation.vocabulary import METRICS


def user_errors(command: F) -> F:
    """Turn the errors a user can fix into a one-paragraph message and exit status 1."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (SettingsError, StoreError, NoWorkingDriver) as error:
            raise click.ClickException(str(error)) from error

    return wrapper  # type: ignore[return-value]


def cannot_write(path: Path, error: OSError) -> click.ClickException:
    """The one-line error for an output file that cannot be written (no such directory, …)."""
    reason = error.strerror or str(error)
    if not path.parent.is_dir():
        reason = f"the directory {path.parent} does not exist"
    return click.ClickException(f"cannot write {path}: {reason}")


@click.group()
def edge() -> None:
    """Run and inspect a node (the Pi in the hall).

    \b
    Example:
        hallsense edge run --env /etc/hallsense/edge.env
        hallsense edge status --env /etc/hallsense/edge.env
    """


@click.command()
@env_option
@user_errors
def run(env_file: Path | None) -> None:
    """Read the sensors and keep every reading in the node's store until stopped.

    Stops cleanly on SIGTERM or Ctrl-C, committing what is waiting first.

    \b
    Example:
        HALLSENSE_DATA_DIR=/tmp/hall hallsense edge run --env examples/edge-simulated.env
    """
    # A stop asked for while the drivers are still starting (a slow BLE adapter, a part
    # that takes seconds to answer) is kept, and honoured as soon as the agent exists.
    stopping = threading.Event()
    agents: list[Agent] = []

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()
        for running in agents:
            running.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    settings = load_edge_settings(env_file)
    configure_logging(settings.log_level)
    try:
        lock = AgentLock(settings.data_dir).acquire()
    except AgentRunning as error:
        raise click.ClickException(str(error)) from error
    try:
        agent, _failures = build_edge_agent(settings)
        agents.append(agent)
        if stopping.is_set():
            agent.stop()
        try:
            agent.run()
        finally:
            agent.store.close()
    finally:
        lock.release()


@click.command()
@env_option
@user_errors
def web(env_file: Path | None) -> None:
    """Serve the hall's community page (read-only) until SIGTERM or Ctrl-C.

    It listens on HALLSENSE_WEB_HOST:HALLSENSE_WEB_PORT (every network, port 8080 by
    default; the systemd unit may grant port 80). It only reads the store that
    `hallsense edge run` writes.

    \b
    Example:
        hallsense edge web --env /etc/hallsense/edge.env
    """
    import waitress

    from hallsense.wiring_web import build_site
    from web_local.app import create_app

    settings = load_edge_settings(env_file)
    configure_logging(settings.log_level)
    app = create_app(build_site(settings))
    host, port = settings.web_host, settings.web_port
    try:
        # No version banner: waitress's Server header says only "hallsense".
        server = waitress.create_server(app, host=host, port=port, threads=4, ident="hallsense")
    except OSError as error:
        raise click.ClickException(
            f"cannot listen on {host}:{port}: {error.strerror or error} (is another "
            "`hallsense edge web` running? HALLSENSE_WEB_PORT chooses another port)"
        ) from error
    click.echo(f"serving {settings.hall_name}'s page on http://{host}:{port}/", err=True)
    if not settings.db_path.exists():
        click.echo(
            f"no store yet at {settings.db_path}: the page will show readings once "
            "`hallsense edge run` has started with these settings",
            err=True,
        )
    server.run()  # until SIGTERM or Ctrl-C


@click.command()
@env_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["pdf", "svg"]),
    default="pdf",
    show_default=True,
    help="PDF to print as it is; SVG to edit or print from a browser.",
)
@click.option(
    "--out",
    "output",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    default=None,
    help="Write to this file ('-' for standard output) [default: hall-poster.pdf or .svg].",
)
@click.option(
    "--url",
    default=None,
    help="The page's address [default: http://<this host's name>.local:<HALLSENSE_WEB_PORT>/].",
)
@click.option("--wifi", "wifi_name", default=None, help="The hall Wi-Fi's name, to print too.")
@user_errors
def poster(
    env_file: Path | None, fmt: str, output: Path | None, url: str | None, wifi_name: str | None
) -> None:
    """Make an A4 poster for the hall's wall: the page's address, spelt out and as a QR code.

    The hall's name comes from the settings (HALLSENSE_HALL_NAME). Print it at actual
    size, not "fit to page", so that the QR code stays at least 6 cm wide.

    \b
    Example:
        hallsense edge poster --env /etc/hallsense/edge.env --wifi "Askrigg Hall"
        hallsense edge poster --env /etc/hallsense/edge.env --format svg --out poster.svg
    """
    import socket

    from web_local.poster import build_poster, local_page_url

    settings = load_edge_settings(env_file)
    if url is None:
        try:
            url = local_page_url(socket.gethostname(), settings.web_port)
        except ValueError as error:
            raise click.ClickException(f"{error}; give the page's address with --url") from error
    try:
        document = build_poster(
            settings.hall_name,
            url,
            fmt="svg" if fmt == "svg" else "pdf",
            wifi_name=wifi_name,
            created=datetime.now(UTC),
        )
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    if output == Path("-"):
        sys.stdout.buffer.write(document)
        sys.stdout.flush()
        return
    destination = output if output is not None else Path(f"hall-poster.{fmt}")
    try:
        destination.write_bytes(document)
    except OSError as error:
        raise cannot_write(destination, error) from error
    click.echo(f"wrote the poster for {url} to {destination}", err=True)


@click.command()
@env_option
@click.option("--yes", is_flag=True, help="Do not ask; wipe at once.")
@user_errors
def wipe(env_file: Path | None, yes: bool) -> None:
    """Delete this node's readings, state and credentials, before it leaves the hall.

    Stop the agent first (systemctl stop hallsense-edge). The settings file stays, less
    any password written in it, so the node can be provisioned again.

    \b
    Example:
        hallsense edge wipe --env /etc/hallsense/edge.env
    """
    from hallsense.wipe import WipeFailed, wipe_node

    settings = load_edge_settings(env_file)
    if not yes:
        click.confirm(
            f"Delete every reading and credential of {settings.hall_name} in {settings.data_dir}?",
            abort=True,
        )
    try:
        report = wipe_node(settings, env_file)
    except (AgentRunning, WipeFailed) as error:
        raise click.ClickException(str(error)) from error
    for line in report.lines():
        click.echo(line)


def _status_settings(env_file: Path | None) -> EdgeSettings:
    settings = load_edge_settings(env_file)
    if not settings.db_path.exists():
        raise click.ClickException(
            f"no database at {settings.db_path} yet: has `hallsense edge run` started with "
            "these settings?"
        )
    return settings


@click.command()
@env_option
@json_option
@user_errors
def status(env_file: Path | None, as_json: bool) -> None:
    """Show what the node holds: readings, backlog for the hub, sensors, clock.

    \b
    Example:
        hallsense edge status --env /etc/hallsense/edge.env
        hallsense edge status --env /etc/hallsense/edge.env --json
    """
    settings = _status_settings(env_file)
    clock = edge_clock(settings)  # with the hub's time as the agent last had it
    sample = clock.sample()
    with open_edge_store(settings, readonly=True) as store:
        summary = node_status(
            store,
            hall_name=settings.hall_name,
            clock_synchronised=sample.synchronised,
            clock_description=clock.describe(sample),
        )
    if as_json:
        click.echo(json.dumps(summary.to_json(), indent=2))
    else:
        click.echo(format_status(summary, datetime.now(UTC)))


def parse_moment(text: str, zone: ZoneInfo, *, end: bool) -> datetime:
    """A date or date-time from the command line as an aware datetime.

    A date means the start of that local day (for ``--to``, the end of it); a date-time
    without an offset is the hall's local time.
    """
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        moment = datetime.combine(day, time(0), tzinfo=zone)
        if end:
            moment = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
        return moment.astimezone(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"expected a date like 2026-11-24 or a date-time like 2026-11-24T09:30, got {text!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def parse_range(start: str, end: str, timezone: str) -> tuple[datetime, datetime]:
    """``--from`` and ``--to`` as UTC datetimes [first, last), in the hall's ``timezone``.

    Raises:
        click.BadParameter: either is not a date or date-time, or ``--to`` is not later.
    """
    zone = ZoneInfo(timezone)
    first = parse_moment(start, zone, end=False)
    last = parse_moment(end, zone, end=True)
    if last <= first:
        raise click.BadParameter(f"--to ({end}) must come after --from ({start})")
    return first, last


@click.command()
@env_option
@date_range_options
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "senml"]), default="csv", show_default=True
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file instead of standard output.",
)
@user_errors
def export(env_file: Path | None, start: str, end: str, fmt: str, output: Path | None) -> None:
    """Export the raw readings of a date range as CSV or SenML JSON (RFC 8428).

    Dates are the hall's local days; times in the CSV carry their UTC offset.

    \b
    Example:
        hallsense edge export --env edge.env --from 2026-11-01 --to 2026-11-30 -o nov.csv
        hallsense edge export --env edge.env --from 2026-11-24 --to 2026-11-24 --format senml
    """
    settings = _status_settings(env_file)
    first, last = parse_range(start, end, settings.timezone)
    with open_edge_store(settings, readonly=True) as store:
        rows = store.readings_between(first, last)
        try:
            stream = (
                output.open("w", encoding="utf-8", newline="") if output is not None else sys.stdout
            )
        except OSError as error:
            raise cannot_write(output or Path("-"), error) from error
        try:
            if fmt == "csv":
                count = write_csv(rows, stream, timezone=settings.timezone)
            else:
                units = {name: metric.senml_unit for name, metric in METRICS.items()}
                count = write_senml(
                    rows,
                    stream,
                    base_name=f"urn:dev:hallsense:{store.store_epoch:x}:",
                    senml_units=units,
                )
        finally:
            if output is not None:
                stream.close()
    if output is not None:
        click.echo(f"wrote {count:,} readings to {output}", err=True)


@click.command()
@env_option
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=300.0,
    show_default=True,
    help="Give up after this many seconds.",
)
@user_errors
def drain(env_file: Path | None, timeout: float) -> None:
    """Send everything still waiting to the hub, then exit (the sensors stay stopped).

    Run it with the node's service stopped, e.g. before swapping its SD card. Exit status
    1 if readings are still waiting at the timeout.

    \b
    Example:
        systemctl stop hallsense-edge
        hallsense edge drain --env /etc/hallsense/edge.env
    """
    settings = _status_settings(env_file)
    configure_logging(settings.log_level)
    waiting = drain_to_hub(settings, timeout_s=timeout)
    if waiting:
        raise click.ClickException(
            f"{waiting:,} readings still wait for the hub after {timeout:g} s"
        )
    click.echo("every reading is at the hub")


@click.command()
@env_option
@click.argument("destination", type=click.Path(dir_okay=False, path_type=Path))
@user_errors
def backup(env_file: Path | None, destination: Path) -> None:
    """Copy the node's database safely while it runs (SQLite's backup API).

    \b
    Example:
        hallsense edge backup --env /etc/hallsense/edge.env /media/usb/hall-backup.db
    """
    settings = _status_settings(env_file)
    if destination.exists():
        raise click.ClickException(f"{destination} already exists; choose a new file name")
    if not destination.parent.is_dir():
        raise click.ClickException(
            f"cannot write {destination}: the directory {destination.parent} does not exist"
        )
    with open_edge_store(settings, readonly=True) as store:
        try:
            store.backup(destination)
        except sqlite3.Error as error:  # the destination cannot be opened (permissions)
            raise click.ClickException(f"cannot write {destination}: {error}") from error
    click.echo(f"backed up {settings.db_path} to {destination}")
