"""Every HTML route of the community page through Flask's test client, bad input included."""

import csv
import io
import json
import re
from datetime import timedelta

import pytest

from edge.store import EdgeStore
from presentation.reading_flags import Censor
from sensors.reading import Reading, SensorInfo
from tests.web_local.conftest import HALL, NOW, fill, make_app

PAGES = ["/", "/kiosk", "/trends", "/busy-times", "/data", "/status", "/privacy", "/accessibility"]


def get(client, path):
    """A response read whole and closed (a static file's handle is closed with it)."""
    response = client.get(path)
    response.get_data()
    response.close()
    return response


def heading(html: str) -> str:
    match = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S)
    assert match, html[:500]
    return re.sub(r"\s+", " ", match.group(1)).strip()


@pytest.mark.parametrize("path", [p for p in PAGES if p != "/kiosk"])
def test_every_page_answers_with_its_heading_and_the_footer_links(client, path):
    response = client.get(path)
    assert response.status_code == 200, response.text[:2000]
    html = response.text
    assert heading(html)
    assert 'href="/accessibility"' in html
    assert 'href="/privacy"' in html
    assert '<html lang="en-GB">' in html
    assert 'href="#main"' in html  # the skip link


def test_the_kiosk_has_no_links_nobody_can_use_on_a_tv(client):
    html = client.get("/kiosk").text
    assert heading(html) == HALL
    assert '<html lang="en-GB">' in html
    assert "<a " not in html  # no skip link, navigation or footer: a TV has no pointer
    assert "<nav" not in html
    assert "<footer" not in html
    assert 'id="kiosk-pause"' in html  # the pause control stays
    assert "People today" in html


@pytest.mark.parametrize("path", [*PAGES, "/trends/sim-co2/co2", "/static/hallsense.css"])
def test_every_response_carries_the_security_headers_and_no_banner(client, path):
    response = get(client, path)
    csp = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert "default-src 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "Server" not in response.headers


@pytest.mark.parametrize("path", [*PAGES, "/trends/sim-co2/co2", "/static/hallsense.css"])
def test_no_page_or_stylesheet_names_another_origin(client, path):
    # An SVG namespace names no place to fetch anything from; every other URL would.
    body = get(client, path).text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert not re.search(r"(https?:)?//[a-z0-9]", body, re.I), re.findall(r"\S*//\S*", body)
    assert "style=" not in body  # the CSP forbids inline styles; nothing should need one
    assert "<script>" not in body  # and inline scripts


def test_home_says_what_the_air_is_like_and_how_busy_it_is(client):
    html = client.get("/").text
    assert heading(html) == HALL
    for label in ("Air temperature", "Relative humidity", "Carbon dioxide concentration"):
        assert label in html
    assert re.search(r"\d+(\.\d)? °C", html)
    assert re.search(r"Fresh|Fine|Getting stuffy|Stuffy", html)  # ventilation in words
    assert "Indoor and indicative" in html  # the DAQI is labelled
    assert "People today" in html
    assert re.search(r"people so far today|No usual day yet", html)
    assert re.search(r"Updated|No new readings", html)
    week = html.split("The last week in words")[1]
    assert "busiest on" in week


def test_the_kiosk_refreshes_by_script_with_a_pause_button_and_is_static_without_it(client):
    html = client.get("/kiosk").text
    assert 'src="/static/kiosk.js"' in html
    assert '<button type="button" id="kiosk-pause" hidden' in html  # shown by the script only
    assert 'http-equiv="refresh"' not in html
    script = get(client, "/static/kiosk.js")
    assert script.status_code == 200
    assert "aria-pressed" in script.text


def test_trends_link_every_public_series_and_not_the_pis_health(client, hall_db):
    html = client.get("/trends").text
    assert "/trends/sim-co2/co2?period=year" in html
    assert "cpu_temperature" not in html


