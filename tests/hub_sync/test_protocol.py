import contextlib
import math
import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub_sync.acks import Ack, Rejection, decode_ack, encode_ack
from hub_sync.batch_codec import Batch, WireReading, decode_batch, encode_batch, value_scale
from hub_sync.limits import MAX_BATCH_READINGS
from hub_sync.topics import check_device_id, parse_topic, topic
from hub_sync.untrusted_text import CONTROL_CHARACTER
from hub_sync.wire_errors import (
    BatchTooLarge,
    DeviceIdError,
    MalformedPayload,
    PayloadTooLarge,
    ProtocolError,
    TopicError,
    UnsupportedVersion,
)

EPOCH = 0xFEDC_BA98_7654_3210


def bits(value):
    return struct.pack(">d", value)


def same(a: WireReading, b: WireReading) -> bool:
    return (a.seq, a.sensor_id, a.metric, a.unit, a.ts_us, a.quality, a.censor) == (
        b.seq,
        b.sensor_id,
        b.metric,
        b.unit,
        b.ts_us,
        b.quality,
        b.censor,
    ) and bits(a.value) == bits(b.value)


# Any text the wire allows: no control characters (nor lone surrogates, not UTF-8).
texts = st.text(
    st.characters(blacklist_categories=("Cc", "Cs")).filter(
        lambda c: not CONTROL_CHARACTER.match(c)
    ),
    min_size=1,
    max_size=12,
).filter(lambda s: len(s.encode()) <= 64)
values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**6), 10**6).map(lambda n: n / 100),
    st.sampled_from([0.0, -0.0, 21.5, 1e-300, 5e-324, 1.7976931348623157e308]),
)


@st.composite
def batches(draw):
    n = draw(st.integers(1, 25))
    start = draw(st.integers(1, 2**62))
    contiguous = draw(st.booleans())
    seqs = [start]
    for _ in range(n - 1):
        seqs.append(seqs[-1] + (1 if contiguous else draw(st.integers(1, 1000))))
    series = draw(st.lists(st.tuples(texts, texts, texts), min_size=1, max_size=4))
    readings = []
    for seq in seqs:
        sensor, metric, unit = draw(st.sampled_from(series))
        readings.append(
            WireReading(
                seq,
                sensor,
                metric,
                unit,
                draw(st.integers(-(2**63), 2**63 - 1)),
                draw(values),
                draw(st.integers(0, 2**31 - 1)),
                draw(st.sampled_from([None, None, "<", ">"])),
            )
        )
    device = draw(st.from_regex(r"[a-z0-9][a-z0-9-]{0,31}", fullmatch=True))
    return Batch(device, draw(st.integers(0, 2**64 - 1)), tuple(readings))


@settings(max_examples=80, deadline=None)
@given(batches(), st.booleans())
def test_every_batch_round_trips_bit_for_bit(batch, compress):
    decoded = decode_batch(encode_batch(batch, compress=compress))
    assert (decoded.device_id, decoded.store_epoch) == (batch.device_id, batch.store_epoch)
    assert len(decoded.readings) == len(batch.readings)
    for original, back in zip(batch.readings, decoded.readings, strict=True):
        assert same(original, back), (original, back)


def test_scales_are_chosen_only_where_exact():
    assert value_scale([21.5, 21.25]) == 2
    assert value_scale([400.0, 412.0]) == 0
    assert value_scale([0.1, 0.2]) == 1
    assert value_scale([math.pi]) is None
    assert value_scale([-0.0]) is None
    assert value_scale([float("nan")]) is None


