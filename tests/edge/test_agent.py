"""The agent's steps: batching commits, keeping readings through a full disk, health."""

from datetime import UTC, datetime, timedelta

from edge.agent import Agent
from edge.clock import ClockSample
from edge.settings import EdgeSettings
from edge.store import EdgeStore
from presentation.reading_flags import Quality
from sensors.counter import CounterDriver
from sensors.faulty import FaultyDriver
from sensors.reading import Reading


class FakeTime:
    """A monotonic clock the test moves, and a wall clock that follows it unless stepped."""

    def __init__(self) -> None:
        self.now = 50.0
        self.wall_offset = datetime.now(UTC) - timedelta(seconds=self.now)

    def __call__(self) -> float:
        return self.now

    def wall(self) -> datetime:
        return self.wall_offset + timedelta(seconds=self.now)


def synced_clock() -> ClockSample:
    return ClockSample(datetime.now(UTC), 10**12, True, "boot-a")


def make_agent(tmp_path, drivers, **overrides):
    settings = EdgeSettings(data_dir=tmp_path, **overrides)
    store = EdgeStore(settings.db_path)
    clock = FakeTime()
    agent = Agent(settings, store, drivers, synced_clock, monotonic=clock, wall=clock.wall)
    return agent, store, clock


def counter_values(store):
    start, end = datetime(1971, 1, 1, tzinfo=UTC), datetime(3000, 1, 1, tzinfo=UTC)
    return [int(r.value) for r in store.readings_between(start, end) if r.metric == "test_counter"]


def test_readings_wait_for_the_commit_interval_then_go_in_one_batch(tmp_path):
    agent, store, clock = make_agent(
        tmp_path, [CounterDriver(interval_s=0.1)], commit_interval_s=2.0
    )
    try:
        for _ in range(10):
            agent.poll_all()
            agent.tick()
            clock.now += 0.1
        assert counter_values(store) == []
        assert agent.buffered == 10
        clock.now += 1.0
        agent.tick()
        assert counter_values(store) == list(range(1, 11))
        assert agent.buffered == 0
    finally:
        store.close()


def test_enough_waiting_readings_commit_early(tmp_path):
    agent, store, clock = make_agent(
        tmp_path, [CounterDriver(interval_s=0.01)], commit_interval_s=5.0, commit_max_readings=5
    )
    try:
        for _ in range(5):
            agent.poll_all()
            clock.now += 0.01
        agent.tick()
        assert counter_values(store) == [1, 2, 3, 4, 5]
    finally:
        store.close()


def test_a_failing_driver_is_recorded_in_the_store_once_per_change(tmp_path):
    agent, store, clock = make_agent(
        tmp_path, [FaultyDriver(interval_s=1, mode="raise"), CounterDriver(interval_s=1)]
    )
    try:
        for _ in range(3):
            agent.poll_all()
            agent.tick()
            clock.now += 10
        health = {record.driver: record for record in store.health()}
        assert health["faulty"].state == "failing"
        assert health["faulty"].failures >= 1
        assert health["counter"].state == "ok"
        assert counter_values(store) == [1, 2, 3]
    finally:
        store.close()


def test_shutdown_commits_what_is_waiting_and_marks_drivers_stopped(tmp_path):
    agent, store, _ = make_agent(tmp_path, [CounterDriver(interval_s=1)], commit_interval_s=5.0)
    try:
        agent.poll_all()
        assert counter_values(store) == []
        agent.shutdown()
        assert counter_values(store) == [1]
        assert {r.driver: r.state for r in store.health()} == {"counter": "stopped"}
    finally:
        store.close()


def test_readings_from_before_and_after_a_clock_step_commit_separately(tmp_path):
    settings = EdgeSettings(data_dir=tmp_path)
    store = EdgeStore(settings.db_path)
    try:
        agent = Agent(settings, store, [CounterDriver(interval_s=1)], synced_clock)
        unsynced = ClockSample(datetime(2020, 1, 1, tzinfo=UTC), 5 * 10**9, False, "boot-a")
        synced = ClockSample(datetime.now(UTC), 6 * 10**9, True, "boot-a")
        driver = agent.runners[0].driver
        agent.accept(unsynced, driver.read())
        agent.accept(synced, driver.read())
        assert agent.flush() == 2
        assert store.stats().held_back == 1
    finally:
        store.close()


