"""The monthly report from the hub store: the node's report, word for word, from the hub's
rollups of the same readings (SQLite and PostgreSQL), and what only the hub cannot know.

The node's stores are tests/support/report_hall.py's, delivered to the hub through its
own ``store_batch`` (tests/support/hub_report_hall.py)."""

from datetime import UTC, datetime

import pytest

from edge.store import EdgeStore
from hub.config_downlink import build_config
from hub.report_source import NoReport, halls, monthly_report
from hub.store_sqlite import SqliteHubStore
from presentation.report_month import ReportMonth
from tests.support.hub_report_hall import deliver
from tests.support.report_hall import CORRECTED, HALL, ZONE, clean_hall, troubled_hall
from web_local.report_source import monthly_report as node_report

NOVEMBER = ReportMonth(2026, 11)
NOW = datetime(2026, 12, 7, 10, tzinfo=UTC)
OPENING = "Mon to Sat, 9:00 to 22:00"


@pytest.fixture(scope="module")
def troubled(tmp_path_factory):
    return troubled_hall(tmp_path_factory.mktemp("troubled") / "hallsense.db")


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    return clean_hall(tmp_path_factory.mktemp("clean") / "hallsense.db")


def at_hub(store, node_db, device_id="askrigg", **delivery):
    """The node's readings at the hub, under a hall whose clerk set its name and hours."""
    store.add_device(device_id, "Askrigg (registered name)")
    _, payload = build_config(1, {}, {"hall_name": HALL, "opening_hours": OPENING})
    store.save_config(device_id, 1, payload.decode(), actor="clerk")
    deliver(node_db, store, device_id, **delivery)
    return next(h for h in halls(store) if h.device_id == device_id)


def of_node(hall, month=NOVEMBER):
    with EdgeStore(hall.path, readonly=True) as store:
        return node_report(store, month, zone=ZONE, hall_name=HALL, now=NOW, opening_hours=OPENING)


def same_report(node, hub):
    """Every word and figure the same, but the footnote naming where the numbers came from."""
    assert hub.title == node.title == f"{HALL}: November 2026"
    assert hub.opening_hours == node.opening_hours == OPENING
    assert hub.facts == node.facts
    assert hub.text().splitlines()[:-1] == node.text().splitlines()[:-1]
    assert [s.charts for s in hub.sections] == [s.charts for s in node.sections]
    assert [s.tables for s in hub.sections] == [s.tables for s in node.sections]
    assert "from the hub's hourly summaries of the hall's readings" in hub.footnote


def test_the_hubs_report_is_the_nodes_with_gaps_limits_and_corrected_clocks(
    hub_store, troubled, tmp_path
):
    hall = at_hub(hub_store, troubled.path)
    assert (hall.hall_name, hall.opening_hours) == (HALL, OPENING)
    hub = monthly_report(hub_store, hall, NOVEMBER, zone=ZONE, now=NOW)
    node = of_node(troubled)
    same_report(node, hub)
    unknown = hub.section("unknown").sentences
    assert unknown[2].startswith('3 door counts were recorded only as a limit ("fewer than 3")')
    assert unknown[3].startswith(f"{CORRECTED} readings were taken before the node's clock")


def test_the_hubs_report_compares_with_the_month_before_as_the_nodes_does(clean, tmp_path):
    store = SqliteHubStore(tmp_path / "hub.db")
    try:
        hall = at_hub(store, clean.path)
        hub = monthly_report(store, hall, NOVEMBER, zone=ZONE, now=NOW)
        same_report(of_node(clean), hub)
        assert "October 2026 (" in hub.section("busy").sentences[2]
        first = monthly_report(store, hall, ReportMonth(2026, 9), zone=ZONE, now=NOW)
        assert (
            first.text().splitlines()[:-1]
            == of_node(clean, ReportMonth(2026, 9)).text().splitlines()[:-1]
        )
    finally:
        store.close()


def test_once_the_hub_has_cleared_the_raw_readings_the_report_says_it_cannot_count_them(
    troubled, tmp_path
):
    store = SqliteHubStore(tmp_path / "hub.db")
    try:
        hall = at_hub(store, troubled.path)
        store.prune(int(datetime(2026, 11, 20, tzinfo=UTC).timestamp() * 1e6))  # part of it
        report = monthly_report(store, hall, NOVEMBER, zone=ZONE, now=NOW)
        assert report.facts == of_node(troubled).facts  # the rollups are kept
        assert (
            "The individual readings of this month are no longer kept, so the report cannot "
            "say how many were limits or had corrected times."
            in report.section("unknown").sentences
        )
        assert "door counts were recorded only as a limit" not in report.text()
    finally:
        store.close()


def test_readings_the_node_has_not_delivered_yet_are_said_to_be_unknown(troubled, tmp_path):
    store = SqliteHubStore(tmp_path / "hub.db")
    try:
        late_november = int(datetime(2026, 11, 30, 23, tzinfo=UTC).timestamp() * 1e6)
        hall = at_hub(store, troubled.path, received_us=late_november)
        unknown = monthly_report(store, hall, NOVEMBER, zone=ZONE, now=NOW).section("unknown")
        assert unknown.sentences[-1] == (
            "The hub has not heard from the hall's node since the month ended, so readings it "
            "took late in the month may not have reached the hub yet."
        )
    finally:
        store.close()


@pytest.mark.parametrize(
    ("month", "message"),
    [
        (ReportMonth(2026, 12), "2026-12 is not over yet: the last complete month is 2026-11"),
        (ReportMonth(2027, 1), "2027-01 is in the future: the last complete month is 2026-11"),
        (
            ReportMonth(2026, 10),
            "there are no readings for 2026-10: the first month with readings is 2026-11",
        ),
    ],
)
def test_months_without_a_report_are_refused_as_the_node_refuses_them(
    troubled, tmp_path, month, message
):
    store = SqliteHubStore(tmp_path / "hub.db")
    try:
        hall = at_hub(store, troubled.path)
        with pytest.raises(NoReport) as caught:
            monthly_report(store, hall, month, zone=ZONE, now=NOW)
        assert str(caught.value) == message
    finally:
        store.close()


def test_a_hall_without_any_readings_says_so(tmp_path):
    store = SqliteHubStore(tmp_path / "hub.db")
    try:
        store.add_device("reeth", "Reeth Memorial Hall")
        (hall,) = halls(store)
        assert (hall.hall_name, hall.opening_hours) == ("Reeth Memorial Hall", "")
        with pytest.raises(NoReport, match="the hub has no readings from this hall yet"):
            monthly_report(store, hall, NOVEMBER, zone=ZONE, now=NOW)
    finally:
        store.close()
