"""The readings format's primitives: varints, zigzag varints and length-prefixed text."""

from __future__ import annotations

from collections.abc import Iterable

from hub_sync.limits import MAX_TEXT_BYTES
from hub_sync.untrusted_text import check_text
from hub_sync.wire_errors import MalformedPayload


class Writer:
    """Builds a payload body: varints, zigzag varints and checked text, appended in order."""

    def __init__(self) -> None:
        self.parts = bytearray()

    def varint(self, n: int) -> None:
        """Append ``n`` (0 or more) as a varint."""
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
        """Append ``n`` as a zigzag varint."""
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
        """Append ``value`` as its UTF-8 length and bytes, checked first."""
        check_text(value, f"text {value[:20]!r}")
        data = value.encode("utf-8")
        if len(data) > MAX_TEXT_BYTES:
            raise MalformedPayload(
                f"text {value[:20]!r}… is {len(data)} bytes; at most {MAX_TEXT_BYTES}"
            )
        self.varint(len(data))
        self.parts += data


class Reader:
    """Reads a payload body front to back; running out of bytes is a MalformedPayload."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        """The next byte."""
        if self.pos >= len(self.data):
            raise MalformedPayload("payload ends early (truncated)")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def take(self, n: int) -> bytes:
        """The next ``n`` bytes."""
        if self.pos + n > len(self.data):
            raise MalformedPayload("payload ends early (truncated)")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def varint(self) -> int:
        """The next varint."""
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
        """The next zigzag varint."""
        n = self.varint()
        return n >> 1 if not n & 1 else -((n + 1) >> 1)

    def varints(self, count: int) -> list[int]:
        """``count`` varints at once: the hot path of decoding (most are one byte)."""
        data, pos, end = self.data, self.pos, len(self.data)
        chunk = data[pos : pos + count]
        if len(chunk) == count and (not chunk or max(chunk) < 0x80):
            # All one byte each (series indexes, quality flags): read in C, not in a loop.
            self.pos = pos + count
            return list(chunk)
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
        """The next length-prefixed text, checked."""
        length = self.varint()
        if length > MAX_TEXT_BYTES:
            raise MalformedPayload(f"a text field of {length} bytes; at most {MAX_TEXT_BYTES}")
        try:
            text = self.take(length).decode("utf-8")
        except UnicodeDecodeError as error:
            raise MalformedPayload(f"a text field is not UTF-8: {error}") from error
        check_text(text, "a text field")
        return text
