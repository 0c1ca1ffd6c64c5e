"""The JSON API, /metrics and the query-parameter checks, against a real store on disk.

The store is a real EdgeStore file filled through ``append`` with a synchronised clock
sample, as the agent fills it; the app is the real Flask app; schemathesis checks every
operation of the served OpenAPI document with every check on (``--checks all``).
"""

import atexit
import json
import math
import re
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import schemathesis
from hypothesis import settings
from schemathesis.checks import CHECKS, load_all_checks
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest

import web_local.api as api_module
from edge.clock import ClockSample
from edge.ranges import SeqRange
from edge.store import EdgeStore
from presentation.reading_flags import Censor, Quality
from sensors.reading import Reading
from tests.support.api_cases import all_checks_config, to_just_after_from
from web_local.app import create_app
from web_local.openapi import openapi_document
from web_local.params import parse_choice, parse_metric, parse_range, reject_unknown
from web_local.site import DEFAULT_PUBLIC_METRICS, PageSettings, Site

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)  # 13:00 in the hall (BST, +01:00)
START = NOW - timedelta(days=3)
ODD_SENSOR = 'odd "sensor" \\ with\nnewline'
PAGE = PageSettings(hall_name="St Mary's Hall", sensor_labels={"hall-bme": "Main hall"})
HEALTH_METRICS = {"cpu_temperature", "disk_free", "load_1m", "undervoltage", "throttled"}
API_ROUTES = [
    "/api/v1/current",
    "/api/v1/readings",
    "/api/v1/rollups",
    "/api/v1/status",
    "/api/v1/openapi.json",
    "/metrics",
]


def synced(wall=NOW):
    return ClockSample(wall, 10**12, True, "boot-a")


def hall_readings():
    """Three days of a small hall: a minute of each gauge, counts, the Pi's own health."""
    out = []
    for minute in range(3 * 24 * 60):
        at = START + timedelta(minutes=minute)
        out.append(Reading("hall-bme", "temperature", 18 + (minute % 600) / 100, "°C", at))
        out.append(Reading("hall-scd", "co2", 400.0 + minute % 900, "ppm", at))
        if minute % 5 == 0:
            out.append(Reading("hall-bme", "relative_humidity", 55.0, "%", at))
        if minute % 15 == 0:
            out.append(Reading("door", "footfall", float(minute % 7), "count", at))
        if minute % 10 == 0:
            out.append(Reading("pi", "cpu_temperature", 51.5, "°C", at))
            out.append(Reading("pi", "disk_free", 12_000.0, "MB", at))
            out.append(Reading("pi", "load_1m", 0.25, "1", at))
            out.append(Reading("pi", "undervoltage", 0.0, "bool", at))
            out.append(Reading("pi", "throttled", 0.0, "bool", at))
    last = NOW - timedelta(seconds=30)
    out += [
        Reading("hall-scd", "co2", math.nan, "ppm", last),  # the sensor gave no number
        Reading("door", "people_estimate", 3.0, "count", last, censor=Censor.LESS_THAN),
        Reading("door", "footfall", 2.0, "count", last, censor=Censor.LESS_THAN),
        Reading(ODD_SENSOR, "noise", math.inf, "dBA", last),
        Reading("hall-bme", "temperature", 21.25, "°C", last),
    ]
    # Forty days back, stored first: outside every default range.
    return [Reading("hall-bme", "temperature", 15.0, "°C", NOW - timedelta(days=40)), *out]


def fill(path):
    with EdgeStore(path) as store:
        store.append(hall_readings(), synced())
        store.acknowledge([SeqRange(2, 1001)])
        store.record_health("bme280", "ok", "", 0, START)
        store.record_health("door", "failing", "no reply from the beam sensor", 3, NOW)


# The schemathesis test is parametrized at import, so the app (and the path of its store)
# exists at import; the store itself is filled by the fixture below before any test runs.
_STORE_DIR = Path(tempfile.mkdtemp(prefix="hallsense-api-test-"))
atexit.register(shutil.rmtree, _STORE_DIR, ignore_errors=True)
APP = create_app(Site(_STORE_DIR / "edge.db", page_settings=lambda: PAGE, now=lambda: NOW))


