"""What a decoded BLE sensor advert holds, and the error every format's parser raises."""

from __future__ import annotations

from dataclasses import dataclass

# The reasons a frame is rejected, counted by the BLE driver; stable words, not messages.
TRUNCATED = "truncated"
OVERSIZED = "oversized"
WRONG_LENGTH = "wrong length"
BAD_VERSION = "unsupported version"
UNSUPPORTED = "unsupported format"
ADDRESS_MISMATCH = "address in the frame differs from the sender"
NO_BIND_KEY = "encrypted, and no bind key is set for the sensor"
NOT_ENCRYPTED = "not encrypted, but the sensor has a bind key"
BAD_MIC = "failed authentication (wrong bind key or corrupted)"
REPLAYED = "replayed (an older encryption counter)"
UNKNOWN_OBJECT = "unknown BTHome object"
NO_VALUES = "no measurement in the frame"


class FrameError(ValueError):
    """A frame that cannot be trusted; ``reason`` is one of this module's reason words."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Measurement:
    """One value in a frame, in the vocabulary's metric and unit.

    ``index`` counts earlier measurements of the same metric in the frame (a BTHome
    device with two thermometers sends two temperatures); ``resolution`` is the format's
    step for the value, in its unit.
    """

    metric: str
    value: float
    unit: str
    resolution: float
    index: int = 0


@dataclass(frozen=True, slots=True)
class DecodedFrame:
    """What one advert said.

    ``sequence`` is the sender's packet id, measurement sequence or frame counter (None
    when the format has none): the same sequence twice in a row is one measurement sent
    twice. ``counter`` is the BTHome encryption counter, which must never go back.
    ``note`` says what was skipped (an object newer than this parser).
    """

    format: str
    measurements: tuple[Measurement, ...]
    sequence: int | None = None
    counter: int | None = None
    note: str = ""


def address_bytes(address: str) -> bytes:
    """The six bytes of a ``AA:BB:CC:DD:EE:FF`` address, most significant first.

    Raises:
        ValueError: ``address`` is not six colon-separated hex bytes.
    """
    parts = address.split(":")
    if len(parts) != 6 or not all(len(part) == 2 for part in parts):
        raise ValueError(f"{address!r} is not a Bluetooth address like A4:C1:38:12:34:56")
    try:
        return bytes.fromhex("".join(parts))
    except ValueError:
        raise ValueError(f"{address!r} is not a Bluetooth address like A4:C1:38:12:34:56") from None


def uuid16(short: int) -> str:
    """The 128-bit string bleak uses as a service-data key for a 16-bit UUID."""
    return f"0000{short:04x}-0000-1000-8000-00805f9b34fb"
