"""What a visitor reads on the page: plain words, no raw flags, no false Excel promise."""

import csv
import io
import re
from datetime import timedelta

import pytest

from edge.store import EdgeStore
from presentation.reading_flags import FLAG_WORDS, Quality
from sensors.reading import Reading
from tests.web_local.conftest import NOW, fill, make_app
from web_local import pages

PUBLIC = ("temperature", "pm2_5", "noise", "occupancy", "co2")


@pytest.fixture
def small_hall(tmp_path):
    """A node that started five minutes ago: a few readings, one of them flagged."""
    path = tmp_path / "hallsense.db"
    at = NOW - timedelta(seconds=20)
    fill(
        path,
        [
            Reading("door-pir", "occupancy", 0.0, "bool", at, quality=Quality.CLOCK_UNSYNCED),
            Reading("mic", "noise", 28.0, "dBA", at),
            Reading("pm", "pm2_5", 4.2, "µg/m³", at),
            Reading("thermo", "temperature", 19.5, "°C", at, quality=Quality.STUCK),
            Reading("co2", "co2", 612.0, "ppm", at, quality=Quality.CLOCK_CORRECTED),
        ],
    )
    return make_app(path, public_metrics=PUBLIC).test_client()


def test_status_shows_every_flag_in_words_and_recent_times_as_just_now(small_hall):
    html = small_hall.get("/status").text
    checks = re.findall(r"<tr><th scope=\"row\">.*?</td><td>.*?</td><td>(.*?)</td></tr>", html)
    flagged = (Quality.STUCK, Quality.CLOCK_CORRECTED, Quality.CLOCK_UNSYNCED)
    assert sorted(checks) == sorted([FLAG_WORDS[f] for f in flagged] + ["no problems"] * 2)
    for flag in Quality:
        if flag.name and "_" in flag.name:
            assert flag.name.lower() not in html  # never clock_unsynced and the like
    assert "just now" in html
    assert "0 seconds" not in html


def test_on_off_and_sound_read_as_words_everywhere(small_hall):
    for path in ("/", "/kiosk", "/status"):
        html = small_hall.get(path).text
        assert "0.00" not in html
        assert "dBA" not in html
        assert "A-weighted" not in html
    status = small_hall.get("/status").text
    assert "Not in use" in status
    assert "28 decibels (quiet)" in status
    home = small_hall.get("/").text
    assert "Sound level" in home
    assert "28 decibels" in home
    assert re.search(r'class="advice advice-quiet">Quiet<', home)


def test_the_air_quality_card_leads_with_the_band_or_its_absence(small_hall):
    html = small_hall.get("/").text
    card = html.split('class="figure figure-pm2_5"')[1].split("</div>")[0]
    assert re.search(r'class="advice">No air quality band yet: not enough readings<', card)
    detail = re.search(r'class="detail">([^<]*)<', card)
    assert detail
    assert detail.group(1) == (
        "A band needs PM2.5 readings in 18 of the last 24 hours; so far none have them."
    )
    assert "Not enough data" not in card
    assert "Indoor and indicative" not in card  # no band, so no band to label


def test_with_a_band_the_card_says_it_and_labels_it(client):
    card = client.get("/").text.split('class="figure figure-pm2_5"')[1].split("</div>")[0]
    assert re.search(r'class="advice advice-daqi-\d+">Air pollution: (Low|Moderate|High)', card)
    assert "Indoor and indicative" in card


def test_an_on_off_trend_is_a_percentage_of_the_time(client):
    html = client.get("/trends/sim-occupancy/occupancy?period=week").text
    assert "percentage of the time in use" in html
    assert not re.search(r'class="hs-num">\d\.\d\d<', html)


# --------------------------------------------------------------------------- Excel

RANGE = "from=2026-11-16&to=2026-11-17&format=csv"


def readings_in_range(hall_db) -> int:
    store = EdgeStore(hall_db, readonly=True)
    try:
        start = NOW.replace(day=16, hour=0, minute=0)  # November: local time is UTC
        return pages_estimate(store, start, start + timedelta(days=2))
    finally:
        store.close()


def pages_estimate(store, start, end) -> int:
    from web_local.site import DEFAULT_PUBLIC_METRICS

    return pages.estimated_readings(store, start, end, set(DEFAULT_PUBLIC_METRICS))


def test_the_row_estimate_is_the_csvs_row_count(client, hall_db):
    response = client.get(f"/data/download?{RANGE}")
    rows = list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8-sig"), newline="")))
    assert readings_in_range(hall_db) == len(rows) > 0


def test_a_csv_at_excels_limit_downloads(client, hall_db, monkeypatch):
    readings = readings_in_range(hall_db)
    monkeypatch.setattr(pages, "EXCEL_MAX_ROWS", readings + 1)  # the heading takes a row
    assert pages.fits_in_excel(readings)
    response = client.get(f"/data/download?{RANGE}")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]


def test_a_csv_over_excels_limit_says_so_and_offers_a_shorter_range(client, hall_db, monkeypatch):
    readings = readings_in_range(hall_db)
    monkeypatch.setattr(pages, "EXCEL_MAX_ROWS", readings)  # one row short
    assert not pages.fits_in_excel(readings)
    response = client.get(f"/data/download?{RANGE}")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "Content-Disposition" not in response.headers
    html = response.text
    assert "Too big for Excel" in html
    assert f"about {readings:,} readings: more than the rows Excel can open ({readings:,})" in html
    assert "From 16 November 2026 to 17 November 2026" in html
    assert "For Excel, choose at most 1 day below." in html
    # The form keeps the range, and a link downloads it all anyway.
    assert 'value="2026-11-16"' in html
    assert 'value="2026-11-17"' in html
    link = re.search(r'href="(/data/download\?[^"]*large=yes)"', html)
    assert link
    whole = client.get(link.group(1).replace("&amp;", "&"))
    assert whole.mimetype == "text/csv"
    # SenML is for software: never stopped.
    senml = client.get("/data/download?from=2026-11-16&to=2026-11-17&format=senml")
    assert senml.mimetype == "application/senml+json"


def test_a_year_over_the_limit_says_how_many_times_too_big():
    words = pages.too_big_words(4_190_000, NOW.date() - timedelta(days=364), NOW.date())
    assert words["readings"] == "4.19 million"
    assert words["much"] == "about 4 times"
    assert words["limit"] == "1,048,576"
    assert words["days"] == "91 days"


def test_the_download_page_does_not_promise_excel_for_any_range(client):
    html = client.get("/data").text
    assert "CSV opens in Excel" not in html
    assert "Excel opens at most 1,048,576 rows" in html
    assert re.search(r"about [\d,]+ readings a day", html)
