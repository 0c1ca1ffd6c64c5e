"""The node's JSON API (``/api/v1/...``), its OpenAPI document, and Prometheus ``/metrics``.

Read-only, GET (and HEAD) only. Every query parameter is checked (web_local.params): an
unknown or repeated parameter, a bad date or a range past its bound is a 400 whose JSON
body ``{"error": ..., "message": ...}`` says what was wrong; a store that cannot be read
is a 503 with the same body. Times are ISO 8601 with the hall's UTC offset; NaN and
infinite values are ``null``; quality flags are their names.

Bounds, so that one request cannot exhaust a Pi:

- ``/api/v1/readings``: at most 31 days per request, and at most 100,000 readings per
  response. A range holding more is cut after 100,000 readings with ``"truncated": true``
  and a ``next`` link (the same range, resumed after the last sequence number sent, by
  the ``after`` parameter); following ``next`` until it is null gives every reading once.
- ``/api/v1/rollups``: minute summaries for at most 2 days, hourly for 93 days, daily
  for 3660 days per request.

Visitors' measurements only (the page settings' ``public_metrics``) appear in
``current``, ``readings`` and ``rollups``; the Pi's own health (CPU temperature, disk,
load, power) appears only in ``status`` and ``/metrics``, for the IoT team.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain
from typing import Any, Final
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, request, url_for
from werkzeug.exceptions import BadRequest

from edge.rollups import Resolution, Rollup
from edge.status import node_status, quality_names
from edge.store import EdgeStore, StoredReading
from sensors.reading import Quality
from sensors.vocabulary import METRICS
from web_local.app import (
    StoreUnavailable,
    current_site,
    open_private_store,
    open_store,
    page_settings,
)
from web_local.params import parse_choice, parse_metric, parse_range, reject_unknown, shown
from web_local.site import PageSettings

api = Blueprint("api", __name__)

API_VERSION: Final = "1.0.0"
"""The version of this API's contract (not of the software, which is never shown)."""

MAX_READINGS_DAYS: Final = 31
MAX_READINGS: Final = 100_000
DEFAULT_READINGS_DAYS: Final = 1

RESOLUTIONS: Final[tuple[Resolution, ...]] = ("minute", "hour", "day")
MAX_ROLLUP_DAYS: Final[dict[str, int]] = {"minute": 2, "hour": 93, "day": 3660}
DEFAULT_ROLLUP_DAYS: Final[dict[str, int]] = {"minute": 1, "hour": 7, "day": 365}

MAX_SENSOR_CHARS: Final = 200
MAX_SEQ: Final = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}")

CHUNK_ITEMS: Final = 500
"""Readings or rollups per chunk of a streamed JSON body."""

PROMETHEUS_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"

QUALITY_NAMES: Final = tuple(flag.name.lower() for flag in Quality if flag and flag.name)


# --------------------------------------------------------------------------- helpers


def iso(moment: datetime, zone: ZoneInfo) -> str:
    """``moment`` as ISO 8601 (RFC 3339) with the hall's UTC offset.

    Falls back to UTC where the hall's offset then was not whole minutes (local mean
    time before 1847) or the year is out of datetime's reach, so the text stays RFC 3339.
    """
    try:
        local = moment.astimezone(zone)
    except OverflowError:
        return moment.astimezone(UTC).isoformat()
    offset = local.utcoffset()
    if offset is None or offset.seconds % 60 or offset.microseconds:
        return moment.astimezone(UTC).isoformat()
    return local.isoformat()


def finite(value: float) -> float | None:
    """``value``, or None for NaN and infinities (JSON has no such numbers)."""
    return value if math.isfinite(value) else None


@contextmanager
def _store_errors() -> Iterator[None]:
    """A database error while reading (locked for too long, damaged) is a 503, not a 500."""
    try:
        yield
    except sqlite3.Error as error:
        raise StoreUnavailable(f"reading the store failed: {error}") from error


def _check_params(allowed: set[str]) -> None:
    reject_unknown(request.args, allowed)


