"""The BLE formats decoded from their specifications' own examples, to the stated resolution.

Sources, each cited where its frames are used:
- BTHome v2 object examples: https://bthome.io/format/ (the "example" column);
- BTHome encryption example: https://bthome.io/encryption/ (key 231d39c1…, MAC
  54:48:E6:8F:80:A5, counter 00112233, temperature 25.06 °C and humidity 50.55 %);
- BTHome's "MAC included" bit (bit 1 of the device-information byte,
  https://bthome.io/format/): the same examples with the sender's MAC, reversed, after
  that byte. The encrypted one, sealed here from the example's key, MAC and counter, is
  byte for byte the vector Bluetooth-Devices/bthome-ble tests against;
- RuuviTag data format 5 test vectors: https://docs.ruuvi.com/communication/
  bluetooth-advertisements/data-format-5-rawv2 ("Test vectors": valid, maximum, minimum,
  invalid);
- ATC/pvvx: the field layouts in https://github.com/pvvx/ATC_MiThermometer#custom-format
  and https://github.com/atc1441/ATC_MiThermometer#advertising-format-of-the-custom-firmware
  (the READMEs give layouts, not frames; the frames here follow them byte by byte).
"""

import pytest

from sensors import ble_atc, ble_bthome, ble_ruuvi
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
    UNSUPPORTED,
    WRONG_LENGTH,
    FrameError,
)

SPEC_MAC = "54:48:E6:8F:80:A5"
SPEC_KEY = bytes.fromhex("231d39c1d7cc1ab1aee224cd096db932")
# Device information 0x41 (version 2, encrypted), ciphertext, counter 00112233, MIC.
SPEC_ENCRYPTED = bytes.fromhex("41" + "a47266c95f73" + "00112233" + "78237214")
SPEC_MAC_REVERSED = "A5808FE64854"
# Device information 0x43 (version 2, MAC included, encrypted), the MAC reversed (not
# encrypted), ciphertext, counter 00112233, MIC: the example with bit 1 set.
SPEC_ENCRYPTED_WITH_MAC = bytes.fromhex(
    "43" + SPEC_MAC_REVERSED + "f196c06ffb49" + "00112233" + "f08ecbde"
)
# A sensor whose reversed MAC begins with a temperature object (02 098D: -294.31 °C) and
# an unknown id (0x38): read as objects, it gave that temperature and lost the pressure.
PORCH_MAC = "A4:C1:38:8D:09:02"
PORCH_WITH_MAC = bytes.fromhex("42" + "02098D38C1A4" + "04138A01")

RUUVI_MAC = "CB:B8:33:4C:88:4F"
RUUVI_VALID = bytes.fromhex("0512FC5394C37C0004FFFC040CAC364200CDCBB8334C884F")
RUUVI_MAXIMUM = bytes.fromhex("057FFFFFFEFFFE7FFF7FFF7FFFFFDEFEFFFECBB8334C884F")
RUUVI_MINIMUM = bytes.fromhex("058001000000008001800180010000000000CBB8334C884F")
RUUVI_INVALID = bytes.fromhex("058000FFFFFFFF800080008000FFFFFFFFFFFFFFFFFFFFFF")

ATC_MAC = "A4:C1:38:12:34:56"
# atc1441: MAC (big-endian), 24.5 °C (0x00F5 tenths), 50 %, 82 %, 2995 mV, frame 0x21.
ATC1441 = bytes.fromhex("A4C138123456" + "00F5" + "32" + "52" + "0BB3" + "21")
# pvvx: MAC reversed, 24.50 °C (2450), 50.12 % (5012), 2995 mV, 82 %, counter 0x21, flags.
PVVX = bytes.fromhex(
    "563412 38C1A4".replace(" ", "") + "9209" + "9413" + "B30B" + "52" + "21" + "04"
)


def values(frame):
    return {(m.metric, m.index): m.value for m in frame.measurements}


def seal(objects, counter, *, mac_included=True, address=SPEC_MAC, key=SPEC_KEY):
    """An encrypted BTHome frame of ``objects`` (hex) as the encryption page builds one:
    the nonce is the sender's MAC, the UUID, the device-information byte and the counter;
    an included MAC goes before the ciphertext and is not part of it."""
    from cryptography.hazmat.primitives.ciphers.aead import AESCCM

    info = bytes([0x43 if mac_included else 0x41])
    mac = bytes.fromhex(address.replace(":", ""))
    counter = counter.to_bytes(4, "little")
    nonce = mac + b"\xd2\xfc" + info + counter
    sealed = AESCCM(key, tag_length=4).encrypt(nonce, bytes.fromhex(objects), None)
    return info + (mac[::-1] if mac_included else b"") + sealed[:-4] + counter + sealed[-4:]


