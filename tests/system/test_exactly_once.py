"""Readings a node produces reach the hub exactly once through broker and hub failures."""

import time

import pytest

from hub.store_sqlite import SqliteHubStore
from provisioning.broker_config import HUB_ACCOUNT
from sensors.counter import read_tally
from tests.support.broker import Broker
from tests.support.edge_process import EdgeProcess, wait_for, write_env
from tests.support.hub_process import HubProcess

PASSWORDS = {HUB_ACCOUNT: "hub-pw-for-tests", "askrigg": "askrigg-pw-for-tests"}


@pytest.fixture
def stack(tmp_path):
    broker = Broker(tmp_path / "broker", PASSWORDS).start()
    hub_env = write_env(
        tmp_path / "hub.env",
        hub_store=tmp_path / "hub.db",
        broker_port=broker.port,
        broker_password=PASSWORDS[HUB_ACCOUNT],
        session_expiry_s=5,
    )
    store = SqliteHubStore(tmp_path / "hub.db")
    store.add_device("askrigg", "Askrigg Village Hall")
    store.close()
    tally = tmp_path / "tally.txt"
    edge_env = write_env(
        tmp_path / "edge.env",
        data_dir=tmp_path / "node",
        drivers="counter",
        counter_interval_s=0.01,
        counter_tally_path=tally,
        commit_interval_s=0.2,
        clock_check="trust",
        device_id="askrigg",
        broker_host="127.0.0.1",
        broker_port=broker.port,
        broker_password=PASSWORDS["askrigg"],
        uplink_batch_readings=200,
        uplink_resend_s=3,
    )
    hub = HubProcess(hub_env, tmp_path / "hub.log").start()
    edge = EdgeProcess(edge_env, tmp_path / "edge.log").start()
    yield broker, hub, edge, tally, tmp_path / "hub.db", hub_env
    edge.stop()
    hub.stop()
    broker.stop()


def hub_values(path):
    store = SqliteHubStore(path)
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
    # Stop producing: SIGTERM commits every waiting reading; then a node whose counter is
    # next due in an hour drains what is left.
    assert edge.terminate() == 0, edge.log()
    text = edge.env_file.read_text().replace(
        "HALLSENSE_COUNTER_INTERVAL_S=0.01", "HALLSENSE_COUNTER_INTERVAL_S=3600"
    )
    edge.env_file.write_text(text)
    edge.start()
    try:
        assert_exactly_once(hub_db, tally, edge)
    finally:
        edge.stop()
