"""Honest ingest while one device floods at its quotas, as a share of the rate without it.

A real Mosquitto (the configuration hallsense generates) and a real ``hallsense hub run``
(its own process, default two writers and quotas, SQLite hub store), started once it
acknowledges a probe batch. Four honest devices publish batches of 1,000 readings of a
simulated hall, each keeping a window of 4 unacknowledged batches as the uplink does,
until all 200,000 are acknowledged (or CAP_S has passed); their rate is readings
acknowledged a second. Meanwhile a fifth, enrolled device floods from a process of its
own, every message built before it starts.

The headline: that device floods *at* its quotas. A token bucket per quota in its own
process (messages, bytes and readings a minute, the hub's defaults) paces it at exactly
the binding quota's rate, with the costliest content the quotas let through: batches of
10,000 new readings (its own increasing seqs, on four series), each decoded and stored,
and one message in ten malformed. Other rows: malformed messages filling what the
messages quota leaves; batches at the messages quota, past the readings quota; the
naive baseline, the device flooding as fast as the broker takes its messages with
quotas off, as before there were quotas; and that unpaced flood with the quotas on.

Every scenario runs ROUNDS times, taken in turn; the best of each is shown. Goal: the
honest rate with the at-quota flood at least 90 % of the rate without. Run from the
repository root (about 5 minutes)::

    .venv/bin/python -m bench hostile
"""

from __future__ import annotations

import math
import multiprocessing
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

from bench.wire import hall_day
from hub.quotas import QUOTA_BYTES, QUOTA_MESSAGES, QUOTA_READINGS
from hub.settings import HubSettings
from hub.store_factory import open_hub_store
from hub_sync.acks import decode_ack
from hub_sync.batch_codec import Batch, WireReading, encode_batch
from hub_sync.mqtt import BrokerSettings, Delivery, MqttClient, MqttError
from hub_sync.topics import topic
from provisioning.broker_config import HUB_ACCOUNT
from tests.support.broker import Broker
from tests.support.hostile import hostile_flood, hostile_stream

HONEST = ("askrigg", "bainbridge", "carperby", "dent")
HOSTILE = "mallory"
PROBE = "probe"
"""Its batch of one reading, acknowledged, says the hub has started and subscribed."""
PASSWORDS = {
    HUB_ACCOUNT: "hub",
    HOSTILE: "hostile",
    PROBE: "probe",
    **dict.fromkeys(HONEST, "honest"),
}
READINGS = 200_000
"""Readings each honest device sends: within the minute's worth its own quota allows at once."""
BATCH = 1_000
WINDOW = 4
FLOOD_BATCH = 10_000
FLOOD_SERIES = 4
BAD_EVERY = 10
"""One flood message in this many is malformed."""
UNPACED_CYCLE = 40
"""Distinct messages the unpaced flood sends round and round (repeats are duplicates)."""
FLOOD_LEAD_S = 1.0
"""The flood starts this long before the honest devices do."""
CAP_S = 10.0
"""An honest device stops after this long, acknowledged or not (the unpaced floods need it)."""
ROUNDS = int(os.environ.get("HALLSENSE_BENCH_ROUNDS", "3"))
"""Runs of each scenario, taken in turn; the best of each is shown."""
GOAL = 0.90
QUOTAS = ("messages", "bytes", "readings")
"""The per-minute quotas, ``HALLSENSE_QUOTA_<NAME>_PER_MINUTE``."""


def default_quotas() -> dict[str, int]:
    """The hub's default quotas a minute, by name (a quota the hub lacks is left out)."""
    defaults = HubSettings(hub_store="")
    return {
        name: int(getattr(defaults, f"quota_{name}_per_minute"))
        for name in QUOTAS
        if hasattr(defaults, f"quota_{name}_per_minute")
    }


@dataclass(frozen=True)
class Scenario:
    """One way of running: whether and how the hostile device floods, and the hub's quotas."""

    label: str
    flood: str = ""
    """"": none; "quota": paced at its quotas; "quota-fill": likewise, malformed messages
    filling the messages quota the batches leave; "messages": paced at its messages and
    bytes quotas only, so past its readings quota; "unpaced": as fast as the broker takes."""
    quotas_off: bool = False
    lead_s: float = FLOOD_LEAD_S
    """How long the flood runs before the honest devices start."""


