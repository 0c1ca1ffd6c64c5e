"""The wire between nodes and the hub: topics, the batch codec, limits and their errors."""

from __future__ import annotations

import hashlib
import json
import math
import re
import struct
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import accumulate, pairwise
from typing import Any, Literal

FORMAT_VERSION = 1
TOPIC_PREFIX = "hallsense/v1"
KINDS = ("readings", "ack", "status", "config")
Kind = Literal["readings", "ack", "status", "config"]

MAX_BATCH_READINGS = 10_000
"""Readings in one batch at most."""
MAX_PAYLOAD_BYTES = 256 * 1024
"""A readings payload on the wire at most (compressed)."""
MAX_DECODED_BYTES = 4 * 1024 * 1024
"""A batch's body once decompressed at most: a small payload cannot unpack to a bomb."""
MAX_SCALE = 9
"""Values are sent as integers / 10^scale when exact at a scale up to this."""
MAX_TEXT_BYTES = 64
"""Sensor ids, metric names and units at most, in UTF-8 bytes."""
MAX_QUALITY = 2**31 - 1
"""Quality flags at most: a signed 32-bit column in both hub stores."""
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
"""Timestamps are signed 64-bit microseconds; counts and revisions at most INT64_MAX."""

MAX_STATUS_BYTES = 16 * 1024
"""A status message at most."""
MAX_CONFIG_BYTES = 64 * 1024
"""A config message at most."""
MAX_JSON_DEPTH = 8
"""Nesting of arrays and objects in any JSON message at most (the deepest needs 3)."""
MAX_NUMBER_CHARS = 24
"""Characters of one JSON number at most (a 64-bit integer needs 20)."""
MAX_STATUS_TEXT = 500
"""Characters of a status's text field at most."""
MAX_STATUS_LIST = 64
"""Entries of a status's ``dropped`` list at most."""

DEVICE_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
"""Refused in every text field: C0 and C1 control characters (NUL, newline, escape …),
the Unicode line and paragraph separators, and the bidirectional embeddings, overrides
and isolates, which can make text on a page read otherwise than it is."""
MAGIC = b"HS"
FLAG_ZLIB = 0x01
VALUES_SCALED = 0
VALUES_FLOAT64 = 1
SEQ_CONTIGUOUS = 0
SEQ_LISTED = 1


@dataclass(frozen=True, slots=True)
class BatchIdentity:
    """Whose readings a batch carries, as far as a payload could be read before it failed.

    ``runs``: the batch's sequence numbers as inclusive ranges, so a refusal can name
    exactly the readings the payload held (never readings of the gaps between).
    """

    device_id: str
    store_epoch: int
    runs: tuple[tuple[int, int], ...]


class ProtocolError(Exception):
    """Base of every error in what travels on the wire; a bad payload is rejected, not retried.

    ``identity`` is set when the error was found in a readings payload after its device,
    store epoch and sequence numbers had been read: the hub can then tell the node which
    readings it refuses.
    """

    identity: BatchIdentity | None = None


class TopicError(ProtocolError, ValueError):
    """A topic that is not exactly ``hallsense/v1/<device_id>/<kind>``."""


class DeviceIdError(ProtocolError, ValueError):
    """A device id that is not 1-32 lowercase letters, digits and hyphens."""


class UnsupportedVersion(ProtocolError, ValueError):
    """A payload in a format version this code does not know."""


class PayloadTooLarge(ProtocolError, ValueError):
    """A payload, or what it decompresses to, over the limits."""


class BatchTooLarge(ProtocolError, ValueError):
    """More readings in one batch than MAX_BATCH_READINGS."""


class MalformedPayload(ProtocolError, ValueError):
    """A payload that cannot be decoded: truncated, inconsistent, or not ours at all."""


# --- topics ---


def check_device_id(device_id: str) -> str:
    """``device_id`` if it is valid.

    Raises:
        DeviceIdError: naming the id and the rule.
    """
    if not DEVICE_ID.fullmatch(device_id):
        raise DeviceIdError(
            f"device id {device_id!r} is not valid: use 1 to 32 lowercase letters, digits "
            "and hyphens, starting with a letter or digit"
        )
    return device_id


def topic(device_id: str, kind: Kind) -> str:
    """The topic of ``kind`` messages of ``device_id``."""
    if kind not in KINDS:
        raise TopicError(f"unknown message kind {kind!r}; kinds are {', '.join(KINDS)}")
    return f"{TOPIC_PREFIX}/{check_device_id(device_id)}/{kind}"


def parse_topic(name: str) -> tuple[str, Kind]:
    """(device id, kind) of a topic, checked strictly.

    Raises:
        TopicError: the topic does not have exactly the four levels, prefix and kind.
        DeviceIdError: the device id level is not a valid id.
    """
    levels = name.split("/")
    if len(levels) != 4 or "/".join(levels[:2]) != TOPIC_PREFIX:
        raise TopicError(f"topic {name!r} is not of the form {TOPIC_PREFIX}/<device_id>/<kind>")
    kind = levels[3]
    if kind not in KINDS:
        raise TopicError(f"topic {name!r} has unknown kind {kind!r}")
    return check_device_id(levels[2]), kind  # type: ignore[return-value]


