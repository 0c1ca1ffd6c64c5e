"""A fleet of 1,000 to 10,000 live halls against one broker and one hub, on this machine.

For each size and hub store: a provisioned broker, hub store and ``hallsense hub run``
(:mod:`bench.fleet_stack`), and the halls, real MQTT 5 clients over TLS with accounts of
their own, in a few processes (:mod:`bench.fleet_halls`). 2 % of the halls start a day
behind (7,200 readings each to drain) and 5 % are on a bad link that drops every 2 to 6
minutes. Then, in order:

1. **Connect**: the halls connect over a ramp of ``halls / 500`` seconds; the time until
   every one is connected.
2. **Settle** for a minute (the backlogs drain), then **steady state** for ``--steady-s``:
   the ingest lag of every live reading acknowledged in it (taken at the hall → the
   hub's ack back at the hall, which the hub sends only after its commit: an upper bound
   on the time to commit), p50 and p99; the CPU each part used, as a share of one core
   per 1,000 halls, and its memory; meanwhile the fleet page and ``/metrics`` are fetched
   (p95, the hub web app served in this process, as ``hub web`` serves it) and the alert
   check is run on the live fleet (:class:`hub.alerting.AlertMonitor`, the state in the
   hub store).
3. **Broker restart**: Mosquitto stopped (SIGTERM) and started again after 5 s; every
   hall and the hub reconnect by themselves. The time from the broker's return until
   every hall is connected, and until every reading taken before its return has been
   acknowledged (the fleet caught up).

Goals (issue #20), at 10,000 halls: p99 ingest lag under 5 s in steady state, caught up
within 2 minutes of the broker's restart. The naive baseline, in the same run, is a second
restart after the halls have turned to paho's default back-off with no jitter (1 s
doubling to 120 s, every hall at the same instants), as MqttClient would reconnect
without :meth:`hub_sync.mqtt.MqttClient._jitter_reconnects`.
Run from the repository root (about 4 minutes a size)::

    .venv/bin/python -m bench fleet [--halls 1000,5000,10000] [--store sqlite,postgres]
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import random
import resource
import statistics
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bench import fleet_halls
from bench.fleet_halls import HallPlan, HallStats, Target, run_halls
from bench.fleet_stack import FleetStack, cpu_s, hub_location, rss_mb
from bench.hub_data import bench_app, served, team_headers, timed
from hub.alert_state import StoredAlertState
from hub.alerting import AlertMonitor, Notice
from hub.store_factory import open_hub_store

BACKLOG_SHARE = 0.02
BACKLOG_MINUTES = 24 * 60
BAD_LINK_SHARE = 0.05
HALLS_PER_PROCESS = 2500
RAMP_PER_S = 500
SETTLE_S = 60.0
OUTAGE_S = 5.0
CATCH_UP_CAP_S = 300.0
LAG_GOAL_S = 5.0
CATCH_UP_GOAL_S = 120.0


@dataclass
class FleetResult:
    """One size's figures (times in seconds, CPU as a share of one core)."""

    halls: int
    store: str
    connect_s: float
    readings_per_s: float
    lag_p50_s: float
    lag_p99_s: float
    broker_cpu: float
    broker_mb: float
    hub_cpu: float
    hub_mb: float
    postgres_cpu: float | None
    halls_cpu: float
    hall_kb: float
    fleet_p95_ms: float
    metrics_p95_ms: float
    alerts_ms: float
    reconnect_s: float
    caught_up_s: float
    naive_reconnect_s: float
    naive_caught_up_s: float
    taken: int = 0
    """Readings the halls took, backlogs included."""
    acked: int = 0
    """Of those, the ones the hub acknowledged by the end."""


def plans(halls: int, passwords: dict[str, str], rng: random.Random) -> list[HallPlan]:
    """Every hall's plan: its second of the minute, a backlog for some, a bad link for some."""
    out = []
    for device_id in sorted(passwords):
        out.append(
            HallPlan(
                device_id,
                passwords[device_id],
                phase=rng.random(),
                backlog_minutes=BACKLOG_MINUTES if rng.random() < BACKLOG_SHARE else 0,
                bad_link=rng.random() < BAD_LINK_SHARE,
            )
        )
    return out


