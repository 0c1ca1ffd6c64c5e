"""Open data: each hall's published metrics for everyone, and a download for the data team.

Public routes (no login), read-only:

- ``/open-data``: the halls that publish something, and what;
- ``/open-data/<site>``: one hall: the latest value of each published metric, the last
  week in plain English and a chart with its data table for a day, week, month or year
  (``period=``), the same sentences and charts as the hall's own page;
- ``/open-data/download``: hourly means of every published metric of every hall (or of
  one, ``site=``) as CSV or SenML, at most :data:`MAX_DOWNLOAD_DAYS` days at a time, or
  daily means (``bucket=day``, local days) up to :data:`MAX_DAILY_DOWNLOAD_DAYS` (``from``
  and ``to`` read by the data API's :func:`~hub.data_api.parse_range`, the hub's one
  parser of dates, so both answer a bad range the same way). A CSV with more rows than a
  spreadsheet opens (:data:`EXCEL_MAX_ROWS`, the heading included) is not sent unasked:
  the answer is a 400 saying how many rows and what to ask for instead, unless the
  request says ``large=yes``. Every download says its row count (``X-Row-Count``) before
  its first byte.

Only what a hall's clerk made public is shown (``public_metrics`` in the config the hub
last sent the hall): a hall that has published nothing is not listed, and its page
answers 404 like one that does not exist. Open data is hourly: finer detail (a door
count by the minute) stays behind the login.

The words and the charts come from a :class:`Presenter` (:class:`hub.presenter.NodePresenter`
draws them with the shared :mod:`presentation` package, as the hall's own page does), so a
hall reads the same on its wall and on the county's site.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, render_template, request
from markupsafe import Markup
from werkzeug.exceptions import BadRequest, NotFound

from hub.data_api import parse_range, site_slug
from hub.hall_settings import ConfigSource, hall_settings
from hub.store import DailyRollup, DeviceRecords, HourlyRollup, ReadingQueries
from presentation.export_rows import spreadsheet_cell

MAX_DOWNLOAD_DAYS = 31
MAX_DAILY_DOWNLOAD_DAYS = 400
EXCEL_MAX_ROWS = 1_048_576
"""The rows of one Excel worksheet (Excel 2007 and later); a CSV's heading takes one."""
LARGE_CONFIRMED = "yes"
"""``large=yes`` on a download: the CSV although a spreadsheet cannot open it all."""
PERIODS = {"day": timedelta(days=1), "week": timedelta(days=7), "month": timedelta(days=30),
           "year": timedelta(days=365)}  # fmt: skip


class OpenDataStore(ConfigSource, DeviceRecords, ReadingQueries, Protocol):
    """What open data reads of the hub store."""


class Presenter(Protocol):
    """The words and charts of a hall's open-data page (the hub web is given one)."""

    def summary(self, rollups: Sequence[HourlyRollup], now: datetime, zone: ZoneInfo) -> list[str]:
        """The last seven days in plain-English sentences."""
        ...

    def figure(self, metric: str, value: float, unit: str) -> tuple[str, str]:
        """A value as people read it ("21.5 °C") and advice in words, or ""."""
        ...

    def chart(
        self,
        rollups: Sequence[HourlyRollup],
        *,
        title: str,
        unit: str,
        zone: ZoneInfo,
        start: datetime,
        end: datetime,
        id_prefix: str,
    ) -> tuple[str, str]:
        """An accessible SVG chart and its data table, as HTML."""
        ...


@dataclass(frozen=True)
class PublishedHall:
    """A hall and the metrics it publishes (from all its devices)."""

    site: str
    slug: str
    device_ids: tuple[str, ...]
    metrics: tuple[str, ...]


def published_halls(store: OpenDataStore) -> list[PublishedHall]:
    """Every hall that publishes at least one metric, by name."""
    halls: dict[str, tuple[str, list[str], list[str]]] = {}
    for device in store.registered():
        if device.revoked:
            continue
        public = hall_settings(store, device.device_id).page.get("public_metrics") or []
        if not public:
            continue
        slug = site_slug(device.site)
        _, devices, metrics = halls.setdefault(slug, (device.site, [], []))
        devices.append(device.device_id)
        metrics.extend(m for m in public if m not in metrics)
    return sorted(
        (PublishedHall(site, slug, tuple(d), tuple(m)) for slug, (site, d, m) in halls.items()),
        key=lambda hall: hall.site.lower(),
    )


