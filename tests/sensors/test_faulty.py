import threading
import time
from datetime import UTC, datetime

import pytest

from sensors.driver import DriverConfigError, DriverError
from sensors.faulty import FaultyDriver

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def test_raise_mode_fails_every_read_transiently():
    with FaultyDriver(mode="raise") as faulty:
        for read in (1, 2, 3):
            with pytest.raises(DriverError) as caught:
                faulty.read()
            assert str(caught.value) == f"faulty driver: simulated failure of read {read}"
            assert caught.value.transient is True


def test_flaky_mode_alternates_a_failure_and_a_good_reading():
    with FaultyDriver(mode="flaky", clock=lambda: NOW) as faulty:
        outcomes = []
        for _ in range(6):
            try:
                [reading] = faulty.read()
            except DriverError as error:
                outcomes.append(str(error))
            else:
                outcomes.append((reading.sensor_id, reading.metric, reading.value, reading.unit))
                assert reading.timestamp == NOW
    assert outcomes == [
        "faulty driver: simulated failure of read 1",
        ("faulty", "test_counter", 1.0, "count"),
        "faulty driver: simulated failure of read 3",
        ("faulty", "test_counter", 2.0, "count"),
        "faulty driver: simulated failure of read 5",
        ("faulty", "test_counter", 3.0, "count"),
    ]


def test_hang_mode_blocks_until_close_releases_it():
    faulty = FaultyDriver(mode="hang", hang_s=30)
    errors = []

    def read():
        with pytest.raises(DriverError) as caught:
            faulty.read()
        errors.append(caught.value)

    reading = threading.Thread(target=read)
    started = time.monotonic()
    reading.start()
    reading.join(0.05)
    assert reading.is_alive()  # still hanging
    faulty.close()
    reading.join(5)
    assert not reading.is_alive()
    assert time.monotonic() - started < 5
    assert [str(e) for e in errors] == ["faulty driver: read 1 released from a hang by close()"]


def test_hang_mode_gives_up_after_hang_s():
    with FaultyDriver(mode="hang", hang_s=0.01) as faulty, pytest.raises(DriverError) as caught:
        faulty.read()
    assert str(caught.value) == "faulty driver: read 1 hung for 0.01 s"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"mode": "explode"},
            "faulty driver: mode must be one of raise, hang, flaky, got 'explode'",
        ),
        ({"hang_s": -1}, "faulty driver: hang_s must be a number of seconds, 0 or more, got -1"),
        (
            {"hang_s": float("nan")},
            "faulty driver: hang_s must be a number of seconds, 0 or more, got nan",
        ),
        (
            {"interval_s": -2},
            "faulty driver: interval_s must be a positive number of seconds, got -2",
        ),
    ],
)
def test_bad_settings_are_named(kwargs, message):
    with pytest.raises(DriverConfigError) as caught:
        FaultyDriver(**kwargs)
    assert str(caught.value) == message


def test_it_describes_its_make_believe_sensor():
    [info] = FaultyDriver(mode="flaky").sensors()
    assert (info.sensor_id, info.metric, info.unit, info.part) == (
        "faulty",
        "test_counter",
        "count",
        "fault injection",
    )
