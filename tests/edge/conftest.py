from datetime import UTC, datetime, timedelta

import pytest

from edge.clock import ClockSample
from edge.store import EdgeStore
from sensors.reading import Reading

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture
def open_store(tmp_path):
    """Open stores under tmp_path; every one is closed when the test ends."""
    opened = []

    def opener(name="edge.db", **kwargs):
        store = EdgeStore(tmp_path / name, **kwargs)
        opened.append(store)
        return store

    yield opener
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store):
    return open_store()


def synced(boot="boot-a", mono_ns=10**12, wall=None):
    return ClockSample(wall or datetime.now(UTC), mono_ns, True, boot)


def readings(n, start=T0, metric="temperature", unit="°C", sensor="t1", step_s=1.0, value=None):
    return [
        Reading(
            sensor,
            metric,
            float(i + 1) if value is None else value,
            unit,
            start + timedelta(seconds=i * step_s),
        )
        for i in range(n)
    ]
