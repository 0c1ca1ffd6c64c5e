"""The hub-alone drain (``bench.hub_alone``, a row of ``python -m bench wire``) in
miniature, so it cannot rot: a real `hallsense hub run` process takes pre-encoded batches
through a real Mosquitto and acknowledges every reading, each stored once."""

from __future__ import annotations

import pytest

from bench.hub_alone import BATCH, drain_hub_alone
from bench.wire import hall_day, new_broker
from hub.store_sqlite import SqliteHubStore


@pytest.mark.slow  # a hub process's start and its subscription: seconds
def test_the_hub_alone_stores_and_acknowledges_every_pre_encoded_reading(tmp_path):
    broker = new_broker(tmp_path)
    try:
        rate = drain_hub_alone(tmp_path, broker.port, hall_day()[:500], 2 * BATCH)
    finally:
        broker.stop()
    assert rate > 0
    store = SqliteHubStore(tmp_path / "hub.db")
    try:
        seqs = [reading.seq for _, reading in store.readings("askrigg")]
    finally:
        store.close()
    assert sorted(seqs) == list(range(1, 2 * BATCH + 1))  # each once


@pytest.mark.slow  # a PostgreSQL cluster and a hub process: seconds
def test_the_hub_alone_on_postgresql_and_both_its_ceilings_store_every_reading_once(tmp_path):
    import psycopg

    from bench.wire import postgres_ceiling, settle
    from tests.support.postgres import postgres_for_tests

    server = postgres_for_tests()
    broker = new_broker(tmp_path)
    try:
        url = server.new_database()
        assert drain_hub_alone(tmp_path, broker.port, hall_day()[:500], 2 * BATCH, url) > 0
        with psycopg.connect(url) as conn:
            seqs = [seq for (seq,) in conn.execute("SELECT seq FROM readings ORDER BY seq")]
            (rolled,) = conn.execute("SELECT SUM(n) FROM hourly").fetchone()
        assert seqs == list(range(1, 2 * BATCH + 1))  # each once, by the fresh-batch insert
        assert rolled == 2 * BATCH  # every reading of the day is fit for the rollups
        for on_conflict in (True, False):
            settle(url)
            ceiling = server.new_database()
            assert postgres_ceiling(ceiling, 10_000, on_conflict=on_conflict) > 0
            with psycopg.connect(ceiling) as conn:
                assert conn.execute("SELECT COUNT(*) FROM readings").fetchone() == (10_000,)
    finally:
        broker.stop()
        server.destroy()
