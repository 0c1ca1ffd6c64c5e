"""The hub store in SQL both SQLite and PostgreSQL understand: its schema's versions, and the whole.

:class:`SqlHubStore` is each concern's SQL over one connection, which a backend
(:mod:`hub.store_sqlite`, :mod:`hub.store_postgres`) supplies; only
:func:`hub.store_factory.open_hub_store` picks the backend.
"""

from __future__ import annotations

from hub.store_sql_base import HOUR_US, NOT_ROLLED_UP
from hub.store_sql_configs import ConfigTables
from hub.store_sql_ingest import IngestTables
from hub.store_sql_logins import LOGIN_MIGRATION_5, LOGIN_SCHEMA, LoginTables
from hub.store_sql_registry import RegistryTables
from hub.store_sql_report_mail import REPORT_MAIL_SCHEMA, ReportMailTables
from hub.store_sql_rollouts import ROLLOUT_SCHEMA, RolloutTables
from hub.store_sql_rollups import RollupTables
from hub.store_sql_web_state import WEB_STATE_SCHEMA, WebStateTables

MIGRATION_2 = [
    # Provisioning: where a device is, when it was revoked, and who did what to it when.
    "ALTER TABLE devices ADD COLUMN location TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE devices ADD COLUMN revoked_at_us BIGINT",
    """CREATE TABLE audit (
        at_us BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
        device_id TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '')""",
]
"""Schema version 2, the same SQL on SQLite and PostgreSQL."""
MIGRATION_3 = [
    # Credential rotation: set by `provision rotate`, cleared when the node has confirmed.
    "ALTER TABLE devices ADD COLUMN rotation_requested_us BIGINT",
    # The config the hub last sent each node, and when the node said it took effect.
    """CREATE TABLE node_configs (
        device_id TEXT PRIMARY KEY, revision BIGINT NOT NULL, config_json TEXT NOT NULL,
        sent_at_us BIGINT NOT NULL, sent_by TEXT NOT NULL,
        applied_at_us BIGINT, error TEXT NOT NULL DEFAULT '')""",
    # Hourly rollups (UTC hours) of every series, kept as readings arrive: a year's trend
    # reads 8,760 rows a series instead of half a million, and outlives raw retention.
    """CREATE TABLE hourly (
        device_id TEXT NOT NULL, series_id INTEGER NOT NULL, hour_us BIGINT NOT NULL,
        n BIGINT NOT NULL, total DOUBLE PRECISION NOT NULL,
        low DOUBLE PRECISION NOT NULL, high DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (device_id, series_id, hour_us))""",
    # Readings stored before version 3 join the rollups as they are.
    f"""INSERT INTO hourly (device_id, series_id, hour_us, n, total, low, high)
        SELECT device_id, series_id, (ts_us / {HOUR_US}) * {HOUR_US}, COUNT(*), SUM(value),
               MIN(value), MAX(value)
        FROM readings WHERE value IS NOT NULL AND (quality & {NOT_ROLLED_UP}) = 0
        GROUP BY device_id, series_id, (ts_us / {HOUR_US}) * {HOUR_US}""",  # noqa: S608
    # Which sequence numbers hold each hour's readings: raw readings by time are then
    # read by key, without an index on time (which would cost a fifth of the insert rate).
    """CREATE TABLE seq_hours (
        device_id TEXT NOT NULL, hour_us BIGINT NOT NULL, store_epoch BIGINT NOT NULL,
        first_seq BIGINT NOT NULL, last_seq BIGINT NOT NULL,
        PRIMARY KEY (device_id, hour_us, store_epoch))""",
    f"""INSERT INTO seq_hours (device_id, hour_us, store_epoch, first_seq, last_seq)
        SELECT device_id, (ts_us / {HOUR_US}) * {HOUR_US}, store_epoch, MIN(seq), MAX(seq)
        FROM readings GROUP BY device_id, (ts_us / {HOUR_US}) * {HOUR_US}, store_epoch""",  # noqa: S608
]
MIGRATION_5 = [
    # What a hostile or broken device cannot do unseen: each reason the hub refused its
    # messages, counted; messages the hub could not handle, kept aside (bounded); the
    # series each device has used, for its quota (the series table is shared).
    "ALTER TABLE devices ADD COLUMN quarantined BIGINT NOT NULL DEFAULT 0",
    """CREATE TABLE refusals (
        device_id TEXT NOT NULL, reason TEXT NOT NULL, n BIGINT NOT NULL,
        first_at_us BIGINT NOT NULL, last_at_us BIGINT NOT NULL, detail TEXT NOT NULL,
        PRIMARY KEY (device_id, reason))""",
    """INSERT INTO refusals (device_id, reason, n, first_at_us, last_at_us, detail)
        SELECT device_id, 'rejected', COUNT(*), MIN(at_us), MAX(at_us), MAX(reason)
        FROM rejections WHERE first_seq IS NULL GROUP BY device_id""",
    "DELETE FROM rejections WHERE first_seq IS NULL",
    """CREATE TABLE dead_letters (
        device_id TEXT NOT NULL, digest TEXT NOT NULL, topic TEXT NOT NULL,
        reason TEXT NOT NULL, size BIGINT NOT NULL, times BIGINT NOT NULL,
        first_at_us BIGINT NOT NULL, last_at_us BIGINT NOT NULL, payload BYTEA NOT NULL,
        PRIMARY KEY (device_id, digest))""",
    """CREATE TABLE device_series (
        device_id TEXT NOT NULL, series_id BIGINT NOT NULL, PRIMARY KEY (device_id, series_id))""",
    """INSERT INTO device_series (device_id, series_id)
        SELECT device_id, series_id FROM hourly UNION SELECT device_id, series_id FROM readings""",
]
"""Schema version 5: what a hostile device may not do (refusals, quarantine, quotas)."""
MIGRATIONS: dict[int, list[str]] = {
    2: MIGRATION_2,
    3: MIGRATION_3,
    4: LOGIN_SCHEMA,
    5: [*MIGRATION_5, *LOGIN_MIGRATION_5],
    6: ROLLOUT_SCHEMA,
    7: REPORT_MAIL_SCHEMA,
    8: WEB_STATE_SCHEMA,
    9: [],  # PostgreSQL only: readings partitioned by month (hub.store_postgres_partitions)
}
"""Each schema version's statements after version 1's tables, the same on both backends;
a store at version v runs every list of a higher version, in order, in one transaction."""
SCHEMA_VERSION = max(MIGRATIONS)
PARTITIONED_VERSION = 9
"""From this version on, PostgreSQL's readings are partitioned by month; SQLite's are not."""


class SqlHubStore(
    RegistryTables,
    RollupTables,
    IngestTables,
    ConfigTables,
    LoginTables,
    RolloutTables,
    ReportMailTables,
    WebStateTables,
):
    """Every concern's SQL over one connection, in any SQL database.

    The registry, ingestion, readings and rollups, configs, logins, staged rollouts,
    monthly report e-mails and what the web processes share; a backend subclass supplies
    the connection (:class:`hub.store_sql_base.SqlTables`).
    """