# --- readings ---


@dataclass(frozen=True, slots=True)
class WireReading:
    """One reading as it travels: its sequence number and everything the node stored."""

    seq: int
    sensor_id: str
    metric: str
    unit: str
    ts_us: int
    value: float
    quality: int = 0
    censor: str | None = None


@dataclass(frozen=True, slots=True)
class Batch:
    """Readings of one device and one store epoch, in sequence order."""

    device_id: str
    store_epoch: int
    readings: Sequence[WireReading] = field(default_factory=tuple)


class _Writer:
    def __init__(self) -> None:
        self.parts = bytearray()

    def varint(self, n: int) -> None:
        if n < 0:
            raise ValueError(f"varint of negative {n}")
        while True:
            byte = n & 0x7F
            n >>= 7
            if n:
                self.parts.append(byte | 0x80)
            else:
                self.parts.append(byte)
                return

    def svarint(self, n: int) -> None:
        self.varint(n * 2 if n >= 0 else -n * 2 - 1)

    def varints(self, values: Iterable[int]) -> None:
        """Many varints at once: the hot path of encoding (most fit one byte)."""
        parts = self.parts
        append = parts.append
        for n in values:
            if 0 <= n < 0x80:
                append(n)
                continue
            if n < 0:
                raise ValueError(f"varint of negative {n}")
            while n >= 0x80:
                append((n & 0x7F) | 0x80)
                n >>= 7
            append(n)

    def svarints(self, values: Iterable[int]) -> None:
        """Many zigzag varints at once."""
        self.varints(n * 2 if n >= 0 else -n * 2 - 1 for n in values)

    def text(self, value: str) -> None:
        check_text(value, f"text {value[:20]!r}")
        data = value.encode("utf-8")
        if len(data) > MAX_TEXT_BYTES:
            raise MalformedPayload(
                f"text {value[:20]!r}… is {len(data)} bytes; at most {MAX_TEXT_BYTES}"
            )
        self.varint(len(data))
        self.parts += data


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise MalformedPayload("payload ends early (truncated)")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise MalformedPayload("payload ends early (truncated)")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def varint(self) -> int:
        result = shift = 0
        while True:
            byte = self.byte()
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7
            if shift > 70:
                raise MalformedPayload("a varint is longer than 10 bytes")

    def svarint(self) -> int:
        n = self.varint()
        return n >> 1 if not n & 1 else -((n + 1) >> 1)

    def varints(self, count: int) -> list[int]:
        """``count`` varints at once: the hot path of decoding (most are one byte)."""
        data, pos, end = self.data, self.pos, len(self.data)
        out: list[int] = []
        append = out.append
        for _ in range(count):
            if pos >= end:
                raise MalformedPayload("payload ends early (truncated)")
            byte = data[pos]
            pos += 1
            if byte < 0x80:
                append(byte)
                continue
            result, shift = byte & 0x7F, 7
            while True:
                if pos >= end:
                    raise MalformedPayload("payload ends early (truncated)")
                byte = data[pos]
                pos += 1
                result |= (byte & 0x7F) << shift
                if byte < 0x80:
                    break
                shift += 7
                if shift > 70:
                    raise MalformedPayload("a varint is longer than 10 bytes")
            append(result)
        self.pos = pos
        return out

    def svarints(self, count: int) -> list[int]:
        """``count`` zigzag varints at once."""
        return [(n >> 1) ^ -(n & 1) for n in self.varints(count)]

    def text(self) -> str:
        length = self.varint()
        if length > MAX_TEXT_BYTES:
            raise MalformedPayload(f"a text field of {length} bytes; at most {MAX_TEXT_BYTES}")
        try:
            text = self.take(length).decode("utf-8")
        except UnicodeDecodeError as error:
            raise MalformedPayload(f"a text field is not UTF-8: {error}") from error
        check_text(text, "a text field")
        return text


def check_text(text: str, what: str) -> str:
    """``text`` if it holds no control character.

    Raises:
        MalformedPayload: naming ``what`` and the character.
    """
    found = CONTROL_CHARACTER.search(text)
    if found:
        raise MalformedPayload(
            f"{what} holds the control character U+{ord(found.group()):04X}; text may not"
        )
    return text


def _same_bits(a: float, b: float) -> bool:
    return struct.pack(">d", a) == struct.pack(">d", b)