def _sensor(name: str = "sensor") -> str | None:
    value = request.args.get(name)
    if value is None:
        return None
    if not 1 <= len(value) <= MAX_SENSOR_CHARS:
        raise BadRequest(
            description=f"{name}: {shown(value)} must be 1 to {MAX_SENSOR_CHARS} characters long"
        )
    return value


def _after() -> int:
    value = request.args.get("after")
    if value is None:
        return 0
    if not _DIGITS.fullmatch(value) or int(value) > MAX_SEQ:
        raise BadRequest(
            description=(
                f"after: {shown(value)} is not a sequence number (a whole number, 0 or more)"
            )
        )
    return int(value)


def _public(page: PageSettings) -> list[str]:
    return [m for m in page.public_metrics if m in METRICS]


def _json(body: object, status: int = 200) -> Response:
    text = json.dumps(body, ensure_ascii=False, allow_nan=False)
    return Response(text, status=status, mimetype="application/json")


def _streamed_json(
    head: dict[str, Any], key: str, items: Iterable[str], tail: Callable[[], dict[str, Any]]
) -> Response:
    """A JSON object, streamed: ``head``'s keys, then ``key``, an array of encoded ``items``.

    The keys that ``tail()`` returns once the items are spent (counts, truncation) close it.
    """
    opening = json.dumps(head, ensure_ascii=False, allow_nan=False)[:-1]
    separator = ", " if head else ""

    def generate() -> Iterator[bytes]:
        yield f'{opening}{separator}"{key}": ['.encode()
        batch: list[str] = []
        first = True
        for item in items:
            batch.append(item)
            if len(batch) >= CHUNK_ITEMS:
                yield (("" if first else ", ") + ", ".join(batch)).encode()
                first = False
                batch = []
        if batch:
            yield (("" if first else ", ") + ", ".join(batch)).encode()
        closing = json.dumps(tail(), ensure_ascii=False, allow_nan=False)[1:]
        yield f"], {closing}".encode() if closing != "}" else b"]}"

    return Response(generate(), mimetype="application/json")


def _reading_json(reading: StoredReading, zone: ZoneInfo, label: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "sensor_id": reading.sensor_id,
        "metric": reading.metric,
    }
    if label is not None:
        out["label"] = label
    out.update(
        {
            "value": finite(reading.value),
            "unit": reading.unit,
            "time": iso(reading.timestamp, zone),
            "quality": quality_names(reading.quality),
            "censor": reading.censor.value if reading.censor is not None else None,
            "seq": reading.seq,
        }
    )
    return out


def _rollup_json(rollup: Rollup, zone: ZoneInfo, label: str) -> dict[str, Any]:
    return {
        "sensor_id": rollup.sensor_id,
        "metric": rollup.metric,
        "label": label,
        "unit": rollup.unit,
        "start": iso(rollup.start, zone),
        "count": rollup.count,
        "min": finite(rollup.min),
        "max": finite(rollup.max),
        "mean": finite(rollup.mean),
    }


def _store() -> EdgeStore:
    with _store_errors():
        return open_store()


# --------------------------------------------------------------------------- routes


@api.get("/api/v1/current")
def current() -> Response:
    """The newest reading of each public sensor metric."""
    _check_params(set())
    page = page_settings()
    zone = page.zone
    public = set(_public(page))
    store = _store()
    with _store_errors():
        latest = [r for r in store.latest() if r.metric in public]
    return _json(
        {
            "hall_name": page.hall_name,
            "timezone": page.timezone,
            "generated_at": iso(current_site().now(), zone),
            "readings": [_reading_json(r, zone, page.label(r.sensor_id, r.metric)) for r in latest],
        }
    )


