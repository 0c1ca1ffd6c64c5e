"""The hub store on PostgreSQL with a synchronous streaming replica: the primary's machine
is lost while a node's readings flow (the server stopped as a crash stops it, no
checkpoint), the replica is promoted, and `hallsense hub run`, given both servers in its
one URL (``target_session_attrs=read-write``), carries on with the new primary by itself.
Every reading the counter produced is at the hub exactly once: what the hub acknowledged
was on the replica before the acknowledgement (synchronous replication), and what it had
not acknowledged the node sent again."""

from __future__ import annotations

import time

import psycopg
import pytest

from tests.support.edge_process import wait_for
from tests.support.postgres import PostgresCluster
from tests.system.test_exactly_once import (
    assert_exactly_once,
    hub_values,
    start_stack,
    stop_producing_and_drain,
    stop_stack,
)

pytestmark = pytest.mark.slow


def both(primary: PostgresCluster, replica: PostgresCluster, database: str) -> str:
    """The hub store's URL naming both servers: libpq takes the one that accepts writes."""
    return (
        f"postgresql://postgres@127.0.0.1:{primary.port},127.0.0.1:{replica.port}/{database}"
        "?target_session_attrs=read-write&connect_timeout=2"
    )


def test_the_hub_carries_on_with_a_promoted_replica_and_loses_nothing_acknowledged(tmp_path):
    primary = PostgresCluster().start()
    replica = None
    parts = None
    try:
        database = primary.new_database().rsplit("/", 1)[1]
        replica = primary.standby("hallsense_replica")
        with psycopg.connect(primary.url(), autocommit=True) as conn:
            conn.execute("ALTER SYSTEM SET synchronous_standby_names = 'hallsense_replica'")
            conn.execute("SELECT pg_reload_conf()")
            wait_for(
                lambda: (
                    conn.execute("SELECT sync_state FROM pg_stat_replication").fetchall()
                    == [("sync",)]
                ),
                10,
                "the replica never became synchronous",
            )
        url = both(primary, replica, database)
        parts = start_stack(tmp_path, hub_store=url)
        _, hub, edge, tally, _, _ = parts
        wait_for(lambda: len(hub_values(url)) > 100, 30, f"nothing arrived:\n{edge.log()}")

        primary.stop("immediate")  # the primary's machine is gone: no shutdown checkpoint
        time.sleep(2)  # readings wait at the node meanwhile: the hub cannot commit
        replica.promote()
        stored_before = len(hub_values(url))
        wait_for(
            lambda: len(hub_values(url)) > stored_before + 100,
            30,
            f"the hub never wrote to the promoted replica:\n{hub.log()[-3000:]}",
        )
        assert hub.alive(), hub.log()
        stop_producing_and_drain(edge)
        assert_exactly_once(url, tally, edge)
        assert "hub store unavailable" in hub.log()  # it noticed, waited and went on
    finally:
        if parts is not None:
            stop_stack(parts)
        if replica is not None:
            replica.destroy()
        primary.destroy()
