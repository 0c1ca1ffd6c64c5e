"""The community page in real headless Chromium: WCAG 2.2 AA by axe-core, reflow at
320 px, visible focus, no other origin, a download clicked through, JavaScript off, and
the kiosk on one TV screen (1920x1080 and 1280x720) with nothing to scroll."""

import csv
import io
import threading
from datetime import timedelta

import pytest
from waitress.server import create_server

from sensors.reading import Reading
from tests.support.browser import (
    assert_no_axe_violations,
    assert_no_horizontal_scroll,
    assert_no_page_errors,
    assert_visible_focus,
    load,
    screenshot,
)
from tests.web_local.conftest import HALL, NOW, fill, hall_readings, make_app
from web_local import pages
from web_local.site import DEFAULT_PUBLIC_METRICS

PAGES = {
    "/": HALL,
    "/kiosk": HALL,
    "/trends": "Trends",
    "/trends/sim-temperature/temperature?period=week": "Air temperature",
    "/trends/sim-footfall/footfall?period=year": "People through the door",
    "/busy-times": "Busy times",
    "/data": "Download data",
    "/status": "Sensor status",
    "/privacy": "Privacy: what we measure",
    "/accessibility": "Accessibility statement",
    "/data/download?from=2026-13-01": "Bad Request",
    "/no/such/page": "Not Found",
}


def stop_waitress(server, thread: threading.Thread) -> None:
    """Stop a waitress server whose loop runs in ``thread``.

    Its loop runs while its socket map holds a channel: emptied, the loop ends within its
    one-second poll, and only then is the socket closed. Closing it under a loop still in
    select() raised "Bad file descriptor" in the server's thread, which pytest pinned on
    whichever test ran next in that worker.
    """
    server._map.clear()
    thread.join(5)
    server.close()


