"""The node's JSON API (``/api/v1/...``) and the routes of its OpenAPI document and ``/metrics``.

The document itself is web_local.openapi's, the Prometheus exposition web_local.metrics's.

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

from edge.status import node_status, quality_names
from edge.store import EdgeStore
from edge.store_records import StoredReading
from presentation.rollup import Resolution, Rollup
from web_local.context import (
    StoreUnavailable,
    current_site,
    open_private_store,
    open_store,
    page_settings,
)
from web_local.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from web_local.metrics import exposition
from web_local.openapi import openapi_document
from web_local.params import parse_choice, parse_metric, parse_range, reject_unknown, shown

api = Blueprint("api", __name__)

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
    public = set(page.known_public_metrics())
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
    public = page.known_public_metrics()
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
    public = page.known_public_metrics()
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
    public = set(page.known_public_metrics())
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
    body.pop("update", None)  # the node's software updates are the IoT team's (edge status)
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


@api.get("/metrics")
def metrics() -> Response:
    """The node's numbers for Prometheus: store, backlog, drivers and every latest reading."""
    _check_params(set())
    store = _store()
    with _store_errors():
        text = exposition(store.stats(), store.health(), store.latest())
    return Response(text, mimetype=None, content_type=METRICS_CONTENT_TYPE)
