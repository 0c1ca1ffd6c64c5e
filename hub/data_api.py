"""The hub's data API: the county's readings per device and per site, in open formats.

Routes (all ``GET``, described by the OpenAPI 3.1 document at ``/api/v1/openapi.json``,
written in :mod:`hub.data_api_openapi`):

- ``/api/v1/devices``: the devices this account may see, with site and state;
- ``/api/v1/devices/<id>/rollups`` and ``/api/v1/sites/<site>/rollups``: hourly or daily
  count, mean, lowest and highest of each series, from the hub's hourly rollups (a
  year in one answer);
- ``/api/v1/devices/<id>/readings`` and ``/api/v1/sites/<site>/readings``: the raw
  readings, as JSON, CSV or SenML (``format=``), at most :data:`MAX_READINGS_DAYS` days
  and :data:`MAX_READINGS` readings an answer;
- ``/api/v1/sites``: each site (a hall's registered name, as a slug) and its devices.

Who may see what is the caller's business: ``visible(device_id)`` is asked for every
device an answer would include (the hub web passes the logged-in account's rule: the IoT
team sees all, a parish clerk their own halls), and a device one may not see answers 404
like one that does not exist.

Parameters are checked strictly: an unknown one, a bad date, a date outside
:data:`EARLIEST_DAY` to :data:`LATEST_DAY`, a range the wrong way round or too long, an
unknown bucket or format is a 400 with ``{"error": "bad_request", "message": ...}``
naming the parameter and what to write instead. :func:`parse_range` is the hub's one
parser of ``from`` and ``to``; the open-data download uses it too.

CSV and SenML come from the composition root (``exporters``), the same writers the
node's downloads use, so a hall's data reads the same from its page and from the hub;
a site's rows name their device in the sensor column (``device/sensor``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, request
from werkzeug.exceptions import BadRequest, NotFound

from hub.data_api_openapi import openapi_document
from hub.store import (
    DailyRollup,
    DeviceRecords,
    HourlyRollup,
    ReadingQueries,
    RegisteredDevice,
    StoredReading,
)

MAX_READINGS_DAYS = 7
MAX_READINGS = 200_000
MAX_ROLLUP_DAYS = 400
DEFAULT_ROLLUP_DAYS = 7
DEFAULT_READINGS_DAYS = 1
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})?"
)
EARLIEST_DAY = date(1970, 1, 1)
"""The first day a range may name: the hub holds no reading from before it."""
LATEST_DAY = date(9999, 11, 30)
"""The last day a range may name: a month short of the last a datetime can hold, so that
every conversion to a local time zone and every default range around it stays within."""
_EARLIEST = datetime.combine(EARLIEST_DAY, time(), UTC)
_LATEST = datetime.combine(LATEST_DAY + timedelta(days=1), time(), UTC)
_SLUG = re.compile(r"[^a-z0-9]+")

Exporter = Callable[[Iterable[StoredReading], str], Iterator[str]]
"""``export(readings, base_name)`` → the file's text in pieces (CSV or SenML)."""


class DataStore(DeviceRecords, ReadingQueries, Protocol):
    """What the data API reads of the hub store: the registry, readings and rollups."""


def site_slug(site: str) -> str:
    """A site's name as it appears in URLs: "Askrigg Village Hall" → "askrigg-village-hall"."""
    return _SLUG.sub("-", site.lower()).strip("-") or "site"


def _bad(message: str) -> BadRequest:
    return BadRequest(description=message)


def _shown(value: str) -> str:
    return repr(value[:40])


def _out_of_range(name: str, text: str) -> BadRequest:
    return _bad(
        f"{name}: {_shown(text)} is outside the dates this hub answers for "
        f"(give a date from {EARLIEST_DAY} to {LATEST_DAY})"
    )


