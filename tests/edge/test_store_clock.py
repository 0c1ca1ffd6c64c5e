from datetime import UTC, datetime, timedelta

from edge.clock import ClockSample
from presentation.reading_flags import Quality
from tests.edge.conftest import readings

WRONG = datetime(2025, 1, 1, tzinfo=UTC)  # fake-hwclock's restored time
TRUE = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def stamped(row):
    """The timestamp of an outbox row (seq, sensor_id, metric, unit, ts_us, ...)."""
    return EPOCH + timedelta(microseconds=row[4])


def quality(row):
    """The quality flags of an outbox row, as the store's flags."""
    return Quality(row[6])


def test_readings_on_an_unsynced_clock_are_held_then_corrected(store):
    # Taken 100 s and 99 s into the boot, stamped with the wrong restored time.
    at_read = ClockSample(WRONG + timedelta(seconds=101), 101 * 10**9, False, "boot-1")
    store.append(readings(2, start=WRONG + timedelta(seconds=100)), at_read)
    assert store.outbox_rows(10) == []
    assert store.stats().held_back == 2
    day = (TRUE - timedelta(days=1), TRUE + timedelta(days=1))
    assert store.rollups("hour", *day) == []

    # At 200 s into the boot the clock synchronises: true time is TRUE.
    now = ClockSample(TRUE, 200 * 10**9, True, "boot-1")
    assert store.correct_clock(now, hold_max_s=3600) == (2, 0)
    got = store.outbox_rows(10, newest_first=False)
    assert [stamped(row) for row in got] == [
        TRUE - timedelta(seconds=100),
        TRUE - timedelta(seconds=99),
    ]
    assert all(quality(row) == Quality.CLOCK_CORRECTED for row in got)
    (hour,) = store.rollups("hour", *day)
    assert hour.count == 2
    assert hour.start == datetime(2026, 11, 24, 8, tzinfo=UTC)


def test_readings_of_another_boot_are_released_uncorrectable(store):
    store.append(readings(2, start=WRONG), ClockSample(WRONG, 10**9, False, "old-boot"))
    assert store.correct_clock(ClockSample(WRONG, 10**9, False, "new-boot"), hold_max_s=60) == (
        0,
        2,
    )
    got = store.outbox_rows(10, newest_first=False)
    assert [quality(row) for row in got] == [Quality.CLOCK_UNCORRECTABLE] * 2
    assert [stamped(row) for row in got] == [WRONG, WRONG + timedelta(seconds=1)]


def test_held_readings_are_given_up_after_the_hold(store):
    store.append(readings(1, start=WRONG), ClockSample(WRONG, 10**9, False, "b"))
    assert store.correct_clock(ClockSample(WRONG, 50 * 10**9, False, "b"), hold_max_s=60) == (0, 0)
    assert store.correct_clock(ClockSample(WRONG, 62 * 10**9, False, "b"), hold_max_s=60) == (0, 1)
    assert store.stats().held_back == 0
    assert len(store.outbox_rows(10)) == 1


def test_nothing_held_is_cheap_and_does_nothing(store):
    store.append(readings(3), ClockSample(TRUE, 10**9, True, "b"))
    assert store.correct_clock(ClockSample(TRUE, 10**9, True, "b"), hold_max_s=60) == (0, 0)
