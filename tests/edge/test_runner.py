"""DriverRunner: schedule, validation, back-off and hang detection, with time moved by hand."""

import logging

from edge.runner import DriverRunner
from presentation.reading_flags import Quality
from sensors.counter import CounterDriver
from sensors.driver import Driver
from sensors.faulty import FaultyDriver
from sensors.reading import Reading, utc_now


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_reads_on_its_interval_only():
    clock = FakeTime()
    runner = DriverRunner(
        CounterDriver(interval_s=5), timeout_s=10, max_backoff_s=60, monotonic=clock
    )
    assert [r.value for r in runner.poll(clock.now)] == [1]
    clock.now += 4.9
    assert runner.poll(clock.now) == []
    clock.now += 0.1
    assert [r.value for r in runner.poll(clock.now)] == [2]
    assert runner.health().state == "ok"


def test_failures_back_off_exponentially_up_to_the_cap(caplog):
    clock = FakeTime()
    runner = DriverRunner(
        FaultyDriver(interval_s=1, mode="raise"), timeout_s=10, max_backoff_s=8, monotonic=clock
    )
    waits = []
    with caplog.at_level(logging.WARNING):
        for _ in range(6):
            assert runner.poll(clock.now) == []
            waits.append(runner.seconds_until_due(clock.now))
            clock.now += waits[-1]
    assert waits == [1, 2, 4, 8, 8, 8]
    health = runner.health()
    assert health.state == "failing"
    assert health.failures == 6
    assert [r.message for r in caplog.records] == [
        "driver faulty failing (transient): faulty driver: simulated failure of read 1; "
        "retrying with back-off"
    ]


def test_recovery_resets_the_back_off_and_is_logged(caplog):
    clock = FakeTime()
    runner = DriverRunner(
        FaultyDriver(interval_s=1, mode="flaky"), timeout_s=10, max_backoff_s=60, monotonic=clock
    )
    results = []
    with caplog.at_level(logging.WARNING):
        for _ in range(4):
            results.append(len(runner.poll(clock.now)))
            clock.now += runner.seconds_until_due(clock.now)
    assert sorted(results) == [0, 0, 1, 1]
    assert runner.health().failures in (0, 1)
    assert any("driver faulty recovered" in r.message for r in caplog.records)


def test_values_are_validated_and_flagged_not_dropped():
    class Broken(Driver):
        name = "broken"

        def read(self):
            now = utc_now()
            return [
                Reading("t", "temperature", float("nan"), "°C", now),
                Reading("t", "temperature", 900.0, "°C", now),
                Reading("h", "relative_humidity", 40.0, "%", now),
            ]

    clock = FakeTime()
    runner = DriverRunner(Broken(interval_s=1), timeout_s=1, max_backoff_s=1, monotonic=clock)
    readings = runner.poll(clock.now)
    assert [r.quality for r in readings] == [
        Quality.NOT_A_NUMBER,
        Quality.OUT_OF_RANGE,
        Quality.GOOD,
    ]


def test_a_driver_returning_garbage_is_a_failure_not_a_crash():
    class Garbage(Driver):
        name = "garbage"

        def read(self):
            return [("t", 1.0)]

    clock = FakeTime()
    runner = DriverRunner(Garbage(interval_s=1), timeout_s=1, max_backoff_s=1, monotonic=clock)
    assert runner.poll(clock.now) == []
    assert runner.health().last_error == "garbage driver returned list, not a list of Readings"


def test_a_read_longer_than_the_timeout_is_reported_hung():
    clock = FakeTime()
    runner = DriverRunner(
        CounterDriver(interval_s=1), timeout_s=5, max_backoff_s=1, monotonic=clock
    )
    runner.read_started = clock.now  # as if a read had begun and not returned
    assert not runner.check_hung(clock.now + 5)
    assert runner.check_hung(clock.now + 5.1)
    assert runner.health().state == "hung"