def _instant(name: str, text: str, zone: ZoneInfo, *, end: bool) -> datetime:
    """A date (the hub's local day; as ``to`` it includes that day) or an RFC 3339 instant.

    Raises:
        BadRequest: naming ``name``: not a date or time, no offset, or outside
            :data:`EARLIEST_DAY` to :data:`LATEST_DAY`.
    """
    if not text:
        raise _bad(f"{name}: is empty (use YYYY-MM-DD, or leave {name} out)")
    if _DAY.fullmatch(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise _bad(f"{name}: {_shown(text)} is not a date (use YYYY-MM-DD)") from None
        if not EARLIEST_DAY <= day <= LATEST_DAY:
            raise _out_of_range(name, text)
        if end:
            day += timedelta(days=1)
        return datetime.combine(day, time(), zone)
    try:
        moment = datetime.fromisoformat(text.upper()) if _TIME.fullmatch(text) else None
    except ValueError:
        moment = None
    if moment is None:
        raise _bad(
            f"{name}: {_shown(text)} is not a date or time (use YYYY-MM-DD, or a time with "
            "its offset such as 2026-11-03T14:00:00Z)"
        )
    if moment.tzinfo is None:
        raise _bad(f"{name}: {_shown(text)} has no offset (add Z or +00:00)")
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:  # the first or last day a datetime can hold, shifted by its offset
        raise _out_of_range(name, text) from None
    if not _EARLIEST <= utc < _LATEST:
        raise _out_of_range(name, text)
    return moment


def _wall_days(start: datetime, end: datetime, zone: ZoneInfo) -> float:
    """The length of [start, end) in days as the hub's calendar counts them.

    Measured on the local wall clock, so a range of whole local days is a whole number of
    days even when summer time begins or ends inside it.
    """
    local = end.astimezone(zone).replace(tzinfo=None) - start.astimezone(zone).replace(tzinfo=None)
    return local / timedelta(days=1)


def parse_range(
    args: Mapping[str, str],
    zone: ZoneInfo,
    now: datetime,
    *,
    default_days: int,
    max_days: int,
) -> tuple[datetime, datetime]:
    """The range [start, end) that ``from`` and ``to`` ask for: the hub's one range parser.

    The data API and the open-data download both use it. Both parameters are optional:
    ``to`` defaults to ``now``, ``from`` to ``default_days`` before ``to``. A date is the
    hub's local day (as ``to`` it is included); a date and time needs its offset. Each
    must lie between :data:`EARLIEST_DAY` and :data:`LATEST_DAY`, ``from`` before ``to``,
    and the range be at most ``max_days`` days of the local calendar.

    Raises:
        BadRequest: naming the parameter and what to write instead.
    """
    getlist = getattr(args, "getlist", None)
    for name in ("from", "to"):
        if getlist is not None and len(getlist(name)) > 1:
            raise _bad(f"{name}: give it once")
    raw_from, raw_to = args.get("from"), args.get("to")
    given_start = _instant("from", raw_from, zone, end=False) if raw_from is not None else None
    end = _instant("to", raw_to, zone, end=True) if raw_to is not None else now
    start = end - timedelta(days=default_days) if given_start is None else given_start
    if start >= end:
        if raw_to is None:
            raise _bad(
                f"from: {_shown(raw_from or '')} is not in the past "
                "(give a to as well to ask for a range that has not ended yet)"
            )
        raise _bad(f"from, to: from {_shown(raw_from or '')} must be before to {_shown(raw_to)}")
    days = _wall_days(start, end, zone)
    if days > max_days:
        raise _bad(
            f"from, to: the range is {math.ceil(days * 10) / 10:g} days; at most {max_days} "
            "days at a time here (ask for a shorter range, or several)"
        )
    return start, end


def _us(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _check_params(allowed: set[str]) -> None:
    unknown = sorted(set(request.args) - allowed)
    if unknown:
        raise _bad(
            f"{unknown[0][:40]}: not a parameter here (use {', '.join(sorted(allowed)) or 'none'})"
        )
    for name in request.args:
        if name != "metric" and len(request.args.getlist(name)) > 1:
            raise _bad(f"{name}: give it once")


def _metrics() -> list[str]:
    metrics: list[str] = []
    for item in request.args.getlist("metric"):
        for name in item.split(","):
            name = name.strip()
            if not re.fullmatch(r"[a-z0-9_]{1,40}", name):
                raise _bad(f"metric: {_shown(name)} is not a metric name (e.g. temperature)")
            metrics.append(name)
    return metrics


def _choice(name: str, choices: Sequence[str], default: str) -> str:
    value = request.args.get(name, default)
    if value not in choices:
        raise _bad(f"{name}: {_shown(value)} is not one of {', '.join(choices)}")
    return value


def _json(body: object) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), mimetype="application/json")


def _iso(us: int | None) -> str | None:
    if us is None:
        return None
    return datetime.fromtimestamp(us / 1e6, UTC).isoformat().replace("+00:00", "Z")


def daily_json(rollups: Iterable[DailyRollup], zone: ZoneInfo) -> list[dict[str, Any]]:
    """Daily rollups as the API's JSON objects, each day from its local midnight."""
    return [
        {
            "device_id": r.device_id,
            "sensor_id": r.sensor_id,
            "metric": r.metric,
            "unit": r.unit,
            "start": datetime.combine(r.day, time(), zone).isoformat(),
            "count": r.readings,
            "mean": r.mean,
            "min": r.low,
            "max": r.high,
        }
        for r in rollups
    ]


def hourly_json(rollups: Iterable[HourlyRollup]) -> list[dict[str, Any]]:
    """Hourly rollups as the API's JSON objects."""
    return [
        {
            "device_id": r.device_id,
            "sensor_id": r.sensor_id,
            "metric": r.metric,
            "unit": r.unit,
            "start": _iso(r.hour_us),
            "count": r.readings,
            "mean": r.mean,
            "min": r.low,
            "max": r.high,
        }
        for r in rollups
    ]