SCENARIOS = (
    Scenario("no flood"),
    Scenario("flood at its quotas", "quota"),
    Scenario("flood at its quotas, malformed filling the messages quota", "quota-fill"),
    # Past the readings quota the hub's bucket first lets a minute's worth through at
    # once; the honest devices start once it has, to measure the flood as it goes on.
    Scenario("flood at its messages quota, past its readings quota", "messages", lead_s=5.0),
    Scenario("naive: unpaced flood, quotas off", "unpaced", quotas_off=True),
    Scenario("unpaced flood, quotas on", "unpaced"),
)
HEADLINE = SCENARIOS[1].label


@dataclass
class Run:
    """One run: the honest rate, and what became of the hostile device's messages."""

    label: str
    honest_per_s: float
    messages_per_s: float = 0.0
    """The hostile device's messages sent a second, first to last (NaN: it flooded, but
    sent too few messages in the run to have a rate)."""
    readings_per_s: float = 0.0
    """Readings in its valid batches sent a second (repeats of the unpaced cycle included)."""
    unread: int = 0
    """Its messages the hub turned away unread: over the messages or bytes quota."""
    waited: int = 0
    """Its batches the hub decoded and then answered "wait": over the readings quota."""
    rejected: int = 0
    hostile_stored: int = 0


@cache
def the_day() -> tuple[WireReading, ...]:
    """The simulated hall day of ``bench.wire``, made once: it takes about a second."""
    return tuple(hall_day())


@cache
def honest_payloads(device: str, count: int = READINGS) -> list[tuple[int, bytes]]:
    """(first seq, payload) of every batch one honest device sends: ``count`` readings, a
    multiple of BATCH (an acknowledged batch counts as BATCH readings)."""
    day = the_day()
    readings = [replace(day[i % len(day)], seq=i + 1) for i in range(count)]
    return [
        (first + 1, encode_batch(Batch(device, 7, tuple(readings[first : first + BATCH]))))
        for first in range(0, count, BATCH)
    ]


def send_honest(
    port: int, device: str, payloads: list[tuple[int, bytes]], cap_s: float = CAP_S
) -> tuple[int, float]:
    """Publish every batch with a window of WINDOW, resending after 5 s, for at most ``cap_s``.

    Returns the readings the hub acknowledged and the seconds it took.
    """
    acked: set[int] = set()
    changed = threading.Condition()

    def on_message(message: Any) -> None:
        ack = decode_ack(bytes(message.payload))
        with changed:
            acked.update(first for first, _ in ack.acked)
            changed.notify()

    client = MqttClient(
        BrokerSettings("127.0.0.1", port, device, PASSWORDS[device]),
        client_id=device,
        on_message=on_message,
    )
    client.connect()
    client.subscribe(topic(device, "ack"))
    where = topic(device, "readings")
    began = time.perf_counter()
    waiting = list(reversed(payloads))
    in_flight: dict[int, tuple[float, bytes]] = {}
    try:
        deadline = time.monotonic() + cap_s
        while (waiting or in_flight) and time.monotonic() < deadline:
            with changed:
                for first in [f for f in in_flight if f in acked]:
                    del in_flight[first]
                now = time.monotonic()
                for first, (sent_at, payload) in list(in_flight.items()):
                    if now - sent_at > 5.0:  # no ack: throttled, or lost; a node resends
                        in_flight[first] = (now, payload)
                        client.publish(where, payload)
                while waiting and len(in_flight) < WINDOW:
                    first, payload = waiting.pop()
                    in_flight[first] = (now, payload)
                    client.publish(where, payload)
                if in_flight:
                    changed.wait(max(0.0, min(0.5, deadline - time.monotonic())))
        seconds = time.perf_counter() - began
        with changed:
            return BATCH * len(acked & {first for first, _ in payloads}), seconds
    finally:
        client.close()


def wait_for_hub(port: int, hub: subprocess.Popen[bytes]) -> None:
    """Return once the hub acknowledges a batch: it has started and subscribed."""
    acked = threading.Event()
    client = MqttClient(
        BrokerSettings("127.0.0.1", port, PROBE, PASSWORDS[PROBE]),
        client_id=PROBE,
        on_message=lambda message: acked.set(),
    )
    client.connect()
    try:
        client.subscribe(topic(PROBE, "ack"))
        payload = encode_batch(Batch(PROBE, 1, (replace(the_day()[0], seq=1),)))
        deadline = time.monotonic() + 60
        while not acked.is_set():
            if hub.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("hallsense hub run did not start")
            client.publish(topic(PROBE, "readings"), payload)  # the same batch: idempotent
            acked.wait(0.2)
    finally:
        client.close()