def value_scale(values: Iterable[float]) -> int | None:
    """The smallest scale at which every value is exactly ``round(v * 10^s) / 10^s``.

    None when there is none up to MAX_SCALE (a NaN, an infinity, -0.0, or too many
    digits): the column then travels as raw float64. The decoder only ever divides an
    integer by a power of ten, which IEEE 754 rounds the same way everywhere.
    """
    values = list(values)
    for scale in range(MAX_SCALE + 1):
        power = 10**scale
        for v in values:
            if not math.isfinite(v) or abs(v) * power >= 2**53:
                break
            n = round(v * power)
            if abs(n) >= 2**53 or not _same_bits(n / power, v):
                break
        else:
            return scale
    return None


def encode_batch(batch: Batch, *, compress: bool = True) -> bytes:
    """The readings payload of ``batch`` (format version 1, docs/protocol.md).

    Raises:
        BatchTooLarge: more than MAX_BATCH_READINGS readings.
        PayloadTooLarge: the payload would exceed MAX_PAYLOAD_BYTES.
        DeviceIdError: the device id is not valid.
    """
    readings = batch.readings
    if len(readings) > MAX_BATCH_READINGS:
        raise BatchTooLarge(f"batch of {len(readings)} readings; at most {MAX_BATCH_READINGS}")
    if not readings:
        raise MalformedPayload("a batch needs at least one reading")
    check_device_id(batch.device_id)
    if not 0 <= batch.store_epoch < 2**64:
        raise MalformedPayload(f"store epoch {batch.store_epoch} is not an unsigned 64-bit number")
    w = _Writer()
    w.text(batch.device_id)
    w.parts += batch.store_epoch.to_bytes(8, "big")
    w.varint(len(readings))

    seqs = [r.seq for r in readings]
    if any(b <= a for a, b in pairwise(seqs)) or seqs[0] < 1:
        raise MalformedPayload("sequence numbers must be 1 or more and strictly increasing")
    if seqs[-1] - seqs[0] == len(seqs) - 1:
        w.parts.append(SEQ_CONTIGUOUS)
        w.varint(seqs[0])
    else:
        w.parts.append(SEQ_LISTED)
        w.varint(seqs[0])
        for a, b in pairwise(seqs):
            w.varint(b - a)

    series: dict[tuple[str, str, str], int] = {}
    index = []
    for r in readings:
        key = (r.sensor_id, r.metric, r.unit)
        index.append(series.setdefault(key, len(series)))
    if not all(sensor_id and metric for sensor_id, metric, _ in series):
        raise MalformedPayload("a series has an empty sensor id or metric")
    w.varint(len(series))
    for sensor_id, metric, unit in series:
        w.text(sensor_id)
        w.text(metric)
        w.text(unit)
    w.varints(index)

    # Per series: timestamp deltas, then the values, each series in one column.
    members: list[list[WireReading]] = [[] for _ in series]
    for r, i in zip(readings, index, strict=True):
        members[i].append(r)
    for group in members:
        stamps = [r.ts_us for r in group]
        if min(stamps) < INT64_MIN or max(stamps) > INT64_MAX:
            raise MalformedPayload("a timestamp is beyond signed 64 bits")
        w.svarints(b - a for a, b in pairwise([0, *stamps]))
    for group in members:
        scale = value_scale(r.value for r in group)
        if scale is None:
            w.parts.append(VALUES_FLOAT64)
            for r in group:
                w.parts += struct.pack(">d", r.value)
        else:
            w.parts.append(VALUES_SCALED)
            w.parts.append(scale)
            power = 10**scale
            integers = [round(r.value * power) for r in group]
            w.svarints(b - a for a, b in pairwise([0, *integers]))
    qualities = [r.quality for r in readings]
    if max(qualities) > MAX_QUALITY:
        raise MalformedPayload(f"quality flags {max(qualities)}; at most {MAX_QUALITY}")
    w.varints(qualities)
    censored = [(i, r.censor) for i, r in enumerate(readings) if r.censor is not None]
    w.varint(len(censored))
    previous = 0
    for i, censor in censored:
        if censor not in ("<", ">"):
            raise MalformedPayload(f"censor must be '<' or '>', got {censor!r}")
        w.varint(i - previous)
        w.parts += censor.encode("ascii")
        previous = i

    body = bytes(w.parts)
    flags = FLAG_ZLIB if compress else 0
    if compress:
        body = zlib.compress(body, 9)
    payload = MAGIC + bytes([FORMAT_VERSION, flags]) + body
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadTooLarge(
            f"payload of {len(payload)} bytes; at most {MAX_PAYLOAD_BYTES}: send smaller batches"
        )
    return payload


PEEK_BYTES = 64
"""Enough of a batch's body for its device id, epoch, count and first sequence number."""