@api.get("/api/v1/readings")
def readings() -> Response:
    """Raw public readings of a range, streamed, bounded in days and in number."""
    _check_params({"from", "to", "metric", "sensor", "after"})
    page = page_settings()
    zone = page.zone
    public = _public(page)
    start, end = parse_range(
        request.args,
        zone,
        current_site().now(),
        max_days=MAX_READINGS_DAYS,
        default_days=DEFAULT_READINGS_DAYS,
        per="request",
    )
    metric = parse_metric(request.args, public)
    sensor = _sensor()
    after = _after()
    wanted = {metric} if metric is not None else set(public)
    query = {"from": iso(start, zone), "to": iso(end, zone), "metric": metric, "sensor": sensor}
    given: dict[str, Any] = {k: v for k, v in query.items() if v is not None}
    resume = url_for("api.readings", **given)
    # The body is written after this view returns, when the request's own store is closed:
    # the stream has a store of its own, closed when the server is done with the response.
    store = open_private_store()
    try:
        with _store_errors():
            rows: Iterator[StoredReading] = store.readings_between(start, end, metrics=wanted)
            # Run the query now: a store that cannot be read is a 503 before any byte is sent.
            first = next(rows, None)
    except BaseException:
        store.close()
        raise
    if first is not None:
        rows = chain([first], rows)
    progress = _Progress()

    def encoded() -> Iterator[str]:
        try:
            for r in rows:
                if r.seq <= after or r.metric not in wanted:
                    continue
                if sensor is not None and r.sensor_id != sensor:
                    continue
                if progress.count >= MAX_READINGS:
                    progress.truncated = True
                    return
                progress.count += 1
                progress.last_seq = r.seq
                yield json.dumps(_reading_json(r, zone, None), ensure_ascii=False, allow_nan=False)
        finally:
            store.close()

    def tail() -> dict[str, Any]:
        joiner = "&" if "?" in resume else "?"
        link = f"{resume}{joiner}after={progress.last_seq}" if progress.truncated else None
        return {"count": progress.count, "truncated": progress.truncated, "next": link}

    response = _streamed_json(query | {"after": after}, "readings", encoded(), tail)
    response.call_on_close(store.close)
    return response


@dataclass
class _Progress:
    """How far a streamed list of readings has got."""

    count: int = 0
    last_seq: int = 0
    truncated: bool = False


@api.get("/api/v1/rollups")
def rollups() -> Response:
    """Minute, hourly or daily summaries (count, min, max, mean) of public metrics."""
    _check_params({"resolution", "from", "to", "metric", "sensor"})
    page = page_settings()
    zone = page.zone
    public = _public(page)
    resolution: Resolution = parse_choice(  # type: ignore[assignment]
        request.args, "resolution", RESOLUTIONS, "hour"
    )
    start, end = parse_range(
        request.args,
        zone,
        current_site().now(),
        max_days=MAX_ROLLUP_DAYS[resolution],
        default_days=DEFAULT_ROLLUP_DAYS[resolution],
        per=f"request at {resolution} resolution",
    )
    metric = parse_metric(request.args, public)
    sensor = _sensor()
    wanted = {metric} if metric is not None else set(public)
    store = _store()
    with _store_errors():
        found = store.rollups(resolution, start, end, sensor_id=sensor, metric=metric)
    labels: dict[tuple[str, str], str] = {}

    def encoded() -> Iterator[str]:
        for r in found:
            if r.metric not in wanted:
                continue
            key = (r.sensor_id, r.metric)
            label = labels.get(key)
            if label is None:
                label = labels[key] = page.label(r.sensor_id, r.metric)
            yield json.dumps(_rollup_json(r, zone, label), ensure_ascii=False, allow_nan=False)

    head = {
        "resolution": resolution,
        "from": iso(start, zone),
        "to": iso(end, zone),
        "metric": metric,
        "sensor": sensor,
    }
    return _streamed_json(head, "rollups", encoded(), lambda: {})