@pytest.mark.parametrize(
    ("objects", "metric", "expected", "resolution"),
    [
        ("0161", "battery_level", 97, 1),
        ("02CA09", "temperature", 25.06, 0.01),
        ("03BF13", "relative_humidity", 50.55, 0.01),
        ("04138A01", "pressure", 1008.83, 0.01),
        ("0C020C", "battery", 3.074, 0.001),
        ("0D120C", "pm2_5", 3090, 1),
        ("0E021C", "pm10", 7170, 1),
        ("12E204", "co2", 1250, 1),
        ("2E23", "relative_humidity", 35, 1),
        ("451101", "temperature", 27.3, 0.1),
        ("5712", "temperature", 18, 1),
        ("58FF", "temperature", -0.35, 0.35),
    ],
)
def test_each_bthome_object_decodes_to_the_specifications_example(
    objects, metric, expected, resolution
):
    frame = ble_bthome.decode(bytes.fromhex("40" + objects), SPEC_MAC)
    [measurement] = frame.measurements
    assert measurement.metric == metric
    assert measurement.value == pytest.approx(expected, abs=resolution / 2)
    assert measurement.resolution == resolution


def test_bthome_walks_past_objects_it_does_not_store_and_reads_the_packet_id():
    # packet id 9, illuminance (skipped), temperature, a text object (skipped), humidity
    frame = ble_bthome.decode(
        bytes.fromhex("40" + "0009" + "05138A14" + "02CA09" + "5303414243" + "03BF13"), SPEC_MAC
    )
    assert frame.sequence == 9
    assert values(frame) == {("temperature", 0): 25.06, ("relative_humidity", 0): 50.55}


def test_a_second_thermometer_in_one_frame_is_a_second_series():
    frame = ble_bthome.decode(bytes.fromhex("40" + "02CA09" + "021101"), SPEC_MAC)
    assert values(frame) == {("temperature", 0): 25.06, ("temperature", 1): 2.73}


def test_the_encryption_example_decrypts_with_its_key():
    frame = ble_bthome.decode(SPEC_ENCRYPTED, SPEC_MAC, SPEC_KEY)
    assert values(frame) == {("temperature", 0): 25.06, ("relative_humidity", 0): 50.55}
    assert frame.counter == int.from_bytes(bytes.fromhex("00112233"), "little")


def test_a_plain_frame_with_the_mac_included_reads_the_objects_after_the_mac():
    frame = ble_bthome.decode(
        bytes.fromhex("42" + SPEC_MAC_REVERSED + "02CA09" + "03BF13" + "04138A01"), SPEC_MAC
    )
    assert values(frame) == {
        ("temperature", 0): 25.06,
        ("relative_humidity", 0): 50.55,
        ("pressure", 0): 1008.83,
    }
    assert values(ble_bthome.decode(PORCH_WITH_MAC, PORCH_MAC)) == {("pressure", 0): 1008.83}


def test_the_encryption_example_with_the_mac_included_decrypts_with_its_key():
    assert seal("02CA0903BF13", 0x33221100) == SPEC_ENCRYPTED_WITH_MAC
    frame = ble_bthome.decode(SPEC_ENCRYPTED_WITH_MAC, SPEC_MAC, SPEC_KEY)
    assert values(frame) == {("temperature", 0): 25.06, ("relative_humidity", 0): 50.55}
    assert frame.counter == 0x33221100


@pytest.mark.parametrize(
    ("payload", "address", "key", "expected"),
    [
        # The shortest encrypted frame with the MAC: one 2-byte object (limit), 17 bytes.
        (seal("2E23", 1), SPEC_MAC, SPEC_KEY, {("relative_humidity", 0): 35}),
        # The longest: 27 bytes of service data, the MAC and ten 2-byte objects (limit).
        (
            bytes.fromhex("42" + SPEC_MAC_REVERSED + "2E23" * 10),
            SPEC_MAC,
            None,
            {("relative_humidity", i): 35 for i in range(10)},
        ),
    ],
)
def test_bthome_with_the_mac_included_at_its_length_limits(payload, address, key, expected):
    assert values(ble_bthome.decode(payload, address, key)) == expected


