"""Config the hub sends a node (retained): sample intervals and the community page's settings."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hub_sync.limits import FORMAT_VERSION, MAX_CONFIG_BYTES
from hub_sync.release_contract import ReleaseFormatError, release_version
from hub_sync.untrusted_text import load_message
from hub_sync.wire_errors import MalformedPayload

MIN_INTERVAL_S = 0.1
MAX_INTERVAL_S = 86_400.0


PAGE_TEXT_KEYS = ("hall_name", "opening_hours", "contact")
PAGE_TEXT_MAX = 200
PAGE_LABEL_MAX = 80
PAGE_LIST_MAX = 64
RELEASE_TEXT_MAX = 64


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """Settings the hub may change on a node.

    ``intervals``: sample intervals per driver, in seconds. ``page``: the community
    page's settings (``hall_name``, ``opening_hours``, ``contact``: text;
    ``public_metrics``: metric names; ``sensor_labels``: sensor id to label), checked
    here for shape; the node checks metric names against its vocabulary. ``release``:
    the version a staged rollout lets this node update to ("" holds it where it is); the
    node still takes it only from the council's signed repository.
    """

    revision: int
    intervals: tuple[tuple[str, float], ...] = ()
    page: tuple[tuple[str, Any], ...] = ()
    release: str = ""


def encode_config(config: NodeConfig) -> bytes:
    """The JSON of a config message."""
    body: dict[str, Any] = {
        "v": FORMAT_VERSION,
        "revision": config.revision,
        "intervals": dict(config.intervals),
    }
    if config.page:
        body["page"] = {
            key: dict(value)
            if key == "sensor_labels"
            else list(value)
            if isinstance(value, tuple)
            else value
            for key, value in config.page
        }
    if config.release:
        body["release"] = config.release
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _page_config(page: object) -> tuple[tuple[str, Any], ...]:
    if not isinstance(page, dict):
        raise MalformedPayload("config: page must be an object of page settings")
    checked: list[tuple[str, Any]] = []
    for key, value in sorted(page.items()):
        if key in PAGE_TEXT_KEYS:
            if not isinstance(value, str) or len(value) > PAGE_TEXT_MAX:
                raise MalformedPayload(
                    f"config: page.{key} must be text of at most {PAGE_TEXT_MAX} characters"
                )
            if key == "hall_name" and not value.strip():
                raise MalformedPayload("config: page.hall_name must not be empty")
            checked.append((key, value))
        elif key == "public_metrics":
            if (
                not isinstance(value, list)
                or len(value) > PAGE_LIST_MAX
                or not all(isinstance(m, str) and m for m in value)
            ):
                raise MalformedPayload("config: page.public_metrics must be a list of metric names")
            checked.append((key, tuple(value)))
        elif key == "sensor_labels":
            if (
                not isinstance(value, dict)
                or len(value) > PAGE_LIST_MAX
                or not all(
                    isinstance(label, str) and 0 < len(label) <= PAGE_LABEL_MAX
                    for label in value.values()
                )
            ):
                raise MalformedPayload(
                    "config: page.sensor_labels must map sensor ids to labels of 1 to "
                    f"{PAGE_LABEL_MAX} characters"
                )
            checked.append((key, tuple(sorted(value.items()))))
        else:
            raise MalformedPayload(f"config: page.{key} is not a page setting")
    return tuple(checked)


def decode_config(payload: bytes) -> NodeConfig:
    """The config in a JSON payload, every value checked.

    Raises:
        MalformedPayload: naming the field that is wrong; nothing of it may be applied.
    """
    data = load_message(payload, "config", MAX_CONFIG_BYTES)
    unknown = set(data) - {"v", "revision", "intervals", "page", "release"}
    if unknown:
        raise MalformedPayload(f"config: unknown field(s) {', '.join(sorted(unknown))}")
    revision = data.get("revision")
    if not isinstance(revision, int) or isinstance(revision, bool) or revision < 0:
        raise MalformedPayload("config: revision must be a whole number of 0 or more")
    intervals = data.get("intervals", {})
    if not isinstance(intervals, dict):
        raise MalformedPayload("config: intervals must be an object of driver: seconds")
    checked = []
    for name, seconds in sorted(intervals.items()):
        if (
            not isinstance(seconds, int | float)
            or isinstance(seconds, bool)
            or not MIN_INTERVAL_S <= seconds <= MAX_INTERVAL_S
        ):
            raise MalformedPayload(
                f"config: interval of {name!r} must be {MIN_INTERVAL_S:g} to "
                f"{MAX_INTERVAL_S:g} seconds, got {seconds!r}"
            )
        checked.append((str(name), float(seconds)))
    page = _page_config(data["page"]) if "page" in data else ()
    return NodeConfig(revision, tuple(checked), page, _release(data.get("release", "")))


def _release(value: object) -> str:
    if not isinstance(value, str) or len(value) > RELEASE_TEXT_MAX:
        raise MalformedPayload(
            f"config: release must be a version of at most {RELEASE_TEXT_MAX} characters"
        )
    if value:
        try:
            release_version(value)
        except ReleaseFormatError as error:
            raise MalformedPayload(f"config: release: {error}") from None
    return value
