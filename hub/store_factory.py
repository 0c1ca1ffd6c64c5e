"""The hub store a location names: the one module that knows the backends."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from hub.alert_state import AlertStateStore
from hub.config_downlink import ConfigRecord
from hub.hall_settings import ConfigSource
from hub.login_store import LoginStore
from hub.report_mail import ReportMailRecords
from hub.store import DeviceRecords, HubStore, ReadingQueries, RolloutRecords
from provisioning.failure_limit import FailureCounts
from provisioning.registry import DeviceRegistry


class HubStoreConnection(
    HubStore,
    DeviceRecords,
    ReadingQueries,
    DeviceRegistry,
    ConfigSource,
    ConfigRecord,
    LoginStore,
    RolloutRecords,
    ReportMailRecords,
    FailureCounts,
    AlertStateStore,
    Protocol,
):
    """One connection to the hub store with every concern's interface.

    For the composition root, which hands each part of the hub the one it uses:
    ingestion :class:`~hub.store.HubStore`, provisioning
    :class:`~provisioning.registry.DeviceRegistry`, the logins
    :class:`~hub.login_store.LoginStore`, the report e-mails
    :class:`~hub.report_mail.ReportMailRecords`, the web's shared failure counts
    :class:`~provisioning.failure_limit.FailureCounts` and alert state
    :class:`~hub.alert_state.AlertStateStore`, the pages and the API the readers.
    """


def open_hub_store(location: str) -> HubStoreConnection:
    """The hub store at ``location``: a ``postgresql://`` URL, or else a SQLite file path.

    Raises:
        HubStoreError: it cannot be opened (named, with the reason).
    """
    if location.startswith(("postgresql://", "postgres://")):
        from hub.store_postgres import PostgresHubStore  # psycopg only where it is used

        return PostgresHubStore(location)
    from hub.store_sqlite import SqliteHubStore

    return SqliteHubStore(Path(location))
