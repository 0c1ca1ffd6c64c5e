"""Two brokers, as a county runs them on two machines: a node names both (the second in
``HALLSENSE_OTHER_BROKERS``) and the hub's worker subscribes on both. The node's broker is
killed (SIGKILL: its machine gone) and the node moves to the other; later that one is
killed too, with the first back, and the node moves back. Every reading the node's
counter produced is at the hub exactly once, counted by content (the hub's acks go out on
both brokers: tests/hub/test_every_broker.py)."""

from __future__ import annotations

import pytest

from hub.store_factory import open_hub_store
from provisioning.broker_config import HUB_ACCOUNT
from tests.support.broker import Broker
from tests.support.edge_process import EdgeProcess, wait_for, write_env
from tests.support.hub_process import HubProcess
from tests.system.test_exactly_once import (
    PASSWORDS,
    assert_exactly_once,
    counter_node_env,
    hub_values,
    stop_producing_and_drain,
)

pytestmark = pytest.mark.slow


def test_a_node_moves_between_two_brokers_and_back_and_nothing_is_lost(tmp_path):
    brokers = [Broker(tmp_path / f"broker-{n}", PASSWORDS).start() for n in (1, 2)]
    hub_db = str(tmp_path / "hub.db")
    store = open_hub_store(hub_db)
    store.add_device("askrigg", "Askrigg Village Hall")
    store.close()
    hub = HubProcess(
        write_env(
            tmp_path / "hub.env",
            hub_store=hub_db,
            broker_host="127.0.0.1",
            broker_port=brokers[0].port,
            other_brokers=f"127.0.0.1:{brokers[1].port}",
            broker_password=PASSWORDS[HUB_ACCOUNT],
            session_expiry_s=5,
        ),
        tmp_path / "hub.log",
    ).start()
    edge_env = counter_node_env(
        tmp_path, "127.0.0.1", brokers[0].port, other_brokers=f"127.0.0.1:{brokers[1].port}"
    )
    edge = EdgeProcess(edge_env, tmp_path / "edge.log").start()
    tally = tmp_path / "tally.txt"
    try:
        wait_for(lambda: len(hub_values(hub_db)) > 100, 30, f"nothing arrived:\n{edge.log()}")

        def flowing_again(why: str) -> None:
            before = len(hub_values(hub_db))
            wait_for(
                lambda: len(hub_values(hub_db)) > before + 200,
                60,
                f"{why}:\n{edge.log()[-3000:]}\n{hub.log()[-2000:]}",
            )

        for gone, other in ((0, 1), (1, 0)):
            if gone == 1:
                brokers[0].restart()
            brokers[gone].kill()  # the node's broker is gone: it moves to the other
            moved = f"reconnected to the broker at 127.0.0.1:{brokers[other].port}"
            wait_for(lambda moved=moved: moved in edge.log(), 30, edge.log()[-3000:])
            flowing_again(f"nothing came through the broker at {brokers[other].port}")
        assert hub.alive(), hub.log()
        stop_producing_and_drain(edge)
        assert_exactly_once(hub_db, tally, edge)
    finally:
        edge.stop()
        hub.stop()
        for broker in brokers:
            broker.stop()