@pytest.fixture(scope="module")
def filled_app():
    if not (_STORE_DIR / "edge.db").exists():
        fill(_STORE_DIR / "edge.db")
    return APP


@pytest.fixture
def client(filled_app):
    return filled_app.test_client()


@pytest.fixture
def store(filled_app):
    with EdgeStore(_STORE_DIR / "edge.db", readonly=True) as opened:
        yield opened


def get_json(client, url, status=200):
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    return json.loads(response.get_data(as_text=True))


def error_of(client, url, status=400):
    body = get_json(client, url, status)
    assert set(body) == {"error", "message"}
    return body["message"]


# --------------------------------------------------------------------------- parameters


def rng(zone=LONDON, now=NOW, max_days=31, default_days=1, **args):
    return parse_range(args, zone, now, max_days=max_days, default_days=default_days)


def bad_range(**kwargs):
    with pytest.raises(BadRequest) as raised:
        rng(**kwargs)
    return raised.value.description


def test_dates_are_the_halls_own_days_and_to_is_inclusive():
    start, end = rng(**{"from": "2026-07-01", "to": "2026-07-02"})
    assert start == datetime(2026, 6, 30, 23, 0, tzinfo=UTC)  # local midnight in summer
    assert end == datetime(2026, 7, 2, 23, 0, tzinfo=UTC)  # the end of 2 July, local
    start, end = rng(**{"from": "2026-12-01", "to": "2026-12-01"})
    assert (start, end) == (datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC))


def test_the_day_the_clocks_go_back_has_25_hours():
    start, end = rng(**{"from": "2026-10-25", "to": "2026-10-25"})
    assert end - start == timedelta(hours=25)


def test_a_range_of_local_days_is_counted_in_days_across_a_clock_change():
    # 366 local days from summer into winter are 366 days and one hour of real time.
    start, end = rng(max_days=366, **{"from": "2026-07-01", "to": "2027-07-01"})
    assert (end - start) == timedelta(days=366)
    start, end = rng(max_days=366, **{"from": "2026-09-01", "to": "2027-09-01"})
    assert (end - start) == timedelta(days=366)
    start, end = rng(max_days=153, **{"from": "2026-07-01", "to": "2026-11-30"})
    assert (end - start) == timedelta(days=153, hours=1)
    assert bad_range(max_days=366, **{"from": "2026-07-01", "to": "2027-07-02"}).startswith(
        "from, to: the range is 367 days; at most 366 days per download"
    )


def test_date_times_need_their_offset():
    start, end = rng(**{"from": "2026-07-01T09:00:00+01:00", "to": "2026-07-01T10:30:00Z"})
    assert (start, end) == (
        datetime(2026, 7, 1, 8, 0, tzinfo=UTC),
        datetime(2026, 7, 1, 10, 30, tzinfo=UTC),
    )
    start, _ = rng(**{"from": "2026-07-01t09:00:00.25z", "to": "2026-07-02"})
    assert start == datetime(2026, 7, 1, 9, 0, 0, 250000, tzinfo=UTC)
    message = bad_range(**{"from": "2026-07-01T09:00:00"})
    assert message.startswith("from: '2026-07-01T09:00:00' has no UTC offset")


def test_a_plus_lost_in_a_web_address_is_explained():
    message = bad_range(**{"to": "2026-07-01T09:00:00 01:00"})
    assert "%2B" in message
    assert message.startswith("to: '2026-07-01T09:00:00 01:00' has a space")


