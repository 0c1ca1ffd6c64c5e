"""A crash or a kill loses no counted person, and counts none twice (issue #18).

The agent keeps readings in memory for up to HALLSENSE_COMMIT_INTERVAL_S; the GPIO
driver journals every count and every hand-over beside the store, and the next agent
puts back what the store lacks (sensors/count_journal.py, edge/count_recovery.py). Here
the driver runs in this process on gpiozero's mock pins with the real store and agent;
a "crash" abandons the agent without its flush or shutdown, as SIGKILL does (the
journal's writes were already in the kernel when each count returned).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge.agent import Agent
from edge.clock import ClockSample
from edge.count_recovery import journal_path
from edge.settings import EdgeSettings
from edge.store import EdgeStore
from sensors.count_journal import CountJournal
from sensors.gpio import GpioDriver
from tests.sensors.conftest import SteppedMockFactory

OUTER, INNER, PIR = 5, 6, 17


def sample() -> ClockSample:
    return ClockSample(datetime.now(UTC), time.monotonic_ns(), True, "boot-a")


def walk_in(factory: SteppedMockFactory, people: int) -> None:
    """``people`` pass the beam pair inwards: outer breaks, then inner, then both clear."""
    outer, inner = factory.pin(OUTER), factory.pin(INNER)
    for _ in range(people):
        outer.drive_low()
        factory.advance(0.2)
        inner.drive_low()
        factory.advance(0.2)
        outer.drive_high()
        inner.drive_high()
        factory.advance(2.5)


def start(data: Path) -> tuple[EdgeStore, GpioDriver, Agent, SteppedMockFactory]:
    """A node as `edge run` builds it, with a commit interval no test reaches."""
    factory = SteppedMockFactory()
    store = EdgeStore(data / "hallsense.db")
    driver = GpioDriver(beam_pair_pins=(OUTER, INNER), pin_factory=factory, interval_s=3600)
    settings = EdgeSettings(data_dir=data, commit_interval_s=3600, commit_max_readings=100_000)
    return store, driver, Agent(settings, store, [driver], sample), factory


def crash(store: EdgeStore, driver: GpioDriver, factory: SteppedMockFactory) -> None:
    """Abandon the agent: no flush, no shutdown; the pins and files are let go."""
    driver.close()
    store.close()
    factory.reset()


def stored(data: Path) -> dict[str, float]:
    totals: dict[str, float] = {}
    start_, end = datetime(2000, 1, 1, tzinfo=UTC), datetime(3000, 1, 1, tzinfo=UTC)
    with EdgeStore(data / "hallsense.db", readonly=True) as store:
        for row in store.readings_between(start_, end):
            totals[row.metric] = totals.get(row.metric, 0) + row.value
    return totals


def test_people_counted_but_not_committed_are_stored_once_after_a_crash(tmp_path: Path) -> None:
    store, driver, agent, factory = start(tmp_path)
    walk_in(factory, 3)
    agent.poll_all()
    assert agent.flush() == 3  # entries, exits and footfall: 3 people committed
    walk_in(factory, 4)
    agent.poll_all()  # handed over, waiting in the agent's memory for the commit
    walk_in(factory, 5)  # counted, not yet read
    crash(store, driver, factory)

    store, driver, agent, factory = start(tmp_path)  # the restart
    agent.poll_all()
    agent.flush()
    crash(store, driver, factory)
    totals = stored(tmp_path)
    assert totals["entries"] == 12
    assert totals["footfall"] == 12
    assert totals["exits"] == 0


def test_a_crash_right_after_the_commit_counts_no_one_twice(tmp_path: Path) -> None:
    store, driver, agent, factory = start(tmp_path)
    walk_in(factory, 6)
    agent.poll_all()
    agent.flush()  # committed; the journal still lists the hand-over
    crash(store, driver, factory)
    for _ in range(2):  # restarting again and again finds it in the store each time
        store, driver, agent, factory = start(tmp_path)
        agent.poll_all()
        agent.flush()
        crash(store, driver, factory)
    assert stored(tmp_path)["entries"] == 6


def test_a_crash_during_a_burst_loses_no_one_across_many_kills(tmp_path: Path) -> None:
    people = 0
    for round_ in range(5):
        store, driver, agent, factory = start(tmp_path)
        for step in range(round_ + 2):
            walk_in(factory, step + 1)
            people += step + 1
            agent.poll_all()
            if step % 2:
                agent.flush()
        walk_in(factory, 2)  # the burst the kill cuts into
        people += 2
        crash(store, driver, factory)
    store, driver, agent, factory = start(tmp_path)
    agent.poll_all()
    agent.flush()
    crash(store, driver, factory)
    assert stored(tmp_path)["entries"] == people


def test_pir_activations_survive_a_crash(tmp_path: Path) -> None:
    factory = SteppedMockFactory()
    store = EdgeStore(tmp_path / "hallsense.db")
    driver = GpioDriver(pir_pin=PIR, pin_factory=factory, interval_s=3600)
    settings = EdgeSettings(data_dir=tmp_path, commit_interval_s=3600)
    Agent(settings, store, [driver], sample)
    journal = journal_path(store, "gpio")
    driver._on_motion()  # gpiozero's sampling thread calls this on each activation
    driver._on_motion()
    crash(store, driver, factory)
    reopened = CountJournal(journal)
    open_counts, _ = reopened.replay()
    reopened.close()
    assert open_counts == {"motion": 2}
    factory = SteppedMockFactory()
    store = EdgeStore(tmp_path / "hallsense.db")
    driver = GpioDriver(pir_pin=PIR, pin_factory=factory, interval_s=3600)
    agent = Agent(settings, store, [driver], sample)
    agent.poll_all()
    agent.flush()
    crash(store, driver, factory)
    assert stored(tmp_path)["motion_events"] == 2


BURST = """
import sys, time
from pathlib import Path
from tests.sensors.test_gpio_crash import start, walk_in
data = Path(sys.argv[1])
store, driver, agent, factory = start(data)
people = 0
while True:
    walk_in(factory, 1)
    people += 1
    print(people, flush=True)
    if people % 7 == 0:
        agent.poll_all()
    if people % 20 == 0:
        agent.flush()
"""


@pytest.mark.slow
def test_sigkill_in_the_middle_of_a_burst_loses_no_one_and_counts_no_one_twice(
    tmp_path: Path,
) -> None:
    # A real process counting people as fast as it can, with the real store and agent,
    # committing now and then; SIGKILL lands wherever it lands.
    proc = subprocess.Popen(
        [sys.executable, "-c", BURST, str(tmp_path)],
        stdout=subprocess.PIPE,
        env={**os.environ, "GPIOZERO_PIN_FACTORY": "mock"},
    )
    assert proc.stdout is not None
    counted = 0
    while counted < 150:
        line = proc.stdout.readline()
        assert line, "the counting process ended early"
        counted = int(line)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    counted = max([counted, *(int(line) for line in proc.stdout.read().split())])
    proc.stdout.close()
    store, driver, agent, factory = start(tmp_path)
    agent.poll_all()
    agent.flush()
    crash(store, driver, factory)
    # The kill may land after a person was counted and before the number was printed.
    assert stored(tmp_path)["entries"] in (counted, counted + 1)
