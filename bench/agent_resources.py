"""Resident memory and CPU of `hallsense edge run`, loaded and idle, beside a naive agent.

`edge run` is measured as deployed: `python -m hallsense edge run` (the CLI entry point a
node's service runs), with its uplink connected to a real Mosquitto on this machine.
"""

import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

MEASURE_S = float(os.environ.get("HALLSENSE_BENCH_SECONDS", "30"))
WARM_UP_S = 5.0
TICKS = os.sysconf("SC_CLK_TCK")

# A naive agent: one reading per sensor per second, each inserted and committed on its own,
# the way a first prototype would do it.
NAIVE_AGENT = textwrap.dedent(
    """
    import random, sqlite3, sys, time
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE IF NOT EXISTS r (t REAL, sensor TEXT, metric TEXT, v REAL)")
    while True:
        for i in range(10):
            conn.execute("INSERT INTO r VALUES (?, ?, ?, ?)",
                         (time.time(), f"s{i}", "temperature", random.random()))
        time.sleep(1)
    """
)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(
    command: list[str],
    env: dict[str, str],
    warm_up_s: float = WARM_UP_S,
    measure_s: float = MEASURE_S,
) -> tuple[float, float]:
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        time.sleep(warm_up_s)
        if proc.poll() is not None:
            raise RuntimeError(
                f"{command} exited: {proc.stderr.read().decode() if proc.stderr else ''}"
            )
        cpu_before = cpu_seconds(proc.pid)
        started = time.monotonic()
        time.sleep(measure_s)
        cpu = (cpu_seconds(proc.pid) - cpu_before) / (time.monotonic() - started)
        return rss_mb(proc.pid), cpu * 100
    finally:
        proc.terminate()
        proc.wait(15)
        if proc.stderr:
            proc.stderr.close()


def edge_env(directory: Path, interval_s: float, broker_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HALLSENSE_")}
    env.update(
        HALLSENSE_DEVICE_ID="askrigg",
        HALLSENSE_BROKER_HOST="127.0.0.1",
        HALLSENSE_BROKER_PORT=str(broker_port),
        HALLSENSE_BROKER_PASSWORD="node",
        HALLSENSE_DATA_DIR=str(directory),
        HALLSENSE_DRIVERS="simulated,system",
        HALLSENSE_SIMULATED_INTERVAL_S=str(interval_s),
        HALLSENSE_SYSTEM_INTERVAL_S=str(interval_s),
        HALLSENSE_LOG_LEVEL="WARNING",
    )
    return env


def main(measure_s: float = MEASURE_S, warm_up_s: float = WARM_UP_S) -> None:
    from bench.wire import new_broker

    edge = [sys.executable, "-m", "hallsense", "edge", "run"]
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        (root / "loaded").mkdir()
        (root / "idle").mkdir()
        broker = new_broker(root)
        try:
            loaded = measure(
                edge, edge_env(root / "loaded", 1.0, broker.port), warm_up_s, measure_s
            )
            idle = measure(edge, edge_env(root / "idle", 3600.0, broker.port), warm_up_s, measure_s)
        finally:
            broker.stop()
        naive = measure(
            [sys.executable, "-c", NAIVE_AGENT, str(root / "naive.db")],
            dict(os.environ),
            warm_up_s,
            measure_s,
        )
        sensors = _sensor_count(root / "loaded")
    print(f"\nAgent resources over {measure_s:g} s after a {warm_up_s:g} s warm-up")
    print(f"| {'process':<58} | {'RSS MB':>7} | {'% of a core':>11} |")
    print(f"| {'-' * 58} | {'-' * 6}:| {'-' * 10}:|")
    rows = [
        (f"hallsense edge run + uplink, {sensors} simulated sensors at 1/s", loaded),
        ("hallsense edge run + uplink, idle (drivers due hourly)", idle),
        ("naive agent: 10 readings/s, one commit per reading", naive),
    ]
    for label, (rss, cpu) in rows:
        print(f"| {label:<58} | {rss:>7.1f} | {cpu:>11.2f} |")
    goals = [
        ("RSS under 40 MB", loaded[0] < 40),
        ("under 2 % of a core at load", loaded[1] < 2),
        ("under 1 % idle", idle[1] < 1),
    ]
    print("\nGoals: " + "; ".join(f"{name}: {'met' if ok else 'MISSED'}" for name, ok in goals))


def _sensor_count(directory: Path) -> int:
    from edge.store import EdgeStore

    with EdgeStore(directory / "hallsense.db", readonly=True) as store:
        return len(store.latest())
