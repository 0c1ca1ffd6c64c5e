"""Xiaomi LYWSD03MMC thermometers on the ATC and pvvx custom firmware (https://github.com/pvvx/ATC_MiThermometer).

Both formats are service data under the 16-bit UUID 0x181A (Environmental Sensing) and
start with the thermometer's MAC address:

- atc1441, 13 bytes, big-endian: MAC, temperature (0.1 °C), humidity (1 %), battery
  (%), battery (mV), frame counter;
- pvvx "custom", 15 bytes, little-endian (the MAC reversed too): temperature
  (0.01 °C), humidity (0.01 %), battery (mV), battery (%), counter, flags.

The firmware's encrypted variants are not read: pvvx firmware can send encrypted BTHome
instead, which is.
"""

from __future__ import annotations

from sensors.ble_frames import (
    ADDRESS_MISMATCH,
    OVERSIZED,
    TRUNCATED,
    WRONG_LENGTH,
    DecodedFrame,
    FrameError,
    Measurement,
    address_bytes,
    uuid16,
)

SERVICE_UUID = 0x181A
SERVICE_KEY = uuid16(SERVICE_UUID)
ATC1441_LENGTH = 13
PVVX_LENGTH = 15


def decode(data: bytes, address: str) -> DecodedFrame:
    """The measurements of one 0x181A service-data payload in either custom format.

    Args:
        data: the service data under UUID 0x181A.
        address: the sender's address; the MAC in the frame must match it.

    Raises:
        FrameError: a length that is neither format's, or a MAC that is not the sender's.
    """
    if len(data) < ATC1441_LENGTH:
        raise FrameError(TRUNCATED, f"{len(data)} bytes, the shortest format has 13")
    if len(data) > PVVX_LENGTH:
        raise FrameError(OVERSIZED, f"{len(data)} bytes, the longest format has 15")
    if len(data) == ATC1441_LENGTH:
        return _atc1441(data, address)
    if len(data) == PVVX_LENGTH:
        return _pvvx(data, address)
    raise FrameError(WRONG_LENGTH, f"{len(data)} bytes: 13 (atc1441) or 15 (pvvx)")


def _check_mac(mac: bytes, address: str) -> None:
    if mac != address_bytes(address):
        raise FrameError(ADDRESS_MISMATCH)


def _atc1441(data: bytes, address: str) -> DecodedFrame:
    _check_mac(data[0:6], address)
    temperature = int.from_bytes(data[6:8], "big", signed=True) / 10
    humidity = data[8]
    level = data[9]
    millivolts = int.from_bytes(data[10:12], "big")
    return DecodedFrame(
        "atc1441",
        (
            Measurement("temperature", temperature, "°C", 0.1),
            Measurement("relative_humidity", float(humidity), "%", 1),
            Measurement("battery_level", float(level), "%", 1),
            Measurement("battery", millivolts / 1000, "V", 0.001),
        ),
        data[12],
    )


def _pvvx(data: bytes, address: str) -> DecodedFrame:
    _check_mac(data[5::-1], address)
    temperature = int.from_bytes(data[6:8], "little", signed=True) / 100
    humidity = int.from_bytes(data[8:10], "little") / 100
    millivolts = int.from_bytes(data[10:12], "little")
    level = data[12]
    return DecodedFrame(
        "pvvx",
        (
            Measurement("temperature", temperature, "°C", 0.01),
            Measurement("relative_humidity", humidity, "%", 0.01),
            Measurement("battery_level", float(level), "%", 1),
            Measurement("battery", millivolts / 1000, "V", 0.001),
        ),
        data[13],
    )