def test_each_reading_is_moved_by_the_hub_time_correction_that_held_when_it_was_read(tmp_path):
    settings = EdgeSettings(data_dir=tmp_path)
    store = EdgeStore(settings.db_path)
    try:
        agent = Agent(settings, store, [], synced_clock)
        read_at = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
        for n, correction_s in enumerate((60, 120)):  # a new sample of the hub's time
            at = read_at + timedelta(seconds=n)
            sample = ClockSample(at, (5 + n) * 10**9, True, "boot-a", correction_s * 10**6, 0.5)
            agent.accept(sample, [Reading("t1", "temperature", 20.0 + n, "°C", at)])
        assert agent.flush() == 2
        stored = store.readings_between(read_at, read_at + timedelta(hours=1))
        assert [r.timestamp - read_at for r in stored] == [
            timedelta(seconds=60),
            timedelta(seconds=1 + 120),
        ]
    finally:
        store.close()


def test_held_readings_are_corrected_once_the_clock_synchronises(tmp_path):
    settings = EdgeSettings(data_dir=tmp_path)
    store = EdgeStore(settings.db_path)
    samples = [ClockSample(datetime(2025, 1, 1, tzinfo=UTC), 5 * 10**9, False, "boot-a")]
    try:
        agent = Agent(settings, store, [CounterDriver(interval_s=1)], lambda: samples[-1])
        agent.poll_all()
        agent.flush()
        agent.correct_clock()
        assert store.stats().held_back == 1
        samples.append(ClockSample(datetime.now(UTC), 6 * 10**9, True, "boot-a"))
        agent.correct_clock()
        assert store.stats().held_back == 0
        ((*_, quality, _censor),) = store.outbox_rows(10)
        assert quality == Quality.CLOCK_CORRECTED
    finally:
        store.close()


def test_intervals_change_all_or_nothing(tmp_path):
    agent, store, _ = make_agent(tmp_path, [CounterDriver(interval_s=1)])
    try:
        assert agent.apply_intervals({"counter": 5.0}) == ""
        assert agent.runners[0].driver.interval_s == 5.0
        assert agent.apply_intervals({"counter": 9.0, "teleporter": 1.0}) == (
            "no driver named teleporter on this node"
        )
        assert agent.runners[0].driver.interval_s == 5.0
    finally:
        store.close()


def test_health_times_move_with_a_wall_clock_step_so_ages_stay_true(tmp_path):
    """A clock a year slow, then put right: "ok since" stays minutes, not 365 days."""
    agent, store, clock = make_agent(tmp_path, [CounterDriver(interval_s=1)])
    try:
        clock.wall_offset -= timedelta(days=365)  # the Pi booted with a clock a year slow
        agent.tick()
        agent.poll_all()
        agent.tick()
        clock.now += 120
        clock.wall_offset += timedelta(days=365)  # NTP puts it right
        agent.tick()
        (health,) = [h for h in store.health() if h.driver == "counter"]
        assert health.state == "ok"
        assert timedelta(0) <= clock.wall() - health.since <= timedelta(seconds=121)
    finally:
        store.close()


def test_a_step_under_a_minute_leaves_health_times_alone(tmp_path):
    agent, store, clock = make_agent(tmp_path, [CounterDriver(interval_s=1)])
    try:
        agent.poll_all()
        agent.tick()
        (before,) = [h.since for h in store.health() if h.driver == "counter"]
        clock.wall_offset += timedelta(seconds=59)
        clock.now += 1
        agent.tick()
        (after,) = [h.since for h in store.health() if h.driver == "counter"]
        assert after == before
        clock.wall_offset += timedelta(seconds=60)
        clock.now += 1
        agent.tick()
        (moved,) = [h.since for h in store.health() if h.driver == "counter"]
        assert moved - before == timedelta(seconds=60)
    finally:
        store.close()