def day_of_hall_readings(n=1000):
    out = []
    for i in range(n):
        series = i % 8
        out.append(
            WireReading(
                1000 + i,
                f"sim-{series}",
                ["temperature", "co2", "pm2_5", "noise", "footfall", "occupancy", "pm10", "rh"][
                    series
                ],
                "x",
                1_780_000_000_000_000 + (i // 8) * 10_000_000,
                [19.5 + (i % 13) * 0.01, 420.0 + i % 50, 4.2, 31.4, 0.0, 0.0, 6.1, 60.2][series],
            )
        )
    return Batch("askrigg-hall", EPOCH, tuple(out))


def test_a_thousand_hall_readings_take_a_few_bytes_each():
    payload = encode_batch(day_of_hall_readings())
    assert len(payload) / 1000 < 3


def test_topics_are_strict():
    assert topic("askrigg-hall", "readings") == "hallsense/v1/askrigg-hall/readings"
    assert parse_topic("hallsense/v1/askrigg-hall/ack") == ("askrigg-hall", "ack")
    for bad in [
        "hallsense/v1/askrigg-hall",
        "hallsense/v1/askrigg-hall/readings/extra",
        "hallsense/v2/askrigg-hall/readings",
        "hallsense/v1/askrigg-hall/secrets",
    ]:
        with pytest.raises(TopicError):
            parse_topic(bad)
    with pytest.raises(DeviceIdError) as caught:
        parse_topic("hallsense/v1/Askrigg Hall/readings")
    assert str(caught.value) == (
        "device id 'Askrigg Hall' is not valid: use 1 to 32 lowercase letters, digits and "
        "hyphens, starting with a letter or digit"
    )
    with pytest.raises(DeviceIdError):
        topic("a" * 33, "status")
    with pytest.raises(DeviceIdError):
        topic("+", "status")
    with pytest.raises(DeviceIdError):  # "$" in a pattern would let a newline through
        check_device_id("askrigg\n")


def test_too_many_readings_is_a_named_error():
    reading = WireReading(1, "s", "m", "u", 0, 1.0)
    readings = tuple(
        WireReading(i + 1, "s", "m", "u", 0, 1.0) for i in range(MAX_BATCH_READINGS + 1)
    )
    with pytest.raises(BatchTooLarge, match=f"at most {MAX_BATCH_READINGS}"):
        encode_batch(Batch("d", 1, readings))
    assert decode_batch(encode_batch(Batch("d", 1, (reading,)))).readings == (reading,)


@pytest.mark.parametrize(
    ("payload", "error", "message"),
    [
        (b"", MalformedPayload, "no 'HS' header"),
        (b'{"json": true}', MalformedPayload, "no 'HS' header"),
        (b"HS\x02\x01xx", UnsupportedVersion, "readings format version 2"),
        (b"HS\x01\x80", MalformedPayload, "unknown flags 0x80"),
        (b"HS\x01\x01not zlib", MalformedPayload, "compressed body is damaged"),
        (b"HS\x01\x00", MalformedPayload, "truncated"),
        (
            b"HS\x01\x01" + zlib.compress(bytes(MAX_BATCH_READINGS * 1000)),
            PayloadTooLarge,
            "decompresses",
        ),
        (b"HS\x01\x00" + b"x" * 300_000, PayloadTooLarge, "at most"),
    ],
)
def test_bad_payloads_are_named_errors(payload, error, message):
    with pytest.raises(error, match=message):
        decode_batch(payload)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_never_raises_anything_but_a_protocol_error(junk):
    for payload in (junk, b"HS\x01\x00" + junk, b"HS\x01\x01" + zlib.compress(junk)):
        with contextlib.suppress(ProtocolError):
            decode_batch(payload)


@settings(max_examples=40, deadline=None)
@given(batches(), st.data())
def test_truncation_is_always_detected(batch, data):
    payload = encode_batch(batch, compress=False)
    cut = data.draw(st.integers(0, len(payload) - 1))
    with pytest.raises(ProtocolError):
        decode_batch(payload[:cut])


def test_acks_round_trip_as_plain_json():
    ack = Ack(EPOCH, ((1, 500), (600, 700)), (Rejection(501, 599, "timestamp too far ahead"),))
    payload = encode_ack(ack)
    assert b'"store_epoch":"18364758544493064720"' in payload
    assert decode_ack(payload) == ack


@pytest.mark.parametrize(
    "payload",
    [b"[]", b'{"v":2,"store_epoch":"1"}', b'{"v":1}', b'{"v":1,"store_epoch":"1","acked":[[5,2]]}'],
)
def test_bad_acks_are_refused(payload):
    with pytest.raises(ProtocolError):
        decode_ack(payload)


def test_status_messages_are_checked_json():
    from hub_sync.node_status import decode_status, encode_status

    payload = encode_status("online", backlog=12, clock_synchronised=False, dropped=[[1, 5, 5]])
    assert decode_status(payload) == {
        "state": "online",
        "backlog": 12,
        "clock_synchronised": False,
        "dropped": [[1, 5, 5]],
    }
    with pytest.raises(MalformedPayload, match="status field colour='red' is not allowed"):
        encode_status("online", colour="red")
    with pytest.raises(MalformedPayload, match="state must be online or offline"):
        decode_status(b'{"v":1,"state":"asleep"}')
    with pytest.raises(MalformedPayload, match="backlog has the wrong type"):
        decode_status(b'{"v":1,"state":"online","backlog":"lots"}')


def test_config_is_checked_before_anything_is_applied():
    from hub_sync.node_config import NodeConfig, decode_config, encode_config

    config = NodeConfig(7, (("simulated", 30.0), ("system", 300.0)))
    assert decode_config(encode_config(config)) == config
    for bad, message in [
        (b'{"v":1,"revision":1,"intervals":{"simulated":0}}', "interval of 'simulated'"),
        (b'{"v":1,"revision":-1}', "revision must be"),
        (b'{"v":1,"revision":1,"colour":"red"}', "unknown field"),
        (b'{"v":1,"revision":1,"intervals":[1]}', "intervals must be an object"),
    ]:
        with pytest.raises(MalformedPayload, match=message):
            decode_config(bad)


def test_page_settings_travel_in_the_config_and_bad_shapes_are_refused():
    from hub_sync.node_config import NodeConfig, decode_config, encode_config

    config = NodeConfig(
        8,
        (),
        (
            ("hall_name", "Askrigg Village Hall"),
            ("public_metrics", ("co2", "temperature")),
            ("sensor_labels", (("gpio-door", "Main door"),)),
        ),
    )
    assert decode_config(encode_config(config)) == config
    for page, message in [
        ('{"hall_name":"  "}', "hall_name must not be empty"),
        ('{"contact":' + '"x"' * 0 + '"' + "x" * 201 + '"}', "contact must be text"),
        ('{"public_metrics":"co2"}', "public_metrics must be a list"),
        ('{"sensor_labels":{"a":""}}', "sensor_labels must map"),
        ('{"colour":"red"}', "page.colour is not a page setting"),
        ("[]", "page must be an object"),
    ]:
        payload = ('{"v":1,"revision":1,"page":' + page + "}").encode()
        with pytest.raises(MalformedPayload, match=message):
            decode_config(payload)


def test_the_worked_example_in_the_docs_is_what_the_encoder_writes():
    from pathlib import Path

    example = Batch(
        "askrigg-hall",
        0x0123456789ABCDEF,
        (
            WireReading(41, "sim-temperature", "temperature", "°C", 1_795_000_000_000_000, 21.5),
            WireReading(42, "sim-co2", "co2", "ppm", 1_795_000_000_000_000, 612.0),
            WireReading(43, "sim-temperature", "temperature", "°C", 1_795_000_010_000_000, 21.25),
        ),
    )
    doc = (Path(__file__).parents[2] / "docs" / "protocol.md").read_text(encoding="utf-8")
    blocks = doc.split("### Worked example")[1].split("```")
    hex_bytes = []
    for line in blocks[1].strip().splitlines():
        for token in line.split():  # the hex, then a comment
            if len(token) != 2 or any(c not in "0123456789abcdef" for c in token):
                break
            hex_bytes.append(token)
    plain = bytes.fromhex(" ".join(hex_bytes))
    compressed = bytes.fromhex(" ".join(blocks[3].split()))
    assert encode_batch(example, compress=False) == plain
    assert encode_batch(example) == compressed
    assert decode_batch(compressed) == example


def test_the_rotate_flag_of_an_ack_is_sent_only_when_set_and_checked():
    from hub_sync.acks import Ack, decode_ack, encode_ack
    from hub_sync.wire_errors import MalformedPayload

    plain = encode_ack(Ack(5, ((1, 3),)))
    assert b"rotate" not in plain  # nodes of before the flag see the ack they know
    assert not decode_ack(plain).rotate
    assert decode_ack(encode_ack(Ack(5, ((1, 3),), rotate=True))).rotate
    with pytest.raises(MalformedPayload, match="rotate"):
        decode_ack(b'{"v":1,"store_epoch":"5","acked":[],"rotate":"yes"}')
