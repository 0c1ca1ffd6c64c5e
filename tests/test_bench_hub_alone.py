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