@pytest.mark.parametrize(
    ("payload", "address", "key", "reason"),
    [
        # The MAC of another sensor (the last byte differs), plain and encrypted: refused
        # before decryption, as Ruuvi and ATC frames naming another MAC are.
        (bytes.fromhex("42" + "A6808FE64854" + "02CA09"), SPEC_MAC, None, ADDRESS_MISMATCH),
        (SPEC_ENCRYPTED_WITH_MAC, "54:48:E6:8F:80:A6", SPEC_KEY, ADDRESS_MISMATCH),
        (SPEC_ENCRYPTED_WITH_MAC, "54:48:E6:8F:80:A6", None, ADDRESS_MISMATCH),
        # The MAC not reversed is not the sender's.
        (bytes.fromhex("42" + "5448E68F80A5" + "02CA09"), SPEC_MAC, None, ADDRESS_MISMATCH),
        # Cut inside the MAC (5 of 6 bytes), and cut right after it (a whole MAC, no object).
        (bytes.fromhex("42" + SPEC_MAC_REVERSED[:10]), SPEC_MAC, None, TRUNCATED),
        (bytes.fromhex("42" + SPEC_MAC_REVERSED), SPEC_MAC, None, NO_VALUES),
        # One byte short of the shortest encrypted frame with the MAC (16 bytes).
        (seal("2E23", 1)[:7] + seal("2E23", 1)[8:], SPEC_MAC, SPEC_KEY, TRUNCATED),
        # One byte past the longest: 28 bytes.
        (
            bytes.fromhex("42" + SPEC_MAC_REVERSED + "2E23" * 9 + "02CA09"),
            SPEC_MAC,
            None,
            OVERSIZED,
        ),
        # The MAC bit set on the example without a MAC: its ciphertext is taken for a MAC.
        (
            bytes.fromhex("43" + "a47266c95f73" + "00112233" + "78237214"),
            SPEC_MAC,
            SPEC_KEY,
            ADDRESS_MISMATCH,
        ),
        # The MAC bit cleared on the example with the MAC: the nonce differs, and the MAC
        # bytes are read as ciphertext.
        (b"\x41" + SPEC_ENCRYPTED_WITH_MAC[1:], SPEC_MAC, SPEC_KEY, BAD_MIC),
    ],
)
def test_bthome_with_the_mac_included_rejects_with_a_reason(payload, address, key, reason):
    with pytest.raises(FrameError) as raised:
        ble_bthome.decode(payload, address, key)
    assert raised.value.reason == reason


@pytest.mark.parametrize(
    ("last", "counter", "went_back"),
    [
        (1000, 1001, False),
        (1000, 1000, False),  # the same packet repeated, not older
        (1000, 999, True),
        (0xFFFFFFFF, 0, False),  # the wrap
        (0xFFFFFFFF, 0xFFFF, False),  # 65,536 steps on through 0: the limit
        (0xFFFFFFFF, 0x10000, True),  # one past: a counter far below the last
        (2**32 - 2**16, 0, False),  # the limit from the other side
        (2**32 - 2**16 - 1, 0, True),  # one past
        (5, 2**32 - 2**16 + 5, True),  # 65,536 steps back through 0: before the wrap
        (5, 2**32 - 2**16 + 4, False),  # one past: too far to be across the wrap
        (0, 2**32 - 1, True),
    ],
)
def test_the_counter_goes_forward_through_its_wrap_and_back_is_a_replay(last, counter, went_back):
    assert ble_bthome.counter_went_back(counter, last) is went_back


@pytest.mark.parametrize(
    ("payload", "address", "key", "reason"),
    [
        (SPEC_ENCRYPTED, SPEC_MAC, bytes(16), BAD_MIC),  # the wrong key
        (SPEC_ENCRYPTED, "54:48:E6:8F:80:A6", SPEC_KEY, BAD_MIC),  # another sender
        (SPEC_ENCRYPTED[:-1] + b"\x00", SPEC_MAC, SPEC_KEY, BAD_MIC),  # a flipped MIC
        (SPEC_ENCRYPTED, SPEC_MAC, None, NO_BIND_KEY),
        (bytes.fromhex("4002CA09"), SPEC_MAC, SPEC_KEY, NOT_ENCRYPTED),
        (bytes.fromhex("2002CA09"), SPEC_MAC, None, BAD_VERSION),  # BTHome v1 bits
        (bytes.fromhex("40"), SPEC_MAC, None, NO_VALUES),
        (bytes.fromhex("4000FF"), SPEC_MAC, None, NO_VALUES),  # only a packet id
        (bytes.fromhex("407001"), SPEC_MAC, None, UNKNOWN_OBJECT),
        (bytes.fromhex("4002CA"), SPEC_MAC, None, TRUNCATED),
        (bytes.fromhex("4053"), SPEC_MAC, None, TRUNCATED),  # text without its length
        (b"", SPEC_MAC, None, TRUNCATED),
        (bytes.fromhex("40") + bytes.fromhex("2E23") * 14, SPEC_MAC, None, OVERSIZED),
    ],
)
def test_bthome_rejects_with_a_reason(payload, address, key, reason):
    with pytest.raises(FrameError) as raised:
        ble_bthome.decode(payload, address, key)
    assert raised.value.reason == reason


