"""What a hostile device sends: readings payloads built field by field, past every limit.

``raw_batch`` writes the readings format of docs/protocol.md without the encoder's checks,
so a test can put any integer in any field (a timestamp of 2^63, a quality of 2^64, a
NUL in a sensor id) and see what the hub does with it.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Sequence
from itertools import pairwise

from hub_sync.protocol import FLAG_ZLIB, FORMAT_VERSION, MAGIC


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
