"""More than one broker: the addresses a setting names, at their limits and past them, and
the rule by which a node moves between them."""

import re

import pytest

from hub_sync.brokers import MOVES_AFTER, BrokerRotation, parse_brokers


def test_host_and_port_items_comma_separated_the_port_defaulting():
    assert parse_brokers("", 8883) == ()
    assert parse_brokers(" broker2.council.example , 10.0.0.12:8884,", 8883) == (
        ("broker2.council.example", 8883),
        ("10.0.0.12", 8884),
    )
    assert parse_brokers("b:1,c:65535", 8883) == (("b", 1), ("c", 65535))  # the limits
    assert parse_brokers("fd00::12", 8883) == (("fd00::12", 8883),)  # IPv6, no port


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("b:65536", "the port must be a number from 1 to 65535"),
        ("b:0", "the port must be a number from 1 to 65535"),
        ("b:x", "the port must be a number from 1 to 65535"),
        (":8883", "is not host[:port]"),
        ("broker two", "is not host[:port]"),
        ("user@broker", "is not host[:port]"),
        ("mqtts://broker", "is not host[:port]"),
        ("[fd00::12]:8883", "is not host[:port]"),
    ],
)
def test_anything_else_is_refused_naming_the_item(text, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        parse_brokers(text, 8883)


def test_a_node_moves_on_after_six_failures_in_a_row_and_stays_where_it_connects():
    said = []
    rotation = BrokerRotation([("a", 1), ("b", 2), ("c", 3)], log=said.append)
    assert [rotation.failed() for _ in range(MOVES_AFTER - 1)] == [None] * (MOVES_AFTER - 1)
    assert rotation.failed() == ("b", 2)
    assert said == ["no connection to the broker at a:1 in 6 attempts: trying the broker at b:2"]
    for _ in range(MOVES_AFTER - 1):
        rotation.failed()
    rotation.connected()  # it answered at the last moment: the count starts again
    assert [rotation.failed() for _ in range(MOVES_AFTER - 1)] == [None] * (MOVES_AFTER - 1)
    assert rotation.failed() == ("c", 3)
    for _ in range(MOVES_AFTER - 1):
        rotation.failed()
    assert rotation.failed() == ("a", 1)  # after the last, the first again


def test_one_broker_alone_is_never_left():
    rotation = BrokerRotation([("a", 1)], log=lambda words: None)
    assert {rotation.failed() for _ in range(3 * MOVES_AFTER)} == {None}
    with pytest.raises(ValueError, match="at least one broker"):
        BrokerRotation([], log=lambda words: None)
