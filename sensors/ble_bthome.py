"""BTHome v2 adverts (https://bthome.io/format/), plain and AES-CCM encrypted.

A BTHome v2 advert is service data under the 16-bit UUID 0xFCD2: one device-information
byte, then objects, each an id byte and a little-endian value whose size the id fixes.
When the device-information byte's bit 1 ("MAC included") is set, the sender's 6-byte
MAC address, in reversed byte order, comes between that byte and the objects; it must be
the advert's sender. Encrypted adverts carry the objects as AES-CCM ciphertext, then a
4-byte counter and a 4-byte message integrity code; an included MAC stays outside the
ciphertext. The nonce is the sender's address, the UUID, the device-information byte and
the counter (https://bthome.io/encryption/). The counter is 32 bits and wraps;
``counter_went_back`` says when a counter is older than the last one (a replay).
"""

from __future__ import annotations

from typing import NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESCCM

from sensors.ble_frames import (
    ADDRESS_MISMATCH,
    BAD_MIC,
    BAD_VERSION,
    NO_BIND_KEY,
    NO_VALUES,
    NOT_ENCRYPTED,
    OVERSIZED,
    TRUNCATED,
    UNKNOWN_OBJECT,
    DecodedFrame,
    FrameError,
    Measurement,
    address_bytes,
    uuid16,
)

SERVICE_UUID = 0xFCD2
SERVICE_KEY = uuid16(SERVICE_UUID)
MAX_PAYLOAD = 27
"""A legacy advert (31 bytes) holds at most 27 bytes of service data after its UUID."""

_ENCRYPTED = 0x01
_MAC_INCLUDED = 0x02
_MAC_LENGTH = 6
_VERSION_MASK = 0xE0
_VERSION_2 = 0x40
_COUNTER_AND_MIC = 8

COUNTER_MODULUS = 1 << 32
COUNTER_WRAP_WINDOW = 1 << 16
"""Across the counter's wrap from 0xFFFFFFFF to 0, counters at most this many steps apart
are compared as if the count went on: the one after the wrap is the newer. 65,536
adverts are more than a sensor can send in the driver's 10-minute reboot grace, even at
BLE's fastest advertising interval of 20 ms (30,000)."""


class _Object(NamedTuple):
    size: int  # bytes of the value; 0: the first byte gives the length (text, raw)
    signed: bool
    factor: float
    metric: str | None  # the vocabulary's metric, None for objects the node skips
    unit: str


def _skip(size: int) -> _Object:
    return _Object(size, False, 1, None, "")


# Every object id of the BTHome v2 specification, so that a frame can be walked past the
# objects a hall does not use; the ones hallsense stores name their metric.
OBJECTS: dict[int, _Object] = {
    0x00: _skip(1),  # packet id, read separately
    0x01: _Object(1, False, 1, "battery_level", "%"),
    0x02: _Object(2, True, 0.01, "temperature", "°C"),
    0x03: _Object(2, False, 0.01, "relative_humidity", "%"),
    0x04: _Object(3, False, 0.01, "pressure", "hPa"),
    0x05: _skip(3),  # illuminance
    0x06: _skip(2),  # mass kg
    0x07: _skip(2),  # mass lb
    0x08: _skip(2),  # dew point
    0x09: _skip(1),  # count
    0x0A: _skip(3),  # energy
    0x0B: _skip(3),  # power
    0x0C: _Object(2, False, 0.001, "battery", "V"),  # a battery sensor's own supply
    0x0D: _Object(2, False, 1, "pm2_5", "µg/m³"),
    0x0E: _Object(2, False, 1, "pm10", "µg/m³"),
    0x0F: _skip(1),  # generic boolean
    0x10: _skip(1),  # power on/off
    0x11: _skip(1),  # opening
    0x12: _Object(2, False, 1, "co2", "ppm"),
    0x13: _skip(2),  # TVOC
    0x14: _skip(2),  # moisture
    **{object_id: _skip(1) for object_id in range(0x15, 0x2E)},  # binary sensors
    0x2E: _Object(1, False, 1, "relative_humidity", "%"),
    0x2F: _skip(1),  # moisture
    0x3A: _skip(1),  # button
    0x3C: _skip(2),  # dimmer
    0x3D: _skip(2),  # count
    0x3E: _skip(4),  # count
    0x3F: _skip(2),  # rotation
    0x40: _skip(2),  # distance mm
    0x41: _skip(2),  # distance m
    0x42: _skip(3),  # duration
    0x43: _skip(2),  # current
    0x44: _skip(2),  # speed
    0x45: _Object(2, True, 0.1, "temperature", "°C"),
    0x46: _skip(1),  # UV index
    0x47: _skip(2),  # volume L
    0x48: _skip(2),  # volume mL
    0x49: _skip(2),  # volume flow rate
    0x4A: _skip(2),  # voltage in tenths: mains, not a battery
    0x4B: _skip(3),  # gas
    0x4C: _skip(4),  # gas
    0x4D: _skip(4),  # energy
    0x4E: _skip(4),  # volume
    0x4F: _skip(4),  # water
    0x50: _skip(4),  # timestamp
    0x51: _skip(2),  # acceleration
    0x52: _skip(2),  # gyroscope
    0x53: _skip(0),  # text
    0x54: _skip(0),  # raw
    0x55: _skip(4),  # volume storage
    0x56: _skip(2),  # conductivity
    0x57: _Object(1, True, 1, "temperature", "°C"),
    0x58: _Object(1, True, 0.35, "temperature", "°C"),
    0x59: _skip(1),  # count
    0x5A: _skip(2),  # count
    0x5B: _skip(4),  # count
    0x5C: _skip(4),  # power
    0x5D: _skip(2),  # current
    0x5E: _skip(2),  # direction
    0x5F: _skip(2),  # precipitation
    0x60: _skip(1),  # channel
    0x61: _skip(2),  # rotational speed
    0xF0: _skip(2),  # device type id
    0xF1: _skip(4),  # firmware version
    0xF2: _skip(3),  # firmware version
}

