"""``hallsense demo``: a broker, the hub and three simulated halls on this machine."""

from __future__ import annotations

import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path
from types import FrameType

import click

from hallsense.demo_stack import DemoFailed, DemoStack
from hallsense.logs import configure_logging
from provisioning.state import StateError

CHECK_S = 0.5
"""How often the demo looks for a process that stopped, between its reports."""


@click.command()
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep everything (databases, settings, logs) here; default: a temporary "
    "directory, removed at the end. Afterwards `hallsense hub status --env DIR/hub.env` "
    "shows the hub.",
)
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Stop after this many seconds (default: run until Ctrl-C).",
)
@click.option(
    "--every",
    type=click.FloatRange(min=0.5),
    default=5.0,
    show_default=True,
    help="Seconds between the reports of the hub's view.",
)
@click.option(
    "--clock-check",
    type=click.Choice(["auto", "adjtimex", "timesyncd", "trust"]),
    default="trust",
    show_default=True,
    help="How the demo nodes judge this machine's clock (trust: as a laptop's is).",
)
def demo(data_dir: Path | None, duration: float | None, every: float, clock_check: str) -> None:
    """Run a whole hallsense on this machine and show that no reading is lost.

    Starts Mosquitto on a free port with freshly generated passwords, one hub ingestion
    worker with a SQLite hub store, and three simulated village halls, each reading its
    sensors every second and sending them to the hub. When it stops (Ctrl-C or
    --duration) the sensors stop, every hall drains to the hub, and a line per hall
    compares the readings it produced (all its sensors') with what the hub stored.

    \b
    Example:
        hallsense demo
        hallsense demo --duration 30 --data-dir /tmp/hallsense-demo
    """
    configure_logging("WARNING")
    if shutil.which("mosquitto") is None:
        raise click.ClickException(
            "the demo needs Mosquitto, which is not installed: scripts/setup installs it "
            "(or apt-get install mosquitto)"
        )
    with tempfile.TemporaryDirectory(prefix="hallsense-demo-") as scratch:
        directory = data_dir if data_dir is not None else Path(scratch)
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        stack = DemoStack(directory, clock_check=clock_check)
        click.echo(
            f"Provisioning a TLS broker, the hub and three halls (each enrolling with a "
            f"one-time token) in {directory} …"
        )
        try:
            try:
                stack.start()
            except (DemoFailed, StateError) as error:
                raise click.ClickException(str(error)) from error
            started = time.monotonic()
            click.echo(
                f"The hub: {stack.hub_url} (TLS with the demo's own CA, {stack.hub_ca}: "
                "your browser will warn). Make the first account at "
                f"{stack.hub_url}setup with the one-time set-up code {stack.setup_code}; "
                "the fleet page then shows the three halls."
            )
            click.echo("Each hall's community page (opens once its first readings are in):")
            for name, url in stack.page_urls():
                click.echo(f"  {name}: {url}")
            click.echo("Running; Ctrl-C to stop.\n")
            report_at = started + every
            while not stop.wait(CHECK_S):
                dead = stack.dead()
                if dead:
                    raise click.ClickException(
                        f"{', '.join(dead)} stopped unexpectedly; see its log in {directory}"
                    )
                now = time.monotonic()
                done = duration is not None and now - started >= duration
                if now >= report_at or done:
                    click.echo(f"after {now - started:.0f} s:\n{stack.hub_table()}\n")
                    report_at = now + every
                if done:
                    break
            waiting = stack.unenrolled()
            if waiting:
                click.echo(f"Waiting for {', '.join(waiting)} to finish enrolling with the hub …")
            click.echo("Stopping the sensors and letting every hall drain to the hub …")
            summaries = stack.finish()
        except BaseException:
            stack.stop_all()
            raise
        for summary in summaries:
            click.echo(summary.line())
        total = (
            sum(s.produced for s in summaries),
            sum(s.stored for s in summaries),
            sum(s.missing for s in summaries),
            sum(s.duplicated for s in summaries),
        )
        click.echo(
            f"all halls: {total[0]:,} produced, {total[1]:,} stored at the hub, "
            f"{total[2]:,} missing, {total[3]:,} duplicated"
        )
