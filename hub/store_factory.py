"""The hub store a location names: the one module that knows both backends."""

from __future__ import annotations

from pathlib import Path

from hub.store_sql import SqlHubStore


def open_hub_store(location: str) -> SqlHubStore:
    """The hub store at ``location``: a ``postgresql://`` URL, or else a SQLite file path.

    Raises:
        HubStoreError: it cannot be opened (named, with the reason).
    """
    if location.startswith(("postgresql://", "postgres://")):
        from hub.store_postgres import PostgresHubStore  # psycopg only where it is used

        return PostgresHubStore(location)
    from hub.store_sqlite import SqliteHubStore

    return SqliteHubStore(Path(location))