class HallProcesses:
    """The processes of virtual halls, and the questions put to them."""

    def __init__(
        self,
        every: Sequence[HallPlan],
        target: Target,
        ramp_s: float,
        read_every_s: float = fleet_halls.READ_EVERY_S,
    ) -> None:
        context = multiprocessing.get_context("spawn")
        count = max(1, math.ceil(len(every) / HALLS_PER_PROCESS))
        self.pipes: list[Connection] = []
        self.procs: list[Any] = []
        for n in range(count):
            mine, theirs = context.Pipe()
            proc = context.Process(
                target=run_halls,
                args=(every[n::count], target, theirs, ramp_s, read_every_s),
                daemon=True,
            )
            proc.start()
            self.pipes.append(mine)
            self.procs.append(proc)
        for pipe in self.pipes:
            if not pipe.poll(120):
                raise RuntimeError("a process of halls did not start")
            pipe.recv()

    def stats(self, *, reset: bool = False) -> list[HallStats]:
        """Each process's figures (``reset``: start a new window of lags)."""
        for pipe in self.pipes:
            pipe.send(("stats", reset))
        return [pipe.recv() for pipe in self.pipes]

    def naive(self) -> None:
        """From now on, reconnect as the naive baseline does (no jitter)."""
        for pipe in self.pipes:
            pipe.send(("jitter", False))
        for pipe in self.pipes:
            pipe.recv()

    def stop(self) -> None:
        """Disconnect every hall and end the processes."""
        for pipe in self.pipes:
            try:
                pipe.send(("stop",))
                pipe.poll(30)
            except (OSError, EOFError):
                pass
        for proc in self.procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()


def _connected(stats: list[HallStats]) -> int:
    return sum(s.connected for s in stats)


def _percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)] if ordered else math.nan


def wait_until(halls: HallProcesses, done: Any, cap_s: float) -> tuple[float, list[HallStats]]:
    """Seconds until ``done(stats)`` holds (polled every half second), and the stats then."""
    started = time.monotonic()
    while True:
        stats = halls.stats()
        if done(stats):
            return time.monotonic() - started, stats
        if time.monotonic() - started > cap_s:
            return math.inf, stats
        time.sleep(0.5)


class _Counted:
    name = "bench"

    def __init__(self) -> None:
        self.sent = 0

    def send(self, notice: Notice) -> None:
        self.sent += 1