def test_defaults_last_days_up_to_now():
    assert rng(default_days=7) == (NOW - timedelta(days=7), NOW)
    assert rng(**{"from": "2026-07-14"}) == (datetime(2026, 7, 13, 23, tzinfo=UTC), NOW)
    to = datetime(2026, 7, 10, 23, tzinfo=UTC)
    assert rng(default_days=2, **{"to": "2026-07-10"}) == (to - timedelta(days=2), to)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("from", "2026-13-01", "from: '2026-13-01' is not a date (use YYYY-MM-DD)"),
        ("from", "2026-02-30", "from: '2026-02-30' is not a date (use YYYY-MM-DD)"),
        ("to", "yesterday", "to: 'yesterday' is not a date (use YYYY-MM-DD)"),
        ("to", "03/11/2026", "to: '03/11/2026' is not a date (use YYYY-MM-DD)"),
        ("from", "2026-11-03T25:00:00Z", "from: '2026-11-03T25:00:00Z' is not a real date"),
        ("from", "2026-11-03T10:00:00+24:00", "from: '2026-11-03T10:00:00+24:00' is not a real"),
        ("from", "2026-11-03 10:00", "from: '2026-11-03 10:00' is not a date or a date and time"),
        ("to", "", "to: is empty"),
        (
            "to",
            "\u0662\u0660\u0662\u0666-\u0661\u0661-\u0660\u0663",
            "to: '\u0662\u0660\u0662\u0666-\u0661\u0661-\u0660\u0663' is not a date",
        ),  # digits, but not 0-9
        ("from", "2026-1\x00-01", "from: '2026-1?-01' is not a date"),
        ("from", "x" * 100, f"from: '{'x' * 40}…' is not a date"),
    ],
)
def test_bad_dates_are_named_with_their_value_cut_to_40_characters(name, value, expected):
    message = bad_range(**{name: value})
    assert message.startswith(expected)


def test_to_before_from_and_ranges_too_long_are_refused():
    assert bad_range(**{"from": "2026-07-03", "to": "2026-07-02"}) == (
        "from, to: to '2026-07-02' is before from '2026-07-03'"
    )
    message = bad_range(max_days=366, **{"from": "2025-06-11", "to": "2026-07-15"})
    assert message.startswith("from, to: the range is 400 days; at most 366 days per download")
    message = bad_range(**{"from": "2026-06-01T00:00:00Z", "to": "2026-07-02T12:00:00Z"})
    assert message.startswith("from, to: the range is 31.5 days; at most 31 days per download")
    assert "not in the past" in bad_range(**{"from": "2026-08-01"})


def test_an_empty_instant_range_is_allowed_and_far_years_do_not_overflow():
    moment = "2026-07-01T09:00:00Z"
    start, end = rng(**{"from": moment, "to": moment})
    assert start == end
    start, end = rng(**{"from": "9999-12-31", "to": "9999-12-31"})
    assert start <= end
    start, end = rng(**{"from": "0001-01-01T00:00:00+23:59", "to": "0001-01-01"})
    assert start <= end


def test_choices_metrics_and_unknown_parameters():
    assert parse_choice({}, "format", ("csv", "senml"), "csv") == "csv"
    assert parse_choice({"format": "senml"}, "format", ("csv", "senml"), "csv") == "senml"
    with pytest.raises(BadRequest, match="format: 'xls' is not one of csv, senml"):
        parse_choice({"format": "xls"}, "format", ("csv", "senml"), "csv")
    assert parse_metric({}, ["co2"]) is None
    assert parse_metric({"metric": "co2"}, ["co2"]) == "co2"
    with pytest.raises(BadRequest, match="metric: 'cpu_temperature' is not a measurement shown"):
        parse_metric({"metric": "cpu_temperature"}, ["co2", "temperature"])
    reject_unknown(MultiDict({"from": "x"}), {"from", "to"})
    with pytest.raises(BadRequest, match=r"unknown parameter 'form' \(known: from, to\)"):
        reject_unknown(MultiDict({"form": "x"}), {"from", "to"})
    with pytest.raises(BadRequest, match="from: given more than once"):
        reject_unknown(MultiDict([("from", "a"), ("from", "b")]), {"from", "to"})


# --------------------------------------------------------------------------- /api/v1/current


