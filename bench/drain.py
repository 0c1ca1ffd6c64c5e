"""A deployed node's backlog drain (issue #18): `edge run` with its defaults, to `hub run`.

Everything runs as deployed: a real Mosquitto, `hallsense hub run` as its own process (per-device
quotas off, so the hub's quota does not pace the one node measured), and `hallsense edge run`
as its own process with the default settings, its store holding a backlog of ``total``
readings when it starts. The rate is taken from the hub's store: readings stored after the
first one arrived, over the time until the last one did.

Beside it, in the same run, the old behaviour: the same node with its uplink not woken by
acks (``attach_wake`` made a no-op: one batch per agent pass, as before issue #18).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.wire import hall_day, new_broker
from edge.clock import ClockSample
from edge.layout import DataDir
from edge.store import EdgeStore
from hub.store_sqlite import SqliteHubStore
from sensors.reading import Reading
from tests.support.broker import Broker

TOTAL = int(os.environ.get("HALLSENSE_BENCH_DRAIN_READINGS", "100000"))
ROUNDS = int(os.environ.get("HALLSENSE_BENCH_ROUNDS", "3"))
GOAL_PER_S = 50_000

TICK_DRIVEN = (
    "import sys, hub_sync.uplink as u\n"
    "u.Uplink.attach_wake = lambda self, wake: None  # before issue #18: no wake on an ack\n"
    "u.DRAIN_BATCH_FACTOR = 1  # nor larger batches for a backlog\n"
    "from hallsense.cli import cli\n"
    "cli(sys.argv[1:], prog_name='hallsense')\n"
)


def fill_backlog(data_dir: Path, total: int) -> None:
    """An edge store holding ``total`` unacknowledged readings (a hall's days offline)."""
    start = datetime.now(UTC) - timedelta(days=3)
    day = hall_day()
    readings = [
        Reading(w.sensor_id, w.metric, w.value, w.unit, start + timedelta(microseconds=i * 1000))
        for i, w in ((i, day[i % len(day)]) for i in range(total))
    ]
    data_dir.mkdir(parents=True)
    with EdgeStore(DataDir(data_dir).db) as edge:
        for i in range(0, total, 5000):
            edge.append(readings[i : i + 5000], ClockSample(datetime.now(UTC), 1, True, "b"))


def _env(path: Path, **settings: object) -> Path:
    path.write_text("".join(f"HALLSENSE_{k.upper()}={v}\n" for k, v in settings.items()))
    return path


def _hub_count(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return int(conn.execute("SELECT count(*) FROM readings").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def drain(
    directory: Path, broker: Broker, total: int, *, tick_driven: bool = False, **uplink: object
) -> float:
    """Readings/s of one `edge run` draining ``total`` readings to a fresh `hub run`."""
    directory.mkdir(parents=True)
    hub_db = directory / "hub.db"
    store = SqliteHubStore(hub_db)
    store.add_device("askrigg", "Askrigg")
    store.close()
    hub_env = _env(
        directory / "hub.env",
        hub_store=hub_db,
        broker_host="127.0.0.1",
        broker_port=broker.port,
        broker_password="hub",
        log_level="WARNING",
        quota_messages_per_minute=0,
        quota_bytes_per_minute=0,
        quota_readings_per_minute=0,
    )
    fill_backlog(directory / "node", total)
    edge_env = _env(
        directory / "edge.env",
        data_dir=directory / "node",
        drivers="system",
        system_interval_s=3600,
        clock_check="trust",
        device_id="askrigg",
        broker_host="127.0.0.1",
        broker_port=broker.port,
        broker_password="node",
        log_level="WARNING",
        **{f"uplink_{k}": v for k, v in uplink.items()},
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HALLSENSE_")}
    python = (
        [sys.executable, "-c", TICK_DRIVEN] if tick_driven else [sys.executable, "-m", "hallsense"]
    )
    with (directory / "hub.log").open("ab") as hub_log, (directory / "edge.log").open("ab") as log:
        hub = subprocess.Popen(
            [sys.executable, "-m", "hallsense", "hub", "run", "--env", str(hub_env)],
            env=env,
            stdout=hub_log,
            stderr=hub_log,
        )
        edge = subprocess.Popen(
            [*python, "edge", "run", "--env", str(edge_env)], env=env, stdout=log, stderr=log
        )
    try:
        first: tuple[float, int] | None = None
        deadline = time.monotonic() + 120 + total / 1000
        while True:
            count = _hub_count(hub_db)
            now = time.perf_counter()
            if first is None and count:
                first = (now, count)
            if count >= total:
                break
            for proc, name in ((hub, "hub"), (edge, "edge")):
                if proc.poll() is not None:
                    log_text = (directory / f"{name}.log").read_text(errors="replace")
                    raise RuntimeError(f"{name} run exited:\n{log_text[-3000:]}")
            if time.monotonic() > deadline:
                logs = "\n".join(
                    (directory / f"{name}.log").read_text(errors="replace")[-1500:]
                    for name in ("hub", "edge")
                )
                raise RuntimeError(f"the drain stalled: {count:,} of {total:,} at the hub\n{logs}")
            time.sleep(0.01)
        if first is None:  # the first poll already saw every reading: too small to time
            return float("nan")
        return (count - first[1]) / max(now - first[0], 1e-6)
    finally:
        for proc in (edge, hub):
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def rows(total: int, rounds: int = ROUNDS) -> list[tuple[str, float]]:
    """(pipeline, best readings/s of ``rounds``) now and before issue #18, taken in turn."""
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        broker = new_broker(root)
        tick: list[float] = []
        ack: list[float] = []
        try:
            for n in range(rounds):
                tick.append(drain(root / f"tick{n}", broker, total, tick_driven=True))
                ack.append(drain(root / f"ack{n}", broker, total))
        finally:
            broker.stop()
    return [
        ("edge run, defaults, tick-driven (before #18)", max(tick)),
        ("edge run, defaults, ack-driven", max(ack)),
    ]


def main() -> None:
    """Print the drain table: readings/s for each pipeline, and the goal."""
    total = TOTAL
    table = rows(total)
    print(
        f"\nA deployed node's drain: {total:,} readings, `edge run` to `hub run` (quotas off), "
        f"best of {ROUNDS}"
    )
    print(f"| {'node':<46} | {'readings/s':>10} |")
    print(f"| {'-' * 46} | {'-' * 9}: |")
    for label, rate in table:
        print(f"| {label:<46} | {rate:>10,.0f} |")
    met = table[-1][1] >= GOAL_PER_S
    print(f"\nGoal at least {GOAL_PER_S:,} readings/s: {'met' if met else 'MISSED'}")