@api.get("/api/v1/status")
def status() -> Response:
    """The node's status for the IoT team: store counts, clock, drivers, every sensor."""
    _check_params(set())
    page = page_settings()
    zone = page.zone
    public = set(_public(page))
    store = _store()
    with _store_errors():
        # The web process does not check the clock itself (that is the agent's job); what
        # the store shows is whether readings are held back waiting for it.
        found = node_status(
            store, hall_name=page.hall_name, clock_synchronised=False, clock_description=""
        )
    stats = found.stats
    body = found.to_json()
    body.pop("db_path", None)  # a file path tells a visitor on the hall Wi-Fi nothing useful
    body["timezone"] = page.timezone
    body["oldest_unacknowledged"] = _iso_or_none(stats.oldest_unacknowledged, zone)
    body["last_acknowledged_at"] = _iso_or_none(stats.last_acknowledged_at, zone)
    if stats.held_back:
        body["clock"] = {
            "synchronised": False,
            "description": (
                f"not synchronised when the agent last stored readings: {stats.held_back:,} "
                "readings are held back until the clock is set"
            ),
        }
    else:
        body["clock"] = {
            "synchronised": None,
            "description": (
                "not checked by the web page; no readings are waiting for the clock to be set"
            ),
        }
    body["sensors"] = [
        {
            **_reading_json(r, zone, page.label(r.sensor_id, r.metric)),
            "public": r.metric in public,
        }
        for r in found.latest
    ]
    body["drivers"] = [
        {
            "driver": h.driver,
            "state": h.state,
            "up": h.state == "ok",
            "since": iso(h.since, zone),
            "last_error": h.last_error,
            "failures": h.failures,
        }
        for h in found.health
    ]
    return _json(body)


def _iso_or_none(moment: datetime | None, zone: ZoneInfo) -> str | None:
    return iso(moment, zone) if moment is not None else None


@api.get("/api/v1/openapi.json")
def openapi() -> Response:
    """This API described in OpenAPI 3.1."""
    _check_params(set())
    return _json(openapi_document(page_settings()))