def test_current_shows_the_newest_public_readings_with_the_halls_offset(client):
    body = get_json(client, "/api/v1/current")
    assert body["hall_name"] == "St Mary's Hall"
    assert body["timezone"] == "Europe/London"
    assert body["generated_at"] == "2026-07-15T13:00:00+01:00"
    by_series = {(r["sensor_id"], r["metric"]): r for r in body["readings"]}
    assert set(by_series) == {
        ("hall-bme", "temperature"),
        ("hall-bme", "relative_humidity"),
        ("hall-scd", "co2"),
        ("door", "footfall"),
        (ODD_SENSOR, "noise"),
    }  # people_estimate is not public by default; the Pi's health never is
    temperature = by_series[("hall-bme", "temperature")]
    assert temperature == {
        "sensor_id": "hall-bme",
        "metric": "temperature",
        "label": "Main hall",
        "value": 21.25,
        "unit": "°C",
        "time": "2026-07-15T12:59:30+01:00",
        "quality": [],
        "censor": None,
        "seq": temperature["seq"],
    }
    co2 = by_series[("hall-scd", "co2")]
    assert co2["value"] is None
    assert co2["quality"] == ["not_a_number"]
    assert co2["label"] == "Carbon dioxide concentration"
    assert by_series[(ODD_SENSOR, "noise")]["value"] is None  # infinite
    assert by_series[("door", "footfall")]["censor"] == "<"
    assert by_series[("door", "footfall")]["quality"] == ["censored"]


def test_json_never_holds_nan_or_infinity(client):
    def refuse(name):
        raise AssertionError(f"JSON holds {name}")

    for url in ("/api/v1/current", "/api/v1/status", "/api/v1/readings?from=2026-07-15"):
        json.loads(client.get(url).get_data(as_text=True), parse_constant=refuse)


# --------------------------------------------------------------------------- /api/v1/readings


def test_readings_default_to_the_last_day_of_public_metrics(client, store):
    body = get_json(client, "/api/v1/readings")
    assert body["from"] == "2026-07-14T13:00:00+01:00"
    assert body["to"] == "2026-07-15T13:00:00+01:00"
    assert (body["truncated"], body["next"], body["after"]) == (False, None, 0)
    public = set(DEFAULT_PUBLIC_METRICS)
    expected = [
        r.seq for r in store.readings_between(NOW - timedelta(days=1), NOW) if r.metric in public
    ]
    assert [r["seq"] for r in body["readings"]] == expected
    assert body["count"] == len(expected) > 3000
    assert not {r["metric"] for r in body["readings"]} & HEALTH_METRICS


def test_readings_of_one_metric_and_sensor_over_whole_local_days(client):
    body = get_json(
        client, "/api/v1/readings?from=2026-07-13&to=2026-07-13&metric=temperature&sensor=hall-bme"
    )
    assert body["from"] == "2026-07-13T00:00:00+01:00"
    assert body["to"] == "2026-07-14T00:00:00+01:00"
    times = [r["time"] for r in body["readings"]]
    assert len(times) == 24 * 60
    assert times[0] == "2026-07-13T00:00:00+01:00"
    assert times[-1] == "2026-07-13T23:59:00+01:00"
    assert {(r["sensor_id"], r["metric"]) for r in body["readings"]} == {
        ("hall-bme", "temperature")
    }
    assert "label" not in body["readings"][0]  # raw readings carry no label


def test_readings_of_a_sensor_the_hall_has_not_are_none(client):
    body = get_json(client, "/api/v1/readings?sensor=nobody")
    assert (body["readings"], body["count"]) == ([], 0)