def data_api_blueprint(
    store: Callable[[], DataStore],
    exporters: Mapping[str, Exporter],
    *,
    visible: Callable[[str], bool] = lambda device_id: True,
    timezone: str = "Europe/London",
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Blueprint:
    """The data API's routes over the hub store ``store()`` gives for the request.

    Args:
        store: the request's hub store.
        exporters: ``{"csv": ..., "senml": ...}``: the file writers.
        visible: whether the caller may see a device.
        timezone: the hub's local time zone, for dates without a time and daily buckets.
        now: the clock (tests).
    """
    zone = ZoneInfo(timezone)
    api = Blueprint("data_api", __name__)

    def devices_of(kind: str, key: str) -> list[RegisteredDevice]:
        registered = [d for d in store().registered() if visible(d.device_id)]
        if kind == "device":
            found = [d for d in registered if d.device_id == key]
        else:
            found = [d for d in registered if site_slug(d.site) == key]
        if not found:
            raise NotFound(description=f"no {kind} {_shown(key)} here")
        return found

    @api.get("/api/v1/devices")
    def devices() -> Response:
        _check_params(set())
        states = {s.device_id: s for s in store().fleet()}
        body = []
        for d in store().registered():
            if not visible(d.device_id):
                continue
            state = states.get(d.device_id)
            body.append(
                {
                    "device_id": d.device_id,
                    "site": d.site,
                    "site_slug": site_slug(d.site),
                    "location": d.location,
                    "revoked": d.revoked,
                    "online": bool(state and state.online),
                    "last_seen": _iso(d.last_seen_us),
                    "readings_stored": state.readings if state else 0,
                }
            )
        return _json({"devices": body})

    @api.get("/api/v1/sites")
    def sites() -> Response:
        _check_params(set())
        grouped: dict[str, dict[str, Any]] = {}
        for d in store().registered():
            if visible(d.device_id):
                slug = site_slug(d.site)
                entry = grouped.setdefault(slug, {"site": d.site, "slug": slug, "devices": []})
                entry["devices"].append(d.device_id)
        return _json({"sites": list(grouped.values())})

    def rollups(kind: str, key: str) -> Response:
        _check_params({"from", "to", "metric", "bucket"})
        found = devices_of(kind, key)
        metrics = _metrics()
        bucket = _choice("bucket", ("hour", "day"), "hour")
        start, end = parse_range(
            request.args, zone, now(), default_days=DEFAULT_ROLLUP_DAYS, max_days=MAX_ROLLUP_DAYS
        )
        ids = [d.device_id for d in found]
        if bucket == "day":
            body = daily_json(store().daily(ids, _us(start), _us(end), zone, metrics), zone)
        else:
            body = hourly_json(store().hourly(ids, _us(start), _us(end), metrics))
        return _json(
            {
                kind: key,
                "from": start.isoformat(),
                "to": end.isoformat(),
                "bucket": bucket,
                "rollups": body,
            }
        )

    def readings(kind: str, key: str) -> Response:
        _check_params({"from", "to", "metric", "format"})
        found = devices_of(kind, key)
        metrics = _metrics()
        fmt = _choice("format", ("json", "csv", "senml"), "json")
        start, end = parse_range(
            request.args,
            zone,
            now(),
            default_days=DEFAULT_READINGS_DAYS,
            max_days=MAX_READINGS_DAYS,
        )
        rows = store().readings_between(
            [d.device_id for d in found], _us(start), _us(end), metrics, limit=MAX_READINGS + 1
        )
        if len(rows) > MAX_READINGS:
            raise _bad(
                f"from, to: more than {MAX_READINGS:,} readings; ask for a shorter range "
                "or fewer metrics"
            )
        if kind == "site":  # one file for several devices: say whose each row is
            rows = [r._replace(sensor_id=f"{r.device_id}/{r.sensor_id}") for r in rows]
        if fmt == "json":
            return _json(
                {
                    kind: key,
                    "from": start.isoformat(),
                    "to": end.isoformat(),
                    "readings": [
                        {
                            "device_id": r.device_id,
                            "sensor_id": r.sensor_id,
                            "metric": r.metric,
                            "unit": r.unit,
                            "time": _iso(r.ts_us),
                            "value": r.value if math.isfinite(r.value) else None,
                            "quality": r.quality,
                            "censor": r.censor,
                            "seq": r.seq,
                        }
                        for r in rows
                    ],
                }
            )
        base = f"urn:dev:hallsense:{key}:"
        stamp = start.astimezone(zone).date().isoformat()
        name = f"hallsense-{key}-{stamp}.{'csv' if fmt == 'csv' else 'senml.json'}"
        response = Response(
            exporters[fmt](rows, base),
            mimetype="text/csv" if fmt == "csv" else "application/senml+json",
        )
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    api.add_url_rule(
        "/api/v1/devices/<device_id>/rollups",
        "device_rollups",
        lambda device_id: rollups("device", device_id),
    )
    api.add_url_rule(
        "/api/v1/sites/<site>/rollups", "site_rollups", lambda site: rollups("site", site)
    )
    api.add_url_rule(
        "/api/v1/devices/<device_id>/readings",
        "device_readings",
        lambda device_id: readings("device", device_id),
    )
    api.add_url_rule(
        "/api/v1/sites/<site>/readings", "site_readings", lambda site: readings("site", site)
    )

    @api.get("/api/v1/openapi.json")
    def openapi() -> Response:
        _check_params(set())
        return _json(openapi_document())

    return api