PACKET_ID = 0x00


def decode(payload: bytes, address: str, key: bytes | None = None) -> DecodedFrame:
    """The measurements of one BTHome v2 service-data payload (after the UUID).

    Args:
        payload: the service data under UUID 0xFCD2.
        address: the sender's address, ``AA:BB:CC:DD:EE:FF`` (part of the nonce).
        key: the sensor's 16-byte bind key, or None for a sensor that does not encrypt.
            With a key, a plain frame is refused: anyone could send one in its name.

    Raises:
        FrameError: the frame is truncated, too long, of another version, includes a MAC
            that is not the sender's, is encrypted without a key (or plain with one),
            fails authentication, breaks off inside an object, or holds nothing the node
            stores.
    """
    if not payload:
        raise FrameError(TRUNCATED, "no device-information byte")
    if len(payload) > MAX_PAYLOAD:
        raise FrameError(OVERSIZED, f"{len(payload)} bytes, at most {MAX_PAYLOAD}")
    info = payload[0]
    if info & _VERSION_MASK != _VERSION_2:
        raise FrameError(BAD_VERSION, f"BTHome version {info >> 5}, only 2 is read")
    start = 1
    if info & _MAC_INCLUDED:
        start += _MAC_LENGTH
        if len(payload) < start:
            raise FrameError(TRUNCATED, f"{len(payload) - 1} of the {_MAC_LENGTH} MAC bytes")
        # Reversed byte order; like Ruuvi's and ATC's, a MAC that is not the sender's is
        # refused, so that one sensor cannot speak in another's name.
        if payload[1:start][::-1] != address_bytes(address):
            raise FrameError(ADDRESS_MISMATCH)
    counter: int | None = None
    if info & _ENCRYPTED:
        if key is None:
            raise FrameError(NO_BIND_KEY)
        if len(payload) < start + _COUNTER_AND_MIC + 2:
            raise FrameError(TRUNCATED, f"{len(payload)} bytes of an encrypted frame")
        body = payload[start:-_COUNTER_AND_MIC]
        counter_bytes = payload[-_COUNTER_AND_MIC:-4]
        mic = payload[-4:]
        nonce = address_bytes(address) + SERVICE_UUID.to_bytes(2, "little")
        nonce += bytes([info]) + counter_bytes
        try:
            objects = AESCCM(key, tag_length=4).decrypt(nonce, body + mic, None)
        except InvalidTag:
            raise FrameError(BAD_MIC) from None
        counter = int.from_bytes(counter_bytes, "little")
    else:
        if key is not None:
            raise FrameError(NOT_ENCRYPTED)
        objects = payload[start:]
    measurements, packet_id, note = _objects(objects)
    if not measurements:
        raise FrameError(NO_VALUES, note)
    return DecodedFrame("bthome", tuple(measurements), packet_id, counter, note)


def counter_went_back(counter: int, last: int) -> bool:
    """Whether an encryption counter is older than the last one accepted (a replay).

    Counters within ``COUNTER_WRAP_WINDOW`` steps of each other, counting round through
    the wrap from 0xFFFFFFFF to 0, are compared that way: 0xFFFFFFFF then 0 goes forward
    (a wrap), 0 then 0xFFFFFFFF goes back. Counters further apart are compared as plain
    numbers. The same counter again is not older: it is the same packet repeated.
    """
    forward = (counter - last) % COUNTER_MODULUS
    if forward <= COUNTER_WRAP_WINDOW:  # 0: the same counter
        return False
    if COUNTER_MODULUS - forward <= COUNTER_WRAP_WINDOW:
        return True
    return counter < last


def _objects(data: bytes) -> tuple[list[Measurement], int | None, str]:
    measurements: list[Measurement] = []
    seen: dict[str, int] = {}
    packet_id: int | None = None
    at = 0
    while at < len(data):
        object_id = data[at]
        spec = OBJECTS.get(object_id)
        if spec is None:
            # Objects come in id order and newer specifications add higher ids, so what
            # came before is sound; the rest cannot be walked without knowing the size.
            if not measurements:
                raise FrameError(UNKNOWN_OBJECT, f"0x{object_id:02X}")
            return measurements, packet_id, f"skipped from unknown object 0x{object_id:02X}"
        at += 1
        size = spec.size
        if size == 0:
            if at >= len(data):
                raise FrameError(TRUNCATED, f"object 0x{object_id:02X} has no length")
            size = data[at]
            at += 1
        if at + size > len(data):
            raise FrameError(TRUNCATED, f"object 0x{object_id:02X} breaks off")
        raw = int.from_bytes(data[at : at + size], "little", signed=spec.signed)
        at += size
        if object_id == PACKET_ID:
            packet_id = raw
        elif spec.metric is not None:
            index = seen.get(spec.metric, 0)
            seen[spec.metric] = index + 1
            value = round(raw * spec.factor, 6)
            measurements.append(Measurement(spec.metric, value, spec.unit, spec.factor, index))
    return measurements, packet_id, ""
