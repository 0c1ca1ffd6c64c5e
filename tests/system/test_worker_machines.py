"""Two `hallsense hub run` workers on two machines (network namespaces) on the broker's
shared subscription, writing one PostgreSQL hub store: one machine drops off the network
and its worker dies (no FIN, no RST: the broker learns of it only by its silence), and the
other carries the whole load on. Every reading the node's counter produced is at the hub
exactly once, counted by content."""

from __future__ import annotations

import re

import pytest

from hub.store_factory import open_hub_store
from provisioning.broker_config import HUB_ACCOUNT
from tests.support.broker import Broker
from tests.support.edge_process import EdgeProcess, wait_for, write_env
from tests.support.hub_process import HubProcess
from tests.support.netns import cut, machine
from tests.support.postgres import PostgresCluster
from tests.system.test_exactly_once import (
    PASSWORDS,
    assert_exactly_once,
    counter_node_env,
    hub_values,
    stop_producing_and_drain,
)

pytestmark = pytest.mark.slow


def test_a_worker_s_machine_lost_mid_stream_loses_and_duplicates_nothing(tmp_path):
    database = PostgresCluster()
    database.settings["listen_addresses"] = "'*'"
    with (database.data / "pg_hba.conf").open("a") as hba:
        hba.write("host all all 10.231.0.0/16 trust\n")  # the machines' own network
    database.start()
    broker = Broker(tmp_path / "broker", PASSWORDS, bind_address="0.0.0.0").start()  # noqa: S104
    workers: list[HubProcess] = []
    edge = None
    try:
        with machine() as first, machine() as second:
            # Each machine reaches the database and the broker at this host's address on
            # its own link.
            for n, host in enumerate((first, second), 1):
                url = f"postgresql://postgres@{host.hub_address}:{database.port}/postgres"
                env = write_env(
                    tmp_path / f"hub{n}.env",
                    hub_store=url,
                    broker_host=host.hub_address,
                    broker_port=broker.port,
                    broker_password=PASSWORDS[HUB_ACCOUNT],
                    worker_id=n,
                    session_expiry_s=5,
                )
                workers.append(HubProcess(env, tmp_path / f"hub{n}.log"))
            store = open_hub_store(database.url())
            store.add_device("askrigg", "Askrigg Village Hall")
            store.close()
            for worker, host in zip(workers, (first, second), strict=True):
                worker.start(prefix=tuple(host.command())).wait_started()
            tally = tmp_path / "tally.txt"
            edge = EdgeProcess(
                counter_node_env(tmp_path, "127.0.0.1", broker.port), tmp_path / "edge.log"
            ).start()
            url = database.url()
            wait_for(lambda: len(hub_values(url)) > 300, 30, f"nothing arrived:\n{edge.log()}")

            cut(first)  # the first machine is gone from the network...
            workers[0].kill()  # ...and so is its worker, unheard by the broker
            stored_before = len(hub_values(url))
            wait_for(
                lambda: len(hub_values(url)) > stored_before + 300,
                30,
                f"the second worker did not carry on:\n{workers[1].log()[-3000:]}",
            )
            assert workers[1].alive(), workers[1].log()
            stop_producing_and_drain(edge)
            assert_exactly_once(url, tally, edge)
            workers[1].stop()
            stored = re.search(r"worker 2 stopped: (\d+) batches stored", workers[1].log())
            assert stored, workers[1].log()
            assert int(stored.group(1)) > 0
    finally:
        if edge is not None:
            edge.stop()
        for worker in workers:
            worker.stop()
        broker.stop()
        database.destroy()
