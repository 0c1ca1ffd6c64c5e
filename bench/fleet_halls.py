"""Virtual halls for the fleet bench: thousands of real MQTT 5 clients over TLS in one process.

Each virtual hall is a paho client of its own: MQTT 5, TLS against the council's CA, its
own device account, the node's will (a retained ``offline`` status). It speaks the node's
protocol with the project's own code: batches from :func:`hub_sync.batch_codec.encode_batch`,
heartbeats from :func:`hub_sync.node_status.encode_status`, acks read by
:func:`hub_sync.acks.decode_ack`, topics from :func:`hub_sync.topics.topic`. What it leaves
out of a real node is the SQLite store and the agent's threads: its outbox is a dict in
memory, and every hall of a process shares one selector loop (paho's ``loop_read``,
``loop_write`` and ``loop_misc`` with its socket callbacks), because a thread per client,
as :class:`hub_sync.mqtt.MqttClient` runs it, does not scale to thousands in one process.

A hall's timing is a real one's with the default link profile: five sensors read once a
minute, at the hall's own second of the minute, and sent at once as one batch; a
heartbeat every minute; a window of 4 batches; a batch resent after 30 s without its ack;
reconnects with MqttClient's jittered back-off (a first wait of 0.5 to 1 s, doubling to
1.5 to 3 s; see :meth:`hub_sync.mqtt.MqttClient._jitter_reconnects`). Some halls start
with a backlog, a day offline, which they drain in batches of 5,000 (the uplink's
``DRAIN_BATCH_FACTOR`` times 1,000); some are on a bad link, whose connection drops
without a goodbye every few minutes (the broker then publishes their will).

The bench's process drives a process of halls through a pipe: ``("stats", reset)`` asks
for :class:`HallStats` (``reset`` starts a new window of ingest lags), ``("jitter",
False)`` turns to the naive baseline's reconnects (paho's default back-off, the same
instants for every hall), ``("stop",)`` ends the process.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import random
import resource
import selectors
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

from hub_sync.acks import ACK_FORMATS_READ, decode_ack
from hub_sync.batch_codec import Batch, WireReading, encode_batch
from hub_sync.mqtt import NO_MATCHING_SUBSCRIBERS
from hub_sync.node_status import encode_status
from hub_sync.topics import topic
from hub_sync.uplink import DRAIN_BATCH_FACTOR, NO_SUBSCRIBER_RETRY_S
from hub_sync.wire_errors import ProtocolError

SENSORS = (
    ("bme-1", "temperature", "°C", 19.0, 3.0),
    ("bme-1", "humidity", "%", 55.0, 10.0),
    ("scd-1", "co2", "ppm", 650.0, 250.0),
    ("sps-1", "pm2_5", "µg/m³", 6.0, 4.0),
    ("mic-1", "noise", "dB(A)", 45.0, 12.0),
)
READ_EVERY_S = 60.0
HEARTBEAT_S = 60.0
WINDOW = 4
RESEND_AFTER_S = 30.0
LIVE_BATCH = 1000
DRAIN_BATCH = LIVE_BATCH * DRAIN_BATCH_FACTOR
KEEPALIVE_S = 30
MISC_EVERY_S = 5.0
"""How often each client's keepalive is looked at (paho's ``loop_misc``)."""
RECONNECT_FIRST_S = (0.5, 1.0)
RECONNECT_MOST_S = (1.5, 3.0)
NAIVE_MOST_S = 120.0
"""paho's default back-off, 1 s doubling to 120 s, with no jitter: the naive baseline."""
BAD_LINK_DROP_S = (120.0, 360.0)
"""A hall on a bad link loses its connection after this long, again and again."""


@dataclass(frozen=True)
class HallPlan:
    """One virtual hall: its account, its second of the minute and what it starts with."""

    device_id: str
    password: str
    phase: float
    """When in each interval the hall reads its sensors, as a share of the interval."""
    backlog_minutes: int = 0
    bad_link: bool = False


@dataclass(frozen=True)
class Target:
    """Where the halls connect: the broker's TLS listener and the CA that signed it."""

    host: str
    port: int
    ca_file: Path


@dataclass
class HallStats:
    """What a process of halls did; lags are seconds from a reading taken to its ack."""

    halls: int = 0
    connected: int = 0
    connects: int = 0
    failed_attempts: int = 0
    taken: int = 0
    acked: int = 0
    backlog_left: int = 0
    sent_batches: int = 0
    resent_batches: int = 0
    lags: list[float] = field(default_factory=list)
    oldest_unacked: float | None = None
    """The wall time of the oldest live reading not yet acknowledged."""
    behind: list[str] = field(default_factory=list)
    """The three halls furthest behind, described (for when a run goes wrong)."""
    cpu_s: float = 0.0
    rss_kb: int = 0


