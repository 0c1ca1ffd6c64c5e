"""The community page's HTML routes: home, trends, busy times, data, status and the rest.

Every route is a GET; nothing here changes anything. Charts are server-rendered SVG with
a data table beside them, so everything works with JavaScript off.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from flask import Blueprint, Response, abort, render_template, request, url_for
from markupsafe import Markup

from edge.status import quality_names
from presentation.air_quality import DAQI_LABEL
from presentation.busy_times import busy_times_chart, busy_times_table
from presentation.csv_export import csv_chunks
from presentation.export_rows import Chunk
from presentation.line_chart import line_chart
from presentation.numbers import format_reading
from presentation.senml_export import senml_chunks
from presentation.tables import trend_table
from presentation.vocabulary import METRICS
from presentation.words import ago
from web_local.context import current_site, open_private_store, open_store, page_settings
from web_local.overview import PERIODS, busy_hours, overview, series_of, trend_points
from web_local.params import parse_choice, parse_range

pages = Blueprint("pages", __name__)

DOWNLOAD_FORMATS = ("csv", "senml")
SENML_BASE_NAME = "urn:dev:hallsense:"


def _now() -> datetime:
    return current_site().now()


@pages.get("/")
def home() -> str:
    """Now, people today, and the week in words."""
    view = overview(open_store(), page_settings(), _now())
    return render_template("home.html", view=view, daqi_label=DAQI_LABEL)


@pages.get("/kiosk")
def kiosk() -> str:
    """The home page in large type for the hall's TV; a script refreshes it (with a pause).

    It shows no weekly summary, so none is worked out on each minute's refresh.
    """
    view = overview(open_store(), page_settings(), _now(), with_summary=False)
    return render_template("kiosk.html", view=view, daqi_label=DAQI_LABEL)


@pages.get("/trends")
def trends() -> str:
    """Every public series, with links to its trends."""
    store = open_store()
    return render_template("trends.html", series=series_of(store, page_settings()), periods=PERIODS)


@pages.get("/trends/<sensor_id>/<metric>")
def trend(sensor_id: str, metric: str) -> str:
    """One series over a day, a week, a month or a year: chart and table."""
    page = page_settings()
    if metric not in METRICS or metric not in page.public_metrics:
        abort(404, description=f"There is no public measurement called {metric!r}.")
    period = parse_choice(request.args, "period", tuple(PERIODS), "day")
    words, length, resolution = PERIODS[period]
    store = open_store()
    end = _now()
    start = end - length
    rollups = store.rollups(resolution, start, end, sensor_id=sensor_id, metric=metric)  # type: ignore[arg-type]
    if not rollups and (sensor_id, metric) not in {(s, m) for s, m, _ in series_of(store, page)}:
        abort(404, description=f"This hall has no sensor {sensor_id!r} measuring {metric}.")
    label = page.label(sensor_id, metric)
    unit = METRICS[metric].unit
    points = trend_points(rollups)
    is_count = METRICS[metric].kind == "count"
    title = f"{label}, {words}" + (
        " (people per hour)" if is_count and resolution == "hour" else ""
    )
    common = {
        "title": title,
        "unit": unit,
        "zone": page.zone,
        "resolution": resolution,
        "start": start,
        "end": end,
    }
    chart = line_chart(points, id_prefix="trend", include_zero=is_count, **common)  # type: ignore[arg-type]
    table = trend_table(points, table_id="trend-table", **common)  # type: ignore[arg-type]
    return render_template(
        "trend.html",
        label=label,
        sensor_id=sensor_id,
        metric=metric,
        period=period,
        periods=PERIODS,
        words=words,
        chart=Markup(chart),  # noqa: S704 - built by web_local.charts, which escapes all text
        table=Markup(table),  # noqa: S704 - as above
        empty=not points,
    )


@pages.get("/busy-times")
def busy_times() -> str:
    """How busy the hall is by hour of the week, over the last four weeks."""
    store = open_store()
    values = busy_hours(store, page_settings(), _now())
    title = "People per hour, by day and hour"
    period = "average of the last 4 weeks"
    return render_template(
        "busy_times.html",
        chart=Markup(busy_times_chart(values, title=title, id_prefix="busy", period=period)),  # noqa: S704
        table=Markup(busy_times_table(values, title=title, period=period, table_id="busy-table")),  # noqa: S704
        empty=not values,
    )


@pages.get("/data")
def data() -> str:
    """Download a date range as CSV or SenML; the form is a plain GET form."""
    page = page_settings()
    today = _now().astimezone(page.zone).date()
    return render_template(
        "data.html",
        default_from=(today - timedelta(days=6)).isoformat(),
        default_to=today.isoformat(),
        max_days=current_site().max_download_days,
    )


@pages.get("/data/download")
def download() -> Response:
    """The readings of a date range, streamed, as CSV (for spreadsheets) or SenML JSON."""
    site = current_site()
    page = page_settings()
    fmt = parse_choice(request.args, "format", DOWNLOAD_FORMATS, "csv")
    start, end = parse_range(
        request.args, page.zone, site.now(), max_days=site.max_download_days, default_days=7
    )
    # Its own connection, closed when the last byte has gone: the request's own store
    # closes when the view returns, before a streamed body is written.
    store = open_private_store()
    public = set(page.public_metrics)
    rows = store.readings_between(start, end, metrics=public)
    first = start.astimezone(page.zone).date().isoformat()
    last = (end - timedelta(microseconds=1)).astimezone(page.zone).date().isoformat()
    chunks: Iterator[Chunk]
    if fmt == "csv":
        chunks = csv_chunks(rows, timezone=page.timezone)
        name, mimetype = f"hallsense-{first}-to-{last}.csv", "text/csv; charset=utf-8"
    else:
        units = {metric: m.senml_unit for metric, m in METRICS.items()}
        chunks = senml_chunks(rows, base_name=SENML_BASE_NAME, senml_units=units)
        name, mimetype = f"hallsense-{first}-to-{last}.senml.json", "application/senml+json"

    def body() -> Iterator[bytes]:
        # A thousand readings at a time, so a year's download never sits in memory.
        try:
            for chunk in chunks:
                yield chunk.encode("utf-8")
        finally:
            store.close()

    response = Response(body(), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@pages.get("/status")
def status() -> str:
    """The node in words a clerk understands: sensors, health, what waits for the hub."""
    store = open_store()
    page = page_settings()
    now = _now()
    stats = store.stats()
    latest = store.latest()
    sensors = [
        {
            "label": page.label(r.sensor_id, r.metric),
            "sensor_id": r.sensor_id,
            "metric": r.metric,
            "value": format_reading(
                r.value, r.unit, r.censor.value if r.censor is not None else None
            ),
            "ago": ago(r.timestamp, now),
            "at": r.timestamp.astimezone(page.zone),
            "quality": ", ".join(quality_names(r.quality)) or "ok",
        }
        for r in latest
    ]
    settings = [
        ("Hall name", page.hall_name, page.source("hall_name")),
        ("Time zone", page.timezone, page.source("timezone")),
        ("Opening hours", page.opening_hours or "not set", page.source("opening_hours")),
        ("Contact", page.contact or "not set", page.source("contact")),
        (
            "Measurements shown to visitors",
            ", ".join(METRICS[m].description if m in METRICS else m for m in page.public_metrics),
            page.source("public_metrics"),
        ),
        (
            "Sensor labels",
            "; ".join(f"{k}: {v}" for k, v in page.sensor_labels.items()) or "none",
            page.source("sensor_labels"),
        ),
    ]
    return render_template(
        "status.html",
        stats=stats,
        sensors=sensors,
        health=store.health(),
        settings=settings,
        now=now,
        ago=ago,
        zone=page.zone,
    )


@pages.get("/privacy")
def privacy() -> str:
    """What is measured, what is not, where the data goes, who to ask."""
    page = page_settings()
    measured = [METRICS[m] for m in page.public_metrics if m in METRICS]
    # Said whether or not the estimate is public: visitors' phones are counted either way.
    counts_phones = "people_estimate" in open_store().metrics()
    return render_template("privacy.html", measured=measured, counts_phones=counts_phones)


@pages.get("/accessibility")
def accessibility() -> str:
    """The accessibility statement UK public sector bodies publish."""
    return render_template("accessibility.html")


@pages.get("/robots.txt")
def robots() -> Response:
    """Nothing on a hall's Wi-Fi needs indexing."""
    return Response("User-agent: *\nDisallow: /\n", mimetype="text/plain")


@pages.app_template_filter("local_time")
def local_time(moment: datetime) -> str:
    """A time on the hall's clock, as people write it: "Tue 3 Nov, 14:05"."""
    local = moment.astimezone(page_settings().zone)
    return f"{local:%a} {local.day} {local:%b}, {local:%H:%M}"


@pages.app_template_global("nav_links")
def nav_links() -> list[tuple[str, str]]:
    """The site's main links: (endpoint URL, words)."""
    return [
        (url_for("pages.home"), "Now"),
        (url_for("pages.trends"), "Trends"),
        (url_for("pages.busy_times"), "Busy times"),
        (url_for("pages.data"), "Download data"),
        (url_for("pages.status"), "Sensor status"),
    ]