def _body(payload: bytes, limit: int) -> bytes:
    """The body of a readings payload, its header checked.

    At most ``limit`` bytes of it when ``limit`` is less than MAX_DECODED_BYTES: a peek,
    with nothing checked past it.
    """
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadTooLarge(f"payload of {len(payload)} bytes; at most {MAX_PAYLOAD_BYTES}")
    if len(payload) < 4 or payload[:2] != MAGIC:
        raise MalformedPayload("not a hallsense readings payload (no 'HS' header)")
    version, flags = payload[2], payload[3]
    if version != FORMAT_VERSION:
        raise UnsupportedVersion(
            f"readings format version {version}; this hub knows version {FORMAT_VERSION}"
        )
    if flags & ~FLAG_ZLIB:
        raise MalformedPayload(f"unknown flags 0x{flags:02x}")
    body = payload[4:]
    if not flags & FLAG_ZLIB:
        return body if limit >= MAX_DECODED_BYTES else body[:limit]
    inflater = zlib.decompressobj()
    try:
        body = inflater.decompress(body, limit)
    except zlib.error as error:
        raise MalformedPayload(f"compressed body is damaged: {error}") from error
    if limit < MAX_DECODED_BYTES:
        return body
    if inflater.unconsumed_tail:
        raise PayloadTooLarge(f"body decompresses to more than {MAX_DECODED_BYTES} bytes")
    if not inflater.eof:
        raise MalformedPayload("compressed body is truncated")
    return body


def _head(r: _Reader) -> tuple[str, int, int, int, int]:
    """(device id, store epoch, count, sequence mode, first sequence number)."""
    device_id = check_device_id(r.text())
    store_epoch = int.from_bytes(r.take(8), "big")
    count = r.varint()
    if count == 0:
        raise MalformedPayload("a batch needs at least one reading")
    if count > MAX_BATCH_READINGS:
        raise BatchTooLarge(f"batch of {count} readings; at most {MAX_BATCH_READINGS}")
    mode = r.byte()
    first = r.varint()
    if first < 1:
        raise MalformedPayload("sequence numbers start at 1")
    return device_id, store_epoch, count, mode, first


def peek_batch(payload: bytes) -> BatchIdentity | None:
    """Whose readings a batch carries, from its first bytes only (microseconds' work).

    None when its sequence numbers are listed rather than contiguous.

    Raises:
        ProtocolError: the part read is already wrong (the whole payload is not checked).
    """
    device_id, store_epoch, count, mode, first = _head(_Reader(_body(payload, PEEK_BYTES)))
    if mode != SEQ_CONTIGUOUS:
        return None
    last = first + count - 1
    if last >= 2**63:
        raise MalformedPayload("a sequence number is beyond 2^63 - 1")
    return BatchIdentity(device_id, store_epoch, ((first, last),))


def decode_batch(payload: bytes) -> Batch:
    """The batch in a readings payload.

    Raises:
        PayloadTooLarge, UnsupportedVersion, MalformedPayload, BatchTooLarge,
        DeviceIdError: each naming what is wrong. Never anything else for bad input.
    """
    body = _body(payload, MAX_DECODED_BYTES)
    r = _Reader(body)
    device_id, store_epoch, count, mode, first = _head(r)
    if mode == SEQ_CONTIGUOUS:
        seqs = list(range(first, first + count))
    elif mode == SEQ_LISTED:
        seqs = [first]
        for _ in range(count - 1):
            step = r.varint()
            if step < 1:
                raise MalformedPayload("sequence numbers must strictly increase")
            seqs.append(seqs[-1] + step)
    else:
        raise MalformedPayload(f"unknown sequence mode {mode}")
    if seqs[-1] >= 2**63:
        raise MalformedPayload("a sequence number is beyond 2^63 - 1")
    identity = BatchIdentity(device_id, store_epoch, tuple(seq_runs(seqs)))
    try:
        readings = _decode_readings(r, count, seqs)
    except ProtocolError as error:
        error.identity = identity
        raise
    if r.pos != len(body):
        trailing = MalformedPayload(f"{len(body) - r.pos} unexpected bytes after the batch")
        trailing.identity = identity
        raise trailing
    return Batch(device_id, store_epoch, readings)


