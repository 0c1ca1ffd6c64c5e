import threading
from contextlib import contextmanager

import pytest

from hub.service import IngestService
from hub.settings import HubSettings
from hub.store_postgres import PostgresHubStore
from hub.store_sqlite import SqliteHubStore
from provisioning.broker_config import HUB_ACCOUNT
from tests.hub_sync.conftest import PASSWORDS
from tests.support.broker import Broker
from tests.support.browser import (  # noqa: F401 - fixtures, found by name
    chromium_browser,
    chromium_session,
    new_page,
    page,
)
from tests.support.postgres import PostgresCluster, postgres_for_tests


@pytest.fixture(scope="session")
def pg_cluster():
    """Where the PostgreSQL tests make their databases (tests/support/postgres.py)."""
    server = postgres_for_tests()
    yield server
    server.destroy()


@pytest.fixture
def own_pg_cluster():
    """A throwaway cluster of the test's own, which it may stop and start."""
    cluster = PostgresCluster().start()
    yield cluster
    cluster.destroy()


@pytest.fixture(params=["sqlite", "postgres"])
def hub_store(request, tmp_path):
    """An empty hub store of each backend; the same tests run against both."""
    if request.param == "sqlite":
        store = SqliteHubStore(tmp_path / "hub.db")
    else:
        store = PostgresHubStore(request.getfixturevalue("pg_cluster").new_database())
    yield store
    store.close()


@pytest.fixture
def broker(tmp_path):
    broker = Broker(tmp_path / "broker", PASSWORDS).start()
    yield broker
    broker.stop()


@contextmanager
def running_hub(tmp_path, broker, **settings):
    """An ingestion worker in a thread, with a SQLite hub store that knows 'askrigg'."""
    store = SqliteHubStore(tmp_path / "hub.db")
    store.add_device("askrigg", "Askrigg Village Hall")
    service = IngestService(
        HubSettings(
            hub_store=tmp_path / "hub.db",
            broker_port=broker.port,
            broker_password=PASSWORDS[HUB_ACCOUNT],
            **settings,
        ),
        lambda: SqliteHubStore(tmp_path / "hub.db"),
    )
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    try:
        assert service.client.wait_connected(10)
        # Subscribed too: a batch published before the SUBACK has no subscriber, and the
        # broker drops it (a CI run lost one of six bad payloads that way).
        assert service.subscribed.wait(10)
        yield service
    finally:
        service.stop_event.set()
        thread.join(10)
        store.close()


@pytest.fixture
def hub(tmp_path, broker):
    """An ingestion worker in a thread, with a SQLite hub store that knows 'askrigg'."""
    with running_hub(tmp_path, broker) as service:
        yield service
