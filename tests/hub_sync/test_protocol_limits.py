"""Every limit of the wire at exactly the limit and one past it (docs/protocol.md)."""

import json

import pytest

from hub_sync.acks import MAX_RETRY_AFTER_S, Ack, Rejection, decode_ack, encode_ack, split_ack
from hub_sync.batch_codec import Batch, WireReading, decode_batch, encode_batch, peek_batch
from hub_sync.limits import (
    INT64_MAX,
    INT64_MIN,
    MAX_CONFIG_BYTES,
    MAX_JSON_DEPTH,
    MAX_NUMBER_CHARS,
    MAX_PAYLOAD_BYTES,
    MAX_QUALITY,
    MAX_STATUS_BYTES,
    MAX_STATUS_LIST,
    MAX_STATUS_TEXT,
)
from hub_sync.node_config import decode_config
from hub_sync.node_status import decode_status, encode_status, status_text
from hub_sync.untrusted_text import load_json
from hub_sync.varints import Reader
from hub_sync.wire_errors import (
    BatchIdentity,
    MalformedPayload,
    PayloadTooLarge,
    UnsupportedVersion,
)
from tests.support.hostile import deep_json, raw_batch, status

EPOCH = 42


def one(**fields):
    reading = {
        "seq": 1,
        "sensor_id": "t",
        "metric": "temperature",
        "unit": "°C",
        "ts_us": 1_790_000_000_000_000,
        "value": 21.5,
        **fields,
    }
    return Batch("askrigg", EPOCH, (WireReading(**reading),))


@pytest.mark.parametrize("ts_us", [INT64_MIN, INT64_MAX])
def test_timestamps_at_the_ends_of_64_bits_travel(ts_us):
    assert decode_batch(raw_batch("askrigg", EPOCH, [1], stamps=[ts_us])).readings[0].ts_us == ts_us
    assert decode_batch(encode_batch(one(ts_us=ts_us))).readings[0].ts_us == ts_us


@pytest.mark.parametrize("ts_us", [INT64_MIN - 1, INT64_MAX + 1, 2**70])
def test_a_timestamp_past_64_bits_is_refused_naming_the_readings(ts_us):
    with pytest.raises(MalformedPayload, match=r"^a timestamp is beyond signed 64 bits$") as caught:
        decode_batch(raw_batch("askrigg", EPOCH, [7, 9], stamps=[0, ts_us]))
    assert caught.value.identity == BatchIdentity("askrigg", EPOCH, ((7, 7), (9, 9)))
    with pytest.raises(MalformedPayload, match=r"^a timestamp is beyond signed 64 bits$"):
        encode_batch(one(ts_us=ts_us))


def test_quality_up_to_31_bits_travels_and_one_more_is_refused():
    payload = raw_batch("askrigg", EPOCH, [1], qualities=[MAX_QUALITY])
    assert decode_batch(payload).readings[0].quality == MAX_QUALITY
    message = f"^quality flags {MAX_QUALITY + 1}; at most {MAX_QUALITY}$"
    with pytest.raises(MalformedPayload, match=message):
        decode_batch(raw_batch("askrigg", EPOCH, [1], qualities=[MAX_QUALITY + 1]))
    with pytest.raises(MalformedPayload, match=message):
        encode_batch(one(quality=MAX_QUALITY + 1))


def test_text_of_64_bytes_travels_and_65_is_refused():
    text = "é" * 32
    assert decode_batch(encode_batch(one(sensor_id=text))).readings[0].sensor_id == text
    with pytest.raises(MalformedPayload, match=r"^a text field of 65 bytes; at most 64$"):
        decode_batch(raw_batch("askrigg", EPOCH, [1], series=[(text + "x", "co2", "ppm")]))


@pytest.mark.parametrize(
    "character",
    ["\x00", "\t", "\n", "\x1b", "\x7f", "\x85", "\x9f", "\u2028", "\u202e", "\u2066"],
)
def test_a_control_character_in_any_text_field_is_refused(character):
    for series in [
        (f"t{character}", "co2", "ppm"),
        ("t", f"co{character}2", "ppm"),
        ("t", "co2", f"ppm{character}"),
    ]:
        with pytest.raises(MalformedPayload, match=rf"U\+{ord(character):04X}"):
            decode_batch(raw_batch("askrigg", EPOCH, [1], series=[series]))
        with pytest.raises(MalformedPayload, match=rf"U\+{ord(character):04X}"):
            encode_batch(one(sensor_id=series[0], metric=series[1], unit=series[2]))


