"""What a hostile device sends: readings payloads built field by field, past every limit.

``raw_batch`` writes the readings format of docs/protocol.md without the encoder's checks,
so a test can put any integer in any field (a timestamp of 2^63, a quality of 2^64, a
NUL in a sensor id) and see what the hub does with it. ``hostile_stream`` makes a seeded
stream of such messages on every topic a device might try, each with the outcome the hub
(or the broker) must give it; ``hostile_flood`` is a device far over its quota.
"""

from __future__ import annotations

import json
import math
import random
import struct
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import cache
from itertools import pairwise
from typing import Any

from hub.ingest import BAD_STATUS, REASONS, SPOOFED, refusal_reason
from hub.store import QUOTA_SERIES
from hub_sync.batch_codec import FLAG_ZLIB, MAGIC
from hub_sync.limits import FORMAT_VERSION, MAX_BATCH_READINGS, MAX_PAYLOAD_BYTES, MAX_STATUS_BYTES
from hub_sync.topics import topic
from hub_sync.wire_errors import (
    BatchTooLarge,
    MalformedPayload,
    PayloadTooLarge,
    UnsupportedVersion,
)
from provisioning.broker_config import HUB_ACCOUNT


def varint(n: int) -> bytes:
    """Unsigned LEB128 of any size (more than 10 bytes if asked)."""
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def svarint(n: int) -> bytes:
    """Zigzag then varint."""
    return varint(n * 2 if n >= 0 else -n * 2 - 1)


def text(value: str | bytes) -> bytes:
    """A length-prefixed text field (bytes are sent as they are, valid UTF-8 or not)."""
    data = value.encode("utf-8") if isinstance(value, str) else value
    return varint(len(data)) + data


def raw_batch(
    device_id: str,
    store_epoch: int,
    seqs: Sequence[int],
    *,
    series: Sequence[tuple[str | bytes, str | bytes, str | bytes]] = (("t", "temperature", "°C"),),
    index: Sequence[int] | None = None,
    stamps: Sequence[int] | None = None,
    values: Sequence[int] | None = None,
    qualities: Sequence[int] | None = None,
    compress: bool = True,
) -> bytes:
    """A readings payload with every field as given (contiguous or listed seqs, scaled values).

    Defaults: every reading on series 0, stamped 1.79e15 µs plus its seq, value 21.
    """
    count = len(seqs)
    index = list(index) if index is not None else [0] * count
    stamps = list(stamps) if stamps is not None else [1_790_000_000_000_000 + s for s in seqs]
    values = list(values) if values is not None else [21] * count
    qualities = list(qualities) if qualities is not None else [0] * count
    body = bytearray(text(device_id))
    body += store_epoch.to_bytes(8, "big")
    body += varint(count)
    if list(seqs) == list(range(seqs[0], seqs[0] + count)):
        body += b"\x00" + varint(seqs[0])
    else:
        body += b"\x01" + varint(seqs[0])
        body += b"".join(varint(b - a) for a, b in pairwise(seqs))
    body += varint(len(series))
    for sensor_id, metric, unit in series:
        body += text(sensor_id) + text(metric) + text(unit)
    body += b"".join(varint(i) for i in index)
    members: list[list[int]] = [[] for _ in series]
    for k, i in enumerate(index):
        members[i].append(k)
    for group in members:
        previous = 0
        for k in group:
            body += svarint(stamps[k] - previous)
            previous = stamps[k]
    for group in members:
        body += b"\x00\x00"  # scaled, scale 0
        previous = 0
        for k in group:
            body += svarint(values[k] - previous)
            previous = values[k]
    body += b"".join(varint(q) for q in qualities)
    body += varint(0)  # no censored readings
    flags = FLAG_ZLIB if compress else 0
    payload = bytes(body)
    if compress:
        payload = zlib.compress(payload)
    return MAGIC + bytes([FORMAT_VERSION, flags]) + payload


def float_batch(device_id: str, store_epoch: int, seq: int, value: float) -> bytes:
    """One reading whose value travels as a raw float64 (NaN, infinities, -0.0 …)."""
    body = (
        text(device_id)
        + store_epoch.to_bytes(8, "big")
        + varint(1)
        + b"\x00"
        + varint(seq)
        + varint(1)
        + text("t")
        + text("temperature")
        + text("°C")
        + varint(0)
        + svarint(1_790_000_000_000_000)
        + b"\x01"
        + struct.pack(">d", value)
        + varint(0)
        + varint(0)
    )
    return MAGIC + bytes([FORMAT_VERSION, 0]) + body


