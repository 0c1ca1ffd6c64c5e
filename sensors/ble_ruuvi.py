"""RuuviTag data format 5 (RAWv2) adverts (https://docs.ruuvi.com/communication/bluetooth-advertisements/data-format-5-rawv2).

Manufacturer data under Ruuvi Innovations' company id 0x0499: 24 bytes, big-endian,
starting with the format byte 5 and ending with the tag's own MAC address. Each field
has a value meaning "not available", which the parser leaves out.
"""

from __future__ import annotations

from sensors.ble_frames import (
    ADDRESS_MISMATCH,
    NO_VALUES,
    OVERSIZED,
    TRUNCATED,
    UNSUPPORTED,
    DecodedFrame,
    FrameError,
    Measurement,
    address_bytes,
)

COMPANY_ID = 0x0499
FORMAT_5 = 0x05
LENGTH = 24

_NO_TEMPERATURE = -0x8000
_NO_UINT16 = 0xFFFF
_NO_BATTERY = 0x7FF
_NO_MAC = b"\xff" * 6


def decode(data: bytes, address: str) -> DecodedFrame:
    """The measurements of one RuuviTag manufacturer-data payload (after the company id).

    Args:
        data: the manufacturer data under company id 0x0499.
        address: the sender's address; the tag's MAC in the frame must match it.

    Raises:
        FrameError: another data format, a wrong length, a MAC that is not the
            sender's, or no field with a value.
    """
    if not data:
        raise FrameError(TRUNCATED, "no format byte")
    if data[0] != FORMAT_5:
        raise FrameError(UNSUPPORTED, f"Ruuvi data format {data[0]}, only 5 is read")
    if len(data) < LENGTH:
        raise FrameError(TRUNCATED, f"{len(data)} of {LENGTH} bytes")
    if len(data) > LENGTH:
        raise FrameError(OVERSIZED, f"{len(data)} bytes, a data format 5 frame has {LENGTH}")
    mac = data[18:24]
    if mac != _NO_MAC and mac != address_bytes(address):
        raise FrameError(ADDRESS_MISMATCH)
    temperature = int.from_bytes(data[1:3], "big", signed=True)
    humidity = int.from_bytes(data[3:5], "big")
    pressure = int.from_bytes(data[5:7], "big")
    power = int.from_bytes(data[13:15], "big")
    sequence = int.from_bytes(data[16:18], "big")
    measurements: list[Measurement] = []
    if temperature != _NO_TEMPERATURE:
        measurements.append(Measurement("temperature", round(temperature * 0.005, 3), "°C", 0.005))
    if humidity != _NO_UINT16:
        measurements.append(
            Measurement("relative_humidity", round(humidity * 0.0025, 4), "%", 0.0025)
        )
    if pressure != _NO_UINT16:
        measurements.append(Measurement("pressure", (pressure + 50_000) / 100, "hPa", 0.01))
    if power >> 5 != _NO_BATTERY:
        measurements.append(Measurement("battery", ((power >> 5) + 1600) / 1000, "V", 0.001))
    if not measurements:
        raise FrameError(NO_VALUES, "every field says not available")
    return DecodedFrame("ruuvi", tuple(measurements), None if sequence == _NO_UINT16 else sequence)
