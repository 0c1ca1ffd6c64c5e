"""Readings a node produces reach the hub exactly once through broker and hub failures."""

import re
import time

import pytest

from hub.store_factory import open_hub_store
from provisioning.broker_config import HUB_ACCOUNT
from sensors.counter import read_tally
from tests.support.broker import Broker
from tests.support.edge_process import EdgeProcess, wait_for, write_env
from tests.support.hub_process import HubProcess

PASSWORDS = {HUB_ACCOUNT: "hub-pw-for-tests", "askrigg": "askrigg-pw-for-tests"}


def start_stack(
    tmp_path,
    *,
    broker_options=None,
    hub_options=None,
    edge_options=None,
    node_host=None,
    hub_store=None,
):
    """A real broker, `hallsense hub run` and `hallsense edge run` with the counter driver.

    With ``node_host`` (tests.support.netns) the node runs in its own network namespace
    and reaches the broker over that host's lossy link. ``hub_store`` is the hub store's
    location (a SQLite file in ``tmp_path`` unless given: a PostgreSQL URL, say).
    """
    hub_store = str(hub_store or tmp_path / "hub.db")
    address = node_host.hub_address if node_host else "127.0.0.1"
    broker = Broker(
        tmp_path / "broker", PASSWORDS, bind_address=address, **(broker_options or {})
    ).start()
    hub_env = write_env(
        tmp_path / "hub.env",
        hub_store=hub_store,
        broker_host=address,
        broker_port=broker.port,
        broker_password=PASSWORDS[HUB_ACCOUNT],
        **{"session_expiry_s": 5, **(hub_options or {})},
    )
    store = open_hub_store(hub_store)
    store.add_device("askrigg", "Askrigg Village Hall")
    store.close()
    tally = tmp_path / "tally.txt"
    edge_env = counter_node_env(tmp_path, address, broker.port, **(edge_options or {}))
    hub = HubProcess(hub_env, tmp_path / "hub.log").start()
    edge = EdgeProcess(edge_env, tmp_path / "edge.log").start(
        prefix=tuple(node_host.command()) if node_host else ()
    )
    return broker, hub, edge, tally, hub_store, hub_env


def counter_node_env(tmp_path, broker_host, broker_port, **settings):
    """The settings of a node whose counter driver counts fast into ``tmp_path/tally.txt``
    and sends small batches, resending after 3 s: a test's count of what was produced."""
    return write_env(
        tmp_path / "edge.env",
        data_dir=tmp_path / "node",
        drivers="counter",
        counter_interval_s=0.01,
        counter_tally_path=tmp_path / "tally.txt",
        commit_interval_s=0.2,
        clock_check="trust",
        device_id="askrigg",
        broker_host=broker_host,
        broker_port=broker_port,
        broker_password=PASSWORDS["askrigg"],
        **{
            "uplink_batch_readings": 200,
            "uplink_resend_s": 3,
            "uplink_start_jitter_s": 0,
            **settings,
        },
    )


def stop_stack(parts):
    broker, hub, edge = parts[0], parts[1], parts[2]
    edge.stop()
    hub.stop()
    broker.stop()


@pytest.fixture
def stack(tmp_path):
    parts = start_stack(tmp_path)
    yield parts
    stop_stack(parts)


def stop_producing_and_drain(edge):
    """SIGTERM commits every waiting reading; a node whose counter is next due in an hour
    then drains what is left."""
    assert edge.terminate() == 0, edge.log()
    text = edge.env_file.read_text().replace(
        "HALLSENSE_COUNTER_INTERVAL_S=0.01", "HALLSENSE_COUNTER_INTERVAL_S=3600"
    )
    edge.env_file.write_text(text)
    edge.start()


def hub_values(location):
    store = open_hub_store(str(location))
    try:
        return [int(r.value) for _, r in store.readings("askrigg")]
    finally:
        store.close()


def assert_exactly_once(hub_db, tally, edge):
    """Wait until the hub holds what the counter produced, then check it holds it once."""

    def caught_up():
        produced = [value for value, _ in read_tally(tally)]
        return len(hub_values(hub_db)) >= len(produced)

    wait_for(caught_up, timeout=60, message=f"the hub never caught up:\n{edge.log()[-3000:]}")
    produced = [value for value, _ in read_tally(tally)]
    values = hub_values(hub_db)
    assert len(values) == len(set(values)), "a reading was stored twice (by content)"
    assert sorted(values) == produced


def test_broker_restarts_and_a_killed_hub_lose_and_duplicate_nothing(stack):
    broker, hub, edge, tally, hub_db, _ = stack
    wait_for(lambda: len(hub_values(hub_db)) > 100, 30, f"nothing arrived:\n{edge.log()}")
    for persistence_kept in (True, False):
        if persistence_kept:
            broker.restart()
        else:
            broker.kill()
            time.sleep(0.5)
            broker.start()
        time.sleep(1.5)
    hub.kill()
    time.sleep(1.0)
    hub.start()
    time.sleep(1.5)
    stop_producing_and_drain(edge)
    try:
        assert_exactly_once(hub_db, tally, edge)
    finally:
        edge.stop()


def test_a_hub_dying_between_its_commit_and_its_ack_loses_and_duplicates_nothing(stack):
    _, hub, edge, tally, hub_db, hub_env = stack
    wait_for(lambda: len(hub_values(hub_db)) > 50, 30, f"nothing arrived:\n{edge.log()}")
    hub.stop()
    normal = hub_env.read_text()
    hub_env.write_text(normal + "HALLSENSE_FAULT_POINT=after-commit\n")
    deaths = 0
    for _ in range(5):
        hub.start()
        # It commits the next batch it gets, then dies before acknowledging it.
        assert hub.wait(30) == 77, hub.log()
        deaths += 1
    assert deaths == 5
    assert hub.log().count("fault point after-commit: exiting before the ack") == 5
    hub_env.write_text(normal)
    hub.start()
    stop_producing_and_drain(edge)
    assert_exactly_once(hub_db, tally, edge)


