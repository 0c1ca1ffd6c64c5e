from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from presentation.reading_flags import Quality
from sensors.reading import Reading
from tests.edge.conftest import readings, synced

LONDON = ZoneInfo("Europe/London")


def test_minute_hour_and_day_summaries(store):
    start = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    store.append(readings(120, start=start, step_s=1), synced())  # values 1..120 over 2 min
    minutes = store.rollups("minute", start, start + timedelta(hours=1))
    assert [(m.count, m.min, m.max, m.mean) for m in minutes] == [
        (60, 1, 60, 30.5),
        (60, 61, 120, 90.5),
    ]
    (hour,) = store.rollups("hour", start, start + timedelta(hours=1))
    assert (hour.count, hour.min, hour.max, hour.mean) == (120, 1, 120, 60.5)
    (day,) = store.rollups("day", start - timedelta(hours=9), start + timedelta(hours=15))
    assert day.start == datetime(2026, 11, 24, tzinfo=LONDON)
    assert day.count == 120


def test_summaries_accumulate_across_batches(store):
    start = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    store.append(readings(30, start=start), synced())
    store.append(readings(30, start=start + timedelta(seconds=30), value=100.0), synced())
    (minute,) = store.rollups("minute", start, start + timedelta(minutes=1))
    assert (minute.count, minute.min, minute.max) == (60, 1, 100)


def test_a_summer_evening_in_utc_is_the_next_local_day(store):
    late = datetime(2026, 7, 1, 23, 30, tzinfo=UTC)  # 00:30 BST on 2 July
    store.append(readings(1, start=late), synced())
    (day,) = store.rollups("day", late - timedelta(days=2), late + timedelta(days=2))
    assert day.start == datetime(2026, 7, 2, tzinfo=LONDON)
    assert day.start.utcoffset() == timedelta(hours=1)


@pytest.mark.parametrize(("day", "hours"), [(29, 23), (25, 25)])
def test_clock_change_days_have_23_or_25_hours(store, day, hours):
    month = 3 if hours == 23 else 10
    midnight = datetime(2026, month, day, tzinfo=LONDON)
    end = datetime(2026, month, day + 1, tzinfo=LONDON)
    assert (end.astimezone(UTC) - midnight.astimezone(UTC)).total_seconds() == hours * 3600
    store.append(readings(hours, start=midnight.astimezone(UTC), step_s=3600), synced())
    days = store.rollups("day", midnight - timedelta(days=1), end + timedelta(days=1))
    assert [(d.start, d.count) for d in days] == [(midnight, hours)]


def test_bad_values_stay_out_of_the_summaries(store):
    start = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    store.append(
        [
            Reading("t", "temperature", 20.0, "°C", start),
            Reading("t", "temperature", float("nan"), "°C", start, Quality.NOT_A_NUMBER),
            Reading("t", "temperature", 900.0, "°C", start, Quality.OUT_OF_RANGE),
            Reading("t", "temperature", 20.0, "°C", start, Quality.STUCK),
        ],
        synced(),
    )
    (minute,) = store.rollups("minute", start, start + timedelta(minutes=1))
    assert (minute.count, minute.max) == (1, 20.0)


def test_filters_by_sensor_and_metric(store):
    start = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    store.append(readings(2, start=start) + readings(2, start=start, sensor="t2"), synced())
    window = (start, start + timedelta(hours=1))
    assert [r.sensor_id for r in store.rollups("hour", *window, sensor_id="t2")] == ["t2"]
    assert store.rollups("hour", *window, metric="co2") == []
