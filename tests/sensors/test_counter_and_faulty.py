import threading
import time

import pytest

from sensors.counter import CounterDriver, read_tally
from sensors.driver import DriverConfigError, DriverError
from sensors.faulty import FaultyDriver


def test_counter_counts_from_one():
    with CounterDriver() as counter:
        assert [counter.read()[0].value for _ in range(3)] == [1.0, 2.0, 3.0]


def test_counter_resumes_after_its_tally_and_ignores_a_torn_line(tmp_path):
    tally = tmp_path / "tally.txt"
    with CounterDriver(tally_path=tally) as counter:
        for _ in range(3):
            counter.read()
    with tally.open("a") as f:
        f.write("4 12")  # torn by a crash: never handed over
    assert [value for value, _ in read_tally(tally)] == [1, 2, 3]
    with CounterDriver(tally_path=tally) as counter:
        assert counter.read()[0].value == 4.0


def test_interval_must_be_positive():
    with pytest.raises(DriverConfigError) as caught:
        CounterDriver(interval_s=0)
    assert str(caught.value) == (
        "counter driver: interval_s must be a positive number of seconds, got 0"
    )


def test_faulty_raises_every_time():
    with FaultyDriver(mode="raise") as faulty, pytest.raises(DriverError) as caught:
        faulty.read()
    assert str(caught.value) == "faulty driver: simulated failure of read 1"


def test_faulty_hang_is_released_by_close():
    faulty = FaultyDriver(mode="hang", hang_s=30)
    errors = []

    def read():
        try:
            faulty.read()
        except DriverError as error:
            errors.append(error)

    thread = threading.Thread(target=read)
    started = time.monotonic()
    thread.start()
    time.sleep(0.1)
    faulty.close()
    thread.join(5)
    assert time.monotonic() - started < 5
    assert [str(e) for e in errors] == ["faulty driver: released from a hang"]


def test_faulty_flaky_alternates():
    with FaultyDriver(mode="flaky") as faulty:
        with pytest.raises(DriverError):
            faulty.read()
        assert len(faulty.read()) == 1
