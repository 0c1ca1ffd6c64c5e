"""The wire as a council's SIM sees it: a hall's month under each link profile, counted.

A node (the real edge store and uplink, in this process) talks TLS to a real Mosquitto
(a TLS listener with a council CA made here) through the counting relay
(bench/relay.py, its own process), and a real ingestion service (in this process, on a
plain loopback listener of the same broker, not counted) stores and acks. Everything the
node's connection carries is counted: readings, the broker's PUBACKs, the hub's acks and
the node's PUBACKs for them, status heartbeats and births, the hub's retained config at
each connection, TLS handshakes and records, and the MQTT CONNECT, SUBSCRIBE and
DISCONNECT of each reconnection.

Two counts: bytes of the TCP stream (TLS included), from the relay; and, when
``tcpdump`` is installed, bytes of IP packets on the node's leg (IPv4 and TCP headers,
pure ACKs and handshakes too), captured on loopback.

A month goes quickly: the node's clocks (the uplink's wall and monotonic clocks, and the
readings' timestamps) are simulated, stepped every ``step_s``, and each step waits in
real time for the hub's acks. MQTT keepalive cannot be simulated (paho keeps it in real
time): the run uses a keepalive longer than itself, and adds one measured PINGREQ and
PINGRESP for every whole keepalive interval of simulated time the node spent silent.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from math import gcd
from pathlib import Path

from bench.relay import Counted, RelayProcess
from edge.clock import ClockSample
from edge.link_profiles import PROFILES, LinkProfile
from edge.store import EdgeStore
from hub.service import IngestService
from hub.settings import HubSettings
from hub.store_sqlite import SqliteHubStore
from hub_sync.mqtt import BrokerSettings, MqttClient
from hub_sync.node_config import NodeConfig, encode_config
from hub_sync.topics import topic
from hub_sync.uplink import Uplink, UplinkSettings
from presentation.vocabulary import METRICS
from provisioning.broker_config import (
    HUB_ACCOUNT,
    BrokerConfig,
    Listener,
    TlsFiles,
    write_broker_files,
)
from provisioning.certificates import (
    issue_server_certificate,
    new_ca,
    write_certificate,
    write_private_key,
)
from provisioning.passwords import mosquitto_hash
from sensors.reading import Reading
from sensors.simulated import SimulatedDriver
from tests.support.broker import free_port

DEVICE = "askrigg-village-hall"
START = datetime(2026, 11, 1, tzinfo=UTC)
SENSORS = 10
INTERVAL_S = 60
LONG_KEEPALIVE_S = 3600


@dataclass
class TlsBroker:
    """Mosquitto with a TLS listener for nodes and a plain loopback one for the hub."""

    directory: Path
    tls_port: int = 0
    plain_port: int = 0
    ca: Path = Path()
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> TlsBroker:
        self.directory.mkdir(parents=True, exist_ok=True)
        ca = new_ca()
        server = issue_server_certificate(ca, ips=["127.0.0.1"])
        self.ca = write_certificate(self.directory / "ca.pem", ca)
        tls = TlsFiles(
            self.ca,
            write_certificate(self.directory / "server.pem", server),
            write_private_key(self.directory / "server.key", server),
        )
        self.tls_port, self.plain_port = free_port(), free_port()
        config = BrokerConfig(
            directory=self.directory,
            port=self.tls_port,
            tls=tls,
            run_as="root" if os.geteuid() == 0 else None,
            max_queued_messages=100_000,
            extra_listeners=(Listener(self.plain_port),),
            log_path=self.directory / "mosquitto.log",
        )
        accounts = {HUB_ACCOUNT: "hub", DEVICE: "node"}
        write_broker_files(config, {user: mosquitto_hash(pw) for user, pw in accounts.items()})
        self.proc = subprocess.Popen(
            ["mosquitto", "-c", str(config.conf_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)


class Capture:
    """``tcpdump`` on loopback, of one TCP port: every IP packet's size, and its payload's."""

    def __init__(self, port: int, path: Path, *, enabled: bool = True) -> None:
        self.port = port
        self.path = path
        self.proc: subprocess.Popen[bytes] | None = None
        if enabled and shutil.which("tcpdump") and os.geteuid() == 0:
            self.proc = subprocess.Popen(
                ["tcpdump", "-i", "lo", "-s", "128", "-U", "-w", str(path), f"tcp port {port}"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not (path.exists() and path.stat().st_size >= 24):
                time.sleep(0.05)
            time.sleep(0.5)  # the file's header is written as the capture opens

    def stop(self) -> tuple[int, int, int] | None:
        """(IP bytes, IP packets, packets carrying data) of the node's leg, or None."""
        if self.proc is None:
            return None
        time.sleep(0.5)
        self.proc.terminate()
        self.proc.wait(10)
        return pcap_totals(self.path.read_bytes())