def test_readings_past_their_limit_are_cut_with_a_link_that_continues(client, store, monkeypatch):
    monkeypatch.setattr(api_module, "MAX_READINGS", 1000)
    url = "/api/v1/readings?from=2026-07-13T00:00:00Z&to=2026-07-14T00:00:00Z&metric=co2"
    seqs = []
    pages = 0
    while url is not None:
        body = get_json(client, url)
        pages += 1
        assert body["count"] == len(body["readings"]) <= 1000
        assert body["truncated"] == (body["next"] is not None)
        seqs += [r["seq"] for r in body["readings"]]
        url = body["next"]
    expected = [
        r.seq
        for r in store.readings_between(
            datetime(2026, 7, 13, tzinfo=UTC), datetime(2026, 7, 14, tzinfo=UTC)
        )
        if r.metric == "co2"
    ]
    assert seqs == expected  # every reading once, in order
    assert pages == 2


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2026-13-01", "from: '2026-13-01' is not a date (use YYYY-MM-DD)"),
        ("from=2026-07-01T10:00:00&to=2026-07-02", "from: '2026-07-01T10:00:00' has no UTC offset"),
        ("from=2026-07-10&to=2026-07-09", "from, to: to '2026-07-09' is before from"),
        (
            "from=2026-06-01&to=2026-07-14",
            "from, to: the range is 44 days; at most 31 days per request",
        ),
        ("from=1900-01-01", "from, to: the range is 46216.6 days; at most 31 days per request"),
        ("metric=cpu_temperature", "metric: 'cpu_temperature' is not a measurement shown here"),
        ("metric=weather", "metric: 'weather' is not a measurement shown here"),
        ("sensor=", "sensor: '' must be 1 to 200 characters long"),
        ("after=-1", "after: '-1' is not a sequence number"),
        ("after=1.5", "after: '1.5' is not a sequence number"),
        ("after=99999999999999999999", "after: '99999999999999999999' is not a sequence number"),
        ("format=csv", "unknown parameter 'format' (known: after, from, metric, sensor, to)"),
        ("metric=co2&metric=noise", "metric: given more than once"),
    ],
)
def test_bad_reading_queries_are_a_400_that_says_why(client, query, message):
    assert error_of(client, f"/api/v1/readings?{query}").startswith(message)


# --------------------------------------------------------------------------- /api/v1/rollups


def test_hourly_rollups_by_default_over_the_last_week(client):
    body = get_json(client, "/api/v1/rollups?metric=temperature")
    assert body["resolution"] == "hour"
    assert body["from"] == "2026-07-08T13:00:00+01:00"
    rollups = body["rollups"]
    assert len(rollups) == 72  # three days of data, one series
    first = rollups[0]
    assert first == {
        "sensor_id": "hall-bme",
        "metric": "temperature",
        "label": "Main hall",
        "unit": "°C",
        "start": "2026-07-12T13:00:00+01:00",
        "count": 60,
        "min": 18.0,
        "max": 18.59,
        "mean": pytest.approx(18.295),
    }


def test_daily_rollups_start_at_the_halls_midnight(client):
    body = get_json(client, "/api/v1/rollups?resolution=day&from=2026-07-12&to=2026-07-15")
    temperature = [r for r in body["rollups"] if r["sensor_id"] == "hall-bme"]
    temperature = [r for r in temperature if r["metric"] == "temperature"]
    assert [r["start"] for r in temperature] == [
        "2026-07-12T00:00:00+01:00",
        "2026-07-13T00:00:00+01:00",
        "2026-07-14T00:00:00+01:00",
        "2026-07-15T00:00:00+01:00",
    ]
    assert sum(r["count"] for r in temperature) == 3 * 24 * 60 + 1
    assert not {r["metric"] for r in body["rollups"]} & HEALTH_METRICS


def test_minute_rollups_of_counts(client):
    body = get_json(
        client,
        "/api/v1/rollups?resolution=minute&metric=footfall"
        "&from=2026-07-15T10:00:00%2B01:00&to=2026-07-15T11:00:00%2B01:00",
    )
    assert [r["start"] for r in body["rollups"]] == [
        "2026-07-15T10:00:00+01:00",
        "2026-07-15T10:15:00+01:00",
        "2026-07-15T10:30:00+01:00",
        "2026-07-15T10:45:00+01:00",
    ]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("resolution=second", "resolution: 'second' is not one of minute, hour, day"),
        ("resolution=", "resolution: '' is not one of minute, hour, day"),
        (
            "resolution=minute&from=2026-07-10",
            "from, to: the range is 5.6 days; at most 2 days per request at minute resolution",
        ),
        (
            "resolution=hour&from=2026-01-01&to=2026-07-14",
            "from, to: the range is 195 days; at most 93 days per request at hour resolution",
        ),
        (
            "resolution=day&from=2010-01-01&to=2020-12-31",
            "from, to: the range is 4018 days; at most 3660 days per request at day resolution",
        ),
        ("metric=load_1m", "metric: 'load_1m' is not a measurement shown here"),
        ("after=3", "unknown parameter 'after'"),
    ],
)
def test_bad_rollup_queries_are_a_400_that_says_why(client, query, message):
    assert error_of(client, f"/api/v1/rollups?{query}").startswith(message)