def test_text_beyond_control_characters_is_kept():
    series = ("kitchen 🌡", "temperature", "°C")
    reading = decode_batch(raw_batch("askrigg", EPOCH, [1], series=[series])).readings[0]
    assert (reading.sensor_id, reading.metric, reading.unit) == series


def test_an_empty_sensor_id_or_metric_and_a_series_listed_twice_are_refused():
    with pytest.raises(MalformedPayload, match=r"^a series has an empty sensor id or metric$"):
        decode_batch(raw_batch("askrigg", EPOCH, [1], series=[("", "co2", "ppm")]))
    with pytest.raises(MalformedPayload, match=r"^a series has an empty sensor id or metric$"):
        encode_batch(one(metric=""))
    twice = [("t", "co2", "ppm"), ("t", "co2", "ppm")]
    with pytest.raises(MalformedPayload, match=r"^a series is listed twice$"):
        decode_batch(raw_batch("askrigg", EPOCH, [1, 2], series=twice, index=[0, 1]))


def test_json_nested_to_the_limit_is_read_and_one_level_more_is_refused():
    assert load_json(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH, "x", max_bytes=100) == [
        [[[[[[[]]]]]]]
    ]
    with pytest.raises(MalformedPayload, match=rf"^x nests deeper than {MAX_JSON_DEPTH} levels$"):
        load_json(b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), "x", max_bytes=100)
    with pytest.raises(MalformedPayload, match=r"^status nests deeper than 8 levels$"):
        decode_status(deep_json(100_000)[:MAX_STATUS_BYTES])
    # Brackets inside strings are text, not nesting.
    assert load_json(b'{"a": "[[[[[[[[[[[[[[["}', "x", max_bytes=100) == {"a": "[" * 15}


def test_numbers_up_to_the_limit_are_read_and_longer_ones_refused():
    assert load_json(b"-" + b"1" * (MAX_NUMBER_CHARS - 1), "x", max_bytes=100) == -int(
        "1" * (MAX_NUMBER_CHARS - 1)
    )
    with pytest.raises(MalformedPayload, match=r"^x holds a number of 25 characters; at most 24$"):
        load_json(b"1" * (MAX_NUMBER_CHARS + 1), "x", max_bytes=100)
    with pytest.raises(
        MalformedPayload, match=r"^x holds a number of 5000 characters; at most 24$"
    ):
        load_json(b"9" * 5000, "x", max_bytes=10_000)
    with pytest.raises(MalformedPayload, match=r"^x holds a number of 25 characters; at most 24$"):
        load_json(b"1." + b"5" * 23, "x", max_bytes=100)


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_nan_and_infinity_are_not_json_numbers(constant):
    with pytest.raises(MalformedPayload, match=r"which is not a JSON number$"):
        load_json(b'{"v": ' + constant + b"}", "x", max_bytes=100)


def test_json_that_is_not_utf8_or_holds_a_control_character_is_refused():
    with pytest.raises(MalformedPayload, match=r"^x is not UTF-8"):
        load_json(b'"\xff"', "x", max_bytes=100)
    with pytest.raises(MalformedPayload, match=r"^x: a name holds the control character U\+0000"):
        load_json(b'{"a\\u0000": 1}', "x", max_bytes=100)


def padded_status(size):
    base = status(last_error="")
    return base.replace(b'"last_error": ""', b'"last_error": ""' + b" " * (size - len(base)))


