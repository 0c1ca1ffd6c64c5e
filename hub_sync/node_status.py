"""The node's retained status: birth, heartbeat and last will, with bounded fields."""

from __future__ import annotations

import json
from typing import Any

from hub_sync.limits import (
    FORMAT_VERSION,
    INT64_MAX,
    MAX_STATUS_BYTES,
    MAX_STATUS_LIST,
    MAX_STATUS_TEXT,
)
from hub_sync.untrusted_text import CONTROL_CHARACTER, load_message
from hub_sync.wire_errors import MalformedPayload

STATUS_FIELDS: dict[str, type | tuple[type, ...]] = {
    "state": str,
    "version": str,
    "store_epoch": str,
    "backlog": int,
    "held_back": int,
    "oldest_unacknowledged": (str, type(None)),
    "store_bytes": int,
    "clock_synchronised": bool,
    "last_error": str,
    "hub_subscribed": bool,
    "dropped": list,
    "rejected": int,
    "config_revision": int,
    "config_error": str,
    "update_state": str,
    "update_version": str,
    "update_error": str,
    "acks": str,
    "link_profile": str,
    "batch_window_s": int,
}


def status_text(text: str) -> str:
    """``text`` fit for a status field: control characters as spaces, at most the bound."""
    return CONTROL_CHARACTER.sub(" ", text)[:MAX_STATUS_TEXT]


def encode_status(state: str, **fields: Any) -> bytes:
    """A status message: ``state`` ("online" or "offline") and the heartbeat's fields.

    Raises:
        MalformedPayload: an unknown field or a value of the wrong type.
    """
    if state not in ("online", "offline"):
        raise MalformedPayload(f"status state must be online or offline, got {state!r}")
    for name, value in fields.items():
        if name not in STATUS_FIELDS or not isinstance(value, STATUS_FIELDS[name]):
            raise MalformedPayload(f"status field {name}={value!r} is not allowed")
    payload = json.dumps(
        {"v": FORMAT_VERSION, "state": state, **fields}, separators=(",", ":")
    ).encode("utf-8")
    decode_status(payload)  # what the hub would refuse is never sent
    return payload


def _dropped_ok(value: list[Any]) -> bool:
    return len(value) <= MAX_STATUS_LIST and all(
        isinstance(item, list)
        and len(item) == 3
        and all(
            isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= INT64_MAX for n in item
        )
        for item in value
    )


def _status_value(name: str, value: Any) -> Any:
    """``value`` of status field ``name`` within its bounds, or a MalformedPayload."""
    if isinstance(value, str):
        if len(value) > MAX_STATUS_TEXT:
            raise MalformedPayload(f"status: {name} is longer than {MAX_STATUS_TEXT} characters")
        if name == "store_epoch" and not (
            value.isdigit() and len(value) <= 20 and int(value) < 2**64
        ):
            raise MalformedPayload("status: store_epoch is not an unsigned 64-bit number")
    elif isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value <= INT64_MAX:
            raise MalformedPayload(f"status: {name} must be 0 to 2^63 - 1, got {value}")
    elif name == "dropped" and not _dropped_ok(value):
        raise MalformedPayload(
            f"status: dropped must be at most {MAX_STATUS_LIST} [first, last, count] "
            "lists of whole numbers"
        )
    return value


def decode_status(payload: bytes) -> dict[str, Any]:
    """The fields of a status message; unknown fields are dropped, wrong types refused.

    Raises:
        ProtocolError: naming the field and its bound (docs/protocol.md).
    """
    data = load_message(payload, "status", MAX_STATUS_BYTES)
    if data.get("state") not in ("online", "offline"):
        raise MalformedPayload("status: state must be online or offline")
    out: dict[str, Any] = {}
    for name, kind in STATUS_FIELDS.items():
        if name in data:
            value = data[name]
            if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
                raise MalformedPayload(f"status: {name} has the wrong type")
            out[name] = _status_value(name, value)
    return out