def deep_json(depth: int, *, inner: str = "1") -> bytes:
    """A status-shaped JSON object whose one field nests ``depth`` arrays deep."""
    return ('{"v":1,"state":"online","dropped":' + "[" * depth + inner + "]" * depth + "}").encode()


def status(**fields: object) -> bytes:
    """A status message with the given fields, not checked (may break every rule)."""
    return json.dumps({"v": 1, "state": "online", **fields}).encode()


# --- a hostile device's stream: every kind of bad message, interleaved with valid ones ---

STORED = "stored"
"""A valid batch (or one at a limit, not past it): its readings stored and acknowledged."""
RECORDED = "status recorded"
"""A valid status: the fleet page shows it."""
CLEARED = "cleared"
"""An empty status: by MQTT's convention, the clearing of a retained one; nothing to store."""
BROKER_REFUSED = "refused by the broker"
"""Another device's topic, a topic no device may write, or a payload over the broker's
size limit: the broker refuses it (PUBACK 0x87, or it drops the connection)."""
REFUSED_IN_ACK = "refused in the ack"
"""A replay of stored sequence numbers with other content: one of the two is refused."""
MALFORMED = refusal_reason(MalformedPayload("-"))
TOO_LARGE = REASONS[PayloadTooLarge]
BATCH_TOO_LARGE = REASONS[BatchTooLarge]
OLD_OR_NEW_VERSION = REASONS[UnsupportedVersion]
REJECTED = (MALFORMED, TOO_LARGE, BATCH_TOO_LARGE, OLD_OR_NEW_VERSION, SPOOFED, BAD_STATUS)
"""The refusal reasons (the hub's own phrases) a message of the stream may expect."""

_STAMP = 1_790_000_000_000_000
_CONTROL = ("\x00", "\x01", "\n", "\x1b", "\x7f", "\x85", "\x9f")


@dataclass(frozen=True)
class HostileMessage:
    """One message a hostile device sends, and what must become of it.

    ``expected`` is one of the module's outcomes: STORED, RECORDED, CLEARED,
    BROKER_REFUSED, REFUSED_IN_ACK, QUOTA_SERIES, or a refusal reason in REJECTED.
    ``seqs`` (in ``store_epoch``) are the readings the payload holds; ``names_readings``
    says the hub can read them from a payload it refuses, and must refuse them in an ack.
    """

    topic: str
    payload: bytes
    retain: bool
    expected: str
    case: str
    store_epoch: int = 0
    seqs: tuple[int, ...] = ()
    names_readings: bool = False

    @property
    def over_broker_limit(self) -> bool:
        """Whether the broker drops the connection for it (past the protocol's largest)."""
        return len(self.payload) > MAX_PAYLOAD_BYTES


@cache
def zip_bomb() -> bytes:
    """A readings payload of 8 KiB that would inflate to 8 MiB (twice the limit)."""
    return MAGIC + bytes([FORMAT_VERSION, FLAG_ZLIB]) + zlib.compress(b"\0" * (8 << 20), 9)


def five_thousand_digits() -> bytes:
    """A status whose backlog is a number of 5,000 digits (json.dumps cannot even write it)."""
    return b'{"v":1,"state":"online","backlog":' + b"9" * 5000 + b"}"


