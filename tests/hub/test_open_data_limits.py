"""The open-data download never sends a CSV bigger than a spreadsheet opens without saying so,
and gives daily means for long ranges: the real hub web over a real SQLite hub store."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest

from hub import open_data
from hub.store_sqlite import SqliteHubStore
from tests.hub.open_data_halls import HOUR_US, THIS_HOUR_US, add_hall, add_hours
from tests.hub.test_dcat import make_app


@pytest.fixture
def client(tmp_path):
    store = SqliteHubStore(tmp_path / "hub.db")
    add_hall(store, "askrigg", "Askrigg Village Hall", ("temperature",))
    add_hours(store, "askrigg", "temperature", "°C", THIS_HOUR_US - 72 * HOUR_US, 72)
    add_hall(store, "reeth", "Reeth Memorial Hall", ("temperature",))
    add_hours(store, "reeth", "temperature", "°C", THIS_HOUR_US - 24 * HOUR_US, 24)
    yield make_app(tmp_path, store).test_client()
    store.close()


def csv_rows(answer):
    return list(csv.DictReader(io.StringIO(answer.get_data(as_text=True).lstrip("\ufeff"))))


def sentence(answer):
    assert answer.status_code == 400
    return unescape(answer.get_data(as_text=True))


def test_every_download_says_its_row_count(client):
    answer = client.get("/open-data/download")
    assert answer.status_code == 200
    assert answer.headers["X-Row-Count"] == "96"
    assert len(csv_rows(answer)) == 96


def test_a_csv_larger_than_a_spreadsheet_is_refused_unless_asked_for(client, monkeypatch):
    monkeypatch.setattr(open_data, "EXCEL_MAX_ROWS", 96)  # 96 rows and the heading: one too many
    said = sentence(client.get("/open-data/download"))
    assert "from, to: 96 rows, more than a spreadsheet opens (96 with the heading)" in said
    for hint in ("site=", "bucket=day", "large=yes"):
        assert hint in said
    assert client.get("/open-data/download?site=askrigg-village-hall").status_code == 200
    assert client.get("/open-data/download?format=senml").status_code == 200
    assert len(csv_rows(client.get("/open-data/download?large=yes"))) == 96


def test_long_ranges_come_as_daily_means(client):
    year_ago = datetime.now(UTC).date() - timedelta(days=365)
    answer = client.get(f"/open-data/download?bucket=day&from={year_ago}")
    assert answer.status_code == 200, answer.text
    rows = csv_rows(answer)
    assert list(rows[0]) == [
        "hall",
        "device",
        "sensor",
        "metric",
        "unit",
        "day",
        "count",
        "mean",
        "min",
        "max",
    ]
    assert sum(int(r["count"]) for r in rows) == 96
    assert "daily" in answer.headers["Content-Disposition"]
    senml = json.loads(client.get("/open-data/download?bucket=day&format=senml").data)
    assert {record["n"].split("/")[0] for record in senml} == {"askrigg", "reeth"}


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("bucket=week", "bucket: 'week' is not one of hour, day"),
        ("large=no", "large: 'no' is not yes (or leave it out)"),
        ("from=2026-10-01&to=2026-11-01", "daily means (bucket=day) go up to 400 days"),
        (
            "bucket=day&from=2024-01-01&to=2026-01-01",
            "from, to: the range is 732 days; at most 400",
        ),
    ],
)
def test_bad_parameters_are_named(client, query, said):
    assert said in sentence(client.get(f"/open-data/download?{query}"))