def test_a_status_of_16_kib_is_read_and_one_byte_more_is_refused():
    assert len(padded_status(MAX_STATUS_BYTES)) == MAX_STATUS_BYTES
    assert decode_status(padded_status(MAX_STATUS_BYTES))["state"] == "online"
    with pytest.raises(PayloadTooLarge, match=r"^status of 16385 bytes; at most 16384$"):
        decode_status(padded_status(MAX_STATUS_BYTES + 1))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"backlog": INT64_MAX + 1}, "^status: backlog must be 0 to 2\\^63 - 1, got 92233"),
        ({"config_revision": 2**63}, "^status: config_revision must be 0 to 2\\^63 - 1"),
        ({"rejected": -1}, "^status: rejected must be 0 to 2\\^63 - 1, got -1$"),
        ({"backlog": True}, "^status: backlog has the wrong type$"),
        ({"last_error": "x" * (MAX_STATUS_TEXT + 1)}, "^status: last_error is longer than 500"),
        ({"store_epoch": str(2**64)}, "^status: store_epoch is not an unsigned 64-bit number$"),
        ({"store_epoch": "-1"}, "^status: store_epoch is not an unsigned 64-bit number$"),
        ({"dropped": [[1, 2, 3]] * (MAX_STATUS_LIST + 1)}, "^status: dropped must be at most 64"),
        ({"dropped": [[1, 2]]}, "^status: dropped must be at most 64"),
        ({"dropped": [[1, 2, -3]]}, "^status: dropped must be at most 64"),
    ],
)
def test_status_fields_past_their_limits_are_refused_by_name(fields, message):
    with pytest.raises(MalformedPayload, match=message):
        decode_status(status(**fields))
    with pytest.raises(MalformedPayload):
        encode_status("online", **fields)


def test_status_fields_at_their_limits_are_read():
    fields = {
        "backlog": INT64_MAX,
        "config_revision": INT64_MAX,
        "last_error": "x" * MAX_STATUS_TEXT,
        "store_epoch": str(2**64 - 1),
        "dropped": [[1, 2, INT64_MAX]] * MAX_STATUS_LIST,
    }
    assert decode_status(encode_status("online", **fields)) == {"state": "online", **fields}


def test_a_nodes_own_text_is_made_fit_for_its_status():
    assert status_text("I2C\nfailed\x00 at 0x76") == "I2C failed  at 0x76"
    assert len(status_text("x" * 2000)) == MAX_STATUS_TEXT


def config_of(size):
    base = {"v": 1, "revision": 1, "intervals": {}, "page": {"contact": ""}}
    text = json.dumps(base, separators=(",", ":")).encode()
    return text.replace(b'"contact":""', b'"contact":""' + b" " * (size - len(text)))


def test_a_config_of_64_kib_is_read_and_one_byte_more_is_refused():
    assert decode_config(config_of(MAX_CONFIG_BYTES)).revision == 1
    with pytest.raises(PayloadTooLarge, match=r"^config of 65537 bytes; at most 65536$"):
        decode_config(config_of(MAX_CONFIG_BYTES + 1))


def test_a_version_that_is_not_1_is_named():
    with pytest.raises(UnsupportedVersion, match=r"^status version 2; this code knows 1$"):
        decode_status(b'{"v": 2, "state": "online"}')