def merge_ranges(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """The union of inclusive ranges, sorted, with touching and overlapping ones merged."""
    merged: list[tuple[int, int]] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def seq_runs(seqs: Sequence[int]) -> list[tuple[int, int]]:
    """Strictly increasing sequence numbers as inclusive ranges (none for none)."""
    if not seqs:
        return []
    if seqs[-1] - seqs[0] == len(seqs) - 1:
        return [(seqs[0], seqs[-1])]
    runs: list[tuple[int, int]] = []
    for seq in seqs:
        if runs and runs[-1][1] == seq - 1:
            runs[-1] = (runs[-1][0], seq)
        else:
            runs.append((seq, seq))
    return runs


def _decode_readings(r: _Reader, count: int, seqs: list[int]) -> tuple[WireReading, ...]:
    """The rest of a batch's body, after its sequence numbers."""
    n_series = r.varint()
    if not 1 <= n_series <= count:
        raise MalformedPayload(f"{n_series} series for {count} readings")
    series = [(r.text(), r.text(), r.text()) for _ in range(n_series)]
    if len(set(series)) != n_series:
        raise MalformedPayload("a series is listed twice")
    if not all(sensor_id and metric for sensor_id, metric, _ in series):
        raise MalformedPayload("a series has an empty sensor id or metric")
    index = r.varints(count)
    if max(index) >= n_series:
        raise MalformedPayload("a reading refers to a series that is not in the batch")
    sizes = [0] * n_series
    for i in index:
        sizes[i] += 1
    stamps: list[list[int]] = []
    for size in sizes:
        column = list(accumulate(r.svarints(size)))
        if column and (min(column) < INT64_MIN or max(column) > INT64_MAX):
            raise MalformedPayload("a timestamp is beyond signed 64 bits")
        stamps.append(column)
    values: list[list[float]] = []
    for size in sizes:
        kind = r.byte()
        if kind == VALUES_FLOAT64:
            values.append(list(struct.unpack(f">{size}d", r.take(8 * size))))
        elif kind == VALUES_SCALED:
            scale = r.byte()
            if scale > MAX_SCALE:
                raise MalformedPayload(f"value scale {scale}; at most {MAX_SCALE}")
            power = 10**scale
            integers = list(accumulate(r.svarints(size)))
            if integers and (max(integers) >= 2**53 or min(integers) <= -(2**53)):
                raise MalformedPayload("a scaled value is beyond 2^53")
            values.append([n / power for n in integers])
        else:
            raise MalformedPayload(f"unknown value encoding {kind}")
    qualities = r.varints(count)
    if max(qualities) > MAX_QUALITY:
        raise MalformedPayload(f"quality flags {max(qualities)}; at most {MAX_QUALITY}")
    censors: list[str | None] = [None] * count
    position = 0
    for _ in range(r.varint()):
        position += r.varint()
        if position >= count:
            raise MalformedPayload("a censored reading is beyond the batch")
        mark = r.take(1).decode("ascii", errors="replace")
        if mark not in ("<", ">"):
            raise MalformedPayload(f"censor must be '<' or '>', got {mark!r}")
        censors[position] = mark
    cursors = [0] * n_series
    readings = []
    for k in range(count):
        i = index[k]
        j = cursors[i]
        cursors[i] += 1
        sensor_id, metric, unit = series[i]
        readings.append(
            WireReading(
                seqs[k],
                sensor_id,
                metric,
                unit,
                stamps[i][j],
                values[i][j],
                qualities[k],
                censors[k],
            )
        )
    return tuple(readings)


# --- acks ---


@dataclass(frozen=True, slots=True)
class Rejection:
    """Readings the hub will never store, and why."""

    first: int
    last: int
    reason: str


@dataclass(frozen=True, slots=True)
class Ack:
    """The hub's answer on a device's ``ack`` topic: ranges committed, ranges rejected.

    ``rotate``: the council IoT team has asked for this device's broker password to be
    replaced; the node fetches a new one over HTTPS (never over MQTT). A flag, not a
    secret, and absent from the JSON when false, so older nodes ignore it.

    ``throttled``: ranges the hub turned away unstored because the device is over its
    quota of readings a minute; the node sends them again after ``retry_after_s`` seconds
    and sends nothing new before then. Absent from the JSON when empty.
    """

    store_epoch: int
    acked: tuple[tuple[int, int], ...] = ()
    rejected: tuple[Rejection, ...] = ()
    rotate: bool = False
    throttled: tuple[tuple[int, int], ...] = ()
    retry_after_s: int = 0


ACK_RANGES_PER_MESSAGE = 2000
"""Acked ranges in one ack message at most (each at most 43 bytes of JSON)."""
ACK_REJECTIONS_PER_MESSAGE = 500
"""Refused ranges in one ack message at most (each at most 300 bytes of JSON)."""
MAX_REJECTION_REASON = 200
"""Characters of a refusal's reason at most."""
MAX_RETRY_AFTER_S = 3600
"""The longest a hub may ask a node to wait before sending again."""


def split_ack(ack: Ack) -> list[Ack]:
    """``ack`` as one or more acks that each stay far below MAX_PAYLOAD_BYTES.

    A batch of scattered sequence numbers can need thousands of ranges; a message over
    the broker's limit would be dropped and cost the hub its connection. Each part
    carries the same epoch and rotate flag; a node applies each as it comes.
    """
    rejected = tuple(
        Rejection(r.first, r.last, r.reason[:MAX_REJECTION_REASON]) for r in ack.rejected
    )
    if (
        len(ack.acked) + len(ack.throttled) <= ACK_RANGES_PER_MESSAGE
        and len(rejected) <= ACK_REJECTIONS_PER_MESSAGE
    ):
        return [
            Ack(ack.store_epoch, ack.acked, rejected, ack.rotate, ack.throttled, ack.retry_after_s)
        ]
    epoch, rotate, step = ack.store_epoch, ack.rotate, ACK_RANGES_PER_MESSAGE
    parts = [
        Ack(epoch, ack.acked[i : i + step], (), rotate) for i in range(0, len(ack.acked), step)
    ]
    parts += [
        Ack(epoch, (), rejected[i : i + ACK_REJECTIONS_PER_MESSAGE], rotate)
        for i in range(0, len(rejected), ACK_REJECTIONS_PER_MESSAGE)
    ]
    parts += [
        Ack(epoch, (), (), rotate, ack.throttled[i : i + step], ack.retry_after_s)
        for i in range(0, len(ack.throttled), step)
    ]
    return parts


def encode_ack(ack: Ack) -> bytes:
    """The JSON of an ack (the store epoch as a string: JSON numbers stop at 2^53)."""
    body: dict[str, Any] = {
        "v": FORMAT_VERSION,
        "store_epoch": str(ack.store_epoch),
        "acked": [list(pair) for pair in ack.acked],
        "rejected": [{"first": r.first, "last": r.last, "reason": r.reason} for r in ack.rejected],
    }
    if ack.rotate:
        body["rotate"] = True
    if ack.throttled:
        body["throttled"] = [list(pair) for pair in ack.throttled]
        body["retry_after_s"] = ack.retry_after_s
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_JSON_BRACKET = re.compile(r"[\[\]{}]")


def _json_number(what: str, kind: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        if len(text) > MAX_NUMBER_CHARS:
            raise MalformedPayload(
                f"{what} holds a number of {len(text)} characters; at most {MAX_NUMBER_CHARS}"
            )
        return kind(text)

    return parse


def _json_texts(value: Any, what: str) -> None:
    # Depth is bounded before parsing, so this recursion is too.
    if isinstance(value, str):
        check_text(value, f"{what}: a text")
    elif isinstance(value, list):
        for item in value:
            _json_texts(item, what)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key, f"{what}: a name")
            _json_texts(item, what)


def load_json(payload: bytes, what: str, *, max_bytes: int, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """JSON from an untrusted peer, within bounds before anything else touches it.

    Size, nesting depth and number length are checked before Python's parser could
    recurse or build huge integers; NaN and Infinity (not JSON) and control characters
    in any text are refused.

    Raises:
        PayloadTooLarge: over ``max_bytes``.
        MalformedPayload: not UTF-8 JSON, or beyond a bound; the message says which.
    """
    if len(payload) > max_bytes:
        raise PayloadTooLarge(f"{what} of {len(payload)} bytes; at most {max_bytes}")
    try:
        text = bytes(payload).decode("utf-8")
    except UnicodeDecodeError as error:
        raise MalformedPayload(f"{what} is not UTF-8: {error}") from error
    depth = 0
    for bracket in _JSON_BRACKET.finditer(_JSON_STRING.sub('""', text)):
        if bracket.group() in "[{":
            depth += 1
            if depth > max_depth:
                raise MalformedPayload(f"{what} nests deeper than {max_depth} levels")
        else:
            depth -= 1

    def constant(name: str) -> Any:
        raise MalformedPayload(f"{what} holds {name}, which is not a JSON number")

    try:
        data = json.loads(
            text,
            parse_int=_json_number(what, int),
            parse_float=_json_number(what, float),
            parse_constant=constant,
        )
    except (json.JSONDecodeError, RecursionError) as error:
        raise MalformedPayload(f"{what} is not JSON: {error}") from error
    _json_texts(data, what)
    return data


def _json(payload: bytes, what: str, max_bytes: int = MAX_PAYLOAD_BYTES) -> dict[str, Any]:
    data = load_json(payload, what, max_bytes=max_bytes)
    if not isinstance(data, dict):
        raise MalformedPayload(f"{what} is not a JSON object")
    if data.get("v") != FORMAT_VERSION:
        raise UnsupportedVersion(f"{what} version {data.get('v')!r}; this code knows 1")
    return data


def _range(item: Any, what: str) -> tuple[int, int]:
    if (
        not isinstance(item, list | tuple)
        or len(item) != 2
        or not all(isinstance(x, int) and not isinstance(x, bool) for x in item)
        or not 1 <= item[0] <= item[1]
    ):
        raise MalformedPayload(f"{what}: {item!r} is not a range [first, last] of 1 ≤ first ≤ last")
    return int(item[0]), int(item[1])


def _list(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise MalformedPayload(f"ack: {key} must be a list")
    return value


def decode_ack(payload: bytes) -> Ack:
    """The ack in a JSON payload; raises a ProtocolError naming what is wrong."""
    data = _json(payload, "ack")
    try:
        epoch = int(str(data["store_epoch"]))
    except (KeyError, ValueError) as error:
        raise MalformedPayload("ack: store_epoch missing or not a number") from error
    acked = tuple(_range(item, "ack: acked") for item in _list(data, "acked"))
    rejected = []
    for item in _list(data, "rejected"):
        if not isinstance(item, dict) or not isinstance(item.get("reason"), str):
            raise MalformedPayload(f"ack: rejected entry {item!r} needs first, last, reason")
        first, last = _range([item.get("first"), item.get("last")], "ack: rejected")
        rejected.append(Rejection(first, last, item["reason"]))
    rotate = data.get("rotate", False)
    if not isinstance(rotate, bool):
        raise MalformedPayload("ack: rotate must be true or false")
    throttled = tuple(_range(item, "ack: throttled") for item in _list(data, "throttled"))
    retry_after_s = data.get("retry_after_s", 0)
    if (
        not isinstance(retry_after_s, int)
        or isinstance(retry_after_s, bool)
        or not 0 <= retry_after_s <= MAX_RETRY_AFTER_S
    ):
        raise MalformedPayload(
            f"ack: retry_after_s must be a whole number of seconds, 0 to {MAX_RETRY_AFTER_S}"
        )
    return Ack(epoch, acked, tuple(rejected), rotate, throttled, retry_after_s)


# --- status ---

STATUS_FIELDS: dict[str, type | tuple[type, ...]] = {
    "state": str,
    "version": str,
    "store_epoch": str,
    "backlog": int,
    "held_back": int,
    "oldest_unacknowledged": (str, type(None)),
    "store_bytes": int,
    "clock_synchronised": bool,
    "last_error": str,
    "hub_subscribed": bool,
    "dropped": list,
    "rejected": int,
    "config_revision": int,
    "config_error": str,
}


def status_text(text: str) -> str:
    """``text`` fit for a status field: control characters as spaces, at most the bound."""
    return CONTROL_CHARACTER.sub(" ", text)[:MAX_STATUS_TEXT]


def encode_status(state: str, **fields: Any) -> bytes:
    """A status message: ``state`` ("online" or "offline") and the heartbeat's fields.

    Raises:
        MalformedPayload: an unknown field or a value of the wrong type.
    """
    if state not in ("online", "offline"):
        raise MalformedPayload(f"status state must be online or offline, got {state!r}")
    for name, value in fields.items():
        if name not in STATUS_FIELDS or not isinstance(value, STATUS_FIELDS[name]):
            raise MalformedPayload(f"status field {name}={value!r} is not allowed")
    payload = json.dumps(
        {"v": FORMAT_VERSION, "state": state, **fields}, separators=(",", ":")
    ).encode("utf-8")
    decode_status(payload)  # what the hub would refuse is never sent
    return payload


def _dropped_ok(value: list[Any]) -> bool:
    return len(value) <= MAX_STATUS_LIST and all(
        isinstance(item, list)
        and len(item) == 3
        and all(
            isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= INT64_MAX for n in item
        )
        for item in value
    )


def _status_value(name: str, value: Any) -> Any:
    """``value`` of status field ``name`` within its bounds, or a MalformedPayload."""
    if isinstance(value, str):
        if len(value) > MAX_STATUS_TEXT:
            raise MalformedPayload(f"status: {name} is longer than {MAX_STATUS_TEXT} characters")
        if name == "store_epoch" and not (
            value.isdigit() and len(value) <= 20 and int(value) < 2**64
        ):
            raise MalformedPayload("status: store_epoch is not an unsigned 64-bit number")
    elif isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value <= INT64_MAX:
            raise MalformedPayload(f"status: {name} must be 0 to 2^63 - 1, got {value}")
    elif name == "dropped" and not _dropped_ok(value):
        raise MalformedPayload(
            f"status: dropped must be at most {MAX_STATUS_LIST} [first, last, count] "
            "lists of whole numbers"
        )
    return value


def decode_status(payload: bytes) -> dict[str, Any]:
    """The fields of a status message; unknown fields are dropped, wrong types refused.

    Raises:
        ProtocolError: naming the field and its bound (docs/protocol.md).
    """
    data = _json(payload, "status", MAX_STATUS_BYTES)
    if data.get("state") not in ("online", "offline"):
        raise MalformedPayload("status: state must be online or offline")
    out: dict[str, Any] = {}
    for name, kind in STATUS_FIELDS.items():
        if name in data:
            value = data[name]
            if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
                raise MalformedPayload(f"status: {name} has the wrong type")
            out[name] = _status_value(name, value)
    return out


# --- the council CA's fingerprint (on the enrolment label, checked by the node) ---


def certificate_fingerprint(der: bytes) -> str:
    """``sha256:`` and 64 lowercase hex digits: SHA-256 of a certificate's DER bytes.

    The digest ``openssl x509 -noout -fingerprint -sha256`` shows (there in upper case
    with colons); the enrolment label's QR code carries it, the node compares it.
    """
    return "sha256:" + hashlib.sha256(der).hexdigest()


def normalise_fingerprint(fingerprint: str) -> str:
    """A SHA-256 certificate fingerprint as 64 lowercase hex digits.

    Accepts ``sha256:`` in front, colons between bytes, and either case.

    Raises:
        ValueError: it is not a SHA-256 fingerprint.
    """
    text = fingerprint.strip()
    if text.lower().startswith("sha256:"):
        text = text[len("sha256:") :]
    text = text.replace(":", "").lower()
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise ValueError(f"{fingerprint!r} is not a SHA-256 fingerprint (64 hex digits)")
    return text


# --- config (hub → node, retained) ---

MIN_INTERVAL_S = 0.1
MAX_INTERVAL_S = 86_400.0


PAGE_TEXT_KEYS = ("hall_name", "opening_hours", "contact")
PAGE_TEXT_MAX = 200
PAGE_LABEL_MAX = 80
PAGE_LIST_MAX = 64


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """Settings the hub may change on a node.

    ``intervals``: sample intervals per driver, in seconds. ``page``: the community
    page's settings (``hall_name``, ``opening_hours``, ``contact``: text;
    ``public_metrics``: metric names; ``sensor_labels``: sensor id to label), checked
    here for shape; the node checks metric names against its vocabulary.
    """

    revision: int
    intervals: tuple[tuple[str, float], ...] = ()
    page: tuple[tuple[str, Any], ...] = ()


def encode_config(config: NodeConfig) -> bytes:
    """The JSON of a config message."""
    body: dict[str, Any] = {
        "v": FORMAT_VERSION,
        "revision": config.revision,
        "intervals": dict(config.intervals),
    }
    if config.page:
        body["page"] = {
            key: dict(value)
            if key == "sensor_labels"
            else list(value)
            if isinstance(value, tuple)
            else value
            for key, value in config.page
        }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _page_config(page: object) -> tuple[tuple[str, Any], ...]:
    if not isinstance(page, dict):
        raise MalformedPayload("config: page must be an object of page settings")
    checked: list[tuple[str, Any]] = []
    for key, value in sorted(page.items()):
        if key in PAGE_TEXT_KEYS:
            if not isinstance(value, str) or len(value) > PAGE_TEXT_MAX:
                raise MalformedPayload(
                    f"config: page.{key} must be text of at most {PAGE_TEXT_MAX} characters"
                )
            if key == "hall_name" and not value.strip():
                raise MalformedPayload("config: page.hall_name must not be empty")
            checked.append((key, value))
        elif key == "public_metrics":
            if (
                not isinstance(value, list)
                or len(value) > PAGE_LIST_MAX
                or not all(isinstance(m, str) and m for m in value)
            ):
                raise MalformedPayload("config: page.public_metrics must be a list of metric names")
            checked.append((key, tuple(value)))
        elif key == "sensor_labels":
            if (
                not isinstance(value, dict)
                or len(value) > PAGE_LIST_MAX
                or not all(
                    isinstance(label, str) and 0 < len(label) <= PAGE_LABEL_MAX
                    for label in value.values()
                )
            ):
                raise MalformedPayload(
                    "config: page.sensor_labels must map sensor ids to labels of 1 to "
                    f"{PAGE_LABEL_MAX} characters"
                )
            checked.append((key, tuple(sorted(value.items()))))
        else:
            raise MalformedPayload(f"config: page.{key} is not a page setting")
    return tuple(checked)


def decode_config(payload: bytes) -> NodeConfig:
    """The config in a JSON payload, every value checked.

    Raises:
        MalformedPayload: naming the field that is wrong; nothing of it may be applied.
    """
    data = _json(payload, "config", MAX_CONFIG_BYTES)
    unknown = set(data) - {"v", "revision", "intervals", "page"}
    if unknown:
        raise MalformedPayload(f"config: unknown field(s) {', '.join(sorted(unknown))}")
    revision = data.get("revision")
    if not isinstance(revision, int) or isinstance(revision, bool) or revision < 0:
        raise MalformedPayload("config: revision must be a whole number of 0 or more")
    intervals = data.get("intervals", {})
    if not isinstance(intervals, dict):
        raise MalformedPayload("config: intervals must be an object of driver: seconds")
    checked = []
    for name, seconds in sorted(intervals.items()):
        if (
            not isinstance(seconds, int | float)
            or isinstance(seconds, bool)
            or not MIN_INTERVAL_S <= seconds <= MAX_INTERVAL_S
        ):
            raise MalformedPayload(
                f"config: interval of {name!r} must be {MIN_INTERVAL_S:g} to "
                f"{MAX_INTERVAL_S:g} seconds, got {seconds!r}"
            )
        checked.append((str(name), float(seconds)))
    page = _page_config(data["page"]) if "page" in data else ()
    return NodeConfig(revision, tuple(checked), page)
