"""The hub's acks: ranges committed, refused or throttled, and the range arithmetic they need.

Two encodings of the same ack: JSON (every node reads it) and the compact binary ack
(docs/protocol.md, "Compact ack"), sent only to a node whose status says it reads it
(:data:`ACK_FORMATS_READ`). :func:`decode_ack` reads either.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from hub_sync.limits import FORMAT_VERSION, INT64_MAX, MAX_PAYLOAD_BYTES
from hub_sync.untrusted_text import check_text, load_message
from hub_sync.varints import Reader, Writer
from hub_sync.wire_errors import MalformedPayload, PayloadTooLarge, UnsupportedVersion


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


ACK_MAGIC = b"HA"
ACK_VERSION = 1
ACK_FLAG_ROTATE = 0x01
ACK_FORMATS_READ = "json,binary"
"""The ``acks`` field of a node's status: the ack encodings it reads."""
MAX_REASON_BYTES = 4 * MAX_REJECTION_REASON


def reads_binary(acks_field: object) -> bool:
    """Whether a status's ``acks`` field says the node reads the compact binary ack."""
    return isinstance(acks_field, str) and "binary" in acks_field.split(",")


def encode_ack(ack: Ack, *, binary: bool = False) -> bytes:
    """The ack as JSON, or with ``binary`` as the compact binary ack."""
    return _encode_binary(ack) if binary else _encode_json(ack)


def _ranges_out(w: Writer, ranges: Sequence[tuple[int, int]]) -> None:
    w.varint(len(ranges))
    previous = 0
    for first, last in ranges:
        w.varint(first - previous)
        w.varint(last - first)
        previous = last


def _encode_binary(ack: Ack) -> bytes:
    """The compact ack: ranges as gaps and lengths, each refusal's reason named once."""
    acked = merge_ranges(ack.acked)
    throttled = merge_ranges(ack.throttled)
    rejected = sorted(ack.rejected, key=lambda r: r.first)
    for before, after in pairwise(rejected):
        if after.first <= before.last:
            raise MalformedPayload("ack: refused ranges overlap")
    if any(not 1 <= a <= b <= INT64_MAX for a, b in [*acked, *throttled]) or any(
        not 1 <= r.first <= r.last <= INT64_MAX for r in rejected
    ):
        raise MalformedPayload("ack: a range is not 1 ≤ first ≤ last < 2^63")
    reasons = list(dict.fromkeys(r.reason[:MAX_REJECTION_REASON] for r in rejected))
    w = Writer()
    w.parts += ack.store_epoch.to_bytes(8, "big")
    _ranges_out(w, acked)
    w.varint(len(reasons))
    for reason in reasons:
        check_text(reason, "ack: a reason")
        data = reason.encode("utf-8")
        w.varint(len(data))
        w.parts += data
    w.varint(len(rejected))
    previous = 0
    for r in rejected:
        w.varint(r.first - previous)
        w.varint(r.last - r.first)
        w.varint(reasons.index(r.reason[:MAX_REJECTION_REASON]))
        previous = r.last
    _ranges_out(w, throttled)
    if throttled:
        if not 0 <= ack.retry_after_s <= MAX_RETRY_AFTER_S:
            raise MalformedPayload(f"ack: retry_after_s must be 0 to {MAX_RETRY_AFTER_S}")
        w.varint(ack.retry_after_s)
    flags = ACK_FLAG_ROTATE if ack.rotate else 0
    payload = ACK_MAGIC + bytes([ACK_VERSION, flags]) + bytes(w.parts)
    decode_ack(payload)  # what a node would refuse is never sent
    return payload


def _ranges_in(r: Reader, what: str, limit: int) -> list[tuple[int, int]]:
    count = r.varint()
    if count > limit:
        raise MalformedPayload(f"ack: more than {limit} {what} ranges")
    ranges: list[tuple[int, int]] = []
    previous = 0
    for _ in range(count):
        first, previous = _range_in(r, previous, what)
        ranges.append((first, previous))
    return ranges


def _range_in(r: Reader, previous: int, what: str) -> tuple[int, int]:
    gap, length = r.varint(), r.varint()
    first = previous + gap
    last = first + length
    if gap < 1 or last > INT64_MAX:
        raise MalformedPayload(f"ack: {what} ranges must be increasing, apart, below 2^63")
    return first, last


def _decode_binary(payload: bytes) -> Ack:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadTooLarge(f"ack of {len(payload)} bytes; at most {MAX_PAYLOAD_BYTES}")
    if len(payload) < 4:
        raise MalformedPayload("ack ends early (truncated)")
    if payload[2] != ACK_VERSION:
        raise UnsupportedVersion(f"binary ack version {payload[2]}; this node reads 1")
    flags = payload[3]
    if flags & ~ACK_FLAG_ROTATE:
        raise MalformedPayload(f"ack: unknown flags {flags:#04x}")
    r = Reader(payload[4:])
    epoch = int.from_bytes(r.take(8), "big")
    acked = _ranges_in(r, "acked", ACK_RANGES_PER_MESSAGE)
    reason_count = r.varint()
    if reason_count > ACK_REJECTIONS_PER_MESSAGE:
        raise MalformedPayload(f"ack: more than {ACK_REJECTIONS_PER_MESSAGE} reasons")
    reasons = [_reason(r) for _ in range(reason_count)]
    count = r.varint()
    if count > ACK_REJECTIONS_PER_MESSAGE:
        raise MalformedPayload(f"ack: more than {ACK_REJECTIONS_PER_MESSAGE} refused ranges")
    rejected: list[Rejection] = []
    previous = 0
    for _ in range(count):
        first, previous = _range_in(r, previous, "refused")
        index = r.varint()
        if index >= len(reasons):
            raise MalformedPayload(f"ack: reason {index} of {len(reasons)}")
        rejected.append(Rejection(first, previous, reasons[index]))
    throttled = _ranges_in(r, "throttled", ACK_RANGES_PER_MESSAGE - len(acked))
    retry_after_s = r.varint() if throttled else 0
    if retry_after_s > MAX_RETRY_AFTER_S:
        raise MalformedPayload(f"ack: retry_after_s must be 0 to {MAX_RETRY_AFTER_S}")
    if r.pos != len(r.data):
        raise MalformedPayload("ack: bytes after the last field")
    rotate = bool(flags & ACK_FLAG_ROTATE)
    return Ack(epoch, tuple(acked), tuple(rejected), rotate, tuple(throttled), retry_after_s)


def _reason(r: Reader) -> str:
    length = r.varint()
    if length > MAX_REASON_BYTES:
        raise MalformedPayload(f"ack: a reason of {length} bytes; at most {MAX_REASON_BYTES}")
    try:
        text = r.take(length).decode("utf-8")
    except UnicodeDecodeError as error:
        raise MalformedPayload(f"ack: a reason is not UTF-8: {error}") from error
    if len(text) > MAX_REJECTION_REASON:
        raise MalformedPayload(f"ack: a reason over {MAX_REJECTION_REASON} characters")
    check_text(text, "ack: a reason")
    return text


def _encode_json(ack: Ack) -> bytes:
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
    """The ack in a payload, binary or JSON; raises a ProtocolError naming what is wrong."""
    if payload[:2] == ACK_MAGIC:
        return _decode_binary(bytes(payload))
    data = load_message(payload, "ack")
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