@dataclass(frozen=True)
class FloodMessage:
    """One message of the flood and what it costs against each quota."""

    topic: str
    payload: bytes
    readings: int
    """Readings the hub decodes from it and charges to the readings quota (0: malformed)."""


def malformed() -> list[FloodMessage]:
    """Small malformed readings messages, each rejected after the hub tries to decode it."""
    bad = [
        m
        for m in hostile_stream(14, HOSTILE, 1, count=400)
        if m.topic == topic(HOSTILE, "readings")
        and not m.over_broker_limit
        and len(m.payload) < 64 * 1024
        and m.expected not in ("stored", "refused in the ack", "over its quota of series")
    ]
    bad += list(hostile_flood(14, HOSTILE, 200))
    return [FloodMessage(m.topic, m.payload, 0) for m in bad]


def flood_batch(n: int, rng: random.Random) -> FloodMessage:
    """The ``n``-th batch of new readings (seqs after every earlier batch's), on four series."""
    first = n * FLOOD_BATCH + 1
    readings = tuple(
        WireReading(
            first + k,
            f"t{k % FLOOD_SERIES}",
            "temperature",
            "°C",
            1_790_000_000_000_000 + (first + k) * 250_000,
            round(rng.uniform(15.0, 25.0), 2),
        )
        for k in range(FLOOD_BATCH)
    )
    payload = encode_batch(Batch(HOSTILE, 99, readings))
    return FloodMessage(topic(HOSTILE, "readings"), payload, FLOOD_BATCH)


def flood_messages() -> Iterator[FloodMessage]:
    """The flood, endless: batches of new readings, every BAD_EVERY-th message malformed."""
    rng = random.Random(14)
    bad = malformed()
    n = 0
    while True:
        for k in range(BAD_EVERY):
            if k == BAD_EVERY - 1:
                yield bad[n % len(bad)]
            else:
                yield flood_batch(n, rng)
                n += 1


class Pacer:
    """Token buckets of the device's quotas, kept by the device itself.

    A message goes as soon as no bucket is in debt, and then takes its cost from each,
    into debt if need be: over any stretch of time the device sends at most the binding
    quota's rate, plus one message. Buckets start empty, so there is no opening burst.
    """

    def __init__(self, per_minute: dict[str, int]) -> None:
        self.rates = {name: rate / 60 for name, rate in per_minute.items() if rate}
        self.tokens = dict.fromkeys(self.rates, 0.0)
        self.updated = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        for name, rate in self.rates.items():
            self.tokens[name] += (now - self.updated) * rate
        self.updated = now

    def wait(self, names: tuple[str, ...] = QUOTAS, stop: Any = None) -> bool:
        """Sleep until none of the buckets ``names`` is in debt; False if ``stop`` (an event)
        is set first: a batch's debt at the readings quota is seconds long."""
        while True:
            if stop is not None and stop.is_set():
                return False
            self._refill()
            debts = [-self.tokens[n] / self.rates[n] for n in names if n in self.rates]
            if max(debts, default=0.0) <= 0:
                return True
            if stop is None:
                time.sleep(max(debts))
            elif stop.wait(max(debts)):
                return False

    def ready(self, name: str) -> bool:
        """Whether the bucket ``name`` is out of debt now."""
        self._refill()
        return name not in self.rates or self.tokens[name] >= 0

    def take(self, message: FloodMessage) -> None:
        """Charge ``message`` to every bucket."""
        costs = {"messages": 1, "bytes": len(message.payload), "readings": message.readings}
        for name in self.rates:
            self.tokens[name] -= costs[name]