class _Cases:
    """The cases of one stream; each method returns one message."""

    def __init__(
        self, rng: random.Random, device_id: str, store_epoch: int, others: Sequence[str]
    ) -> None:
        self.rng = rng
        self.device_id = device_id
        self.epoch = store_epoch
        self.others = tuple(others)
        self.readings = topic(device_id, "readings")
        self.status_topic = topic(device_id, "status")
        self.next_seq = 1
        self.sent_valid: list[tuple[int, HostileMessage]] = []
        self.position = 0
        self.bombed = False

    def seqs(self, n: int) -> list[int]:
        first = self.next_seq
        self.next_seq += n
        return list(range(first, first + n))

    def batch(
        self, case: str, expected: str, *, named: bool = False, n: int = 0, **fields: Any
    ) -> HostileMessage:
        seqs = self.seqs(n or self.rng.randint(1, 5))
        payload = raw_batch(self.device_id, self.epoch, seqs, **fields)
        return HostileMessage(
            self.readings, payload, False, expected, case, self.epoch, tuple(seqs), named
        )

    def stamped(self, case: str, expected: str, stamp: int) -> HostileMessage:
        seqs = self.seqs(1)
        payload = raw_batch(self.device_id, self.epoch, seqs, stamps=[stamp])
        named = expected != STORED
        return HostileMessage(
            self.readings, payload, False, expected, case, self.epoch, tuple(seqs), named
        )

    def qualified(self, case: str, expected: str, quality: int) -> HostileMessage:
        seqs = self.seqs(1)
        payload = raw_batch(self.device_id, self.epoch, seqs, qualities=[quality])
        named = expected != STORED
        return HostileMessage(
            self.readings, payload, False, expected, case, self.epoch, tuple(seqs), named
        )

    def status(self, case: str, expected: str, payload: bytes, retain: bool) -> HostileMessage:
        return HostileMessage(self.status_topic, payload, retain, expected, case)

    # --- valid, and at the limits ---

    def valid_batch(self) -> HostileMessage:
        message = self.batch("valid batch", STORED, compress=self.rng.random() < 0.5)
        self.sent_valid.append((self.position, message))
        return message

    def valid_replay(self) -> HostileMessage:
        if not self.sent_valid:
            return self.valid_batch()
        _, original = self.rng.choice(self.sent_valid)
        return replace(original, case="the same batch again")

    def differing_replay(self) -> HostileMessage:
        # Long after the original, so the hub has it when the replay comes (two writers
        # may take messages out of order, but not 40 apart).
        earlier = [m for at, m in self.sent_valid if self.position - at >= 40]
        if not earlier:
            return self.valid_batch()
        original = self.rng.choice(earlier)
        payload = raw_batch(
            self.device_id, self.epoch, original.seqs, values=[99] * len(original.seqs)
        )
        return replace(
            original, payload=payload, expected=REFUSED_IN_ACK, case="replay, other values"
        )

    def valid_status(self) -> HostileMessage:
        fields = self.rng.choice(
            [{}, {"backlog": 0, "version": "0.1"}, {"config_revision": 2**63 - 1}, {"dropped": []}]
        )
        return self.status("valid status", RECORDED, status(**fields), self.rng.random() < 0.5)

    def float_value(self, value: float, case: str) -> HostileMessage:
        seq = self.seqs(1)[0]
        payload = float_batch(self.device_id, self.epoch, seq, value)
        return HostileMessage(self.readings, payload, False, STORED, case, self.epoch, (seq,))

    def long_texts(self) -> HostileMessage:
        # A new series: past the quota once the series bomb has gone.
        series = [("s" * 64, "µ" * 32, "°C")]
        expected = QUOTA_SERIES if self.bombed else STORED
        return self.batch("texts of exactly 64 bytes", expected, series=series)

    def epoch_at(self, epoch: int, case: str) -> HostileMessage:
        seqs = self.seqs(2)
        payload = raw_batch(self.device_id, epoch, seqs)
        return HostileMessage(self.readings, payload, False, STORED, case, epoch, tuple(seqs))

    def last_seq(self) -> HostileMessage:
        # A store epoch of its own: seqs count up per epoch, and this one is at the end.
        epoch = self.rng.getrandbits(64)
        seqs = (2**63 - 2, 2**63 - 1)
        payload = raw_batch(self.device_id, epoch, seqs, stamps=[_STAMP, _STAMP + 1])
        return HostileMessage(self.readings, payload, False, STORED, "seq 2^63 - 1", epoch, seqs)

    # --- past a limit: refused by the hub ---

    def control_text(self) -> HostileMessage:
        where = self.rng.randrange(3)
        bad = f"x{self.rng.choice(_CONTROL)}y"
        series = [tuple(bad if i == where else ("t", "temperature", "°C")[i] for i in range(3))]
        field_name = ("sensor id", "metric", "unit")[where]
        return self.batch(
            f"control character in the {field_name}", MALFORMED, named=True, series=series
        )

    def bad_text(self) -> HostileMessage:
        series = self.rng.choice(
            [
                [(b"\xff\xfe", "temperature", "°C")],
                [("s" * 65, "temperature", "°C")],
                [("", "temperature", "°C")],
            ]
        )
        return self.batch("text not UTF-8, too long or empty", MALFORMED, named=True, series=series)

    def truncated(self) -> HostileMessage:
        seqs = self.seqs(self.rng.randint(1, 5))
        whole = raw_batch(self.device_id, self.epoch, seqs, compress=self.rng.random() < 0.5)
        payload = whole[: self.rng.randrange(len(whole))]
        # Whether the seqs could be read depends on where it was cut: not checked.
        return HostileMessage(self.readings, payload, False, MALFORMED, "truncated", self.epoch)

    def garbage(self) -> HostileMessage:
        size = self.rng.choice([0, 1, 3, 4, 16, 300])
        payload = self.rng.choice([b"", b"{", b"HS\x01", b"HS\x01\x00"]) + self.rng.randbytes(size)
        return HostileMessage(self.readings, payload, False, MALFORMED, "garbage or empty")

    def wrong_version(self) -> HostileMessage:
        version = self.rng.choice([0, 2, 255])
        whole = raw_batch(self.device_id, self.epoch, self.seqs(1))
        payload = whole[:2] + bytes([version]) + whole[3:]
        return HostileMessage(self.readings, payload, False, OLD_OR_NEW_VERSION, "wrong version")

    def spoofed(self) -> HostileMessage:
        claimed = self.rng.choice([*self.others, "nobody-registered"])
        payload = raw_batch(claimed, self.epoch, [10**9 + self.rng.randrange(1000)])
        return HostileMessage(self.readings, payload, False, SPOOFED, "another device's id")

    def malformed_status(self) -> HostileMessage:
        payload = self.rng.choice(
            [
                deep_json(9),
                deep_json(2_000),
                status(config_revision=2**63),
                status(backlog=-1),
                status(backlog=2**64),
                status(last_error="a\x00b"),
                status(state="hacked"),
                status(v=2),
                status(dropped=[[1, 2]]),
                b'{"v":1,"state":"online","backlog":NaN}',
                b'{"v":1,"state":"online","backlog":1e999}',
                b"[1,2,3]",
                b"\xff\xfe not utf-8",
                b'{"v":1,"state":"online"',
            ]
        )
        return self.status("malformed status", BAD_STATUS, payload, self.rng.random() < 0.3)

    # --- the rare ones, each sent once ---

    def once(self) -> list[Callable[[], HostileMessage]]:
        d, e = self.device_id, self.epoch
        big = MAX_PAYLOAD_BYTES
        return [
            lambda: self.stamped("timestamp 2^63", MALFORMED, 2**63),
            lambda: self.stamped("timestamp -2^63 - 1", MALFORMED, -(2**63) - 1),
            lambda: self.stamped("timestamp 2^64", MALFORMED, 2**64),
            lambda: self.stamped("timestamp 2^70", MALFORMED, 2**70),
            lambda: self.stamped("timestamp -2^63", STORED, -(2**63)),
            lambda: self.stamped("timestamp 2^63 - 1", STORED, 2**63 - 1),
            lambda: self.qualified("quality 2^31", MALFORMED, 2**31),
            lambda: self.qualified("quality 2^64", MALFORMED, 2**64),
            lambda: self.qualified("quality 2^80", MALFORMED, 2**80),
            lambda: self.qualified("quality 2^31 - 1", STORED, 2**31 - 1),
            lambda: self.batch("value 2^53", MALFORMED, named=True, n=1, values=[2**53]),
            lambda: self.float_value(math.nan, "NaN"),
            lambda: self.float_value(math.inf, "infinity"),
            lambda: self.float_value(-math.inf, "minus infinity"),
            lambda: self.float_value(-0.0, "minus zero"),
            self.long_texts,
            lambda: self.epoch_at(0, "store epoch 0"),
            lambda: self.epoch_at(2**64 - 1, "store epoch 2^64 - 1"),
            self.last_seq,
            lambda: HostileMessage(
                self.readings, raw_batch(d, e, [2**63]), False, MALFORMED, "seq 2^63"
            ),
            lambda: HostileMessage(self.readings, raw_batch(d, e, [0]), False, MALFORMED, "seq 0"),
            lambda: HostileMessage(self.readings, zip_bomb(), False, TOO_LARGE, "zip bomb"),
            lambda: HostileMessage(
                self.readings,
                raw_batch(d, e, list(range(1, MAX_BATCH_READINGS + 2))),
                False,
                BATCH_TOO_LARGE,
                "10,001 readings",
            ),
            lambda: HostileMessage(
                self.readings,
                MAGIC + bytes([FORMAT_VERSION, 0]) + self.rng.randbytes(big - 4),
                False,
                MALFORMED,
                "payload of exactly the limit, garbage",
            ),
            lambda: HostileMessage(
                self.readings, raw_batch("EVIL!", e, [1]), False, MALFORMED, "invalid device id"
            ),
            lambda: HostileMessage(
                self.readings,
                MAGIC + bytes([FORMAT_VERSION, 0x80]) + b"\0" * 8,
                False,
                MALFORMED,
                "unknown flags",
            ),
            lambda: HostileMessage(
                self.readings,
                MAGIC + bytes([FORMAT_VERSION, FLAG_ZLIB]) + b"\x78\x9c damaged",
                False,
                MALFORMED,
                "damaged zlib",
            ),
            self.series_bomb,
            lambda: self.status(
                "status nested 100,000 deep", BAD_STATUS, deep_json(100_000), False
            ),
            lambda: self.status(
                "status nested 100,000 deep, retained", BAD_STATUS, deep_json(100_000), True
            ),
            lambda: self.status("status of 5,000 digits", BAD_STATUS, five_thousand_digits(), True),
            lambda: self.status(
                "status over its size limit",
                BAD_STATUS,
                status(last_error="x" * MAX_STATUS_BYTES),
                False,
            ),
            lambda: self.status("empty status", CLEARED, b"", False),
            lambda: self.status("empty retained status", CLEARED, b"", True),
            lambda: HostileMessage(
                self.readings,
                MAGIC + bytes([FORMAT_VERSION, 0]) + bytes(big - 3),
                False,
                BROKER_REFUSED,
                "readings one byte over the limit",
            ),
            lambda: HostileMessage(
                self.readings, bytes(32 << 20), False, BROKER_REFUSED, "readings of 32 MiB"
            ),
            lambda: HostileMessage(
                self.readings, b"HS\x01\x00 retained poison", True, MALFORMED, "retained garbage"
            ),
            *(self.foreign(other) for other in self.others),
            *(
                (lambda where=where: HostileMessage(where, b"x", False, BROKER_REFUSED, where))
                for where in (
                    topic(d, "ack"),
                    topic(d, "config"),
                    f"hallsense/v1/{HUB_ACCOUNT}/readings",
                    f"hallsense/v2/{d}/readings",
                    f"{self.readings}/more",
                    "hallsense/ha/v1/evil",
                    "$SYS/broker/evil",
                    "elsewhere",
                )
            ),
        ]

    def foreign(self, other: str) -> Callable[[], HostileMessage]:
        """Another device's readings (valid, so the broker alone must stop them)."""

        def message() -> HostileMessage:
            payload = raw_batch(other, 1, [10**9 + self.rng.randrange(1000)])
            return HostileMessage(
                topic(other, "readings"), payload, False, BROKER_REFUSED, "another's topic"
            )

        return message

    def series_bomb(self) -> HostileMessage:
        """5,000 series in one batch: ten times a device's series quota."""
        n = 5_000
        seqs = self.seqs(n)
        self.bombed = True
        series = [(f"bomb-{i}", "temperature", "°C") for i in range(n)]
        payload = raw_batch(self.device_id, self.epoch, seqs, series=series, index=range(n))
        return HostileMessage(
            self.readings, payload, False, QUOTA_SERIES, "series bomb", self.epoch, tuple(seqs)
        )

    def retained_poison(self) -> HostileMessage:
        return self.status("retained poison, last", BAD_STATUS, deep_json(100_000), True)