def _hall(store: OpenDataStore, slug: str) -> PublishedHall:
    for hall in published_halls(store):
        if hall.slug == slug:
            return hall
    raise NotFound(description=f"no hall {slug[:40]!r} publishes open data here")


def _us(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _one(name: str, default: str | None = None) -> str | None:
    values = request.args.getlist(name)
    if len(values) > 1:
        raise BadRequest(description=f"{name}: give it once")
    return values[0] if values else default


def _csv_lines(header: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterator[str]:
    """CSV for a spreadsheet (UTF-8 with BOM, CRLF), yielded every 1,000 rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow(header)
    for n, row in enumerate(rows, 1):
        writer.writerow(row)
        if n % 1000 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def rollups_csv(halls: Iterable[PublishedHall], rollups: Iterable[HourlyRollup]) -> Iterator[str]:
    """Hourly rollups as CSV: one row per hall, sensor, metric and UTC hour."""
    site_of = {d: hall.site for hall in halls for d in hall.device_ids}
    header = (
        "hall", "device", "sensor", "metric", "unit", "hour_start_utc", "count", "mean", "min",
        "max",
    )  # fmt: skip
    return _csv_lines(
        header,
        (
            (
                spreadsheet_cell(site_of.get(r.device_id, "")),
                r.device_id,
                spreadsheet_cell(r.sensor_id),
                spreadsheet_cell(r.metric),
                spreadsheet_cell(r.unit),
                datetime.fromtimestamp(r.hour_us / 1e6, UTC).isoformat().replace("+00:00", "Z"),
                r.readings,
                repr(r.mean),
                repr(r.low),
                repr(r.high),
            )
            for r in rollups
        ),
    )


def daily_csv(halls: Iterable[PublishedHall], rollups: Iterable[DailyRollup]) -> Iterator[str]:
    """Daily rollups as CSV: one row per hall, sensor, metric and local day."""
    site_of = {d: hall.site for hall in halls for d in hall.device_ids}
    header = ("hall", "device", "sensor", "metric", "unit", "day", "count", "mean", "min", "max")
    return _csv_lines(
        header,
        (
            (
                spreadsheet_cell(site_of.get(r.device_id, "")),
                r.device_id,
                spreadsheet_cell(r.sensor_id),
                spreadsheet_cell(r.metric),
                spreadsheet_cell(r.unit),
                r.day.isoformat(),
                r.readings,
                repr(r.mean),
                repr(r.low),
                repr(r.high),
            )
            for r in rollups
        ),
    )


def daily_senml(rollups: Iterable[DailyRollup], zone: ZoneInfo) -> Iterator[str]:
    """Daily means as a SenML pack: ``t`` is the local day's midnight."""
    return rollups_senml(
        HourlyRollup(
            r.device_id,
            r.sensor_id,
            r.metric,
            r.unit,
            _us(datetime.combine(r.day, time(), zone)),
            r.readings,
            r.mean,
            r.low,
            r.high,
        )
        for r in rollups
    )


def rollups_senml(rollups: Iterable[HourlyRollup]) -> Iterator[str]:
    """Hourly means as a SenML pack (RFC 8428): ``n`` is ``device/sensor:metric``."""
    yield "["
    for n, r in enumerate(rollups):
        record: dict[str, Any] = {
            "n": f"{r.device_id}/{r.sensor_id}:{r.metric}",
            "t": r.hour_us / 1e6,
            "v": r.mean,
        }
        if n == 0:
            record["bn"] = "urn:dev:hallsense:"
        yield ("," if n else "") + json.dumps(record, ensure_ascii=False)
    yield "]"


def open_data_blueprint(
    store: Callable[[], OpenDataStore],
    presenter: Presenter,
    *,
    timezone: str = "Europe/London",
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Blueprint:
    """The public open-data pages and download over the request's hub store."""
    zone = ZoneInfo(timezone)
    blueprint = Blueprint("open_data", __name__)

    def check(allowed: set[str]) -> None:
        unknown = sorted(set(request.args) - allowed)
        if unknown:
            raise BadRequest(
                description=f"{unknown[0][:40]}: not a parameter here "
                f"(use {', '.join(sorted(allowed)) or 'none'})"
            )

    @blueprint.get("/open-data")
    def index() -> str:
        check(set())
        return render_template("open_data_index.html", halls=published_halls(store()))

    @blueprint.get("/open-data/<slug>")
    def hall(slug: str) -> str:
        check({"period"})
        period = _one("period", "week") or "week"
        if period not in PERIODS:
            raise BadRequest(
                description=f"period: {period[:40]!r} is not one of day, week, month, year"
            )
        found = _hall(store(), slug)
        end = now()
        start = end - PERIODS[period]
        week_start = end - timedelta(days=35)
        rollups = store().hourly(
            found.device_ids, _us(min(start, week_start)), _us(end), found.metrics
        )
        sections = []
        for metric in found.metrics:
            series = [r for r in rollups if r.metric == metric]
            shown = [r for r in series if r.hour_us >= _us(start)]
            if not series:
                sections.append({"metric": metric, "empty": True})
                continue
            newest = max(series, key=lambda r: r.hour_us)
            value, advice = presenter.figure(metric, newest.mean, newest.unit)
            svg, table = presenter.chart(
                shown,
                title=f"{metric.replace('_', '.').capitalize()} over the last {period}",
                unit=newest.unit,
                zone=zone,
                start=start,
                end=end,
                id_prefix=f"chart-{metric}",
            )
            sections.append(
                {
                    "metric": metric,
                    "empty": False,
                    "value": value,
                    "advice": advice,
                    "hour": datetime.fromtimestamp(newest.hour_us / 1e6, zone),
                    "chart": Markup(svg),  # noqa: S704 - built and escaped by the chart writer
                    "table": Markup(table),  # noqa: S704
                }
            )
        return render_template(
            "open_data_hall.html",
            hall=found,
            period=period,
            periods=list(PERIODS),
            sections=sections,
            summary=presenter.summary(rollups, end, zone),
        )

    @blueprint.get("/open-data/download")
    def download() -> Response:
        check({"from", "to", "format", "site", "bucket", "large"})
        fmt = _one("format", "csv") or "csv"
        if fmt not in ("csv", "senml"):
            raise BadRequest(description=f"format: {fmt[:40]!r} is not one of csv, senml")
        bucket = _one("bucket", "hour") or "hour"
        if bucket not in ("hour", "day"):
            raise BadRequest(description=f"bucket: {bucket[:40]!r} is not one of hour, day")
        large = _one("large")
        if large not in (None, LARGE_CONFIRMED):
            raise BadRequest(description=f"large: {large[:40]!r} is not yes (or leave it out)")
        hourly = bucket == "hour"
        try:
            start, end = parse_range(
                request.args,
                zone,
                now(),
                default_days=7,
                max_days=MAX_DOWNLOAD_DAYS if hourly else MAX_DAILY_DOWNLOAD_DAYS,
            )
        except BadRequest as error:
            said = error.description or ""
            if hourly and "at most" in said:
                said += f"; daily means (bucket=day) go up to {MAX_DAILY_DOWNLOAD_DAYS} days"
            raise BadRequest(description=said) from error
        halls = published_halls(store())
        site = _one("site")
        if site is not None:
            halls = [h for h in halls if h.slug == site]
            if not halls:
                raise NotFound(description=f"no hall {site[:40]!r} publishes open data here")
        if hourly:
            rollups = [
                r
                for hall in halls
                for r in store().hourly(hall.device_ids, _us(start), _us(end), hall.metrics)
            ]
            rows = len(rollups)
        else:
            days = [
                r
                for hall in halls
                for r in store().daily(hall.device_ids, _us(start), _us(end), zone, hall.metrics)
            ]
            rows = len(days)
        if fmt == "csv" and rows + 1 > EXCEL_MAX_ROWS and large != LARGE_CONFIRMED:
            raise BadRequest(
                description=f"from, to: {rows:,} rows, more than a spreadsheet opens "
                f"({EXCEL_MAX_ROWS:,} with the heading); ask for one hall (site=), fewer "
                "days or daily means (bucket=day), or add large=yes to download it anyway"
            )
        stamp = start.astimezone(zone).date().isoformat()
        suffix = "" if hourly else "-daily"
        if fmt == "csv":
            body: Iterator[str] = rollups_csv(halls, rollups) if hourly else daily_csv(halls, days)
            name, mimetype = f"hallsense-open-data-{stamp}{suffix}.csv", "text/csv"
        else:
            body = rollups_senml(rollups) if hourly else daily_senml(days, zone)
            name = f"hallsense-open-data-{stamp}{suffix}.senml.json"
            mimetype = "application/senml+json"
        response = Response(body, mimetype=mimetype)
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
        response.headers["Cache-Control"] = "public, max-age=300"
        response.headers["X-Row-Count"] = str(rows)
        return response

    return blueprint
