import re
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest

from sensors.counter import CounterDriver, read_tally
from sensors.driver import DriverConfigError

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def exactly(message):
    return f"^{re.escape(message)}\\Z"


def values(driver, reads):
    return [driver.read()[0].value for _ in range(reads)]


def test_each_read_is_one_reading_counting_from_one():
    with CounterDriver(clock=lambda: NOW) as counter:
        first = counter.read()
        assert len(first) == 1
        assert (first[0].sensor_id, first[0].metric, first[0].value, first[0].unit) == (
            "counter",
            "test_counter",
            1.0,
            "count",
        )
        assert first[0].timestamp == NOW
        assert values(counter, 3) == [2.0, 3.0, 4.0]


def test_start_and_sensor_id_are_settings():
    with CounterDriver(start=10, sensor_id="drill") as counter:
        reading = counter.read()[0]
    assert (reading.sensor_id, reading.value) == ("drill", 10.0)


def test_each_value_is_in_the_tally_before_the_reading_is_returned(tmp_path):
    tally = tmp_path / "tally.txt"
    with CounterDriver(tally_path=tally) as counter:
        for expected in (1, 2, 3):
            before = time.time_ns()
            counter.read()
            # Read back through a different file object: the line is in the kernel now.
            value, produced_ns = read_tally(tally)[-1]
            assert value == expected
            assert before <= produced_ns <= time.time_ns()


def test_a_restarted_counter_carries_on_after_its_tally(tmp_path):
    tally = tmp_path / "tally.txt"
    with CounterDriver(tally_path=tally) as counter:
        assert values(counter, 3) == [1.0, 2.0, 3.0]
    with CounterDriver(tally_path=tally, start=1) as counter:
        assert values(counter, 2) == [4.0, 5.0]
    assert [value for value, _ in read_tally(tally)] == [1, 2, 3, 4, 5]


def test_a_line_torn_by_a_crash_is_ignored_and_cut_off(tmp_path):
    tally = tmp_path / "tally.txt"
    tally.write_bytes(b"1 1700000000000000000\n2 1700000001000000000\n3 17000")
    assert read_tally(tally) == [(1, 1700000000000000000), (2, 1700000001000000000)]
    with CounterDriver(tally_path=tally) as counter:
        assert values(counter, 1) == [3.0]  # 3 was never handed over: it is produced now
    assert [value for value, _ in read_tally(tally)] == [1, 2, 3]
    assert tally.read_bytes().startswith(b"1 1700000000000000000\n2 1700000001000000000\n3 ")


def test_a_missing_tally_is_an_empty_one_and_is_created(tmp_path):
    tally = tmp_path / "drill" / "tally.txt"
    assert read_tally(tally) == []
    with CounterDriver(tally_path=tally, start=7) as counter:
        assert values(counter, 1) == [7.0]
    assert [value for value, _ in read_tally(tally)] == [7]


def test_a_damaged_tally_line_is_reported_not_skipped(tmp_path):
    tally = tmp_path / "tally.txt"
    tally.write_bytes(b"1 1700000000000000000\nhello\n")
    with pytest.raises(
        ValueError, match=exactly(f"{tally} line 2: expected '<value> <time_ns>', got 'hello'")
    ):
        read_tally(tally)
    with pytest.raises(DriverConfigError) as refused:
        CounterDriver(tally_path=tally)
    assert str(refused.value) == (
        f"counter driver: cannot resume tally_path: {tally} line 2: "
        "expected '<value> <time_ns>', got 'hello'"
    )


def test_a_tally_that_cannot_be_opened_is_a_config_error(tmp_path):
    with pytest.raises(DriverConfigError) as caught:
        CounterDriver(tally_path=tmp_path)  # a directory
    assert str(caught.value) == (
        f"counter driver: cannot open tally_path {str(tmp_path)!r}: Is a directory"
    )


FULL_DISK = """
import resource, signal, sys
from pathlib import Path
from sensors.counter import CounterDriver
from sensors.driver import DriverError

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # report EFBIG instead of dying
tally, room = Path(sys.argv[1]), int(sys.argv[2])
counter = CounterDriver(tally_path=tally)
counter.read()
size = tally.stat().st_size
resource.setrlimit(resource.RLIMIT_FSIZE, (size + room, resource.RLIM_INFINITY))
try:
    counter.read()
except DriverError as error:
    print(error)
print(counter.next_value, tally.stat().st_size == size)
"""


@pytest.mark.parametrize(
    ("room", "reason"),
    [(0, "File too large"), (5, "short write")],  # no room at all; room for half a line
)
def test_a_failed_tally_write_uses_up_no_value_and_leaves_no_half_line(tmp_path, room, reason):
    # A real write failure: the file size limit (RLIMIT_FSIZE) of a child process.
    tally = tmp_path / "tally.txt"
    done = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(tally), str(room)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert done.stdout.splitlines() == [
        f"counter driver: cannot append to tally_path {str(tally)!r}: {reason}",
        "2 True",
    ]
    assert [value for value, _ in read_tally(tally)] == [1]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"interval_s": 0},
            "counter driver: interval_s must be a positive number of seconds, got 0",
        ),
        ({"start": -1}, "counter driver: start must be a whole number, 0 or more, got -1"),
        ({"start": 1.5}, "counter driver: start must be a whole number, 0 or more, got 1.5"),
        ({"sensor_id": ""}, "counter driver: sensor_id must not be empty, got ''"),
    ],
)
def test_bad_settings_are_named(kwargs, message):
    with pytest.raises(DriverConfigError) as caught:
        CounterDriver(**kwargs)
    assert str(caught.value) == message


def test_close_is_idempotent_and_describes_one_sensor(tmp_path):
    counter = CounterDriver(tally_path=tmp_path / "tally.txt")
    [info] = counter.sensors()
    assert (info.sensor_id, info.metric, info.unit, info.part) == (
        "counter",
        "test_counter",
        "count",
        "counter",
    )
    counter.close()
    counter.close()
    assert counter.closed