@pytest.mark.parametrize("period", ["day", "week", "month", "year"])
def test_a_trend_has_a_chart_and_a_table_of_the_same_period(client, period):
    response = client.get(f"/trends/sim-temperature/temperature?period={period}")
    assert response.status_code == 200
    html = response.text
    assert heading(html) == "Air temperature"
    assert "<svg" in html
    assert 'role="img"' in html
    assert "<table" in html
    assert "<caption" in html
    assert 'aria-current="page"' in html


def test_counts_are_charted_as_people_per_hour(client):
    html = client.get("/trends/sim-footfall/footfall?period=week").text
    assert "people per hour" in html


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/trends/sim-temperature/temperature?period=fortnight", 400, "period"),
        ("/trends/sim-temperature/pressure-ish", 404, "no public measurement"),
        ("/trends/pi-cpu-temperature/cpu_temperature", 404, "no public measurement"),
        ("/trends/no-such-sensor/temperature", 404, "no sensor"),
        ("/no/such/page", 404, "Not Found"),
    ],
)
def test_bad_trend_requests_get_a_page_that_says_what_was_wrong(client, path, status, words):
    response = client.get(path)
    assert response.status_code == status
    assert words in response.text
    assert "Traceback" not in response.text


def test_busy_times_has_a_heatmap_and_its_table(client):
    html = client.get("/busy-times").text
    assert "<svg" in html
    assert "<table" in html
    assert "Tue" in html or "Tuesday" in html


def test_the_data_page_is_a_plain_get_form(client):
    html = client.get("/data").text
    assert 'method="get"' in html
    assert 'action="/data/download"' in html
    assert 'name="from"' in html
    assert 'name="to"' in html


def public_readings(hall_db, start, end):
    store = EdgeStore(hall_db, readonly=True)
    try:
        from web_local.site import DEFAULT_PUBLIC_METRICS

        return [r for r in store.readings_between(start, end) if r.metric in DEFAULT_PUBLIC_METRICS]
    finally:
        store.close()


def test_a_csv_download_holds_exactly_the_days_asked_for_in_local_time(client, hall_db):
    response = client.get("/data/download?from=2026-11-16&to=2026-11-17&format=csv")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="hallsense-2026-11-16-to-2026-11-17.csv"'
    )
    text = response.get_data().decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    start = NOW.replace(day=16, hour=0, minute=0)  # November: local time is UTC
    expected = public_readings(hall_db, start, start + timedelta(days=2))
    assert len(rows) == len(expected) > 0
    assert rows[0]["time"].startswith("2026-11-16T00:")
    assert rows[-1]["time"].startswith("2026-11-17T23:")
    assert {r["metric"] for r in rows} <= {r.metric for r in expected}


def test_a_senml_download_is_a_json_pack(client):
    response = client.get("/data/download?from=2026-11-23&to=2026-11-23&format=senml")
    assert response.status_code == 200
    assert response.mimetype == "application/senml+json"
    pack = json.loads(response.get_data())
    assert pack[0]["bn"].startswith("urn:dev:hallsense:")
    assert all("n" in record for record in pack)


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("from=2026-13-01&to=2026-11-01", "from"),
        ("from=2026-11-10&to=2026-11-01", "before"),
        ("from=2020-01-01&to=2026-11-01", "366"),
        ("from=2026-11-01&to=2026-11-02&format=xlsx", "format"),
        ("from=" + "9" * 5000, "from"),
    ],
)
def test_a_bad_download_gets_a_400_page_naming_the_problem(client, query, words):
    response = client.get(f"/data/download?{query}")
    assert response.status_code == 400
    assert words in response.text
    assert "Traceback" not in response.text


def test_status_speaks_of_the_hub_the_sensors_and_where_settings_came_from(client):
    html = client.get("/status").text
    assert "waiting to be sent to the county" in html
    assert "The hub has not confirmed any readings yet." in html
    assert "sim-co2" in html
    assert "Hall name" in html
    assert "Askrigg Village Hall" in html