class WebProbe:
    """The fleet page, ``/metrics`` and the alert check, timed on the live hub store."""

    def __init__(self, location: str) -> None:
        self.location = location
        store = open_hub_store(location)
        try:
            self.headers = team_headers(store)
        finally:
            store.close()
        self._tokens = tempfile.TemporaryDirectory()
        self.app = bench_app(lambda: open_hub_store(location), Path(self._tokens.name))
        self.monitor = AlertMonitor(
            StoredAlertState(lambda: open_hub_store(location)), [_Counted()]
        )
        self.fleet_ms: list[float] = []
        self.metrics_ms: list[float] = []
        self.alerts_ms: list[float] = []

    def sample(self, base: str, stop: threading.Event, every_s: float = 2.0) -> None:
        """Fetch both pages and run one alert round every ``every_s`` until ``stop``."""
        while not stop.wait(every_s):
            self.fleet_ms.append(timed(base + "/fleet", self.headers)[0])
            self.metrics_ms.append(timed(base + "/metrics", self.headers)[0])
            started = time.perf_counter()
            store = open_hub_store(self.location)
            try:
                self.monitor.round(store.fleet(), time.time_ns() // 1000)
            finally:
                store.close()
            self.alerts_ms.append((time.perf_counter() - started) * 1000)

    def close(self) -> None:
        self._tokens.cleanup()


def run_fleet(
    size: int,
    store_kind: str,
    steady_s: float,
    *,
    settle_s: float = SETTLE_S,
    outage_s: float = OUTAGE_S,
    read_every_s: float = fleet_halls.READ_EVERY_S,
    seed: int = 20,
    scratch: Path | None = None,
) -> FleetResult:
    """One size on one hub store, from nothing to the broker's restart and back.

    ``scratch`` keeps the files (a SQLite hub store among them) for a test to read after.
    """
    rng = random.Random(seed)
    with (
        tempfile.TemporaryDirectory() as scratch_name,
        hub_location(store_kind, scratch or Path(scratch_name)) as (location, postgres_pid),
    ):
        scratch = scratch or Path(scratch_name)
        device_ids = [f"hall-{n:05d}" for n in range(size)]
        stack = FleetStack.provision(scratch, device_ids, location)
        halls: HallProcesses | None = None
        probe = WebProbe(location)
        try:
            stack.start_broker()
            stack.start_hub()
            ramp_s = size / RAMP_PER_S
            every = plans(size, stack.passwords, rng)
            halls = HallProcesses(every, stack.target, ramp_s, read_every_s)
            connect_s, _ = wait_until(halls, lambda s: _connected(s) == size, 120 + ramp_s)
            time.sleep(settle_s)
            result = _steady(stack, halls, probe, steady_s, postgres_pid, size)
            reconnect_s, caught_s = restart_broker(stack, halls, size, outage_s)
            halls.naive()
            naive_reconnect_s, naive_caught_s = restart_broker(stack, halls, size, outage_s)
            final = halls.stats()
            backlog = sum(plan.backlog_minutes for plan in every) * len(fleet_halls.SENSORS)
            drained = backlog - sum(s.backlog_left for s in final)
            return FleetResult(
                size,
                store_kind,
                connect_s,
                **result,
                reconnect_s=reconnect_s,
                caught_up_s=caught_s,
                naive_reconnect_s=naive_reconnect_s,
                naive_caught_up_s=naive_caught_s,
                taken=sum(s.taken for s in final) + backlog,
                acked=sum(s.acked for s in final) + drained,
            )
        finally:
            if halls is not None:
                halls.stop()
            stack.stop()
            probe.close()


def restart_broker(
    stack: FleetStack, halls: HallProcesses, size: int, outage_s: float
) -> tuple[float, float]:
    """Stop the broker, start it again after ``outage_s``; (s until every hall is connected,
    s until every reading taken before it came back is acknowledged)."""
    stack.stop_broker()
    time.sleep(outage_s)
    stack.start_broker()
    back = time.time()
    reconnect_s, _ = wait_until(halls, lambda s: _connected(s) == size, CATCH_UP_CAP_S)

    def caught_up(stats: list[HallStats]) -> bool:
        return all(s.oldest_unacked is None or s.oldest_unacked >= back for s in stats)

    caught_s, _ = wait_until(halls, caught_up, max(0.0, CATCH_UP_CAP_S - (time.time() - back)))
    return reconnect_s, time.time() - back if math.isfinite(caught_s) else math.inf


def _steady(
    stack: FleetStack,
    halls: HallProcesses,
    probe: WebProbe,
    steady_s: float,
    postgres_pid: int | None,
    size: int,
) -> dict[str, Any]:
    if stack.broker is None or stack.hub is None or stack.hub.proc is None:
        raise RuntimeError("the broker and the hub must run")
    broker_pid, hub_pid = stack.broker.pid, stack.hub.proc.pid
    before = halls.stats(reset=True)
    broker_before, hub_before = cpu_s(broker_pid), cpu_s(hub_pid)
    postgres_before = cpu_s(postgres_pid, children=True) if postgres_pid is not None else 0.0
    started = time.monotonic()
    stop = threading.Event()
    with served(probe.app) as base:
        sampler = threading.Thread(target=probe.sample, args=(base, stop), daemon=True)
        sampler.start()
        time.sleep(steady_s)
        stop.set()
        sampler.join(60)
    after = halls.stats(reset=True)
    elapsed = time.monotonic() - started
    per_1k_core = 1000 / size / elapsed
    lags = [lag for s in after for lag in s.lags]
    halls_cpu = sum(a.cpu_s - b.cpu_s for a, b in zip(after, before, strict=True))
    postgres_cpu = None
    if postgres_pid is not None:
        postgres_cpu = (cpu_s(postgres_pid, children=True) - postgres_before) * per_1k_core
    return {
        "readings_per_s": len(lags) / elapsed,
        "lag_p50_s": statistics.median(lags) if lags else math.nan,
        "lag_p99_s": _percentile(lags, 0.99),
        "broker_cpu": (cpu_s(broker_pid) - broker_before) * per_1k_core,
        "broker_mb": rss_mb(broker_pid) * 1000 / size,
        "hub_cpu": (cpu_s(hub_pid) - hub_before) * per_1k_core,
        "hub_mb": rss_mb(hub_pid),
        "postgres_cpu": postgres_cpu,
        "halls_cpu": halls_cpu * per_1k_core,
        "hall_kb": sum(s.rss_kb for s in after) / size,
        "fleet_p95_ms": _percentile(probe.fleet_ms, 0.95),
        "metrics_p95_ms": _percentile(probe.metrics_ms, 0.95),
        "alerts_ms": _percentile(probe.alerts_ms, 0.95),
    }


def print_table(results: Sequence[FleetResult], steady_s: float) -> None:
    """The fleet table, and whether the goals were met at the largest size."""
    print(f"\nA live fleet on this machine: steady state {steady_s:.0f} s, then a broker restart")
    head = (
        "| halls | store | connect s | readings/s | lag p50 s | lag p99 s | broker core/1k "
        "| broker MB/1k | hub core/1k | hub MB | PostgreSQL core/1k | halls core/1k | KB/hall "
        "| fleet p95 ms | /metrics p95 ms | alerts p95 ms | reconnected s | caught up s "
        "| naive: reconnected s | naive: caught up s |"
    )
    print(head)
    print("|" + "|".join("---:" for _ in range(head.count("|") - 1)) + "|")
    for r in results:
        pg = f"{r.postgres_cpu:.1%}" if r.postgres_cpu is not None else "-"
        print(
            f"| {r.halls:,} | {r.store} | {r.connect_s:.1f} | {r.readings_per_s:,.0f} "
            f"| {r.lag_p50_s:.2f} | {r.lag_p99_s:.2f} | {r.broker_cpu:.1%} | {r.broker_mb:.1f} "
            f"| {r.hub_cpu:.1%} | {r.hub_mb:.0f} | {pg} | {r.halls_cpu:.1%} | {r.hall_kb:.0f} "
            f"| {r.fleet_p95_ms:.0f} | {r.metrics_p95_ms:.0f} | {r.alerts_ms:.0f} "
            f"| {r.reconnect_s:.1f} | {r.caught_up_s:.1f} "
            f"| {r.naive_reconnect_s:.1f} | {r.naive_caught_up_s:.1f} |"
        )
    for r in results:
        if r.halls == max(x.halls for x in results):
            lag = "met" if r.lag_p99_s < LAG_GOAL_S else "MISSED"
            caught = "met" if r.caught_up_s < CATCH_UP_GOAL_S else "MISSED"
            print(
                f"{r.halls:,} halls, {r.store}: p99 lag under {LAG_GOAL_S:.0f} s {lag}; "
                f"caught up within {CATCH_UP_GOAL_S:.0f} s of the restart {caught}"
            )


def main(argv: Sequence[str] = ()) -> None:
    """Run the sizes and stores asked for and print the table."""
    parser = argparse.ArgumentParser(prog="python -m bench fleet")
    parser.add_argument(
        "--halls", default="1000,5000,10000", help="fleet sizes, comma-separated (%(default)s)"
    )
    parser.add_argument(
        "--store", default="sqlite,postgres", help="hub stores, comma-separated (%(default)s)"
    )
    parser.add_argument(
        "--steady-s",
        type=float,
        default=120.0,
        help="seconds of steady operation measured at each size (%(default)s)",
    )
    args = parser.parse_args(list(argv))
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # Mosquitto inherits it
    results = []
    for store in args.store.split(","):
        for size in (int(n) for n in args.halls.split(",")):
            results.append(run_fleet(size, store, args.steady_s))
            print_table(results[-1:], args.steady_s)
    print_table(results, args.steady_s)