# --------------------------------------------------------------------------- Prometheus


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if isinstance(value, bool):
        value = int(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if isinstance(value, int):
        return str(value)
    return repr(float(value))


class _Exposition:
    """Prometheus text exposition format 0.0.4, written by hand (it is this small)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(
        self,
        name: str,
        kind: str,
        help_text: str,
        samples: Iterable[tuple[dict[str, str], float]],
    ) -> None:
        self.lines.append(f"# HELP {name} {_escape_help(help_text)}")
        self.lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            if labels:
                inner = ",".join(f'{k}="{_escape_label(v)}"' for k, v in labels.items())
                self.lines.append(f"{name}{{{inner}}} {_number(value)}")
            else:
                self.lines.append(f"{name} {_number(value)}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


@api.get("/metrics")
def metrics() -> Response:
    """The node's numbers for Prometheus: store, backlog, drivers and every latest reading."""
    _check_params(set())
    store = _store()
    with _store_errors():
        stats = store.stats()
        health = store.health()
        latest = store.latest()
    out = _Exposition()
    out.family(
        "hallsense_readings_stored",
        "gauge",
        "Readings held in the node's store.",
        [({}, stats.readings_stored)],
    )
    out.family(
        "hallsense_backlog_readings",
        "gauge",
        "Readings not yet acknowledged by the hub (including any held back for the clock).",
        [({}, stats.backlog)],
    )
    out.family(
        "hallsense_held_back_readings",
        "gauge",
        "Readings held back until the system clock is synchronised.",
        [({}, stats.held_back)],
    )
    out.family(
        "hallsense_readings_acknowledged_total",
        "counter",
        "Readings the hub has acknowledged since this store was made.",
        [({}, stats.acknowledged)],
    )
    out.family(
        "hallsense_readings_rejected_total",
        "counter",
        "Readings the hub has rejected since this store was made.",
        [({}, stats.rejected)],
    )
    out.family(
        "hallsense_readings_dropped_total",
        "counter",
        "Unacknowledged readings deleted to keep the store under its size cap.",
        [({}, stats.dropped)],
    )
    out.family(
        "hallsense_db_bytes",
        "gauge",
        "Bytes of the store's database file and its write-ahead log.",
        [({}, stats.db_bytes)],
    )
    last_ack = stats.last_acknowledged_at
    out.family(
        "hallsense_last_acknowledged_timestamp_seconds",
        "gauge",
        "Unix time of the hub's last acknowledgement; 0 if the hub has never acknowledged.",
        [({}, last_ack.timestamp() if last_ack is not None else 0)],
    )
    oldest = stats.oldest_unacknowledged
    out.family(
        "hallsense_oldest_unacknowledged_timestamp_seconds",
        "gauge",
        "Unix time of the oldest reading not yet acknowledged; no sample when there is none.",
        [({}, oldest.timestamp())] if oldest is not None else [],
    )
    out.family(
        "hallsense_driver_up",
        "gauge",
        "1 when the driver's last recorded state is ok, else 0.",
        [({"driver": h.driver}, 1 if h.state == "ok" else 0) for h in health],
    )
    out.family(
        "hallsense_driver_failures",
        "gauge",
        "Consecutive failures of the driver as last recorded.",
        [({"driver": h.driver}, h.failures) for h in health],
    )

    def series(r: StoredReading) -> dict[str, str]:
        return {"sensor": r.sensor_id, "metric": r.metric, "unit": r.unit}

    out.family(
        "hallsense_latest_value",
        "gauge",
        "The newest reading of each sensor's metric (NaN when the sensor gave no number).",
        [(series(r), r.value) for r in latest],
    )
    out.family(
        "hallsense_latest_timestamp_seconds",
        "gauge",
        "Unix time of the newest reading of each sensor's metric.",
        [(series(r), r.timestamp.timestamp()) for r in latest],
    )
    return Response(out.text(), mimetype=None, content_type=PROMETHEUS_TYPE)


# --------------------------------------------------------------------------- OpenAPI


def _error_responses(json_body: bool = True) -> dict[str, Any]:
    if json_body:
        content: dict[str, Any] = {
            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
        }
    else:
        content = {"text/html": {"schema": {"type": "string"}}}
    return {
        "400": {
            "description": (
                "A query parameter is unknown, repeated or invalid, or the range is longer "
                "than allowed; the message names the parameter and the value."
            ),
            "content": content,
        },
        "500": {"description": "An unexpected error (no details are shown).", "content": content},
        "503": {
            "description": "The node's store cannot be read (not made yet, busy or damaged).",
            "content": content,
        },
    }


def _range_parameters(max_days: str, default: str) -> list[dict[str, Any]]:
    moment = {
        "type": "string",
        "anyOf": [{"format": "date"}, {"format": "date-time"}],
    }
    return [
        {
            "name": "from",
            "in": "query",
            "required": False,
            "description": (
                "Start of the range: a date YYYY-MM-DD (from the hall's local midnight) or an "
                "RFC 3339 date-time with its UTC offset (Z or +HH:MM; a time without one is "
                f"refused). Default: {default} before `to`, or before now. Must be before `to`; "
                f"the range may be at most {max_days}."
            ),
            "schema": moment,
            "examples": {
                "date": {"value": "2026-11-03"},
                "time": {"value": "2026-11-03T09:00:00Z"},
            },
        },
        {
            "name": "to",
            "in": "query",
            "required": False,
            "description": (
                "End of the range: a date YYYY-MM-DD is included whole (to the end of that "
                "local day); a date-time with its offset is exclusive. Default: now."
            ),
            "schema": moment,
            "examples": {
                "date": {"value": "2026-11-04"},
                "time": {"value": "2026-11-03T17:00:00+00:00"},
            },
        },
    ]


def _metric_parameter(public: list[str]) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if public:
        schema["enum"] = public
    return {
        "name": "metric",
        "in": "query",
        "required": False,
        "description": "Only this measurement (one shown to visitors on this node's page).",
        "schema": schema,
    }


SENSOR_PARAMETER: Final = {
    "name": "sensor",
    "in": "query",
    "required": False,
    "description": "Only this sensor id (an id the node has not is simply no data).",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_SENSOR_CHARS},
}


