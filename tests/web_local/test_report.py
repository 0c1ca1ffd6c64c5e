"""The monthly hall report of real stores: its words and numbers against the readings,
the printed PDF (pdftotext, pdfinfo, pdftoppm) and the page's routes and link."""

import math
import re
import shutil
import subprocess
from collections import defaultdict
from datetime import UTC, datetime

import pytest
from PIL import Image

from edge.store import EdgeStore
from presentation.report_html import report_html
from presentation.report_month import ReportMonth
from presentation.report_pdf import report_pdf
from tests.support.report_hall import (
    CORRECTED,
    HALL,
    ZONE,
    clean_hall,
    troubled_hall,
)
from web_local.app import create_app
from web_local.report_source import NoReport, monthly_report
from web_local.site import PageSettings, Site

NOVEMBER = ReportMonth(2026, 11)
NOW = datetime(2026, 12, 7, 10, tzinfo=UTC)
OPENING = "Mon to Sat, 9:00 to 22:00"


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    return clean_hall(tmp_path_factory.mktemp("clean") / "hallsense.db")


@pytest.fixture(scope="module")
def troubled(tmp_path_factory):
    return troubled_hall(tmp_path_factory.mktemp("troubled") / "hallsense.db")


def report_of(hall, month=NOVEMBER, now=NOW):
    with EdgeStore(hall.path, readonly=True) as store:
        return monthly_report(
            store, month, zone=ZONE, hall_name=HALL, now=now, opening_hours=OPENING
        )


def expected(readings, month=NOVEMBER):
    """The report's headline figures worked out from the readings themselves."""
    start, end = (m.timestamp() for m in month.bounds(ZONE))
    hours = {}
    sums = defaultdict(lambda: defaultdict(list))
    people = defaultdict(float)
    occupied = set()
    for r in readings:
        at = r.timestamp.timestamp()
        if not start <= at < end or r.censor is not None:
            continue
        hour = int(at) // 3600 * 3600
        hours[hour] = True
        sums[r.metric][hour].append(r.value)
        if r.metric == "footfall":
            people[hour] += r.value
        if r.metric == "occupancy" and r.value >= 0.5:
            occupied.add(hour)
    in_use = occupied | {h for h, p in people.items() if p >= 0.5}
    co2 = {h: math.floor(sum(v) / len(v) + 0.5) for h, v in sums["co2"].items() if h in in_use}
    temp = {h: round(sum(v) / len(v), 1) for h, v in sums["temperature"].items() if h in in_use}
    return {
        "hours": int(end - start) // 3600,
        "recorded": len(hours),
        "people": math.floor(sum(people.values()) + 0.5),
        "in_use": len(in_use),
        "co2_1000": sum(v >= 1000 for v in co2.values()),
        "co2_1500": sum(v > 1500 for v in co2.values()),
        "co2_hours": len(co2),
        "too_cold": sum(v < 18 for v in temp.values()),
        "temp_hours": len(temp),
    }


def flat(text: str) -> str:
    return " ".join(text.split())


def pdf_tool(name: str, *args: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} not found: apt-get install poppler-utils"
    return subprocess.run(
        [found, *args], check=True, capture_output=True, text=True, timeout=30
    ).stdout


def test_the_report_of_a_simulated_month_matches_its_readings(clean):
    report = report_of(clean)
    want = expected(clean.readings)
    facts = report.facts
    assert facts["people"] == want["people"]
    assert (facts["hours"], facts["recorded"]) == (720, want["recorded"]) == (720, 720)
    assert facts["in_use_hours"] == want["in_use"]
    assert (facts["co2_1000"], facts["co2_1500"]) == (want["co2_1000"], want["co2_1500"])
    assert facts["too_cold"] == want["too_cold"]
    text = report.text()
    assert f"({want['people']:,} people counted in all)." in text
    assert (
        f"Carbon dioxide was 1,000 ppm or more for {want['co2_1000']:,} of the "
        f"{want['co2_hours']:,} hours the hall was in use, and above 1,500 ppm for "
        f"{want['co2_1500']:,}." in text
    )
    assert "The sensors recorded readings in 720 of the 720 hours of November 2026 (100%)." in text
    # October is a whole month of the same timetable: compared by its total.
    october = expected(clean.readings, ReportMonth(2026, 10))["people"]
    assert re.search(rf"people than in October 2026 \({october:,} people\)\.", text) or (
        f"about the same as October 2026 ({october:,} people)" in text
    )
    assert "There are no door counts from November 2025" not in text  # not mentioned at all
    assert report.section("unknown").sentences[0].startswith("The report goes by the sensors")