def test_an_object_newer_than_the_parser_keeps_what_came_before_and_says_so():
    frame = ble_bthome.decode(bytes.fromhex("40" + "02CA09" + "7001"), SPEC_MAC)
    assert values(frame) == {("temperature", 0): 25.06}
    assert "0x70" in frame.note


def test_ruuvi_valid_test_vector():
    frame = ble_ruuvi.decode(RUUVI_VALID, RUUVI_MAC)
    assert values(frame) == {
        ("temperature", 0): 24.3,
        ("relative_humidity", 0): 53.49,
        ("pressure", 0): 1000.44,
        ("battery", 0): 2.977,
    }
    assert frame.sequence == 205


def test_ruuvi_maximum_and_minimum_test_vectors():
    assert values(ble_ruuvi.decode(RUUVI_MAXIMUM, RUUVI_MAC)) == {
        ("temperature", 0): 163.835,
        ("relative_humidity", 0): 163.835,
        ("pressure", 0): 1155.34,
        ("battery", 0): 3.646,
    }
    assert values(ble_ruuvi.decode(RUUVI_MINIMUM, RUUVI_MAC)) == {
        ("temperature", 0): -163.835,
        ("relative_humidity", 0): 0.0,
        ("pressure", 0): 500.0,
        ("battery", 0): 1.6,
    }


@pytest.mark.parametrize(
    ("data", "address", "reason"),
    [
        (RUUVI_INVALID, RUUVI_MAC, NO_VALUES),  # every field "not available"
        (RUUVI_VALID, "CB:B8:33:4C:88:40", ADDRESS_MISMATCH),
        (RUUVI_VALID[:-1], RUUVI_MAC, TRUNCATED),
        (RUUVI_VALID + b"\x00", RUUVI_MAC, OVERSIZED),
        (b"\x03" + RUUVI_VALID[1:14], RUUVI_MAC, UNSUPPORTED),  # data format 3
        (b"", RUUVI_MAC, TRUNCATED),
    ],
)
def test_ruuvi_rejects_with_a_reason(data, address, reason):
    with pytest.raises(FrameError) as raised:
        ble_ruuvi.decode(data, address)
    assert raised.value.reason == reason


def test_atc1441_frame():
    frame = ble_atc.decode(ATC1441, ATC_MAC)
    assert frame.format == "atc1441"
    assert values(frame) == {
        ("temperature", 0): 24.5,
        ("relative_humidity", 0): 50.0,
        ("battery_level", 0): 82.0,
        ("battery", 0): 2.995,
    }
    assert frame.sequence == 0x21


def test_pvvx_frame():
    frame = ble_atc.decode(PVVX, ATC_MAC)
    assert frame.format == "pvvx"
    assert values(frame) == {
        ("temperature", 0): 24.5,
        ("relative_humidity", 0): 50.12,
        ("battery_level", 0): 82.0,
        ("battery", 0): 2.995,
    }
    assert frame.sequence == 0x21


def test_pvvx_negative_temperature():
    cold = PVVX[:6] + (-512).to_bytes(2, "little", signed=True) + PVVX[8:]
    assert values(ble_atc.decode(cold, ATC_MAC))[("temperature", 0)] == -5.12


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (ATC1441[:12], TRUNCATED),
        (PVVX[:14], WRONG_LENGTH),
        (PVVX + b"\x00", OVERSIZED),
        (bytes.fromhex("A4C138123457") + ATC1441[6:], ADDRESS_MISMATCH),
        (bytes.fromhex("573412 38C1A4".replace(" ", "")) + PVVX[6:], ADDRESS_MISMATCH),
    ],
)
def test_atc_rejects_with_a_reason(data, reason):
    with pytest.raises(FrameError) as raised:
        ble_atc.decode(data, ATC_MAC)
    assert raised.value.reason == reason
