import logging

import pytest

from hub.quotas import QUOTA_BYTES, QUOTA_MESSAGES, QUOTA_READINGS, DeviceQuotas
from provisioning.log_limit import LogLimiter


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


def test_a_minute_of_messages_goes_in_and_the_next_one_is_turned_away(clock):
    quotas = DeviceQuotas(5, 0, clock=clock)
    assert [quotas.admit("askrigg", 100) for _ in range(5)] == [None] * 5
    assert quotas.admit("askrigg", 100) == QUOTA_MESSAGES
    assert quotas.admit("bainbridge", 100) is None  # each device has its own


def test_the_quota_refills_at_its_rate_and_never_beyond_a_minutes_worth(clock):
    quotas = DeviceQuotas(5, 0, clock=clock)
    for _ in range(5):
        quotas.admit("askrigg", 1)
    clock.now += 11.9
    assert quotas.admit("askrigg", 1) == QUOTA_MESSAGES
    clock.now += 0.1  # 12 s: one message's worth at 5 a minute
    assert quotas.admit("askrigg", 1) is None
    clock.now += 3600
    assert [quotas.admit("askrigg", 1) for _ in range(6)] == [None] * 5 + [QUOTA_MESSAGES]


def test_bytes_up_to_the_quota_go_in_and_one_more_is_turned_away(clock):
    quotas = DeviceQuotas(0, 1000, clock=clock)
    assert quotas.admit("askrigg", 600) is None
    assert quotas.admit("askrigg", 401) == QUOTA_BYTES
    assert quotas.admit("askrigg", 400) is None  # the refused one took nothing
    assert quotas.admit("askrigg", 1) == QUOTA_BYTES


def test_zero_means_no_limit(clock):
    quotas = DeviceQuotas(0, 0, clock=clock)
    assert all(quotas.admit("askrigg", 10**9) is None for _ in range(10_000))
    assert quotas.take_refusals() == {}


def test_refusals_are_counted_per_device_and_quota_then_reported_once(clock):
    quotas = DeviceQuotas(1, 100, clock=clock)
    quotas.admit("askrigg", 10)
    for _ in range(3):
        quotas.admit("askrigg", 10)
    quotas.admit("bainbridge", 101)
    taken = quotas.take_refusals()
    assert {key: refused.count for key, refused in taken.items()} == {
        ("askrigg", QUOTA_MESSAGES): 3,
        ("bainbridge", QUOTA_BYTES): 1,
    }
    assert taken[("askrigg", QUOTA_MESSAGES)].detail == "more than 1 messages a minute"
    assert quotas.take_refusals() == {}
    quotas.give_back(taken)
    quotas.admit("askrigg", 10)
    assert quotas.take_refusals()[("askrigg", QUOTA_MESSAGES)].count == 4


def test_memory_stays_bounded_however_many_devices_send(clock):
    quotas = DeviceQuotas(5, 0, clock=clock, max_devices=100)
    for n in range(100):
        quotas.admit(f"hall-{n}", 1)
    assert quotas.tracked() == 100
    clock.now += 61  # every bucket has refilled: forgetting them changes nothing
    quotas.admit("hall-new", 1)
    assert quotas.tracked() == 1
    for n in range(250):
        quotas.admit(f"busy-{n}", 1)
    assert quotas.tracked() <= 100


def test_a_flood_of_one_failure_logs_one_line_a_minute_and_counts_the_rest(caplog, clock):
    limiter = LogLimiter(logging.getLogger("hub.ingest"), 60.0, clock=clock)
    with caplog.at_level(logging.WARNING, logger="hub.ingest"):
        for _ in range(1000):
            limiter.log(("askrigg", "malformed"), logging.WARNING, "refused %s", "askrigg")
        limiter.log(("bainbridge", "malformed"), logging.WARNING, "refused %s", "bainbridge")
        clock.now += 59.9
        assert not limiter.log(("askrigg", "malformed"), logging.WARNING, "refused %s", "askrigg")
        clock.now += 0.1
        assert limiter.log(("askrigg", "malformed"), logging.WARNING, "refused %s", "askrigg")
    assert [r.getMessage() for r in caplog.records] == [
        "refused askrigg",
        "refused bainbridge",
        "refused askrigg (and 1000 more since the last line)",
    ]


def test_readings_up_to_a_minutes_worth_are_stored_and_the_next_batch_is_told_to_wait(clock):
    quotas = DeviceQuotas(0, 0, 6000, clock=clock)
    assert quotas.take_readings("askrigg", 5000) is None
    assert quotas.take_readings("askrigg", 1000) is None
    assert quotas.take_readings("askrigg", 1) == 1  # 1 reading at 100 a second: 1 s
    assert quotas.take_readings("askrigg", 1000) == 10
    clock.now += 10
    assert quotas.take_readings("askrigg", 1000) is None
    assert quotas.take_readings("bainbridge", 6000) is None
    taken = quotas.take_refusals()
    assert taken[("askrigg", QUOTA_READINGS)].count == 2
    assert taken[("askrigg", QUOTA_READINGS)].detail == "more than 6,000 readings a minute"


def test_a_batch_larger_than_a_minutes_worth_goes_in_once_the_bucket_is_full(clock):
    quotas = DeviceQuotas(0, 0, 600, clock=clock)
    assert quotas.take_readings("askrigg", 10_000) is None  # full: in, leaving a debt
    assert quotas.take_readings("askrigg", 10) == 941  # (9,400 owed + 10) at 10 a second
    clock.now += 60 * 9400 / 600 + 60
    assert quotas.take_readings("askrigg", 10_000) is None
    assert DeviceQuotas(0, 0, 0, clock=clock).take_readings("askrigg", 10**9) is None
