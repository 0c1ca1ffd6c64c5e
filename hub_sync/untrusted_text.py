"""Text and JSON from an untrusted peer: control characters refused, JSON parsed within bounds."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from hub_sync.limits import (
    FORMAT_VERSION,
    MAX_JSON_DEPTH,
    MAX_NUMBER_CHARS,
    MAX_PAYLOAD_BYTES,
)
from hub_sync.wire_errors import MalformedPayload, PayloadTooLarge, UnsupportedVersion

CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
"""Refused in every text field: C0 and C1 control characters (NUL, newline, escape …),
the Unicode line and paragraph separators, and the bidirectional embeddings, overrides
and isolates, which can make text on a page read otherwise than it is."""


def check_text(text: str, what: str) -> str:
    """``text`` if it holds no control character.

    Raises:
        MalformedPayload: naming ``what`` and the character.
    """
    found = CONTROL_CHARACTER.search(text)
    if found:
        raise MalformedPayload(
            f"{what} holds the control character U+{ord(found.group()):04X}; text may not"
        )
    return text


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_JSON_BRACKET = re.compile(r"[\[\]{}]")


def _json_number(what: str, kind: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        if len(text) > MAX_NUMBER_CHARS:
            raise MalformedPayload(
                f"{what} holds a number of {len(text)} characters; at most {MAX_NUMBER_CHARS}"
            )
        return kind(text)

    return parse


def _json_texts(value: Any, what: str) -> None:
    # Depth is bounded before parsing, so this recursion is too.
    if isinstance(value, str):
        check_text(value, f"{what}: a text")
    elif isinstance(value, list):
        for item in value:
            _json_texts(item, what)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key, f"{what}: a name")
            _json_texts(item, what)


def load_json(payload: bytes, what: str, *, max_bytes: int, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """JSON from an untrusted peer, within bounds before anything else touches it.

    Size, nesting depth and number length are checked before Python's parser could
    recurse or build huge integers; NaN and Infinity (not JSON) and control characters
    in any text are refused.

    Raises:
        PayloadTooLarge: over ``max_bytes``.
        MalformedPayload: not UTF-8 JSON, or beyond a bound; the message says which.
    """
    if len(payload) > max_bytes:
        raise PayloadTooLarge(f"{what} of {len(payload)} bytes; at most {max_bytes}")
    try:
        text = bytes(payload).decode("utf-8")
    except UnicodeDecodeError as error:
        raise MalformedPayload(f"{what} is not UTF-8: {error}") from error
    depth = 0
    for bracket in _JSON_BRACKET.finditer(_JSON_STRING.sub('""', text)):
        if bracket.group() in "[{":
            depth += 1
            if depth > max_depth:
                raise MalformedPayload(f"{what} nests deeper than {max_depth} levels")
        else:
            depth -= 1

    def constant(name: str) -> Any:
        raise MalformedPayload(f"{what} holds {name}, which is not a JSON number")

    try:
        data = json.loads(
            text,
            parse_int=_json_number(what, int),
            parse_float=_json_number(what, float),
            parse_constant=constant,
        )
    except (json.JSONDecodeError, RecursionError) as error:
        raise MalformedPayload(f"{what} is not JSON: {error}") from error
    _json_texts(data, what)
    return data


def load_message(payload: bytes, what: str, max_bytes: int = MAX_PAYLOAD_BYTES) -> dict[str, Any]:
    """A JSON message of the wire: a bounded JSON object of this format version.

    Raises:
        PayloadTooLarge, MalformedPayload, UnsupportedVersion: naming ``what`` is wrong.
    """
    data = load_json(payload, what, max_bytes=max_bytes)
    if not isinstance(data, dict):
        raise MalformedPayload(f"{what} is not a JSON object")
    if data.get("v") != FORMAT_VERSION:
        raise UnsupportedVersion(f"{what} version {data.get('v')!r}; this code knows 1")
    return data