def hostile_stream(
    seed: int,
    device_id: str,
    store_epoch: int,
    *,
    others: Sequence[str] = (),
    count: int = 250,
) -> Iterator[HostileMessage]:
    """A seeded stream of ``count`` messages (at least one of each rare case) from ``device_id``.

    Valid batches (about a third) and statuses are interleaved with every kind of bad
    message the protocol's limits rule out, each rare case exactly once at a random
    place, and the others' topics (``others``: honest devices' ids) tried too. The last
    message is a malformed retained status: it stays at the broker until the hub clears it.
    """
    rng = random.Random(seed)
    cases = _Cases(rng, device_id, store_epoch, others)
    rare = cases.once()
    total = max(count, len(rare) + 1)
    places = dict(zip(rng.sample(range(total - 1), len(rare)), rare, strict=True))
    repeatable = [
        cases.valid_replay,
        cases.differing_replay,
        cases.valid_status,
        cases.control_text,
        cases.bad_text,
        cases.truncated,
        cases.garbage,
        cases.wrong_version,
        cases.spoofed,
        cases.malformed_status,
    ]
    for position in range(total - 1):
        cases.position = position
        if position in places:
            yield places[position]()
        elif rng.random() < 0.35:
            yield cases.valid_batch()
        else:
            yield rng.choice(repeatable)()
    yield cases.retained_poison()


def hostile_flood(seed: int, device_id: str, count: int) -> Iterator[HostileMessage]:
    """``count`` small malformed batches as fast as they go: a device far over its quota."""
    rng = random.Random(seed)
    where = topic(device_id, "readings")
    for _ in range(count):
        yield HostileMessage(where, b"HS\x01\x00" + rng.randbytes(12), False, MALFORMED, "flood")
