"""The hub's data API against a real hub store (SQLite and PostgreSQL): what a data team
script gets, what a clerk may not see, and a 400 that names the bad parameter."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest

from hub.data_api import EARLIEST_DAY, LATEST_DAY, parse_range
from hub_sync.batch_codec import Batch, WireReading
from tests.hub.web_support import account, make_app, token_for

HOUR = 3_600_000_000
NOW_US = time.time_ns() // 1000
START = (NOW_US // HOUR - 5) * HOUR  # five whole hours ago


def minute_batch(device, sensor, metric, unit, values, first_seq=1):
    return Batch(
        device,
        11,
        tuple(
            WireReading(first_seq + i, sensor, metric, unit, START + i * 60_000_000, v)
            for i, v in enumerate(values)
        ),
    )


@pytest.fixture
def filled(hub_store):
    hub_store.add_device("askrigg", "Askrigg Village Hall")
    hub_store.add_device("askrigg-2", "Askrigg Village Hall")
    hub_store.add_device("reeth", "Reeth Memorial Hall")
    temps = [18.0 + (i % 60) / 10 for i in range(120)]  # two hours of one-minute readings
    hub_store.store_batch(minute_batch("askrigg", "t1", "temperature", "°C", temps), NOW_US)
    hub_store.store_batch(minute_batch("askrigg-2", "c1", "co2", "ppm", [450.0, 650.0]), NOW_US)
    hub_store.store_batch(minute_batch("reeth", "t9", "temperature", "°C", [7.0]), NOW_US)
    return hub_store


class Api:
    """The data API as a script sees it: every request with the account's token."""

    def __init__(self, client, headers):
        self.client, self.headers = client, headers
        self.application = client.application

    def get(self, url, **kw):
        return self.client.get(url, headers=self.headers, **kw)


def client(tmp_path, store, halls=None):
    who = account(store, "iot-team") if halls is None else account(store, "clerk", "clerk", halls)
    return Api(make_app(tmp_path, store).test_client(), token_for(store, who))


def iso(us):
    return datetime.fromtimestamp(us / 1e6, UTC).isoformat()


def test_hourly_and_daily_rollups_of_a_device(tmp_path, filled):
    api = client(tmp_path, filled)
    answer = api.get(
        "/api/v1/devices/askrigg/rollups",
        query_string={"from": iso(START), "to": iso(START + 3 * HOUR)},
    )
    assert answer.status_code == 200, answer.text
    first, second = answer.json["rollups"]
    assert (first["count"], first["min"], first["max"]) == (60, 18.0, 23.9)
    assert first["mean"] == pytest.approx(20.95)
    assert second["count"] == 60
    assert first["start"] == iso(START).replace("+00:00", "Z")

    day = api.get(
        "/api/v1/devices/askrigg/rollups",
        query_string={"bucket": "day", "from": iso(START), "to": iso(START + 3 * HOUR)},
    ).json["rollups"]
    assert sum(d["count"] for d in day) == 120
    assert all(d["metric"] == "temperature" for d in day)


def test_a_site_gathers_its_devices_and_downloads_as_csv_and_senml(tmp_path, filled):
    api = client(tmp_path, filled)
    sites = {s["slug"]: s["devices"] for s in api.get("/api/v1/sites").json["sites"]}
    assert sites["askrigg-village-hall"] == ["askrigg", "askrigg-2"]
    window = {"from": iso(START), "to": iso(START + 3 * HOUR)}

    rollups = api.get("/api/v1/sites/askrigg-village-hall/rollups", query_string=window).json
    assert {r["metric"] for r in rollups["rollups"]} == {"temperature", "co2"}

    download = api.get(
        "/api/v1/sites/askrigg-village-hall/readings", query_string={**window, "format": "csv"}
    )
    assert download.status_code == 200
    assert download.mimetype == "text/csv"
    assert "attachment" in download.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(download.text.lstrip("\ufeff"))))
    body = rows[1:]
    assert len(body) == 122  # every reading of both devices, once
    assert {row[1].split("/")[0] for row in body} == {"askrigg", "askrigg-2"}

    senml = api.get(
        "/api/v1/devices/askrigg-2/readings", query_string={**window, "format": "senml"}
    )
    pack = json.loads(senml.text)
    assert pack[0]["bn"] == "urn:dev:hallsense:askrigg-2:"
    assert [r.get("v") for r in pack] == [450.0, 650.0]
    assert pack[0]["u"] == "ppm"


