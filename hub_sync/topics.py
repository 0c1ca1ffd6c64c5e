"""Topic names: ``hallsense/v1/<device_id>/<kind>``, built and parsed strictly."""

from __future__ import annotations

import re
from typing import Literal

from hub_sync.wire_errors import DeviceIdError, TopicError

TOPIC_PREFIX = "hallsense/v1"
KINDS = ("readings", "ack", "status", "config")
Kind = Literal["readings", "ack", "status", "config"]

DEVICE_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")


def check_device_id(device_id: str) -> str:
    """``device_id`` if it is valid.

    Raises:
        DeviceIdError: naming the id and the rule.
    """
    if not DEVICE_ID.fullmatch(device_id):
        raise DeviceIdError(
            f"device id {device_id!r} is not valid: use 1 to 32 lowercase letters, digits "
            "and hyphens, starting with a letter or digit"
        )
    return device_id


def topic(device_id: str, kind: Kind) -> str:
    """The topic of ``kind`` messages of ``device_id``."""
    if kind not in KINDS:
        raise TopicError(f"unknown message kind {kind!r}; kinds are {', '.join(KINDS)}")
    return f"{TOPIC_PREFIX}/{check_device_id(device_id)}/{kind}"


def parse_topic(name: str) -> tuple[str, Kind]:
    """(device id, kind) of a topic, checked strictly.

    Raises:
        TopicError: the topic does not have exactly the four levels, prefix and kind.
        DeviceIdError: the device id level is not a valid id.
    """
    levels = name.split("/")
    if len(levels) != 4 or "/".join(levels[:2]) != TOPIC_PREFIX:
        raise TopicError(f"topic {name!r} is not of the form {TOPIC_PREFIX}/<device_id>/<kind>")
    kind = levels[3]
    if kind not in KINDS:
        raise TopicError(f"topic {name!r} has unknown kind {kind!r}")
    return check_device_id(levels[2]), kind  # type: ignore[return-value]