@pytest.fixture(scope="module")
def site(hall_db):
    """The page app served by waitress on a free port, as `hallsense edge web` serves it."""
    server = create_server(make_app(hall_db), host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    stop_waitress(server, thread)


@pytest.mark.parametrize("path", list(PAGES))
def test_every_page_meets_wcag_22_aa_reflows_at_320px_and_shows_focus(site, new_page, path):
    status = 400 if "2026-13" in path else 404 if "no/such" in path else 200
    page = new_page("desktop")
    load(page, site + path, status=status, heading=PAGES[path])
    assert_no_axe_violations(page)
    assert_visible_focus(page)
    narrow = new_page("reflow")
    load(narrow, site + path, status=status)
    assert_no_horizontal_scroll(narrow)
    if status == 200:
        assert_no_page_errors(page)


def test_home_works_with_javascript_off_and_is_light(site, new_page):
    page = new_page("phone", javascript=False)
    sizes = []
    page.on("response", lambda r: sizes.append(len(r.body()) if r.ok else 0))
    load(page, site + "/", heading=HALL)
    assert page.get_by_text("People today").is_visible()
    assert sum(sizes) < 100_000, sizes  # everything the home page loads
    screenshot(page, "home-phone")


def test_home_on_the_halls_tv(site, new_page):
    page = new_page("tv")
    load(page, site + "/kiosk", heading=HALL)
    screenshot(page, "kiosk-tv")
    home = new_page("tv")
    load(home, site + "/", heading=HALL)
    screenshot(home, "home-tv")


def test_the_kiosk_pause_control_shows_only_with_javascript_and_toggles(site, new_page):
    page = new_page("tv")
    load(page, site + "/kiosk", heading=HALL)
    button = page.get_by_role("button", name="Pause updates")
    assert button.is_visible()
    button.click()
    assert page.get_by_role("button", name="Resume updates").get_attribute("aria-pressed") == "true"
    assert page.get_by_text("Updates are paused.").is_visible()
    static = new_page("tv", javascript=False)
    load(static, site + "/kiosk", heading=HALL)
    assert static.get_by_role("button").count() == 0


def test_a_visitor_clicks_through_to_a_csv_download(site, page):
    load(page, site + "/", heading=HALL)
    page.get_by_role("link", name="Download data").first.click()
    page.get_by_label("First day").fill("2026-11-20")
    page.get_by_label("Last day").fill("2026-11-20")
    with page.expect_download() as info:
        page.get_by_role("button", name="Download").click()
    download = info.value
    assert download.suggested_filename == "hallsense-2026-11-20-to-2026-11-20.csv"
    with open(download.path(), encoding="utf-8-sig", newline="") as saved:
        text = saved.read()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows
    assert all(r["time"].startswith("2026-11-20T") for r in rows)
    assert {"temperature", "co2"} <= {r["metric"] for r in rows}


def test_the_kiosk_refreshes_its_figures_every_minute_unless_paused(site, new_page):
    page = new_page("tv")
    page.clock.install()
    fetched = []
    page.on("request", lambda r: fetched.append(r.url) if r.url.endswith("/kiosk") else None)
    load(page, site + "/kiosk", heading=HALL)
    assert len(fetched) == 1  # the page itself
    with page.expect_response(lambda r: r.url.endswith("/kiosk")):
        page.clock.run_for(61_000)
    assert len(fetched) == 2
    assert page.locator("#kiosk-content .figures").count() == 1  # replaced, still there
    page.get_by_role("button", name="Pause updates").click()
    page.clock.run_for(180_000)
    page.wait_for_timeout(200)
    assert len(fetched) == 2


@pytest.fixture(scope="module")
def new_site(tmp_path_factory):
    """A node five hours old (no air quality band yet) that also counts phones."""
    path = tmp_path_factory.mktemp("new-hall") / "hallsense.db"
    readings = [r for r in hall_readings(weeks=1) if r.timestamp > NOW - timedelta(hours=5)]
    readings.append(Reading("ble-people", "people_estimate", 12, "count", NOW))
    fill(path, readings)
    app = make_app(
        path,
        public_metrics=(*DEFAULT_PUBLIC_METRICS, "people_estimate"),
        sensor_labels={"ble-people": "People in the hall now (estimated from phones)"},
    )
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    stop_waitress(server, thread)


TV_SIZES = [{"width": 1920, "height": 1080}, {"width": 1280, "height": 720}]


@pytest.mark.parametrize("size", TV_SIZES, ids=lambda s: f"{s['width']}x{s['height']}")
@pytest.mark.parametrize("which", ["five-weeks", "five-hours"])
def test_the_kiosk_fits_a_tv_screen_without_scrolling(site, new_site, new_page, size, which):
    page = new_page(size)
    load(page, (site if which == "five-weeks" else new_site) + "/kiosk", heading=HALL)
    heights = page.evaluate(
        "() => { const root = document.documentElement; return {scroll: root.scrollHeight,"
        " view: window.innerHeight, width: root.scrollWidth, client: root.clientWidth}; }"
    )
    screenshot(page, f"kiosk-{which}-{size['width']}x{size['height']}", full_page=False)
    assert heights["scroll"] <= heights["view"], heights
    assert heights["width"] <= heights["client"], heights
    people = page.get_by_role("heading", name="People today")
    assert people.is_visible()
    box = people.bounding_box()
    assert box is not None
    assert box["y"] + box["height"] <= size["height"]
    assert page.locator("#people-heading ~ p").last.bounding_box()["y"] < size["height"]
    assert page.locator("a").count() == 0  # no skip link, navigation or footer on a TV
    assert page.locator("nav, footer").count() == 0
    assert page.get_by_role("button", name="Pause updates").is_visible()
    assert_no_axe_violations(page)
    assert_no_page_errors(page)


def test_the_excel_warning_meets_wcag_22_aa(site, new_page, monkeypatch):
    monkeypatch.setattr(pages, "EXCEL_MAX_ROWS", 10)
    page = new_page("desktop")
    load(
        page,
        site + "/data/download?from=2026-11-16&to=2026-11-17&format=csv",
        heading="Download data",
    )
    assert page.get_by_role("heading", name="Too big for Excel").is_visible()
    assert_no_axe_violations(page)
    assert_visible_focus(page)
    assert_no_page_errors(page)
    with page.expect_download() as info:
        page.get_by_role("link", name="download all of it as CSV anyway").click()
    assert info.value.suggested_filename == "hallsense-2026-11-16-to-2026-11-17.csv"