def test_an_ack_of_thousands_of_ranges_is_split_into_parts_below_the_payload_limit():
    acked = tuple((2 * n + 1, 2 * n + 1) for n in range(10_000))
    rejected = tuple(Rejection(2 * n + 2, 2 * n + 2, "x" * 1000) for n in range(1_200))
    parts = split_ack(Ack(2**64 - 1, acked, rejected, rotate=True))
    assert len(parts) == 5 + 3
    assert all(len(encode_ack(part)) < MAX_PAYLOAD_BYTES // 2 for part in parts)
    assert tuple(pair for part in parts for pair in part.acked) == acked
    assert [(r.first, r.last) for part in parts for r in part.rejected] == [
        (r.first, r.last) for r in rejected
    ]
    assert all(part.rotate and part.store_epoch == 2**64 - 1 for part in parts)
    assert {len(r.reason) for part in parts for r in part.rejected} == {200}
    small = Ack(7, ((1, 10),))
    assert split_ack(small) == [small]


def test_a_throttled_ack_names_its_ranges_and_a_wait_of_at_most_an_hour():
    ack = Ack(5, throttled=((1, 100), (200, 300)), retry_after_s=MAX_RETRY_AFTER_S)
    assert decode_ack(encode_ack(ack)) == ack
    assert b'"throttled"' not in encode_ack(Ack(5, acked=((1, 2),)))
    too_long = encode_ack(ack).replace(b"3600", b"3601")
    with pytest.raises(MalformedPayload, match=r"^ack: retry_after_s must be a whole number"):
        decode_ack(too_long)
    with pytest.raises(MalformedPayload, match=r"^ack: throttled must be a list$"):
        decode_ack(b'{"v":1,"store_epoch":"5","throttled":7}')
    many = Ack(5, throttled=tuple((n, n) for n in range(1, 5001, 2)), retry_after_s=3)
    parts = split_ack(many)
    assert tuple(pair for part in parts for pair in part.throttled) == many.throttled
    assert {part.retry_after_s for part in parts} == {3}


def test_a_peek_names_a_contiguous_batch_from_its_first_bytes_only():
    payload = raw_batch("askrigg", EPOCH, list(range(41, 10_041)))
    assert peek_batch(payload) == BatchIdentity("askrigg", EPOCH, ((41, 10_040),))
    cut = raw_batch("askrigg", EPOCH, [1, 2, 3], compress=False)[:40]
    assert peek_batch(cut) == BatchIdentity("askrigg", EPOCH, ((1, 3),))  # the rest unread
    assert peek_batch(raw_batch("askrigg", EPOCH, [1, 3])) is None  # listed: decode it
    with pytest.raises(MalformedPayload, match=r"^a sequence number is beyond 2\^63 - 1$"):
        peek_batch(raw_batch("askrigg", EPOCH, [2**63 - 1, 2**63]))
    with pytest.raises(MalformedPayload, match=r"^not a hallsense readings payload"):
        peek_batch(b"garbage")


def test_a_config_s_release_is_a_version_of_at_most_64_characters():
    from hub_sync.node_config import RELEASE_TEXT_MAX, NodeConfig, encode_config

    config = NodeConfig(3, release="1.2.0")
    assert decode_config(encode_config(config)) == config
    assert b"release" not in encode_config(NodeConfig(3))  # "" holds the node where it is
    at_limit = "1." + "0" * (RELEASE_TEXT_MAX - 2)
    assert decode_config(encode_config(NodeConfig(3, release=at_limit))).release == at_limit
    for value, said in [
        ("1." + "0" * (RELEASE_TEXT_MAX - 1), "at most 64 characters"),
        (7, "at most 64 characters"),
        ("soon", "'soon' is not a release version"),
    ]:
        payload = json.dumps({"v": 1, "revision": 3, "release": value}).encode()
        with pytest.raises(MalformedPayload, match=f"^config: release.*{said}"):
            decode_config(payload)


def test_a_status_carries_the_update_state_bounded_like_any_text():
    payload = encode_status(
        "online", update_state="rolled back", update_version="1.2.0", update_error="x" * 500
    )
    assert decode_status(payload)["update_state"] == "rolled back"
    with pytest.raises(MalformedPayload, match="update_error is longer than 500"):
        decode_status(payload.replace(b"x" * 500, b"x" * 501))
    with pytest.raises(MalformedPayload, match="update_state has the wrong type"):
        decode_status(b'{"v":1,"state":"online","update_state":3}')


@pytest.mark.parametrize(
    ("data", "count", "expected", "left"),
    [
        (b"\x00\x7f\x05", 3, [0, 127, 5], b""),  # one byte each: the fast path
        (b"\x7f\x80\x01", 2, [127, 128], b""),  # one byte, then two: the loop
        (b"\x01\x02\x80\x01", 2, [1, 2], b"\x80\x01"),  # the fast path stops at count
        (b"", 0, [], b""),
    ],
)
def test_varints_read_one_byte_runs_at_once_and_longer_ones_by_the_byte(
    data, count, expected, left
):
    reader = Reader(data)
    assert reader.varints(count) == expected
    assert data[reader.pos :] == left


@pytest.mark.parametrize(("data", "count"), [(b"\x01\x02", 3), (b"\x01\x80", 2)])
def test_varints_past_the_end_are_a_truncated_payload(data, count):
    with pytest.raises(MalformedPayload, match="truncated"):
        Reader(data).varints(count)
