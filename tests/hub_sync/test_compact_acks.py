"""The compact binary ack: round trips, its limits at the boundary and one past, JSON still read."""

import pytest

from hub_sync.acks import (
    ACK_RANGES_PER_MESSAGE,
    ACK_REJECTIONS_PER_MESSAGE,
    MAX_REJECTION_REASON,
    MAX_RETRY_AFTER_S,
    Ack,
    Rejection,
    decode_ack,
    encode_ack,
    reads_binary,
    split_ack,
)
from hub_sync.limits import INT64_MAX
from hub_sync.varints import Writer
from hub_sync.wire_errors import MalformedPayload, UnsupportedVersion

FULL = Ack(
    2**64 - 1,
    acked=((1, 500), (601, 700)),
    rejected=(
        Rejection(501, 550, "timestamp too far ahead"),
        Rejection(551, 600, "timestamp too far ahead"),
        Rejection(800, 800, "over its quota of series (500)"),
    ),
    rotate=True,
    throttled=((900, 1000),),
    retry_after_s=MAX_RETRY_AFTER_S,
)


@pytest.mark.parametrize(
    "ack",
    [
        FULL,
        Ack(0),
        Ack(7, acked=((1, 1),)),
        Ack(7, acked=((INT64_MAX, INT64_MAX),)),
        Ack(7, acked=((1, INT64_MAX),)),
        Ack(7, rotate=True),
        Ack(7, throttled=((5, 9),), retry_after_s=0),
    ],
)
def test_binary_and_json_acks_round_trip_to_the_same_ack(ack):
    assert decode_ack(encode_ack(ack, binary=True)) == ack
    assert decode_ack(encode_ack(ack)) == ack


def test_the_binary_ack_of_one_batch_is_a_fraction_of_the_json():
    ack = Ack(0x0123456789ABCDEF, acked=((431_001, 431_013),))
    binary, json = encode_ack(ack, binary=True), encode_ack(ack)
    assert binary == bytes.fromhex(
        "48410100 0123456789abcdef 01 99a71a 0c 00 00 00".replace(" ", "")
    )
    assert len(binary) == 20
    assert len(json) > 3 * len(binary)


def test_an_older_hubs_json_ack_is_still_read():
    old = b'{"v":1,"store_epoch":"81985529216486895","acked":[[1,500]],"rejected":[]}'
    assert decode_ack(old) == Ack(81985529216486895, acked=((1, 500),))


def test_the_status_field_says_which_formats_a_node_reads():
    assert reads_binary("json,binary")
    assert not reads_binary("json")
    assert not reads_binary(None)
    assert not reads_binary(["binary"])


def body(*, acked=(), reasons=(), rejected=(), throttled=(), retry=None, epoch=5):
    """A hand-made binary ack, to reach past what the encoder would write."""
    w = Writer()
    w.parts += epoch.to_bytes(8, "big")
    for ranges in (acked,):
        w.varint(len(ranges))
        for gap, length in ranges:
            w.varint(gap)
            w.varint(length)
    w.varint(len(reasons))
    for reason in reasons:
        data = reason.encode()
        w.varint(len(data))
        w.parts += data
    w.varint(len(rejected))
    for gap, length, index in rejected:
        w.varint(gap)
        w.varint(length)
        w.varint(index)
    w.varint(len(throttled))
    for gap, length in throttled:
        w.varint(gap)
        w.varint(length)
    if retry is not None:
        w.varint(retry)
    return b"HA\x01\x00" + bytes(w.parts)


def test_ranges_at_their_limit_and_one_past():
    at = body(acked=[(2, 0)] * ACK_RANGES_PER_MESSAGE)
    assert len(decode_ack(at).acked) == ACK_RANGES_PER_MESSAGE
    with pytest.raises(MalformedPayload, match="more than 2000 acked ranges"):
        decode_ack(body(acked=[(2, 0)] * (ACK_RANGES_PER_MESSAGE + 1)))
    both = body(acked=[(2, 0)] * 1000, throttled=[(2, 0)] * 1001, retry=1)
    with pytest.raises(MalformedPayload, match="throttled ranges"):
        decode_ack(both)


def test_refusals_and_reasons_at_their_limit_and_one_past():
    reason = "x" * MAX_REJECTION_REASON
    at = body(reasons=[reason], rejected=[(2, 0, 0)] * ACK_REJECTIONS_PER_MESSAGE)
    assert len(decode_ack(at).rejected) == ACK_REJECTIONS_PER_MESSAGE
    with pytest.raises(MalformedPayload, match="more than 500 refused ranges"):
        decode_ack(body(reasons=[reason], rejected=[(2, 0, 0)] * 501))
    with pytest.raises(MalformedPayload, match="over 200 characters"):
        decode_ack(body(reasons=[reason + "x"], rejected=[(1, 0, 0)]))
    with pytest.raises(MalformedPayload, match="reason 1 of 1"):
        decode_ack(body(reasons=["r"], rejected=[(1, 0, 1)]))
    with pytest.raises(MalformedPayload, match=r"control character|not allowed"):
        decode_ack(body(reasons=["a\x00b"], rejected=[(1, 0, 0)]))


def test_a_long_reason_is_cut_to_the_limit_when_encoded():
    ack = Ack(5, rejected=(Rejection(1, 2, "y" * 500),))
    (part,) = split_ack(ack)
    assert decode_ack(encode_ack(part, binary=True)).rejected[0].reason == "y" * 200


def test_retry_after_at_its_limit_and_one_past():
    assert decode_ack(body(throttled=[(1, 0)], retry=MAX_RETRY_AFTER_S)).retry_after_s == 3600
    with pytest.raises(MalformedPayload, match="retry_after_s must be 0 to 3600"):
        decode_ack(body(throttled=[(1, 0)], retry=MAX_RETRY_AFTER_S + 1))


def test_sequence_numbers_at_their_limit_and_one_past():
    assert decode_ack(body(acked=[(INT64_MAX, 0)])).acked == ((INT64_MAX, INT64_MAX),)
    with pytest.raises(MalformedPayload, match="below 2\\^63"):
        decode_ack(body(acked=[(INT64_MAX, 1)]))
    with pytest.raises(MalformedPayload, match="increasing, apart"):
        decode_ack(body(acked=[(1, 0), (0, 0)]))  # a gap of 0: overlapping or unsorted


def test_truncated_trailing_flags_and_versions_are_refused():
    good = encode_ack(FULL, binary=True)
    for cut in range(len(good)):
        with pytest.raises((MalformedPayload, UnsupportedVersion)):
            decode_ack(good[:cut] if cut >= 2 else b"HA" + good[2:cut])
    with pytest.raises(MalformedPayload, match="bytes after the last field"):
        decode_ack(good + b"\x00")
    with pytest.raises(MalformedPayload, match="unknown flags"):
        decode_ack(good[:3] + b"\x03" + good[4:])
    with pytest.raises(UnsupportedVersion, match="binary ack version 2"):
        decode_ack(good[:2] + b"\x02" + good[3:])


def test_the_encoder_refuses_what_the_decoder_would():
    with pytest.raises(MalformedPayload, match="refused ranges overlap"):
        encode_ack(Ack(5, rejected=(Rejection(1, 5, "a"), Rejection(5, 6, "b"))), binary=True)
    with pytest.raises(MalformedPayload):
        encode_ack(Ack(5, acked=((0, 3),)), binary=True)