def test_json_readings_in_time_order(tmp_path, filled):
    answer = client(tmp_path, filled).get(
        "/api/v1/devices/askrigg/readings",
        query_string={
            "from": iso(START),
            "to": iso(START + 10 * 60_000_000),
            "metric": "temperature",
        },
    )
    readings = answer.json["readings"]
    assert [r["seq"] for r in readings] == list(range(1, 11))
    assert readings[0]["value"] == 18.0


def test_a_clerk_sees_only_their_own_halls(tmp_path, filled):
    api = client(tmp_path, filled, halls=("reeth",))
    assert [d["device_id"] for d in api.get("/api/v1/devices").json["devices"]] == ["reeth"]
    hidden = api.get("/api/v1/devices/askrigg/rollups")
    assert hidden.status_code == 404  # the same as a device that does not exist
    assert api.get("/api/v1/devices/nowhere/rollups").status_code == 404
    assert api.get("/api/v1/sites/askrigg-village-hall/readings").status_code == 404


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ({"from": "2026-13-01"}, "from"),
        ({"from": "2026-11-03T14:00:00"}, "no offset"),
        ({"to": "yesterday"}, "to"),
        ({"from": "2026-11-05", "to": "2026-11-01"}, "before"),
        ({"bucket": "week"}, "bucket"),
        ({"metric": "Temp; DROP TABLE"}, "metric"),
        ({"colour": "red"}, "colour"),
        ({"from": "2024-01-01", "to": "2026-01-01"}, "400 days"),
    ],
)
def test_bad_parameters_are_named_in_a_400(tmp_path, filled, query, named):
    answer = client(tmp_path, filled).get("/api/v1/devices/askrigg/rollups", query_string=query)
    assert answer.status_code == 400
    assert named in answer.json["message"]


def test_raw_readings_are_limited_to_a_week_at_a_time(tmp_path, filled):
    answer = client(tmp_path, filled).get(
        "/api/v1/devices/askrigg/readings", query_string={"from": "2026-11-01", "to": "2026-11-20"}
    )
    assert answer.status_code == 400
    assert "7 days" in answer.json["message"]


def test_without_a_login_or_token_the_api_answers_401(tmp_path, filled):
    anonymous = make_app(tmp_path, filled).test_client()
    for url in ("/api/v1/devices", "/api/v1/devices/askrigg/readings", "/api/v1/openapi.json"):
        answer = anonymous.get(url)
        assert answer.status_code == 401
        assert answer.json["error"] == "Unauthorized"
    forged = anonymous.get("/api/v1/devices", headers={"Authorization": "Bearer forged"})
    assert forged.status_code == 401


def test_the_openapi_document_describes_every_route(tmp_path, filled):
    api = client(tmp_path, filled)
    document = api.get("/api/v1/openapi.json").json
    assert document["openapi"] == "3.1.0"
    app_rules = {
        rule.rule.replace("<", "{").replace(">", "}")
        for rule in api.application.url_map.iter_rules()
        if rule.rule.startswith("/api/")
    }
    assert app_rules == set(document["paths"])


# --- the hub's one parser of ranges (the data API's and the open data's) ---

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)


def parsed(query, *, max_days=31, default_days=7):
    return parse_range(MultiDict(query), LONDON, NOW, default_days=default_days, max_days=max_days)


