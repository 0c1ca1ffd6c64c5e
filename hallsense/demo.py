"""``hallsense demo``: a simulated village-hall node on this machine, showing its status."""

from __future__ import annotations

import signal
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import click

from edge.agent import Agent
from edge.settings import EdgeSettings
from edge.status import format_status, node_status
from hallsense.logs import configure_logging
from hallsense.wiring import build_edge_agent, edge_clock


@click.command()
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the demo node's database here (default: a temporary directory, removed at the end).",
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
    help="Seconds between status reports.",
)
@click.option(
    "--clock-check",
    type=click.Choice(["auto", "adjtimex", "timesyncd", "trust"]),
    default="auto",
    show_default=True,
    help="How the demo node decides whether this machine's clock is synchronised.",
)
def demo(data_dir: Path | None, duration: float | None, every: float, clock_check: str) -> None:
    """Run a simulated village-hall node and print its status every few seconds.

    The node reads simulated temperature, humidity, CO2, particulates, noise and footfall
    (one reading of each per second) and this machine's own health, and keeps them in a
    SQLite store, exactly as a node in a hall does. Stop it with Ctrl-C.

    \b
    Example:
        hallsense demo
        hallsense demo --duration 30 --data-dir /tmp/hall-demo
    """
    configure_logging("WARNING")
    with tempfile.TemporaryDirectory(prefix="hallsense-demo-") as scratch:
        directory = data_dir if data_dir is not None else Path(scratch)
        settings = EdgeSettings(
            data_dir=directory,
            hall_name="Demo Village Hall",
            drivers=("simulated", "system"),
            simulated_interval_s=1.0,
            system_interval_s=10.0,
            clock_check=clock_check,  # type: ignore[arg-type]
        )
        agent, _ = build_edge_agent(settings)

        def stop(signum: int, frame: FrameType | None) -> None:
            agent.stop_event.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        click.echo(f"Demo node writing to {settings.db_path}; Ctrl-C to stop.\n")
        started = time.monotonic()
        agent.start()
        try:
            next_report = started + min(every, 3.0)
            while not agent.stop_event.is_set():
                agent.tick()
                now = time.monotonic()
                if now >= next_report:
                    _report(agent, settings)
                    next_report = now + every
                if duration is not None and now - started >= duration:
                    break
                agent.stop_event.wait(0.2)
        finally:
            agent.shutdown()
            _report(agent, settings)
            agent.store.close()
        click.echo("\nDemo stopped; every reading was committed before exit.")


def _report(agent: Agent, settings: EdgeSettings) -> None:
    store = agent.store
    clock = edge_clock(settings)
    sample = clock.sample()
    summary = node_status(
        store,
        hall_name=settings.hall_name,
        clock_synchronised=sample.synchronised,
        clock_description=clock.describe(sample),
    )
    click.echo(format_status(summary, datetime.now(UTC)))
    click.echo("")
