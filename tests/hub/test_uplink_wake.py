"""Ack-driven drain (issue #18): each ack wakes the agent's loop to send the next batch.

Before, the agent called the uplink once per pass (up to a second apart) and acks did not
wake it: a deployed node drained about 4,000 readings/s. bench/drain.py measures the rate.
"""

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from edge.agent import Agent
from edge.clock import ClockSample
from edge.settings import EdgeSettings
from edge.store import EdgeStore
from hub_sync.mqtt import BrokerSettings
from hub_sync.uplink import DRAIN_BATCH_FACTOR, Uplink, UplinkSettings, client_factory
from sensors.reading import Reading
from tests.hub.conftest import running_hub
from tests.hub_sync.conftest import PASSWORDS

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def synced() -> ClockSample:
    return ClockSample(datetime.now(UTC), time.monotonic_ns(), True, "boot")


def backlog(n: int) -> list[Reading]:
    return [
        Reading("counter", "test_counter", float(i), "count", T0 + timedelta(seconds=i))
        for i in range(1, n + 1)
    ]


@pytest.mark.slow
def test_an_ack_wakes_the_agent_and_the_backlog_drains_in_larger_batches(tmp_path, broker):
    store = EdgeStore(tmp_path / "node" / "hallsense.db")
    store.append(backlog(3000), synced())
    uplink = Uplink(
        store,
        client_factory(BrokerSettings("127.0.0.1", broker.port, "askrigg", PASSWORDS["askrigg"])),
        UplinkSettings(device_id="askrigg", batch_readings=100, window=1),
    )
    wakes = []
    settings = EdgeSettings(data_dir=tmp_path / "node", commit_interval_s=5)
    agent = Agent(settings, store, [], synced, companions=[uplink])
    uplink.attach_wake(lambda: (wakes.append(time.monotonic()), agent.wake()))
    with running_hub(tmp_path, broker):
        uplink.start()
        assert uplink.client.wait_connected(10)
        thread = threading.Thread(target=agent.run, daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 20
            while store.stats().backlog and time.monotonic() < deadline:
                time.sleep(0.05)
            assert store.stats().backlog == 0
        finally:
            agent.stop_event.set()
            agent.wake()
            thread.join(10)
    # window=1: one batch at a time, each sent on the previous one's ack. Without the
    # wake, 3000 readings at 100 then 500 a batch would take a pass (a second) each.
    assert uplink.sent_batches == 1 + (3000 - 100) // (100 * DRAIN_BATCH_FACTOR) + 1
    assert len(wakes) >= uplink.sent_batches  # every ack woke the loop
    store.close()


def test_the_agent_hands_its_wake_to_companions_that_take_it(tmp_path):
    woken = []

    class Companion:
        def attach_wake(self, wake):
            woken.append(wake)

        def start(self): ...

        def sync_once(self):
            return 0

        def close(self): ...

    store = EdgeStore(tmp_path / "hallsense.db")
    agent = Agent(EdgeSettings(data_dir=tmp_path), store, [], synced, companions=[Companion()])
    assert woken == [agent.wake]
    store.close()