@pytest.mark.parametrize(
    "query",
    [
        {"from": str(EARLIEST_DAY), "to": str(EARLIEST_DAY)},
        {"from": str(LATEST_DAY), "to": str(LATEST_DAY)},
        {"from": f"{EARLIEST_DAY}T00:00:00Z", "to": f"{EARLIEST_DAY}T00:00:01Z"},
        {"from": f"{LATEST_DAY}T23:59:58Z", "to": f"{LATEST_DAY}T23:59:59.999999Z"},
        {"to": str(EARLIEST_DAY)},  # the default start lies before; nothing is there
    ],
)
def test_a_range_may_name_the_first_and_the_last_day(query):
    start, end = parsed(query)
    assert start < end


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ({"from": str(EARLIEST_DAY - timedelta(1))}, "from"),
        ({"from": str(LATEST_DAY), "to": str(LATEST_DAY + timedelta(1))}, "to"),
        ({"from": "1969-12-31T23:59:59Z", "to": "1970-01-01T00:00:01Z"}, "from"),
        ({"from": f"{LATEST_DAY}T00:00:00Z", "to": "9999-12-01T00:00:00Z"}, "to"),
        ({"from": "0001-01-01"}, "from"),
        ({"to": "9999-12-31"}, "to"),
        ({"from": "0001-01-01T00:00:00+23:59"}, "from"),
        ({"from": "0001-01-01T00:00:00-23:59"}, "from"),
        ({"to": "9999-12-31T23:59:59-23:59"}, "to"),
        ({"to": "9999-12-31T23:59:59+23:59"}, "to"),
    ],
)
def test_a_day_past_either_end_is_refused_by_name(query, named):
    with pytest.raises(BadRequest) as refused:
        parsed(query)
    assert refused.value.description.startswith(f"{named}: ")
    assert "outside the dates this hub answers for" in refused.value.description


@pytest.mark.parametrize(
    ("first", "last"),
    [
        ("2026-11-01", "2026-12-01"),  # 31 days
        ("2026-10-01", "2026-10-31"),  # 31 days with the clocks going back inside
        ("2026-03-01", "2026-03-31"),  # 31 days with the clocks going forward inside
    ],
)
def test_the_longest_range_is_taken_and_a_day_more_is_refused(first, last):
    start, end = parsed({"from": first, "to": last})
    assert end.astimezone(LONDON).date() - start.astimezone(LONDON).date() == timedelta(31)
    longer = str(date.fromisoformat(last) + timedelta(1))
    with pytest.raises(BadRequest, match=r": from, to: the range is 32 days; at most 31 days"):
        parsed({"from": first, "to": longer})


def test_an_instant_range_is_limited_to_the_second():
    assert parsed({"from": "2026-11-01T00:00:00Z", "to": "2026-12-02T00:00:00Z"})
    with pytest.raises(BadRequest, match=r"the range is 31\.1 days"):
        parsed({"from": "2026-11-01T00:00:00Z", "to": "2026-12-02T00:00:01Z"})


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ({"from": ""}, "from: is empty"),
        ({"to": "2026-13-01"}, "to: '2026-13-01' is not a date"),
        ({"from": "2026-11-01T10:00:00"}, "from: '2026-11-01T10:00:00' has no offset"),
        ({"from": "x" * 1000}, f"from: '{'x' * 40}' is not a date or time"),
        ({"from": "2026-01-01\x00"}, "from: '2026-01-01\\x00' is not a date or time"),
        ({"from": "2026-12-07"}, "from: '2026-12-07' is not in the past"),
        ({"from": "2026-12-02", "to": "2026-12-01"}, "from, to: from '2026-12-02' must be before"),
        (MultiDict([("to", "2026-12-01"), ("to", "2026-12-02")]), "to: give it once"),
    ],
)
def test_every_refusal_names_its_parameter(query, said):
    with pytest.raises(BadRequest) as refused:
        parsed(query)
    assert refused.value.description.startswith(said)