def test_the_longest_rollup_ranges_are_allowed(client):
    get_json(client, "/api/v1/rollups?resolution=minute&from=2026-07-14&to=2026-07-15")
    get_json(client, "/api/v1/rollups?resolution=hour&from=2026-04-14&to=2026-07-15")
    get_json(client, "/api/v1/rollups?resolution=day&from=2016-07-25&to=2026-07-15")


# --------------------------------------------------------------------------- /api/v1/status


def test_status_shows_the_store_drivers_and_every_sensor(client):
    body = get_json(client, "/api/v1/status")
    assert "db_path" not in body
    assert body["hall_name"] == "St Mary's Hall"
    assert body["acknowledged"] == 1000
    assert body["backlog"] == body["readings_stored"] - 1000
    assert body["last_acknowledged_at"] is not None
    assert body["oldest_unacknowledged"].endswith("+01:00")
    assert body["clock"]["synchronised"] is None  # the page does not check the clock
    metrics = {s["metric"]: s for s in body["sensors"]}
    assert set(metrics) >= HEALTH_METRICS
    assert metrics["cpu_temperature"]["public"] is False
    assert metrics["temperature"]["public"] is True
    assert metrics["co2"]["value"] is None
    drivers = {d["driver"]: d for d in body["drivers"]}
    assert drivers["door"] == {
        "driver": "door",
        "state": "failing",
        "up": False,
        "since": "2026-07-15T13:00:00+01:00",
        "last_error": "no reply from the beam sensor",
        "failures": 3,
    }
    assert drivers["bme280"]["up"] is True


def test_status_says_the_clock_is_not_synchronised_while_readings_are_held_back(tmp_path):
    path = tmp_path / "edge.db"
    with EdgeStore(path) as store:
        store.append([Reading("t", "temperature", 20.0, "°C", NOW)], synced())
        store.append(
            [Reading("t", "temperature", 21.0, "°C", NOW)], ClockSample(NOW, 10**12, False, "b")
        )
    client = create_app(Site(path, now=lambda: NOW)).test_client()
    clock = get_json(client, "/api/v1/status")["clock"]
    assert clock["synchronised"] is False
    assert "1 readings are held back" in clock["description"]


# --------------------------------------------------------------------------- /metrics

SAMPLE = re.compile(
    r'(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*)\})?'
    r" (?P<value>NaN|[+-]Inf|-?[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?)"
)
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')


def parse_exposition(text):
    """Every family's type and samples, checking the 0.0.4 text format line by line."""
    assert text.endswith("\n")
    families = {}
    current = None
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, help_text = line[7:].split(" ", 1)
            assert name not in families, f"{name} described twice"
            assert help_text.strip()
            families[name] = {"type": None, "samples": []}
            current = name
        elif line.startswith("# TYPE "):
            name, kind = line[7:].split(" ")
            assert name == current, f"TYPE of {name} not after its HELP"
            assert kind in ("gauge", "counter")
            families[name]["type"] = kind
        else:
            found = SAMPLE.fullmatch(line)
            assert found, f"not a sample line: {line!r}"
            assert found["name"] == current, f"{found['name']} outside its family"
            assert families[current]["type"] is not None
            labels = {
                k: v.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
                for k, v in LABEL.findall(found["labels"] or "")
            }
            families[current]["samples"].append((labels, float(found["value"])))
    return families