def test_a_month_with_gaps_censored_counts_and_a_corrected_clock_says_what_it_cannot_know(
    troubled,
):
    report = report_of(troubled)
    want = expected(troubled.readings)
    text = report.text()
    assert want["recorded"] == 720 - 48
    assert "The sensors recorded readings in 672 of the 720 hours of November 2026 (93%)." in text
    assert (
        "48 hours have no readings; the longest gap was 48 hours, from Tuesday 10 November "
        "at 00:00." in text
    )
    assert report.facts["people"] == want["people"]
    unknown = report.section("unknown").sentences
    assert "Nothing is known of the 48 hours without readings" in unknown[1]
    assert unknown[2].startswith(
        '3 door counts were recorded only as a limit ("fewer than 3") to protect privacy'
    )
    assert unknown[3].startswith(f"{CORRECTED} readings were taken before the node's clock was set")
    assert "There are no door counts from October 2026 to compare with." in text


def test_the_pdf_prints_the_same_sentences_on_a4_with_its_charts(clean, tmp_path):
    report = report_of(clean)
    path = tmp_path / "report.pdf"
    path.write_bytes(report_pdf(report, created=NOW))
    info = pdf_tool("pdfinfo", str(path))
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE)[1])
    assert pages == 3
    assert re.search(r"^Page size:\s+595.2\d* x 841.8\d* pts \(A4\)", info, re.MULTILINE)
    assert "monthly hall report" in info
    text = flat(pdf_tool("pdftotext", "-layout", str(path), "-"))
    for sentence in (*report.summary, *report.section("air").sentences):
        assert flat(sentence) in text, sentence
    assert "Opening hours: Mon to Sat, 9:00 to 22:00" in text
    # The people-each-day chart is drawn on page 1, below its title: dark bars, at 60 dpi.
    pdf_tool(
        "pdftoppm",
        "-r",
        "60",
        "-gray",
        "-f",
        "1",
        "-l",
        "1",
        "-png",
        str(path),
        str(tmp_path / "p"),
    )
    with Image.open(tmp_path / "p-1.png") as image:
        page = image.convert("L")
    width, height = page.size
    chart = page.crop((int(width * 0.15), int(height * 0.47), int(width * 0.9), int(height * 0.66)))
    dark = sum(chart.histogram()[:100])
    assert dark > 500, f"only {dark} dark pixels where the chart of people each day should be"


def test_the_html_version_has_the_same_words_tables_and_chart_alternatives(clean):
    report = report_of(clean)
    html = report_html(report)
    assert html.count("<h1>") == 1
    assert html.count('role="img"') == 4
    assert html.count("<caption>") == 6
    assert "@media print" in html
    assert "<script" not in html
    for sentence in report.summary:
        assert sentence.replace("'", "&#x27;").replace('"', "&quot;") in html


def test_the_first_month_with_readings_is_reported_as_partial(clean):
    report = report_of(clean, ReportMonth(2026, 9))
    assert (
        "The readings begin on Monday 14 September, so this covers only part of the month."
        in report.text()
    )


@pytest.mark.parametrize(
    ("month", "message"),
    [
        (ReportMonth(2026, 12), "2026-12 is not over yet: the last complete month is 2026-11"),
        (ReportMonth(2027, 1), "2027-01 is in the future: the last complete month is 2026-11"),
        (
            ReportMonth(2026, 8),
            "there are no readings for 2026-08: the first month with readings is 2026-09",
        ),
    ],
)
def test_months_without_a_report_are_refused_in_one_line(clean, month, message):
    with pytest.raises(NoReport) as caught:
        report_of(clean, month)
    assert str(caught.value) == message


@pytest.fixture
def client(clean):
    settings = PageSettings(hall_name=HALL, opening_hours=OPENING)
    site = Site(store_path=clean.path, page_settings=lambda: settings, now=lambda: NOW)
    return create_app(site).test_client()


def test_the_data_page_links_to_last_months_report(client):
    page = client.get("/data").get_data(as_text=True)
    assert '<a href="/report/2026-11.pdf">Download the November 2026 report (PDF, A4)</a>' in page
    assert '<a href="/report/2026-11.html">Read the November 2026 report as a web page</a>' in page


def test_the_pdf_route_serves_a_download(client):
    pdf = client.get("/report/2026-11.pdf")
    assert pdf.status_code == 200
    assert pdf.mimetype == "application/pdf"
    assert pdf.headers["Content-Disposition"] == 'attachment; filename="hall-report-2026-11.pdf"'
    assert pdf.data.startswith(b"%PDF-")


def test_the_html_route_serves_a_page_whose_policy_allows_only_its_stylesheet(client):
    page = client.get("/report/2026-11.html")
    assert page.status_code == 200
    assert "style-src 'sha256-" in page.headers["Content-Security-Policy"]
    assert "script-src" not in page.headers["Content-Security-Policy"]
    assert "<h1>Askrigg Village Hall: November 2026</h1>" in page.get_data(as_text=True)


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/report/2026-13.pdf", "There is no report for &#39;2026-13&#39; is not a month"),
        ("/report/november.html", "There is no report for &#39;november&#39; is not a month"),
        ("/report/2026-12.html", "There is no report: 2026-12 is not over yet"),
        ("/report/2026-08.pdf", "the first month with readings is 2026-09"),
    ],
)
def test_a_month_without_a_report_is_a_404_that_says_why(client, path, words):
    response = client.get(path)
    assert response.status_code == 404
    assert words in response.get_data(as_text=True)
