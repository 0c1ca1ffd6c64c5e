"""The readings batch's compact binary codec (format version 1).

The batch's types live in :mod:`hub_sync.batch_types`; they are named here too, where
both ends have always imported them from.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Iterable, Sequence
from itertools import accumulate, pairwise
from typing import TypeVar

from hub_sync.acks import seq_runs
from hub_sync.batch_types import Batch as Batch
from hub_sync.batch_types import BatchColumns, ColumnReadings
from hub_sync.batch_types import WireReading as WireReading
from hub_sync.limits import (
    FORMAT_VERSION,
    INT64_MAX,
    INT64_MIN,
    MAX_BATCH_READINGS,
    MAX_DECODED_BYTES,
    MAX_PAYLOAD_BYTES,
    MAX_QUALITY,
    MAX_SCALE,
)
from hub_sync.topics import check_device_id
from hub_sync.varints import Reader, Writer
from hub_sync.wire_errors import (
    BatchIdentity,
    BatchTooLarge,
    MalformedPayload,
    PayloadTooLarge,
    ProtocolError,
    UnsupportedVersion,
)

MAGIC = b"HS"
FLAG_ZLIB = 0x01
VALUES_SCALED = 0
VALUES_FLOAT64 = 1
SEQ_CONTIGUOUS = 0
SEQ_LISTED = 1

T = TypeVar("T")


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
    w = Writer()
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


def _head(r: Reader) -> tuple[str, int, int, int, int]:
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
    device_id, store_epoch, count, mode, first = _head(Reader(_body(payload, PEEK_BYTES)))
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
    r = Reader(body)
    device_id, store_epoch, count, mode, first = _head(r)
    if mode == SEQ_CONTIGUOUS:
        seqs: Sequence[int] = range(first, first + count)
    elif mode == SEQ_LISTED:
        listed = [first]
        for _ in range(count - 1):
            step = r.varint()
            if step < 1:
                raise MalformedPayload("sequence numbers must strictly increase")
            listed.append(listed[-1] + step)
        seqs = listed
    else:
        raise MalformedPayload(f"unknown sequence mode {mode}")
    if seqs[-1] >= 2**63:
        raise MalformedPayload("a sequence number is beyond 2^63 - 1")
    runs = tuple(seq_runs(seqs))
    identity = BatchIdentity(device_id, store_epoch, runs)
    try:
        columns = _decode_columns(r, count, seqs, runs)
    except ProtocolError as error:
        error.identity = identity
        raise
    if r.pos != len(body):
        trailing = MalformedPayload(f"{len(body) - r.pos} unexpected bytes after the batch")
        trailing.identity = identity
        raise trailing
    return Batch(device_id, store_epoch, ColumnReadings(columns))


def _decode_columns(
    r: Reader, count: int, seqs: Sequence[int], runs: tuple[tuple[int, int], ...]
) -> BatchColumns:
    """The rest of a batch's body, after its sequence numbers."""
    n_series = r.varint()
    if not 1 <= n_series <= count:
        raise MalformedPayload(f"{n_series} series for {count} readings")
    series = tuple((r.text(), r.text(), r.text()) for _ in range(n_series))
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
    censors: list[str | None] | None = None
    position = 0
    for _ in range(r.varint()):
        position += r.varint()
        if position >= count:
            raise MalformedPayload("a censored reading is beyond the batch")
        mark = r.take(1).decode("ascii", errors="replace")
        if mark not in ("<", ">"):
            raise MalformedPayload(f"censor must be '<' or '>', got {mark!r}")
        if censors is None:
            censors = [None] * count
        censors[position] = mark
    return BatchColumns(
        seqs,
        series,
        index,
        _in_batch_order(stamps, index),
        _in_batch_order(values, index),
        qualities,
        censors,
        runs,
    )


def _in_batch_order(per_series: list[list[T]], index: Sequence[int]) -> list[T]:
    """Per-series columns (each in its readings' order) as one column in batch order."""
    if len(per_series) == 1:
        return per_series[0]
    taken = [iter(column).__next__ for column in per_series]
    return [taken[i]() for i in index]