def test_metrics_are_prometheus_text_that_parses_line_by_line(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    families = parse_exposition(response.get_data(as_text=True))
    for name in (
        "hallsense_backlog_readings",
        "hallsense_readings_stored",
        "hallsense_db_bytes",
        "hallsense_last_acknowledged_timestamp_seconds",
        "hallsense_driver_up",
        "hallsense_latest_value",
        "hallsense_latest_timestamp_seconds",
    ):
        assert families[name]["type"] == "gauge", name
    assert families["hallsense_readings_acknowledged_total"]["type"] == "counter"
    assert families["hallsense_readings_acknowledged_total"]["samples"] == [({}, 1000.0)]
    assert families["hallsense_db_bytes"]["samples"][0][1] > 0
    assert families["hallsense_last_acknowledged_timestamp_seconds"]["samples"][0][1] > 1.7e9
    assert {s[0]["driver"]: s[1] for s in families["hallsense_driver_up"]["samples"]} == {
        "bme280": 1.0,
        "door": 0.0,
    }
    latest = {
        (s[0]["sensor"], s[0]["metric"], s[0]["unit"]): s[1]
        for s in families["hallsense_latest_value"]["samples"]
    }
    assert latest[("hall-bme", "temperature", "°C")] == 21.25
    assert latest[("pi", "cpu_temperature", "°C")] == 51.5  # the Pi's health is here
    assert math.isnan(latest[("hall-scd", "co2", "ppm")])
    assert latest[(ODD_SENSOR, "noise", "dBA")] == math.inf  # label escaping round-trips
    stamps = families["hallsense_latest_timestamp_seconds"]["samples"]
    assert len(stamps) == len(latest)
    assert max(s[1] for s in stamps) == (NOW - timedelta(seconds=30)).timestamp()


def test_metrics_with_no_acknowledgement_yet(tmp_path):
    path = tmp_path / "edge.db"
    with EdgeStore(path) as store:
        store.append([Reading("t", "temperature", 20.0, "°C", NOW)], synced())
    response = create_app(Site(path, now=lambda: NOW)).test_client().get("/metrics")
    families = parse_exposition(response.get_data(as_text=True))
    assert families["hallsense_last_acknowledged_timestamp_seconds"]["samples"] == [({}, 0.0)]
    assert families["hallsense_driver_up"]["samples"] == []


# --------------------------------------------------------------------------- every route


def test_every_api_route_of_the_url_map_is_tested_and_documented(filled_app):
    rules = {r.rule for r in filled_app.url_map.iter_rules() if r.endpoint.startswith("api.")}
    assert rules == set(API_ROUTES)
    for rule in filled_app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            assert rule.methods == {"GET", "HEAD", "OPTIONS"}
    document = get_json(filled_app.test_client(), "/api/v1/openapi.json")
    assert set(document["paths"]) == set(API_ROUTES)


@pytest.mark.parametrize("url", API_ROUTES)
def test_every_route_answers_get_and_head_and_refuses_the_rest(client, url):
    got = client.get(url)
    assert got.status_code == 200
    assert got.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    head = client.head(url)
    assert head.status_code == 200
    assert head.data == b""
    assert head.headers["Content-Type"] == got.headers["Content-Type"]
    head.close()  # as a server does: a streamed body's own store is closed here
    for method in ("post", "put", "delete", "patch"):
        assert getattr(client, method)(url).status_code == 405


@pytest.mark.parametrize("url", API_ROUTES)
def test_a_refused_method_says_which_are_allowed(client, url):
    # RFC 9110 requires Allow on a 405; schemathesis's unsupported_method check asks for it.
    response = client.post(url)
    assert response.status_code == 405
    assert set(response.headers.get("Allow", "").replace(" ", "").split(",")) == {
        "GET",
        "HEAD",
        "OPTIONS",
    }


@pytest.mark.parametrize("url", API_ROUTES)
def test_unknown_parameters_are_refused_everywhere(client, url):
    response = client.get(f"{url}?colour=blue")
    assert response.status_code == 400
    if url.startswith("/api/"):
        assert json.loads(response.data)["message"].startswith("unknown parameter 'colour'")


@pytest.mark.parametrize("damage", ["missing", "not a database"])
def test_a_store_that_cannot_be_read_is_a_503_that_says_so(tmp_path, damage):
    path = tmp_path / "edge.db"
    if damage == "not a database":
        path.write_bytes(b"this is not SQLite" * 100)
    client = create_app(Site(path, now=lambda: NOW)).test_client()
    for url in API_ROUTES:
        response = client.get(url)
        if url == "/api/v1/openapi.json":
            assert response.status_code == 200  # needs no store
            continue
        assert response.status_code == 503, url
        if url.startswith("/api/"):
            body = json.loads(response.data)
            assert body["error"] == "Service Unavailable"
            expected = "has no readings yet" if damage == "missing" else "cannot be read just now"
            assert expected in body["message"]
            assert str(tmp_path) not in body["message"]


def test_the_openapi_document_describes_parameters_and_errors(client):
    document = get_json(client, "/api/v1/openapi.json")
    assert document["openapi"] == "3.1.0"
    SCHEMA.validate()  # against the OpenAPI 3.1 meta-schema
    for path, item in document["paths"].items():
        assert set(item) == {"get"}, path
        assert {"200", "400", "500", "503"} <= set(item["get"]["responses"]), path
    readings = {p["name"]: p for p in document["paths"]["/api/v1/readings"]["get"]["parameters"]}
    assert set(readings) == {"from", "to", "metric", "sensor", "after"}
    assert readings["metric"]["schema"]["enum"] == list(DEFAULT_PUBLIC_METRICS)
    assert readings["from"]["schema"]["anyOf"] == [{"format": "date"}, {"format": "date-time"}]
    rollups = {p["name"]: p for p in document["paths"]["/api/v1/rollups"]["get"]["parameters"]}
    assert rollups["resolution"]["schema"]["enum"] == ["minute", "hour", "day"]
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["error", "message"]


def test_the_openapi_document_states_the_bounds_the_routes_enforce(client):
    # The document is data (web_local/openapi.json): its numbers must be the code's.
    document = get_json(client, "/api/v1/openapi.json")
    schemas = document["components"]["schemas"]
    readings = {p["name"]: p for p in document["paths"]["/api/v1/readings"]["get"]["parameters"]}
    assert readings["after"]["schema"]["maximum"] == api_module.MAX_SEQ
    assert readings["sensor"]["schema"]["maxLength"] == api_module.MAX_SENSOR_CHARS
    assert f"at most {api_module.MAX_READINGS_DAYS} days" in readings["from"]["description"]
    assert schemas["Readings"]["properties"]["readings"]["maxItems"] == api_module.MAX_READINGS
    assert schemas["Rollups"]["properties"]["resolution"]["enum"] == list(api_module.RESOLUTIONS)
    rollups = {p["name"]: p for p in document["paths"]["/api/v1/rollups"]["get"]["parameters"]}
    for resolution, days in api_module.MAX_ROLLUP_DAYS.items():
        assert f"{days} days ({resolution})" in rollups["from"]["description"]
    flags = [flag.name.lower() for flag in Quality if flag and flag.name]
    assert schemas["Quality"]["items"]["enum"] == flags


def test_the_openapi_document_names_this_hall_and_its_public_metrics(tmp_path):
    page = PageSettings(
        hall_name='St "Mary\'s" {hall}', timezone="America/New_York", public_metrics=("co2",)
    )
    document = openapi_document(page)
    assert document["info"]["title"] == 'St "Mary\'s" {hall}: hall sensor API'
    assert "(America/New_York)" in document["info"]["description"]
    for name in ("Reading", "CurrentReading", "Rollup"):
        assert document["components"]["schemas"][name]["properties"]["metric"]["enum"] == ["co2"]
    assert (
        "enum"
        not in openapi_document(PageSettings(public_metrics=()))["components"]["schemas"][
            "Reading"
        ]["properties"]["metric"]
    )


# --------------------------------------------------------------------------- schemathesis


SCHEMA = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", APP, config=all_checks_config())


@SCHEMA.hook
def map_case(context, case):
    """Positive cases with ``to`` just after ``from`` (see ``to_just_after_from``)."""
    return to_just_after_from(case)


def test_schemathesis_runs_with_every_check_on():
    load_all_checks()
    checks = SCHEMA.config.checks_config_for()
    for name in CHECKS.get_all_names():
        assert checks.get_by_name(name=name).enabled, name
    assert checks.max_response_time.enabled
    generation = SCHEMA.config.generation_for(operation=None, phase="fuzzing")
    assert {mode.name for mode in generation.modes} == {"POSITIVE", "NEGATIVE"}


@pytest.mark.slow
@SCHEMA.parametrize()
@settings(max_examples=200, deadline=None)
def test_api_conforms_to_its_openapi_document(case, filled_app):
    case.call_and_validate()