def flood(
    port: int,
    how: str,
    per_minute: dict[str, int],
    ready: Any,
    stop: Any,
    report: Any,
    cap_s: float = CAP_S,
    cycle: int = UNPACED_CYCLE,
) -> None:
    """The hostile device's process: build its messages, then flood until told to stop.

    Every message is built before the flood starts (the device is another machine: its
    work must not take the hub's CPU), then ``ready`` is set.
    """
    messages = flood_messages()
    planned: list[FloodMessage] = []
    if how in ("quota", "quota-fill"):
        # Each batch is sent once: enough new ones for the longest run at the readings quota.
        needed = int(per_minute["readings"] / 60 / FLOOD_BATCH * (FLOOD_LEAD_S + cap_s + 5))
        while sum(1 for m in planned if m.readings) <= needed:
            planned.append(next(messages))
    else:
        planned = [next(messages) for _ in range(cycle)]
    bad = malformed()
    client = MqttClient(
        BrokerSettings("127.0.0.1", port, HOSTILE, PASSWORDS[HOSTILE]), client_id=HOSTILE
    )
    client.connect()
    ready.set()
    pacer = Pacer(per_minute)
    in_flight: list[Delivery] = []
    count = readings = last_readings = 0
    first_at = last_at = 0.0

    def send(message: FloodMessage) -> None:
        nonlocal count, readings, last_readings, first_at, last_at
        if len(in_flight) >= 20:
            in_flight.pop(0).wait(30)
        in_flight.append(client.publish(message.topic, message.payload))
        last_at = time.monotonic()
        first_at = first_at or last_at
        count += 1
        readings += last_readings
        last_readings = message.readings

    try:
        position = 0
        while not stop.is_set():
            message = planned[position % len(planned)]
            position += 1
            if how == "unpaced":
                send(message)
                continue
            if how == "messages":
                # Past the readings quota: every batch is decoded, most are told to wait.
                if not pacer.wait(("messages", "bytes"), stop):
                    break
                pacer.take(message)
                send(message)
                continue
            if how == "quota-fill":
                # Malformed messages go whenever the messages quota has room the next
                # batch cannot use yet.
                while message.readings and not pacer.ready("readings") and not stop.is_set():
                    if not pacer.wait(("messages", "bytes"), stop):
                        break
                    filler = bad[count % len(bad)]
                    pacer.take(filler)
                    send(filler)
            if not pacer.wait(QUOTAS, stop):
                break
            pacer.take(message)
            send(message)
        for delivery in in_flight:
            delivery.wait(30)
    except MqttError:
        pass
    finally:
        # Rates from the first message to the last: what went before the last one,
        # over that time, as a token bucket counts them. One message has no rate (in a
        # short run at the readings quota, a batch goes every two seconds).
        seconds = last_at - first_at
        report[:] = [(count - 1) / seconds, readings / seconds] if seconds else [math.nan, math.nan]
        client.close()