def openapi_document(page: PageSettings) -> dict[str, Any]:
    """The OpenAPI 3.1 document of this API, with the metrics this node makes public."""
    public = _public(page)
    time_schema = {"type": "string", "format": "date-time"}
    reading_properties: dict[str, Any] = {
        "sensor_id": {"type": "string"},
        "metric": {
            "type": "string",
            "description": "A metric of the vocabulary (docs/sensors.md).",
        },
        "value": {
            "type": ["number", "null"],
            "description": "null when the sensor gave no number (NaN) or an infinite one.",
        },
        "unit": {"type": "string"},
        "time": {**time_schema, "description": "When it was measured, with the hall's offset."},
        "quality": {"$ref": "#/components/schemas/Quality"},
        "censor": {
            "enum": ["<", ">", None],
            "description": "'<': fewer than value; '>': more than value; null: a plain value.",
        },
        "seq": {"type": "integer", "minimum": 1, "description": "The store's sequence number."},
    }
    reading_required = ["sensor_id", "metric", "value", "unit", "time", "quality", "censor", "seq"]
    labelled = {
        "type": "object",
        "required": [*reading_required, "label"],
        "properties": {
            **reading_properties,
            "metric": {"type": "string", "enum": public} if public else {"type": "string"},
            "label": {"type": "string", "description": "What visitors call this measurement."},
        },
        "additionalProperties": False,
    }
    schemas: dict[str, Any] = {
        "Error": {
            "type": "object",
            "required": ["error", "message"],
            "properties": {
                "error": {"type": "string", "description": "The HTTP status in words."},
                "message": {"type": "string", "description": "What was wrong, in plain words."},
            },
            "additionalProperties": False,
        },
        "Quality": {
            "type": "array",
            "description": "Why a reading should not be taken at face value; empty when good.",
            "items": {"type": "string", "enum": list(QUALITY_NAMES)},
            "uniqueItems": True,
        },
        "Reading": {
            "type": "object",
            "required": reading_required,
            "properties": {
                **reading_properties,
                "metric": {"type": "string", "enum": public} if public else {"type": "string"},
            },
            "additionalProperties": False,
        },
        "CurrentReading": labelled,
        "Current": {
            "type": "object",
            "required": ["hall_name", "timezone", "generated_at", "readings"],
            "properties": {
                "hall_name": {"type": "string"},
                "timezone": {"type": "string", "description": "The hall's IANA time zone."},
                "generated_at": time_schema,
                "readings": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/CurrentReading"},
                },
            },
            "additionalProperties": False,
        },
        "Readings": {
            "type": "object",
            "required": [
                "from",
                "to",
                "metric",
                "sensor",
                "after",
                "readings",
                "count",
                "truncated",
                "next",
            ],
            "properties": {
                "from": time_schema,
                "to": {**time_schema, "description": "Exclusive end of the range."},
                "metric": {"type": ["string", "null"]},
                "sensor": {"type": ["string", "null"]},
                "after": {"type": "integer", "minimum": 0},
                "readings": {
                    "type": "array",
                    "maxItems": MAX_READINGS,
                    "items": {"$ref": "#/components/schemas/Reading"},
                },
                "count": {"type": "integer", "minimum": 0, "maximum": MAX_READINGS},
                "truncated": {
                    "type": "boolean",
                    "description": f"true when the range holds over {MAX_READINGS:,} readings.",
                },
                "next": {
                    "type": ["string", "null"],
                    "format": "uri-reference",
                    "description": "Where the rest of a truncated range continues; else null.",
                },
            },
            "additionalProperties": False,
        },
        "Rollup": {
            "type": "object",
            "required": [
                "sensor_id",
                "metric",
                "label",
                "unit",
                "start",
                "count",
                "min",
                "max",
                "mean",
            ],
            "properties": {
                "sensor_id": {"type": "string"},
                "metric": {"type": "string", "enum": public} if public else {"type": "string"},
                "label": {"type": "string"},
                "unit": {"type": "string"},
                "start": {
                    **time_schema,
                    "description": "Start of the minute, hour, or the hall's local day.",
                },
                "count": {"type": "integer", "minimum": 1, "description": "Readings summarised."},
                "min": {"type": ["number", "null"]},
                "max": {"type": ["number", "null"]},
                "mean": {
                    "type": ["number", "null"],
                    "description": "For counts, mean times count is the total for the period.",
                },
            },
            "additionalProperties": False,
        },
        "Rollups": {
            "type": "object",
            "required": ["resolution", "from", "to", "metric", "sensor", "rollups"],
            "properties": {
                "resolution": {"type": "string", "enum": list(RESOLUTIONS)},
                "from": time_schema,
                "to": time_schema,
                "metric": {"type": ["string", "null"]},
                "sensor": {"type": ["string", "null"]},
                "rollups": {"type": "array", "items": {"$ref": "#/components/schemas/Rollup"}},
            },
            "additionalProperties": False,
        },
        "Status": {
            "type": "object",
            "required": [
                "hall_name",
                "timezone",
                "store_epoch",
                "readings_stored",
                "last_seq",
                "backlog",
                "held_back",
                "oldest_unacknowledged",
                "acknowledged",
                "last_acknowledged_at",
                "rejected",
                "dropped",
                "db_bytes",
                "clock",
                "sensors",
                "drivers",
            ],
            "properties": {
                "hall_name": {"type": "string"},
                "timezone": {"type": "string"},
                "store_epoch": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "The store's random 64-bit id (beyond 2^53: parse as big int).",
                },
                "readings_stored": {"type": "integer"},
                "last_seq": {"type": ["integer", "null"], "minimum": 1},
                "backlog": {
                    "type": "integer",
                    "description": "Readings the hub has not acknowledged yet.",
                },
                "held_back": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "Readings held back until the clock is set.",
                },
                "oldest_unacknowledged": {"type": ["string", "null"], "format": "date-time"},
                "acknowledged": {"type": "integer", "minimum": 0},
                "last_acknowledged_at": {"type": ["string", "null"], "format": "date-time"},
                "rejected": {"type": "integer", "minimum": 0},
                "dropped": {"type": "integer", "minimum": 0},
                "db_bytes": {"type": "integer", "minimum": 0},
                "clock": {
                    "type": "object",
                    "required": ["synchronised", "description"],
                    "properties": {
                        "synchronised": {
                            "type": ["boolean", "null"],
                            "description": (
                                "false when readings are held back for an unsynchronised "
                                "clock; null (unknown) otherwise: the web page does not check "
                                "the clock, the agent does."
                            ),
                        },
                        "description": {"type": "string"},
                    },
                    "additionalProperties": False,
                },
                "sensors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": [*reading_required, "label", "public"],
                        "properties": {
                            **reading_properties,
                            "metric": {
                                "type": "string",
                                "description": "Any metric, the Pi's own health included.",
                            },
                            "label": {"type": "string"},
                            "public": {
                                "type": "boolean",
                                "description": "Shown to visitors (else the Pi's own health).",
                            },
                        },
                        "additionalProperties": False,
                    },
                },
                "drivers": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["driver", "state", "up", "since", "last_error", "failures"],
                        "properties": {
                            "driver": {"type": "string"},
                            "state": {
                                "type": "string",
                                "description": "ok, starting, failing, hung, stopped, unavailable.",
                            },
                            "up": {"type": "boolean", "description": "state is ok."},
                            "since": time_schema,
                            "last_error": {"type": "string"},
                            "failures": {"type": "integer", "minimum": 0},
                        },
                        "additionalProperties": False,
                    },
                },
            },
            "additionalProperties": False,
        },
    }

    def get(
        operation_id: str,
        summary: str,
        description: str,
        ok: dict[str, Any],
        parameters: list[dict[str, Any]] | None = None,
        json_errors: bool = True,
    ) -> dict[str, Any]:
        return {
            "get": {
                "operationId": operation_id,
                "summary": summary,
                "description": description,
                "parameters": parameters or [],
                "responses": {"200": ok, **_error_responses(json_errors)},
            }
        }

    def json_ok(description: str, ref: str) -> dict[str, Any]:
        return {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
        }

    resolution_parameter = {
        "name": "resolution",
        "in": "query",
        "required": False,
        "description": (
            "minute, hour, or the hall's local day. Longest range: minute 2 days, hour 93 "
            "days, day 3660 days. Default range: the last 1, 7 or 365 days."
        ),
        "schema": {"type": "string", "enum": list(RESOLUTIONS), "default": "hour"},
    }
    after_parameter = {
        "name": "after",
        "in": "query",
        "required": False,
        "description": (
            "Only readings with a sequence number above this: how a truncated range's `next` "
            "link resumes. Default 0."
        ),
        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_SEQ, "default": 0},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{page.hall_name}: hall sensor API",
            "version": API_VERSION,
            "description": (
                "Read-only data of this village hall's sensors, served by the hall's own node "
                "with no internet needed. Times are ISO 8601 with the hall's UTC offset "
                f"({page.timezone}); NaN and infinite values are null. Unknown or repeated "
                "query parameters are refused with a 400."
            ),
        },
        "paths": {
            "/api/v1/current": get(
                "current",
                "The newest reading of each public measurement",
                "One entry per sensor and public metric, with its label, time and quality.",
                json_ok("The newest readings.", "Current"),
            ),
            "/api/v1/readings": get(
                "readings",
                "Raw readings of a range",
                (
                    f"Public readings stamped in [from, to), in the store's order. At most "
                    f"{MAX_READINGS_DAYS} days per request (longer is a 400) and at most "
                    f"{MAX_READINGS:,} readings per response: a range holding more is cut "
                    "there with `truncated: true` and a `next` link that continues it."
                ),
                json_ok("The readings.", "Readings"),
                [
                    *_range_parameters(f"{MAX_READINGS_DAYS} days", "1 day"),
                    _metric_parameter(public),
                    SENSOR_PARAMETER,
                    after_parameter,
                ],
            ),
            "/api/v1/rollups": get(
                "rollups",
                "Minute, hourly or daily summaries of a range",
                (
                    "Count, min, max and mean of each public series per minute, hour or the "
                    "hall's local day: minutes and hours that start in [from, to), or every "
                    "local day that [from, to) touches; ordered by sensor, metric, then time."
                ),
                json_ok("The summaries.", "Rollups"),
                [
                    resolution_parameter,
                    *_range_parameters(
                        "2 days (minute), 93 days (hour) or 3660 days (day)",
                        "1, 7 or 365 days (by resolution)",
                    ),
                    _metric_parameter(public),
                    SENSOR_PARAMETER,
                ],
            ),
            "/api/v1/status": get(
                "status",
                "The node's status",
                (
                    "Store counts, what waits for the hub, the clock as the store shows it, "
                    "driver health, and the newest reading of every sensor, the Pi's own "
                    "health included."
                ),
                json_ok("The status.", "Status"),
            ),
            "/api/v1/openapi.json": get(
                "openapi",
                "This document",
                "The OpenAPI 3.1 description of this API.",
                {
                    "description": "The OpenAPI document.",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
            ),
            "/metrics": get(
                "metrics",
                "Prometheus metrics",
                (
                    "Text exposition format 0.0.4: hallsense_readings_stored, "
                    "hallsense_backlog_readings, hallsense_db_bytes, "
                    "hallsense_last_acknowledged_timestamp_seconds, hallsense_driver_up{driver}, "
                    "hallsense_latest_value{sensor,metric,unit}, "
                    "hallsense_latest_timestamp_seconds{sensor,metric,unit} and a few more. "
                    "Errors are the page's HTML error page."
                ),
                {
                    "description": "The metrics.",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                },
                json_errors=False,
            ),
        },
        "components": {"schemas": schemas},
    }
