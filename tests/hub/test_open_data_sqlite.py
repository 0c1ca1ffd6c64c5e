"""The Datasette-ready SQLite download: made by the real hub web over a real SQLite hub store,
opened with sqlite3 and served by a real Datasette, queried through its JSON API."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from html import unescape

import pytest

from hub import open_data_sqlite
from hub.open_data_catalog import CatalogueSettings
from hub.settings import OGL_V3
from hub.store_sqlite import SqliteHubStore
from tests.hub.open_data_halls import HOUR_US, THIS_HOUR_US, add_hall, add_hours
from tests.hub.test_dcat import make_app
from tests.support.broker import free_port
from tests.support.ports import wait_listening

ASKRIGG = "/open-data/askrigg-village-hall"


@pytest.fixture
def store(tmp_path):
    store = SqliteHubStore(tmp_path / "hub.db")
    add_hall(store, "askrigg", "Askrigg Village Hall", ("temperature", "co2"), location="Main St")
    add_hours(store, "askrigg", "temperature", "°C", THIS_HOUR_US - 48 * HOUR_US, 48)
    add_hours(store, "askrigg", "co2", "ppm", THIS_HOUR_US - 10 * HOUR_US, 10, seq=100, value=600)
    add_hours(store, "askrigg", "noise", "dBA", THIS_HOUR_US - 10 * HOUR_US, 10, seq=200)
    add_hall(store, "reeth", "Reeth Memorial Hall", ("footfall",))
    add_hall(store, "bainbridge", "Bainbridge Institute", ())
    add_hours(store, "bainbridge", "temperature", "°C", THIS_HOUR_US - 5 * HOUR_US, 5)
    yield store
    store.close()


@pytest.fixture
def client(tmp_path, store):
    return make_app(
        tmp_path, store, CatalogueSettings(publisher="North Yorkshire Council")
    ).test_client()


def download(client, url, path):
    answer = client.get(url)
    assert answer.status_code == 200, answer.text[:300]
    assert answer.mimetype == "application/vnd.sqlite3"
    path.write_bytes(answer.data)
    assert int(answer.headers["Content-Length"]) == path.stat().st_size
    return answer


def rows(path, sql, *args):
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute(sql, args)]


def test_a_hall_s_file_holds_what_it_publishes_with_a_view_per_metric(client, tmp_path):
    path = tmp_path / "hallsense-askrigg-village-hall.db"
    answer = download(client, f"{ASKRIGG}/datasette.db", path)
    assert answer.headers["Content-Disposition"] == (
        'attachment; filename="hallsense-askrigg-village-hall.db"'
    )
    assert rows(path, "SELECT metric, COUNT(*) AS n FROM hourly GROUP BY metric ORDER BY 1") == [
        {"metric": "co2", "n": 10},
        {"metric": "temperature", "n": 48},
    ]
    assert rows(path, "SELECT slug, name, location FROM halls") == [
        {"slug": "askrigg-village-hall", "name": "Askrigg Village Hall", "location": "Main St"}
    ]
    views = {r["name"] for r in rows(path, "SELECT name FROM sqlite_master WHERE type = 'view'")}
    assert views == {"co2", "temperature"}
    (first,) = rows(path, "SELECT * FROM co2 LIMIT 1")
    assert list(first) == [
        "Hall",
        "Sensor",
        "Hour starting (local time)",
        "Hour starting (UTC)",
        "Mean (ppm)",
        "Lowest (ppm)",
        "Highest (ppm)",
        "Unit",
        "Readings",
    ]
    assert first["Hall"] == "Askrigg Village Hall"
    assert first["Mean (ppm)"] == 600.0
    (kept,) = rows(path, "SELECT json FROM _metadata")
    assert json.loads(kept["json"])["license_url"] == OGL_V3


def test_a_hall_without_readings_gets_a_file_with_no_hours(client, tmp_path):
    path = tmp_path / "reeth.db"
    download(client, "/open-data/reeth-memorial-hall/datasette.db", path)
    assert rows(path, "SELECT COUNT(*) AS n FROM hourly") == [{"n": 0}]
    assert rows(path, "SELECT * FROM footfall") == []
    assert rows(path, "SELECT name FROM halls") == [{"name": "Reeth Memorial Hall"}]


def test_a_county_where_no_hall_publishes_gets_an_empty_file(tmp_path):
    store = SqliteHubStore(tmp_path / "hub.db")
    try:
        add_hall(store, "bainbridge", "Bainbridge Institute", ())
        client = make_app(tmp_path, store).test_client()
        path = tmp_path / "county.db"
        download(client, "/open-data/datasette.db", path)
        assert rows(path, "SELECT COUNT(*) AS n FROM halls") == [{"n": 0}]
        assert rows(path, "SELECT COUNT(*) AS n FROM hourly") == [{"n": 0}]
        assert rows(path, "SELECT * FROM halls_fts WHERE halls_fts MATCH 'Bainbridge'") == []
    finally:
        store.close()


def test_a_hall_that_publishes_nothing_has_no_file(client):
    for url in ("/open-data/bainbridge-institute/datasette.db", "/open-data/nowhere/datasette.db"):
        answer = client.get(url)
        assert answer.status_code == 404
    answer = client.get("/open-data/bainbridge-institute/datasette.metadata.json")
    assert answer.status_code == 404


@pytest.mark.parametrize(
    ("query", "sentence"),
    [
        ("format=csv", "format: not a parameter here (use from, to)"),
        ("from=yesterday", "from: 'yesterday' is not a date or time"),
        ("from=2026-12-05&to=2026-12-01", "from, to: from '2026-12-05' must be before to"),
        ("from=2024-01-01&to=2026-01-01", "from, to: the range is 732 days; at most 400 days"),
        ("to=2026-12-01&to=2026-12-02", "to: give it once"),
    ],
)
def test_bad_parameters_are_a_400_naming_the_parameter(client, query, sentence):
    for url in (f"{ASKRIGG}/datasette.db", "/open-data/datasette.metadata.json"):
        answer = client.get(f"{url}?{query}")
        assert answer.status_code == 400
        assert sentence in unescape(answer.text)


def test_a_file_too_big_is_refused_and_leaves_nothing_behind(client, monkeypatch, tmp_path):
    temporary = tmp_path / "temporary"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    monkeypatch.setattr(open_data_sqlite, "MAX_ROWS", 50)
    answer = client.get("/open-data/datasette.db")
    assert answer.status_code == 400
    assert "from, to: more than 50 hours of data in one file" in unescape(answer.text)
    assert list(temporary.iterdir()) == []
    small = client.get(f"{ASKRIGG}/datasette.db?from={time.strftime('%Y-%m-%d')}")
    assert small.status_code == 200
    assert small.data.startswith(b"SQLite format 3\x00")
    small.close()
    assert list(temporary.iterdir()) == []


def get_json(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
        return json.load(answer)


@pytest.mark.slow
def test_datasette_serves_the_county_file_its_views_and_search(client, tmp_path):
    path = tmp_path / "hallsense-county.db"
    download(client, "/open-data/datasette.db", path)
    metadata = tmp_path / "hallsense-county.metadata.json"
    metadata.write_bytes(client.get("/open-data/datasette.metadata.json").data)
    port = free_port()
    log = tmp_path / "datasette.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "datasette",
                "serve",
                str(path),
                "--port",
                str(port),
                "--metadata",
                str(metadata),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_listening(port, proc, log)
        about = get_json(port, "/-/metadata.json")
        assert about["license_url"] == OGL_V3
        assert about["source"] == "North Yorkshire Council"
        temperature = get_json(port, "/hallsense-county/temperature.json?_shape=array")
        assert len(temperature) == 48
        assert {row["Hall"] for row in temperature} == {"Askrigg Village Hall"}
        assert temperature[0]["Unit"] == "°C"
        assert "Mean (°C)" in temperature[0]
        found = get_json(port, "/hallsense-county/halls.json?_search=Reeth&_shape=array")
        assert [row["name"] for row in found] == ["Reeth Memorial Hall"]
        described = get_json(port, "/hallsense-county/co2.json")
        assert described["columns"][4] == "Mean (ppm)"
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_the_open_data_pages_link_the_downloads_and_the_catalogue(client):
    index = client.get("/open-data").text
    for url in (
        "/open-data/datasette.db",
        "/open-data/datasette.metadata.json",
        "/open-data/catalog.jsonld",
        "/open-data/catalog.ttl",
    ):
        assert f'href="{url}"' in index
    assert f'href="{ASKRIGG}/datasette.db"' in client.get(ASKRIGG).text