def test_every_route_only_reads(client):
    app = client.application
    for rule in app.url_map.iter_rules():
        assert rule.methods <= {"GET", "HEAD", "OPTIONS"}, rule
    assert client.post("/").status_code == 405
    assert client.post("/data/download").status_code == 405


def test_every_route_in_the_url_map_answers_without_an_error(client):
    samples = {
        "sensor_id": "sim-co2",
        "metric": "co2",
        "filename": "hallsense.css",
        "month": "2026-10",  # the monthly report of the last month that has ended
    }
    for rule in client.application.url_map.iter_rules():
        path = rule.rule
        for name in rule.arguments:
            path = path.replace(f"<{name}>", samples[name]).replace(f"<path:{name}>", samples[name])
        response = get(client, path)
        assert response.status_code == 200, (path, response.status_code)


def test_a_missing_store_gets_a_503_page_saying_no_readings_yet(tmp_path):
    """Before `edge run` has made the store, the page said "the sensors keep recording"."""
    client = make_app(tmp_path / "nothing.db").test_client()
    response = client.get("/")
    assert response.status_code == 503
    assert "has no readings yet" in response.text
    assert "keep recording" not in response.text
    assert str(tmp_path) not in response.text  # no paths or tracebacks to visitors


def test_a_damaged_store_gets_a_503_page_in_words(tmp_path):
    (tmp_path / "broken.db").write_bytes(b"this is not SQLite" * 100)
    response = make_app(tmp_path / "broken.db").test_client().get("/")
    assert response.status_code == 503
    assert "cannot be read just now" in response.text
    assert str(tmp_path) not in response.text


def test_an_empty_store_shows_no_readings_yet(tmp_path):
    EdgeStore(tmp_path / "empty.db").close()
    client = make_app(tmp_path / "empty.db").test_client()
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 200, (path, response.text[:500])
    assert "No readings yet" in client.get("/").text


def test_settings_choose_what_visitors_see(hall_db):
    client = make_app(
        hall_db, public_metrics=("temperature",), sensor_labels={"sim-temperature": "Main hall"}
    ).test_client()
    html = client.get("/").text
    assert "Main hall" in html
    assert "Carbon dioxide" not in html
    assert client.get("/trends/sim-co2/co2").status_code == 404


def test_a_censored_people_estimate_reads_fewer_than_never_the_bound_as_a_count(tmp_path):
    path = tmp_path / "edge.db"
    estimate = Reading("ble-people", "people_estimate", 3.0, "count", NOW, censor=Censor.LESS_THAN)
    fill(path, [estimate])
    client = make_app(path, public_metrics=("people_estimate",)).test_client()
    home = client.get("/").get_data(as_text=True)
    status = client.get("/status").get_data(as_text=True)
    for page in (home, status):
        assert "fewer than 3" in page


def test_the_privacy_page_explains_phone_counting_only_where_phones_are_counted(tmp_path):
    plain = tmp_path / "plain.db"
    fill(plain, [Reading("gpio-door", "footfall", 4.0, "count", NOW)])
    page = make_app(plain).test_client().get("/privacy").get_data(as_text=True)
    assert "Counting phones" not in page
    counting = tmp_path / "counting.db"
    with EdgeStore(counting) as store:  # registered at start-up, before any estimate
        store.register_sensors([SensorInfo("ble-people", "people_estimate", "count")])
    # Said even when the estimate itself is not among the public measurements.
    page = make_app(counting).test_client().get("/privacy").get_data(as_text=True)
    assert "Counting phones" in page
    assert "never written down, logged or sent" in page
    assert "turn Bluetooth off" in page


def test_the_privacy_page_says_no_audio_is_kept(client):
    page = client.get("/privacy").get_data(as_text=True)
    assert "no audio is ever recorded, stored or sent" in page
