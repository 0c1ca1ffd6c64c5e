from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from presentation.report_month import BadMonth, ReportMonth, last_complete_month, parse_month

LONDON = ZoneInfo("Europe/London")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-13", "'2026-13' is not a month: the month must be 01 to 12"),
        ("2026-00", "'2026-00' is not a month: the month must be 01 to 12"),
        ("2026-1", "'2026-1' is not a month: write it as YYYY-MM, e.g. 2026-11"),
        ("November", "'November' is not a month: write it as YYYY-MM, e.g. 2026-11"),
        ("", "'' is not a month: write it as YYYY-MM, e.g. 2026-11"),
        ("1969-12", "'1969-12' is before any reading could have been taken (1970)"),
    ],
)
def test_a_bad_month_says_what_was_wrong(text, message):
    with pytest.raises(BadMonth) as caught:
        parse_month(text)
    assert str(caught.value) == message


def test_months_wrap_round_the_year():
    assert parse_month(" 2026-01 ") == ReportMonth(2026, 1)
    assert ReportMonth(2026, 1).previous() == ReportMonth(2025, 12)
    assert ReportMonth(2026, 12).next() == ReportMonth(2027, 1)
    assert ReportMonth(2026, 11).year_before().key == "2025-11"
    assert ReportMonth(2026, 11).label == "November 2026"


@pytest.mark.parametrize(("month", "hours"), [(3, 743), (10, 745), (11, 720), (2, 672)])
def test_a_month_has_the_hours_its_clock_changes_give_it(month, hours):
    assert len(ReportMonth(2026, month).hours(LONDON)) == hours


def test_the_last_complete_month_is_the_halls_not_utcs():
    # 00:30 on 1 July in the hall (BST) is still 30 June in UTC.
    assert last_complete_month(datetime(2026, 6, 30, 23, 30, tzinfo=UTC), LONDON) == ReportMonth(
        2026, 6
    )
    assert last_complete_month(datetime(2026, 6, 30, 22, 30, tzinfo=UTC), LONDON) == ReportMonth(
        2026, 5
    )