def pcap_totals(data: bytes) -> tuple[int, int, int]:
    """(IP bytes, packets, packets with TCP payload) of a pcap file of Ethernet frames."""
    total = packets = with_data = 0
    pos = 24
    while pos + 16 <= len(data):
        incl = struct.unpack_from("<I", data, pos + 8)[0]
        frame = data[pos + 16 : pos + 16 + incl]
        pos += 16 + incl
        ip = frame[14:]
        if len(ip) < 20 or ip[0] >> 4 != 4:
            continue
        ip_len = struct.unpack_from(">H", ip, 2)[0]
        ihl = (ip[0] & 0x0F) * 4
        tcp_header = (ip[ihl + 12] >> 4) * 4
        total += ip_len
        packets += 1
        if ip_len - ihl - tcp_header > 0:
            with_data += 1
    return total, packets, with_data


@dataclass
class Clocks:
    """The node's simulated time (seconds since START), and the statuses it has sent."""

    t: float = 0.0
    statuses: int = 0

    def wall(self) -> float:
        return START.timestamp() + self.t

    def monotonic(self) -> float:
        return self.t


@dataclass
class Hall:
    """Ten sensors at one reading a minute: the simulated driver's eight and two of the Pi's."""

    clocks: Clocks
    driver: SimulatedDriver = field(init=False)
    read_until: float = 0.0
    """Simulated time of the next reading."""

    def __post_init__(self) -> None:
        self.driver = SimulatedDriver(interval_s=INTERVAL_S, clock=self.moment)

    def moment(self) -> datetime:
        return START + timedelta(seconds=self.read_until)

    def catch_up(self, edge: EdgeStore) -> None:
        """Store every reading due by the simulated clock, each at its own time, as the
        agent's commits would."""
        while self.read_until <= self.clocks.t:
            edge.append(self.read(), ClockSample(self.moment(), 1, True, "sim"))
            self.read_until += INTERVAL_S

    def read(self) -> list[Reading]:
        moment = self.moment()
        minute = int(self.read_until // 60)
        own = [
            Reading(
                "system-cpu-temperature",
                "cpu_temperature",
                round(47.0 + (minute % 17) * 0.1, 1),
                METRICS["cpu_temperature"].unit,
                moment,
            ),
            Reading(
                "system-disk-free",
                "disk_free",
                float(28_000 - minute // 1440),
                METRICS["disk_free"].unit,
                moment,
            ),
        ]
        return [*self.driver.read(), *own][:SENSORS]


@dataclass
class LinkRun:
    """What one simulated stretch of a hall's link carried."""

    label: str
    days: float
    readings: int
    batches: int
    stream: Counted
    connections: int
    ip: tuple[int, int, int] | None
    pings: int = 0
    ping_bytes: int = 0
    ping_ip_bytes: int = 0

    def month(self, total: int) -> float:
        """``total`` bytes scaled to 30 days."""
        return total * 30 / self.days if self.days else float(total)

    @property
    def stream_bytes(self) -> int:
        return self.stream.total + self.pings * self.ping_bytes

    @property
    def ip_bytes(self) -> int | None:
        if self.ip is None:
            return None
        return self.ip[0] + self.pings * self.ping_ip_bytes


class Hub:
    """One ingestion service on the broker's plain listener, quotas off."""

    def __init__(self, directory: Path, broker: TlsBroker) -> None:
        store = SqliteHubStore(directory / "hub.db")
        store.add_device(DEVICE, "Askrigg")
        store.close()
        settings = HubSettings(
            hub_store=str(directory / "hub.db"),
            broker_port=broker.plain_port,
            broker_password="hub",
            quota_messages_per_minute=0,
            quota_bytes_per_minute=0,
            quota_readings_per_minute=0,
        )
        self.service = IngestService(settings, lambda: SqliteHubStore(directory / "hub.db"))
        threading.Thread(target=self.service.run, daemon=True).start()
        self.service.client.wait_connected(10)
        config = NodeConfig(1_793_000_000, (("simulated", 60.0),))
        self.service.client.publish(
            topic(DEVICE, "config"), encode_config(config), retain=True
        ).wait(5)

    def stop(self) -> None:
        self.service.stop_event.set()


def node_uplink(
    edge: EdgeStore, port: int, ca: Path, profile: LinkProfile, clocks: Clocks, keepalive_s: int
) -> Uplink:
    broker = BrokerSettings("127.0.0.1", port, DEVICE, "node", ca, keepalive_s=keepalive_s)

    def make(**kwargs: object) -> MqttClient:
        return MqttClient(broker, reconnect_min_s=0.5, reconnect_max_s=3.0, **kwargs)  # type: ignore[arg-type]

    def status() -> dict[str, object]:
        clocks.statuses += 1  # the uplink asks for its figures once per status it sends
        stats = edge.stats()
        oldest = stats.oldest_unacknowledged
        return {
            "version": "0.0.0",
            "store_epoch": str(stats.store_epoch),
            "backlog": stats.backlog,
            "held_back": stats.held_back,
            "oldest_unacknowledged": oldest.isoformat() if oldest else None,
            "store_bytes": stats.db_bytes,
            "clock_synchronised": True,
            "rejected": stats.rejected,
            "dropped": [],
            "last_error": "",
            "link_profile": profile.name,
            "batch_window_s": round(profile.batch_window_s),
        }

    link = Uplink(
        edge,
        make,
        UplinkSettings(
            DEVICE, heartbeat_s=profile.heartbeat_s, batch_window_s=profile.batch_window_s
        ),
        status=status,
        apply_config=lambda config: "",
        monotonic=clocks.monotonic,
        wall=clocks.wall,
    )
    link.start()
    if not link.client.wait_connected(10):
        raise RuntimeError("the node did not connect through the relay")
    return link


def _settle(link: Uplink, timeout_s: float = 10.0) -> None:
    """Wait in real time until the hub has acked everything in flight."""
    deadline = time.monotonic() + timeout_s
    while link.in_flight and time.monotonic() < deadline:
        time.sleep(0.0005)
        link.apply_acks()


def ping_cost(directory: Path, *, capture: bool = True, idle_s: float = 10.0) -> tuple[int, int]:
    """(stream bytes, IP bytes) of one PINGREQ and its PINGRESP on an idle TLS connection."""
    broker = TlsBroker(directory / "broker").start()
    try:
        with RelayProcess(broker.tls_port) as relay:
            return _ping_cost(broker, relay, directory, capture, idle_s)
    finally:
        broker.stop()


def _ping_cost(
    broker: TlsBroker, relay: RelayProcess, scratch: Path, capture: bool, idle_s: float
) -> tuple[int, int]:
    client = MqttClient(
        BrokerSettings("127.0.0.1", relay.port, DEVICE, "node", broker.ca, keepalive_s=1),
        client_id="ping-probe",
    )
    client.connect()
    time.sleep(1.5)
    counting = Capture(relay.port, scratch / "ping.pcap", enabled=capture)
    before = relay.counted()
    time.sleep(idle_s)
    after = relay.counted()
    ip = counting.stop()
    client.close()
    stream = after - before
    pings = max(1, round(stream.up / 24))  # one TLS 1.3 record (24 bytes) per PINGREQ
    if ip is not None:
        pings = max(1, ip[2] // 2)  # a PINGREQ and a PINGRESP each carry data
        return round(stream.total / pings), round(ip[0] / pings)
    return round(stream.total / pings), 0


def run_profile(
    profile: LinkProfile,
    days: float,
    directory: Path,
    ping: tuple[int, int],
    *,
    step_s: float = 60.0,
    reconnect_every_s: float = 86400.0,
    capture: bool = True,
    progress: Callable[[str], None] = lambda _: None,
) -> LinkRun:
    """A hall on ``profile`` for ``days`` of simulated time; what its link carried.

    The node's loop runs every ``step_s`` of simulated time (the real agent's runs every
    second: a step that divides the batch window and the heartbeat sends the same
    batches); ``ping`` is :func:`ping_cost`'s measure; the link drops and the node
    connects again every ``reconnect_every_s``.
    """
    directory.mkdir(parents=True)
    broker = TlsBroker(directory / "broker").start()
    hub = Hub(directory, broker)
    edge = EdgeStore(directory / "edge.db")
    clocks = Clocks()
    hall = Hall(clocks)
    try:
        with RelayProcess(broker.tls_port) as relay:
            ping_stream, ping_ip = ping
            base = relay.counted()
            counting = Capture(relay.port, directory / "link.pcap", enabled=capture)
            link = node_uplink(edge, relay.port, broker.ca, profile, clocks, LONG_KEEPALIVE_S)
            sent_at = [0.0]
            readings = batches = 0
            end = days * 86400
            next_reconnect = reconnect_every_s
            while clocks.t < end:
                hall.catch_up(edge)
                statuses = clocks.statuses
                sent = link.sync_once()
                if sent or clocks.statuses != statuses:
                    sent_at.append(clocks.t)
                readings += sent
                _settle(link)
                if clocks.t >= next_reconnect:
                    next_reconnect += reconnect_every_s
                    batches += link.sent_batches
                    link.client.close()  # the link drops; the node connects again
                    link = node_uplink(
                        edge, relay.port, broker.ca, profile, clocks, LONG_KEEPALIVE_S
                    )
                    sent_at.append(clocks.t)
                clocks.t += step_s
                if clocks.t % 86400 == 0:
                    progress(f"{profile.name}: day {clocks.t / 86400:.0f}")
            while edge.stats().backlog:  # the last window's readings
                clocks.t += step_s
                readings += link.sync_once()
                _settle(link)
            batches += link.sent_batches
            link.client.close()
            relay.wait_idle(10)
            stream = relay.counted() - base
            ip = counting.stop()
        sent_at.append(end)
        silent = [b - a for a, b in pairwise(sent_at)]
        pings = sum(max(0, int((gap - 1e-9) // profile.keepalive_s)) for gap in silent)
        return LinkRun(
            f"{profile.name} ({profile.freshness.split(': ')[1]})",
            days,
            readings,
            batches,
            stream,
            stream.connections,
            ip,
            pings,
            ping_stream,
            ping_ip,
        )
    finally:
        edge.close()
        hub.stop()
        broker.stop()


def run_drain(
    profile: LinkProfile, days: float, directory: Path, *, capture: bool = True
) -> LinkRun:
    """A backlog of ``days`` of the hall's readings, drained in one go on ``profile``."""
    directory.mkdir(parents=True)
    broker = TlsBroker(directory / "broker").start()
    hub = Hub(directory, broker)
    edge = EdgeStore(directory / "edge.db")
    clocks = Clocks()
    hall = Hall(clocks)
    end = days * 86400
    pending: list[Reading] = []
    while hall.read_until < end:
        pending += hall.read()
        hall.read_until += INTERVAL_S
        if len(pending) >= 5000:
            edge.append(pending, ClockSample(hall.moment(), 1, True, "sim"))
            pending = []
    if pending:
        edge.append(pending, ClockSample(hall.moment(), 1, True, "sim"))
    clocks.t = end + 86400  # the link is back a day later
    try:
        with RelayProcess(broker.tls_port) as relay:
            counting = Capture(relay.port, directory / "drain.pcap", enabled=capture)
            base = relay.counted()
            link = node_uplink(edge, relay.port, broker.ca, profile, clocks, profile.keepalive_s)
            readings = 0
            deadline = time.monotonic() + 600
            while edge.stats().backlog and time.monotonic() < deadline:
                readings += link.sync_once()
                time.sleep(0.001)
                link.apply_acks()
            batches = link.sent_batches
            link.client.close()
            relay.wait_idle(10)
            stream = relay.counted() - base
            ip = counting.stop()
        return LinkRun(
            f"backlog drain: {days:g} days", 0, readings, batches, stream, stream.connections, ip
        )
    finally:
        edge.close()
        hub.stop()
        broker.stop()


GOALS = {"live": 40.0, "metered": 5.0, "drain": 2.0}
"""At most these bytes of TCP/IP (TLS included) per reading (issue #18)."""
DAYS = {"live": 2.0, "metered": 7.0, "satellite": 7.0}
"""Simulated days per profile, scaled to 30 for the month: each holds its profile's every
kind of message many times over (live's two days, 960 batches)."""
DRAIN_DAYS = 7.0
ROUNDS = 3


def step_for(profile: LinkProfile) -> float:
    """The coarsest node step that sends the same batches and statuses as a 1 s loop: one
    that divides the reading interval, the batch window and the heartbeat."""
    whole = gcd(round(profile.batch_window_s), round(profile.heartbeat_s), INTERVAL_S)
    return float(whole or 1)


def per_reading(run: LinkRun) -> tuple[float, float | None]:
    """(stream bytes, IP bytes) per reading."""
    ip = run.ip_bytes
    return run.stream_bytes / run.readings, (ip / run.readings if ip is not None else None)


def measure(
    directory: Path, *, scale: float = 1.0, capture: bool = True, ping_idle_s: float = 10.0
) -> dict[str, list[LinkRun]]:
    """ROUNDS runs of every profile and of a drain; ``scale`` shortens the simulated time."""
    runs: dict[str, list[LinkRun]] = {}
    rounds = ROUNDS if scale == 1.0 else 1
    for n in range(rounds):
        ping = ping_cost(directory / f"ping-{n}", capture=capture, idle_s=ping_idle_s)
        for name, profile in PROFILES.items():
            run = run_profile(
                profile,
                DAYS[name] * scale,
                directory / f"{name}-{n}",
                ping,
                step_s=step_for(profile),
                capture=capture,
            )
            runs.setdefault(name, []).append(run)
        drained = run_drain(
            PROFILES["live"], DRAIN_DAYS * scale, directory / f"drain-{n}", capture=capture
        )
        runs.setdefault("drain", []).append(drained)
    return runs


def _figures(values: list[float]) -> str:
    return " / ".join(f"{v:.2f}" if v < 10 else f"{v:.1f}" for v in values)


def link_table(
    *, scale: float = 1.0, capture: bool = True, ping_idle_s: float = 10.0
) -> dict[str, list[LinkRun]]:
    """Measure and print the month's bytes per profile and a drain's (three runs).

    ``scale`` below 1 shortens every simulated stretch and takes one run (the smoke test).
    """
    with tempfile.TemporaryDirectory() as scratch:
        runs = measure(Path(scratch), scale=scale, capture=capture, ping_idle_s=ping_idle_s)
    counted = any(run.ip is not None for name in runs for run in runs[name])
    print(
        f"\nA hall's link, counted: {SENSORS} sensors at one reading a minute "
        f"({SENSORS * 1440 * 30:,} readings in 30 days), TLS to Mosquitto through the "
        f"counting relay; live simulated for {DAYS['live'] * scale:g} days, metered and "
        f"satellite for {DAYS['metered'] * scale:g}, scaled to 30; a backlog of "
        f"{DRAIN_DAYS * scale:g} days drained; each figure is {len(runs['live'])} run(s)"
    )
    print(
        f"| {'link profile':<52} | {'readings/msg':>12} | {'TCP stream B/reading':>22} "
        f"| {'TCP/IP B/reading':>20} | {'MB a month':>10} | {'goal':>8} |"
    )
    print(f"| {'-' * 52} | {'-' * 11}:| {'-' * 21}:| {'-' * 19}:| {'-' * 9}:| {'-' * 7}:|")
    for name, done in runs.items():
        streams = [per_reading(run)[0] for run in done]
        ips = [per_reading(run)[1] for run in done]
        ip_text = _figures([v for v in ips if v is not None]) if counted else "not counted"
        first = done[0]
        if name == "drain":
            label, month = first.label, "—"
        else:
            total = max((run.ip_bytes or run.stream_bytes) for run in done)
            label = first.label
            month = f"{first.month(total) / 1e6:.1f}"
        readings_per_message = first.readings / max(first.batches, 1)
        goal = GOALS.get(name)
        worst = max(v for v in ips if v is not None) if counted else max(streams)
        verdict = "" if goal is None else f"≤ {goal:g} " + ("met" if worst <= goal else "MISSED")
        print(
            f"| {label:<52} | {readings_per_message:>12,.0f} | {_figures(streams):>22} "
            f"| {ip_text:>20} | {month:>10} | {verdict:>8} |"
        )
    print(
        "\nTCP stream: every byte both ways through the relay, TLS records and handshakes "
        "included; TCP/IP: every IPv4 packet of the node's connection (headers, handshakes, "
        "pure ACKs) captured with tcpdump; both with one reconnection a day and one "
        "measured PINGREQ/PINGRESP per keepalive interval of silence. MB a month: the "
        "largest run's TCP/IP bytes, scaled to 30 days."
    )
    for name, done in runs.items():
        run = done[0]
        print(
            f"  {name}: {run.readings:,} readings in {run.batches:,} messages; "
            f"{run.stream.up:,} bytes up, {run.stream.down:,} down; "
            f"{run.connections} connections; {run.pings} pings added"
        )
    return runs