def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class HallLoop:
    """The selector loop every hall of this process runs on, with its timers."""

    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self._timers: list[tuple[float, int, VirtualHall, str]] = []
        self._order = itertools.count()
        self.stats = HallStats()
        self.jitter = True
        self.read_every_s = READ_EVERY_S

    def at(self, when: float, hall: VirtualHall, what: str) -> None:
        """Call ``hall.on_timer(what)`` at monotonic time ``when``."""
        heapq.heappush(self._timers, (when, next(self._order), hall, what))

    def run_once(self) -> None:
        """Wait for the next socket event or timer (at most 0.2 s) and handle it."""
        now = time.monotonic()
        wait = 0.2
        if self._timers:
            wait = min(wait, max(0.0, self._timers[0][0] - now))
        for key, mask in self.selector.select(wait):
            if key.data is None:
                continue  # the command pipe: read by the caller
            hall: VirtualHall = key.data
            if mask & selectors.EVENT_READ:
                hall.readable()
            if mask & selectors.EVENT_WRITE:
                hall.client.loop_write()
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _, _, hall, what = heapq.heappop(self._timers)
            hall.on_timer(what)


class VirtualHall:
    """One hall: its client, its outbox, and what it sends and when."""

    def __init__(self, plan: HallPlan, target: Target, loop: HallLoop, tls: ssl.SSLContext):
        self.plan = plan
        self.target = target
        self.loop = loop
        self.device = plan.device_id
        self.store_epoch = random.getrandbits(62)
        self.next_seq = 1
        self.unacked: dict[int, tuple[int, int, float, bool]] = {}
        """seq → (sensor index, taken at µs, value, live)."""
        self.in_flight: list[tuple[int, int, float]] = []
        """(first seq, last seq, sent at) of batches not yet acknowledged."""
        self.batch_of_mid: dict[int, int] = {}
        """The first seq of each batch whose PUBACK has not come, by message id."""
        self.connected = False
        self.connect_due = False
        """A connect is scheduled: never two, as paho's reconnect() drops the connection
        it finds, even one still waiting for its CONNACK."""
        self.backoff_s = 0.0
        self.paused_until = 0.0
        client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self.device,
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        client.tls_set_context(tls)
        client.username_pw_set(self.device, plan.password)
        client.will_set(topic(self.device, "status"), encode_status("offline"), qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        client.on_socket_open = self._socket_open
        client.on_socket_close = self._socket_close
        client.on_socket_register_write = self._want_write
        client.on_socket_unregister_write = self._written
        client.connect_async(target.host, target.port, keepalive=KEEPALIVE_S)
        self.client = client
        self.sent_upto = 0
        self.acks_in = 0
        self.last_ack = ""
        if plan.backlog_minutes:
            self._take(time.time() - plan.backlog_minutes * READ_EVERY_S, plan.backlog_minutes)

    # --- the socket, for the loop ---

    def _socket_open(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        self.loop.selector.register(sock, selectors.EVENT_READ, self)

    def _socket_close(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.loop.selector.unregister(sock)

    def _want_write(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        self.loop.selector.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, self)

    def _written(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.loop.selector.modify(sock, selectors.EVENT_READ, self)

    def readable(self) -> None:
        """Read what the broker sent, including what TLS has decrypted ahead of the socket."""
        self.client.loop_read()
        sock = self.client.socket()
        while isinstance(sock, ssl.SSLSocket) and sock.pending():
            self.client.loop_read()
            sock = self.client.socket()

    # --- connecting ---

    def connect(self) -> None:
        """Connect now (TCP and the TLS handshake block); on failure, try again later."""
        try:
            self.client.reconnect()
        except (OSError, ssl.SSLError):
            self.loop.stats.failed_attempts += 1
            self._retry_later()

    def _retry_later(self) -> None:
        if not self.loop.jitter:  # the naive baseline: paho's own back-off, the same for all
            self.backoff_s = min(2 * self.backoff_s, NAIVE_MOST_S) if self.backoff_s else 1.0
        elif not self.backoff_s:
            self.backoff_s = random.uniform(*RECONNECT_FIRST_S)
        else:
            most = random.uniform(*RECONNECT_MOST_S)
            self.backoff_s = min(2 * self.backoff_s, max(most, RECONNECT_FIRST_S[1]))
        if not self.connect_due:
            self.connect_due = True
            self.loop.at(time.monotonic() + self.backoff_s, self, "connect")

    def _on_connect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        if reason.is_failure:
            self.loop.stats.failed_attempts += 1
            return  # the broker closes the connection: _on_disconnect retries
        self.connected = True
        self.backoff_s = 0.0
        self.loop.stats.connects += 1
        self.loop.stats.connected += 1
        client.subscribe(topic(self.device, "ack"), qos=1)
        self._heartbeat()
        self.in_flight.clear()  # what was in flight goes again: the hub's ack may be lost
        self.batch_of_mid.clear()
        self._send()
        if self.plan.bad_link:
            self.loop.at(time.monotonic() + random.uniform(*BAD_LINK_DROP_S), self, "drop")

    def _on_disconnect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        if self.connected:
            self.loop.stats.connected -= 1
        self.connected = False
        self._retry_later()

    def drop(self) -> None:
        """Lose the connection without a goodbye, as a bad link does."""
        sock = self.client.socket()
        if isinstance(sock, socket.socket) and self.connected:
            with contextlib.suppress(OSError):
                sock.shutdown(2)

    # --- readings, batches and acks ---

    def _take(self, first_at: float, minutes: int = 1) -> None:
        live = minutes == 1
        for minute in range(minutes):
            at_us = int((first_at + minute * READ_EVERY_S) * 1_000_000)
            for index, (_, _, _, mean, spread) in enumerate(SENSORS):
                value = round(random.gauss(mean, spread / 3), 1)
                self.unacked[self.next_seq] = (index, at_us, value, live)
                self.next_seq += 1
        if live:
            self.loop.stats.taken += len(SENSORS)

    def _send(self) -> None:
        now = time.monotonic()
        if not self.connected or now < self.paused_until:
            return
        self.in_flight = [f for f in self.in_flight if now - f[2] < RESEND_AFTER_S]
        while len(self.in_flight) < WINDOW:
            covered = self.in_flight
            limit = DRAIN_BATCH if len(self.unacked) > LIVE_BATCH else LIVE_BATCH
            chosen = []
            for seq in self.unacked:
                if not any(a <= seq <= b for a, b, _ in covered):
                    chosen.append(seq)
                    if len(chosen) == limit:
                        break
            if not chosen:
                return
            readings = []
            for seq in chosen:
                index, at_us, value, _ = self.unacked[seq]
                sensor_id, metric, unit, _, _ = SENSORS[index]
                readings.append(WireReading(seq, sensor_id, metric, unit, at_us, value))
            payload = encode_batch(Batch(self.device, self.store_epoch, readings))
            info = self.client.publish(topic(self.device, "readings"), payload, qos=1)
            self.batch_of_mid[info.mid] = chosen[0]
            self.in_flight.append((chosen[0], chosen[-1], now))
            self.loop.stats.sent_batches += 1
            if chosen[0] <= self.sent_upto:
                self.loop.stats.resent_batches += 1
            self.sent_upto = max(self.sent_upto, chosen[-1])

    def _on_publish(
        self, client: paho.Client, userdata: Any, mid: int, reason: ReasonCode, props: Any
    ) -> None:
        first = self.batch_of_mid.pop(mid, None)
        if first is None or reason.value != NO_MATCHING_SUBSCRIBERS:
            return
        # The hub is not subscribed (yet): as the uplink does, send it again in 2 s.
        again = time.monotonic() - RESEND_AFTER_S + NO_SUBSCRIBER_RETRY_S
        self.in_flight = [(a, b, again if a == first else t) for a, b, t in self.in_flight]
        self.loop.at(time.monotonic() + NO_SUBSCRIBER_RETRY_S, self, "send")

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        try:
            ack = decode_ack(bytes(message.payload))
        except ProtocolError:
            return
        self.acks_in += 1
        self.last_ack = f"acked {list(ack.acked)} throttled {list(ack.throttled)}"
        if ack.store_epoch != self.store_epoch:
            self.last_ack += " (another epoch)"
            return
        now = time.time()
        stats = self.loop.stats
        settled = [*ack.acked, *((r.first, r.last) for r in ack.rejected)]
        for first, last in settled:
            for seq in range(first, last + 1):
                entry = self.unacked.pop(seq, None)
                if entry is not None and entry[3]:
                    stats.acked += 1
                    stats.lags.append(now - entry[1] / 1_000_000)
        self.in_flight = [
            f for f in self.in_flight if not any(a <= f[0] and f[1] <= b for a, b in settled)
        ]
        if ack.throttled:
            self.paused_until = time.monotonic() + ack.retry_after_s
            self.in_flight.clear()
            self.loop.at(self.paused_until, self, "send")
        self._send()

    def _heartbeat(self) -> None:
        if not self.connected:
            return
        live = sum(1 for entry in self.unacked.values() if entry[3])
        status = encode_status(
            "online",
            version="bench",
            store_epoch=str(self.store_epoch),
            backlog=len(self.unacked),
            held_back=0,
            clock_synchronised=True,
            acks=ACK_FORMATS_READ,
            hub_subscribed=True,
            last_error="",
            link_profile="broadband",
            rejected=0,
            store_bytes=4096 + 60 * live,
        )
        self.client.publish(topic(self.device, "status"), status, qos=1, retain=True)

    # --- timers ---

    def on_timer(self, what: str) -> None:
        """A timer of this hall is due."""
        now = time.monotonic()
        if what == "read":
            self._take(time.time())
            self._send()
            self.loop.at(now + self.loop.read_every_s, self, "read")
        elif what == "heartbeat":
            self._heartbeat()
            self.loop.at(
                now + self.loop.read_every_s * HEARTBEAT_S / READ_EVERY_S, self, "heartbeat"
            )
        elif what == "misc":
            if self.client.socket() is not None:
                self.client.loop_misc()
                self._send()  # resends what waited too long for its ack
            self.loop.at(now + MISC_EVERY_S, self, "misc")
        elif what == "connect":
            self.connect_due = False
            if not self.connected:
                self.connect()
        elif what == "send":
            self._send()
        elif what == "drop":
            self.drop()

    def oldest_unacked(self) -> float | None:
        """The wall time of this hall's oldest live reading not yet acknowledged."""
        for _, at_us, _, live in self.unacked.values():
            if live:
                return at_us / 1_000_000
        return None


def _stats(loop: HallLoop, halls: Sequence[VirtualHall], reset: bool) -> HallStats:
    stats = loop.stats
    usage = resource.getrusage(resource.RUSAGE_SELF)
    oldest = [t for t in (hall.oldest_unacked() for hall in halls) if t is not None]
    now = time.monotonic()
    furthest = sorted(
        (hall for hall in halls if hall.oldest_unacked() is not None),
        key=lambda hall: hall.oldest_unacked() or 0.0,
    )[:3]
    behind = [
        f"{hall.device}: {time.time() - (hall.oldest_unacked() or 0.0):.0f} s behind, "
        f"{'connected' if hall.connected else 'not connected'}, {len(hall.unacked)} unacked, "
        f"in flight {[(a, b, round(now - t)) for a, b, t in hall.in_flight]}, "
        f"{hall.acks_in} acks, the last {hall.last_ack or 'none'}"
        for hall in furthest
    ]
    out = HallStats(
        halls=len(halls),
        connected=stats.connected,
        connects=stats.connects,
        failed_attempts=stats.failed_attempts,
        taken=stats.taken,
        acked=stats.acked,
        backlog_left=sum(1 for hall in halls for entry in hall.unacked.values() if not entry[3]),
        sent_batches=stats.sent_batches,
        resent_batches=stats.resent_batches,
        lags=list(stats.lags),
        oldest_unacked=min(oldest) if oldest else None,
        behind=behind,
        cpu_s=usage.ru_utime + usage.ru_stime,
        rss_kb=_rss_kb(),
    )
    if reset:
        stats.lags.clear()
    return out


def run_halls(
    plans: Sequence[HallPlan],
    target: Target,
    conn: Connection,
    ramp_s: float,
    read_every_s: float = READ_EVERY_S,
) -> None:
    """A process of virtual halls: connect them over ``ramp_s``, then run until told to stop.

    ``read_every_s`` shortens the minute between readings (and heartbeats), for a test.
    """
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    tls = ssl.create_default_context(cafile=str(target.ca_file))
    loop = HallLoop()
    loop.read_every_s = read_every_s
    loop.selector.register(conn.fileno(), selectors.EVENT_READ, None)
    loop.stats.halls = len(plans)
    halls = [VirtualHall(plan, target, loop, tls) for plan in plans]
    started = time.monotonic()
    for n, hall in enumerate(halls):
        connect_at = started + ramp_s * n / len(halls)
        hall.connect_due = True
        loop.at(connect_at, hall, "connect")
        loop.at(connect_at + MISC_EVERY_S * random.random(), hall, "misc")
        first_read = connect_at + hall.plan.phase * read_every_s
        loop.at(first_read, hall, "read")
        loop.at(first_read + read_every_s / 2, hall, "heartbeat")
    conn.send(("ready", len(halls)))
    while True:
        loop.run_once()
        while conn.poll():
            command = conn.recv()
            if command[0] == "stats":
                conn.send(_stats(loop, halls, reset=bool(command[1])))
            elif command[0] == "jitter":
                loop.jitter = bool(command[1])
                conn.send(("jitter", loop.jitter))
            elif command[0] == "stop":
                for hall in halls:
                    hall.client.disconnect()
                conn.send(("stopped", len(halls)))
                return
