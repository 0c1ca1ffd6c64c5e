"""The configs the hub sent its nodes, in SQL, and when each took effect.

Implements :class:`hub.hall_settings.ConfigSource` and :class:`hub.config_downlink.ConfigRecord`;
a node's status settles the record (:meth:`hub.store_sql_ingest.IngestTables.record_status`).
"""

from __future__ import annotations

from hub.store import SentConfig
from hub.store_sql_base import SqlTables, now_us


class ConfigTables(SqlTables):
    """The last config sent to each node (``node_configs``)."""

    def save_config(self, device_id: str, revision: int, config_json: str, *, actor: str) -> None:
        """Record the config just sent to a node (replacing the one before)."""
        with self._lock, self._transaction():
            self._run(
                "INSERT INTO node_configs (device_id, revision, config_json, sent_at_us, "
                "sent_by) VALUES (?, ?, ?, ?, ?) ON CONFLICT (device_id) DO UPDATE SET "
                "revision = excluded.revision, config_json = excluded.config_json, "
                "sent_at_us = excluded.sent_at_us, sent_by = excluded.sent_by, "
                "applied_at_us = NULL, error = ''",
                (device_id, revision, config_json, now_us(), actor),
            )
            self._audit(actor, "config sent", device_id, f"revision {revision}")

    def node_config(self, device_id: str) -> SentConfig | None:
        """The config the hub last sent the node, and whether it took effect; None if none."""
        rows = self._query(
            "SELECT device_id, revision, config_json, sent_at_us, sent_by, applied_at_us, error "
            "FROM node_configs WHERE device_id = ?",
            (device_id,),
        )
        return SentConfig(*rows[0]) if rows else None