def test_a_node_killed_mid_batch_resends_what_was_not_acknowledged(stack):
    _, _, edge, tally, hub_db, _ = stack
    kills_ns = []
    for _ in range(4):
        wait_for(lambda: len(hub_values(hub_db)) > 50, 30, f"nothing arrived:\n{edge.log()}")
        time.sleep(0.4)
        kills_ns.append(time.time_ns())
        edge.kill()
        edge.start()
    time.sleep(1.0)
    stop_producing_and_drain(edge)
    # Produced (by the counter's own tally) and not lost to a SIGKILL's durability
    # window of one commit interval (0.2 s) plus the commit itself (docs/store.md).
    window_ns = int(0.7e9)

    def must_arrive():
        return [
            value
            for value, made in read_tally(tally)
            if not any(0 <= kill - made <= window_ns for kill in kills_ns)
        ]

    wait_for(
        lambda: set(must_arrive()) <= set(hub_values(hub_db)),
        60,
        f"the hub never caught up:\n{edge.log()[-2000:]}",
    )
    values = hub_values(hub_db)
    assert len(values) == len(set(values)), "a reading was stored twice (by content)"
    assert set(values) <= {value for value, _ in read_tally(tally)}


def test_two_workers_share_the_load_and_one_dies(stack, tmp_path):
    _, hub, edge, tally, hub_db, hub_env = stack
    second_env = tmp_path / "hub2.env"
    second_env.write_text(hub_env.read_text() + "HALLSENSE_WORKER_ID=2\n")
    second = HubProcess(second_env, tmp_path / "hub2.log").start()
    try:
        wait_for(lambda: len(hub_values(hub_db)) > 300, 30, f"nothing arrived:\n{edge.log()}")
        hub.kill()  # the first worker dies mid-run; its share goes to the second
        time.sleep(1.5)
        assert second.alive(), second.log()
        stop_producing_and_drain(edge)
        assert_exactly_once(hub_db, tally, edge)
    finally:
        second.stop()
    stored_by_second = re.search(r"worker 2 stopped: (\d+) batches stored", second.log())
    assert stored_by_second, second.log()
    assert int(stored_by_second.group(1)) > 0


def test_the_hub_offline_beyond_the_brokers_queue_still_gets_everything(tmp_path):
    parts = start_stack(
        tmp_path,
        broker_options={"max_queued_messages": 10},
        hub_options={"session_expiry_s": 120},
        edge_options={"uplink_batch_readings": 20, "uplink_window": 8, "uplink_resend_s": 1},
    )
    broker, hub, edge, tally, hub_db, _ = parts
    try:
        wait_for(lambda: len(hub_values(hub_db)) > 50, 30, f"nothing arrived:\n{edge.log()}")
        hub.stop()  # its session (and its subscription) lives on at the broker
        wait_for(
            lambda: "dropped" in broker.log().lower(),
            30,
            f"the broker never dropped anything:\n{broker.log()[-2000:]}",
        )
        time.sleep(2.0)  # well over 3 x max_queued_messages published meanwhile
        hub.start()
        stop_producing_and_drain(edge)
        assert_exactly_once(hub_db, tally, edge)
    finally:
        stop_stack(parts)


def test_a_slow_lossy_link_that_cuts_out_loses_and_duplicates_nothing(tmp_path):
    from tests.support.lossy_proxy import LossyProxy

    proxy = None
    parts = None
    try:
        parts = start_stack(tmp_path, edge_options={"uplink_resend_s": 2})
        broker_, _, edge, tally, hub_db, _ = parts
        # Point the node at the broker through a 256 kbit/s link that cuts out often.
        edge.stop()
        proxy = LossyProxy(broker_.port, latency_s=0.05, rate_bytes_s=32_000, cut_every_s=1.0)
        text = edge.env_file.read_text().replace(
            f"HALLSENSE_BROKER_PORT={broker_.port}", f"HALLSENSE_BROKER_PORT={proxy.port}"
        )
        edge.env_file.write_text(text)
        edge.start()
        wait_for(lambda: len(hub_values(hub_db)) > 100, 60, f"nothing arrived:\n{edge.log()}")
        time.sleep(4)
        assert proxy.cuts >= 2
        proxy.healthy()
        stop_producing_and_drain(edge)
        assert_exactly_once(hub_db, tally, edge)
    finally:
        if parts is not None:
            stop_stack(parts)
        if proxy is not None:
            proxy.close()


def test_a_node_behind_a_shaped_lossy_network_link_loses_and_duplicates_nothing(tmp_path):
    """The node in its own network namespace: 256 kbit/s (tbf) and 5 % of packets dropped."""
    from tests.support.netns import lossy_node_host

    with lossy_node_host(rate="256kbit", drop=0.05) as node_host:
        parts = start_stack(tmp_path, node_host=node_host, edge_options={"uplink_resend_s": 3})
        try:
            broker, _, edge, tally, hub_db, _ = parts
            wait_for(lambda: len(hub_values(hub_db)) > 100, 60, f"nothing arrived:\n{edge.log()}")
            # The node really is on the far side of the shaped link.
            assert f"from {node_host.node_address}" in broker.log()
            time.sleep(2)
            stop_producing_and_drain(edge)
            assert_exactly_once(hub_db, tally, edge)
        finally:
            stop_stack(parts)
