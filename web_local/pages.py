"""The community page's HTML routes: home, trends, busy times, data, status and the rest.

Every route is a GET; nothing here changes anything. Charts are server-rendered SVG with
a data table beside them, so everything works with JavaScript off.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, render_template, request, url_for
from markupsafe import Markup

from edge.store import EdgeStore
from presentation.busy_times import busy_times_chart, busy_times_table
from presentation.csv_export import csv_chunks
from presentation.export_rows import Chunk
from presentation.line_chart import line_chart
from presentation.numbers import format_number
from presentation.reading_flags import flag_summary
from presentation.senml_export import senml_chunks
from presentation.tables import trend_table
from presentation.vocabulary import METRICS
from presentation.words import ON_OFF_WORDS, ago, plain_label
from web_local.context import (
    StoreUnavailable,
    current_site,
    open_private_store,
    open_store,
    page_settings,
)
from web_local.overview import (
    PERIODS,
    busy_hours,
    overview,
    reading_words,
    series_of,
    trend_points,
    visitor_label,
)
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
    return render_template("home.html", view=view)


@pages.get("/kiosk")
def kiosk() -> str:
    """The home page in large type for the hall's TV; a script refreshes it (with a pause).

    It fits one screen (1920x1080 or 1280x720) with no links, since nobody clicks a TV,
    and shows no weekly summary, so none is worked out on each minute's refresh.
    """
    view = overview(open_store(), page_settings(), _now(), with_summary=False)
    return render_template("kiosk.html", view=view)


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
    label = visitor_label(page, sensor_id, metric)
    kind = METRICS[metric].kind
    # An on/off metric is charted as the share of each hour or day it was on, never 0.35.
    unit = "%" if kind == "state" else METRICS[metric].unit
    points = trend_points(rollups)
    is_count = kind == "count"
    title = f"{label}, {words}"
    if is_count and resolution == "hour":
        title += " (people per hour)"
    elif kind == "state":
        on = ON_OFF_WORDS[metric][0].lower() if metric in ON_OFF_WORDS else "on"
        title += f" (percentage of the time {on})"
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


EXCEL_MAX_ROWS = 1_048_576
"""The rows of one Excel worksheet (Excel 2007 and later); a CSV's heading takes one."""

LARGE_CONFIRMED = "yes"
"""``large=yes`` on a download: the whole range as CSV although Excel cannot open it all."""


def estimated_readings(store: EdgeStore, start: datetime, end: datetime, metrics: set[str]) -> int:
    """About how many readings of ``metrics`` lie in [start, end), from the daily rollups.

    One small query (a row per sensor and day), never a scan of the readings: a year of a
    busy hall is a few thousand rows. Readings flagged unfit for averages are not in the
    rollups, so this may be a little under the true count.
    """
    return sum(r.count for r in store.rollups("day", start, end) if r.metric in metrics)


def fits_in_excel(readings: int) -> bool:
    """Whether a CSV of ``readings`` rows and its heading opens whole in Excel."""
    return readings + 1 <= EXCEL_MAX_ROWS


def excel_days(readings_per_day: float) -> int:
    """How many whole days of CSV open in Excel at ``readings_per_day`` (at least 1)."""
    if readings_per_day <= 0:
        return current_site().max_download_days
    return max(1, int((EXCEL_MAX_ROWS - 1) // math.ceil(readings_per_day)))


def _day_words(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def too_big_words(readings: int, first: date, last: date) -> dict[str, str]:
    """What the page says of a CSV too big for Excel: how big, and how many days fit."""
    days = (last - first).days + 1
    times = readings / (EXCEL_MAX_ROWS - 1)
    much = f"about {times:.0f} times" if times >= 1.5 else "more than"
    fit = excel_days(readings / max(days, 1))
    return {
        "first": _day_words(first),
        "last": _day_words(last),
        "readings": format_number(readings, 0),
        "much": much,
        "limit": f"{EXCEL_MAX_ROWS:,}",
        "days": f"{fit:,} day{'s' if fit != 1 else ''}",
    }


@pages.get("/data")
def data() -> str:
    """Download a date range as CSV or SenML; the form is a plain GET form."""
    page = page_settings()
    now = _now()
    today = now.astimezone(page.zone).date()
    # What a day holds, from the last whole week's daily rollups: how many days Excel opens.
    week_end = datetime.combine(today, time(0), tzinfo=page.zone)
    try:
        week = estimated_readings(
            open_store(), week_end - timedelta(days=7), week_end, set(page.public_metrics)
        )
    except StoreUnavailable:
        week = 0  # the form still shows; a download says what is wrong
    per_day = week / 7
    max_days = current_site().max_download_days
    return render_template(
        "data.html",
        default_from=(today - timedelta(days=6)).isoformat(),
        default_to=today.isoformat(),
        max_days=max_days,
        excel_limit=f"{EXCEL_MAX_ROWS:,}",
        per_day=format_number(per_day, 0) if per_day >= 1 else "",
        excel_fit=(
            f"any range up to {max_days:,} days fits in Excel"
            if excel_days(per_day) >= max_days
            else f"about {excel_days(per_day):,} days fit in Excel"
        ),
        too_big=None,
    )


@pages.get("/data/download")
def download() -> Response:
    """The readings of a date range, streamed, as CSV (for spreadsheets) or SenML JSON.

    A CSV with more rows than Excel opens is not sent unasked: the download page comes
    back saying so, with the range filled in, how many days fit, and a link to the whole
    range (``large=yes``) for software that reads big files.
    """
    site = current_site()
    page = page_settings()
    fmt = parse_choice(request.args, "format", DOWNLOAD_FORMATS, "csv")
    start, end = parse_range(
        request.args, page.zone, site.now(), max_days=site.max_download_days, default_days=7
    )
    public = set(page.public_metrics)
    first_day = start.astimezone(page.zone).date()
    last_day = (end - timedelta(microseconds=1)).astimezone(page.zone).date()
    first, last = first_day.isoformat(), last_day.isoformat()
    if fmt == "csv" and request.args.get("large") != LARGE_CONFIRMED:
        readings = estimated_readings(open_store(), start, end, public)
        if not fits_in_excel(readings):
            query = [(k, v) for k, v in request.args.items(multi=True) if k != "large"]
            whole_url = (
                url_for("pages.download") + "?" + urlencode([*query, ("large", LARGE_CONFIRMED)])
            )
            html = render_template(
                "data.html",
                default_from=first,
                default_to=last,
                max_days=site.max_download_days,
                excel_limit=f"{EXCEL_MAX_ROWS:,}",
                per_day="",
                excel_fit="",
                too_big=too_big_words(readings, first_day, last_day),
                whole_url=whole_url,
            )
            return Response(html, mimetype="text/html")
    # Its own connection, closed when the last byte has gone: the request's own store
    # closes when the view returns, before a streamed body is written.
    store = open_private_store()
    rows = store.readings_between(start, end, metrics=public)
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
            "label": visitor_label(page, r.sensor_id, r.metric),
            "sensor_id": r.sensor_id,
            "metric": r.metric,
            "value": reading_words(r),
            "ago": ago(r.timestamp, now),
            "at": r.timestamp.astimezone(page.zone),
            "quality": flag_summary(r.quality),
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
            ", ".join(
                plain_label(m, METRICS[m].description) if m in METRICS else m
                for m in page.public_metrics
            ),
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
        freshness=current_site().freshness,
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
