"""The monthly report on the hub's hall page: PDF and HTML downloads behind the hall page's
rules (the IoT team every hall, a clerk their own, no one without a log-in), and a month
that is bad, not over or without readings answered with a sentence that says which.

The real hub app (tests/hub/web_support.py) over a real SQLite hub store holding a
node's November (tests/support/report_hall.py), delivered through ``store_batch``."""

import re
from datetime import UTC, datetime

import pytest

from hub.config_downlink import build_config
from hub.report_source import halls, monthly_report
from hub.store_sqlite import SqliteHubStore
from presentation.report_month import ReportMonth
from tests.hub.web_support import PASSWORD, Clock, account, make_app
from tests.support import web_inputs
from tests.support.hub_report_hall import deliver
from tests.support.report_hall import HALL, ZONE, troubled_hall

NOW = datetime(2026, 12, 7, 10, tzinfo=UTC)
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SENTENCE = re.compile(r"</h1>\s*<p>(.*?)</p>", re.S)


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub")
    node = troubled_hall(root / "node.db")
    store = SqliteHubStore(root / "hub.db")
    for device, site in (("askrigg", "Askrigg (registered)"), ("reeth", "Reeth Memorial Hall")):
        store.add_device(device, site)
    _, payload = build_config(1, {}, {"hall_name": HALL, "opening_hours": "Mon to Sat"})
    store.save_config("askrigg", 1, payload.decode(), actor="clerk")
    deliver(node.path, store, "askrigg")
    account(store, "iot-team")
    account(store, "clerk-askrigg", "clerk", ("askrigg",))
    account(store, "clerk-reeth", "clerk", ("reeth",))
    clock = Clock()
    clock.now = NOW.timestamp()
    app = make_app(root, store, clock=clock)
    yield app, store
    store.close()


def client_of(hub, username=None):
    app, _ = hub
    client = app.test_client()
    if username is not None:
        token = CSRF.search(client.get("/login").text).group(1)
        form = {"username": username, "password": PASSWORD, "csrf_token": token}
        assert client.post("/login", data=form).status_code == 303
    return client


@pytest.fixture(scope="module")
def team(hub):
    return client_of(hub, "iot-team")


def test_the_hall_page_links_to_last_months_report(team):
    page = team.get("/fleet/askrigg").text
    assert "Monthly report for November 2026:" in page
    assert '<a href="/fleet/askrigg/report.pdf?month=2026-11">download it (PDF, A4)</a>' in page
    assert '<a href="/fleet/askrigg/report.html?month=2026-11">read it as a web page</a>' in page


def test_the_pdf_is_a_download_named_after_the_month_and_the_hall(team):
    answer = team.get("/fleet/askrigg/report.pdf?month=2026-11")
    assert answer.status_code == 200
    assert answer.mimetype == "application/pdf"
    assert answer.headers["Content-Disposition"] == (
        'attachment; filename="hall-report-2026-11-askrigg.pdf"'
    )
    assert answer.data.startswith(b"%PDF-")


def test_the_html_is_the_same_report_under_a_policy_that_allows_only_its_stylesheet(hub, team):
    _, store = hub
    answer = team.get("/fleet/askrigg/report.html")  # the last complete month by default
    assert answer.status_code == 200
    policy = answer.headers["Content-Security-Policy"]
    assert "style-src 'sha256-" in policy
    assert "script-src" not in policy
    assert "default-src 'none'" in policy
    page = answer.text
    assert f"<h1>{HALL}: November 2026</h1>" in page
    hall = next(h for h in halls(store) if h.device_id == "askrigg")
    report = monthly_report(store, hall, ReportMonth(2026, 11), zone=ZONE, now=NOW)
    for sentence in report.section("busy").sentences:
        assert sentence.replace("'", "&#x27;").replace('"', "&quot;") in page


def test_a_clerk_gets_their_own_halls_report_and_no_other(hub):
    own = client_of(hub, "clerk-askrigg")
    assert own.get("/fleet/askrigg/report.html?month=2026-11").status_code == 200
    other = client_of(hub, "clerk-reeth")
    for url in ("/fleet/askrigg/report.pdf", "/fleet/askrigg/report.html?month=2026-11"):
        answer = other.get(url)
        assert answer.status_code == 404, url  # as if it did not exist
        assert HALL not in answer.text


def test_anyone_not_logged_in_is_sent_to_the_log_in_page(hub):
    anonymous = client_of(hub)
    for url in ("/fleet/askrigg/report.pdf?month=2026-11", "/fleet/askrigg/report.html"):
        answer = anonymous.get(url)
        assert answer.status_code == 302, url
        assert answer.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize(
    ("query", "status", "words"),
    [
        ("month=2026-13", 400, "month: &#39;2026-13&#39; is not a month: the month must be 01"),
        ("month=November", 400, "month: &#39;November&#39; is not a month: write it as YYYY-MM"),
        ("month=2026-11&month=2026-10", 400, "month: give one month, not several"),
        ("period=month", 400, "period: not a parameter of this page"),
        ("month=2026-12", 404, "There is no report: 2026-12 is not over yet"),
        ("month=2027-01", 404, "2027-01 is in the future: the last complete month is 2026-11"),
        ("month=2026-10", 404, "the first month with readings is 2026-11"),
    ],
)
def test_a_month_without_a_report_says_why(team, query, status, words):
    answer = team.get(f"/fleet/askrigg/report.pdf?{query}")
    assert answer.status_code == status
    assert answer.mimetype == "text/html"
    assert words in answer.text


def test_a_hall_without_readings_is_a_404_that_says_so(team):
    answer = team.get("/fleet/reeth/report.html?month=2026-11")
    assert answer.status_code == 404
    assert "the hub has no readings from this hall yet" in answer.text


def test_extreme_months_get_a_4xx_naming_the_parameter(team):
    found = []
    for route in ("report.pdf", "report.html"):
        for query, names in web_inputs.queries(
            ("month",), thorough=True, today="2026-12-07", early="2026-12-01", late="2026-12-06"
        ):
            answer = team.get(f"/fleet/askrigg/{route}?{query}")
            found.append(web_inputs.problem(answer, query[:60], SENTENCE, names))
            assert answer.status_code in (400, 404), query[:60]
    web_inputs.report(found)