def one_run(
    directory: Path,
    scenario: Scenario,
    readings: int = READINGS,
    cap_s: float = CAP_S,
    cycle: int = UNPACED_CYCLE,
) -> Run:
    """Run ``scenario`` once in ``directory``: honest devices sending ``readings`` each, an
    unpaced flood sending ``cycle`` distinct messages round and round."""
    broker = Broker(directory / "broker", PASSWORDS, max_queued_messages=1000).start()
    location = str(directory / "hub.db")
    store = open_hub_store(location)
    for device in (*HONEST, HOSTILE, PROBE):
        store.add_device(device, device.title())
    store.close()
    env_file = directory / "hub.env"
    settings: dict[str, object] = {
        "hub_store": location,
        "broker_host": "127.0.0.1",
        "broker_port": broker.port,
        "broker_password": PASSWORDS[HUB_ACCOUNT],
        "log_level": "ERROR",
    }
    if scenario.quotas_off:
        settings.update({f"quota_{name}_per_minute": 0 for name in default_quotas()})
    env_file.write_text("".join(f"HALLSENSE_{k.upper()}={v}\n" for k, v in settings.items()))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HALLSENSE_")}
    hub = subprocess.Popen(
        [sys.executable, "-m", "hallsense", "hub", "run", "--env", str(env_file)], env=env
    )
    payloads = {device: honest_payloads(device, readings) for device in HONEST}
    ready = multiprocessing.Event()
    stop = multiprocessing.Event()
    report = multiprocessing.Array("d", 2)
    flooder = multiprocessing.Process(
        target=flood,
        args=(broker.port, scenario.flood, default_quotas(), ready, stop, report, cap_s, cycle),
    )
    try:
        wait_for_hub(broker.port, hub)
        if scenario.flood:
            flooder.start()
            if not ready.wait(60):
                raise RuntimeError("the flooding process did not get ready")
            time.sleep(scenario.lead_s)
        results: list[tuple[int, float]] = []
        threads = [
            threading.Thread(
                target=lambda d=device: results.append(
                    send_honest(broker.port, d, payloads[d], cap_s)
                )
            )
            for device in HONEST
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        acked = sum(count for count, _ in results)
        run = Run(scenario.label, acked / max(seconds for _, seconds in results))
    finally:
        stop.set()
        if scenario.flood:
            flooder.join(60)
        hub.terminate()
        hub.wait(60)
        broker.stop()
    store = open_hub_store(location)
    try:
        for refusal in store.refusals(HOSTILE).get(HOSTILE, ()):
            if refusal.reason in (QUOTA_MESSAGES, QUOTA_BYTES):
                run.unread += refusal.count
            elif refusal.reason == QUOTA_READINGS:
                run.waited += refusal.count
            else:
                run.rejected += refusal.count
        fleet = {state.device_id: state for state in store.fleet()}
        run.hostile_stored = fleet[HOSTILE].readings
    finally:
        store.close()
    run.messages_per_s, run.readings_per_s = report[0], report[1]
    return run


def row(run: Run, calm: float) -> str:
    """One line of the table."""

    def rate(value: float, spec: str) -> str:
        return "—" if math.isnan(value) else format(value, spec)

    return (
        f"| {run.label} | {run.honest_per_s:,.0f} | {run.honest_per_s / calm:.0%} | "
        f"{rate(run.messages_per_s, ',.1f')} | {rate(run.readings_per_s, ',.0f')} | "
        f"{run.unread:,} | "
        f"{run.waited:,} | {run.rejected:,} | {run.hostile_stored:,} |"
    )


def main(
    rounds: int = ROUNDS,
    scenarios: tuple[Scenario, ...] = SCENARIOS,
    readings: int = READINGS,
    cap_s: float = CAP_S,
    cycle: int = UNPACED_CYCLE,
) -> None:
    """Run ``scenarios`` (the first without a flood, the headline among them) ``rounds``
    times, honest devices sending ``readings`` each for at most ``cap_s``, an unpaced flood
    ``cycle`` distinct messages; print the tables.
    """
    if readings % BATCH:
        raise ValueError(f"readings must be a multiple of {BATCH:,}, not {readings:,}")
    quotas = default_quotas()
    print(
        "Default quotas a minute per device: "
        + ", ".join(f"{rate:,} {name}" for name, rate in quotas.items())
        + f"; {rounds} rounds"
    )
    header = (
        "| run | honest readings/s | share of no flood | hostile messages/s | "
        "hostile readings/s sent | turned away unread | told to wait | rejected | "
        "hostile readings stored |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    )
    print(header)
    best: dict[str, Run] = {}
    shares: dict[str, list[float]] = {s.label: [] for s in scenarios}
    with tempfile.TemporaryDirectory(prefix="hallsense-bench-hostile-") as scratch:
        for n in range(rounds):
            calm = 0.0
            for number, scenario in enumerate(scenarios):
                directory = Path(scratch) / f"{n}-{number}"
                directory.mkdir()
                run = one_run(directory, scenario, readings, cap_s, cycle)
                calm = calm or run.honest_per_s
                shares[scenario.label].append(run.honest_per_s / calm)
                print(row(replace(run, label=f"round {n + 1}: {run.label}"), calm), flush=True)
                if (
                    scenario.label not in best
                    or run.honest_per_s > best[scenario.label].honest_per_s
                ):
                    best[scenario.label] = run
    calm = best[scenarios[0].label].honest_per_s
    print(f"\nBest of {rounds} each:\n")
    print(header)
    for scenario in scenarios:
        print(row(best[scenario.label], calm))
    print()
    for scenario in scenarios[1:]:
        each = ", ".join(f"{share:.0%}" for share in shares[scenario.label])
        print(f"Share of the same round's rate without the flood, {scenario.label}: {each}")
    ratio = best[HEADLINE].honest_per_s / calm
    print(
        f"\nGoal at least {GOAL:.0%} of the rate without the flood, flooding at its quotas: "
        f"{'met' if ratio >= GOAL else 'NOT MET'} ({ratio:.0%})."
    )
