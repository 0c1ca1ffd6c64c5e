"""The drivers' health as the agent records it in the edge store."""

from __future__ import annotations

from datetime import datetime

from edge.store_db import StoreDatabase
from edge.store_records import HealthRecord, from_us, to_us


def record_health(
    database: StoreDatabase, driver: str, state: str, last_error: str, failures: int, at: datetime
) -> None:
    """Record a driver's health; ``since`` moves only when the state changes."""
    with database.write("recording health"):
        database.connection.execute(
            "INSERT INTO health (driver, state, since_us, last_error, failures) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (driver) DO UPDATE SET "
            "since_us = CASE WHEN state = excluded.state THEN since_us "
            "ELSE excluded.since_us END, "
            "state = excluded.state, last_error = excluded.last_error, "
            "failures = excluded.failures",
            (driver, state, to_us(at), last_error, failures),
        )


def shift_health_times(database: StoreDatabase, step_us: int) -> None:
    """Move every ``since`` by a step of the wall clock, so a state's age stays true.

    A clock set a year wrong and then put right would otherwise leave "ok since 365 days
    ago" until the state next changes.
    """
    with database.write("moving health times with the clock"):
        database.connection.execute("UPDATE health SET since_us = since_us + ?", (step_us,))


def health(database: StoreDatabase) -> list[HealthRecord]:
    """Every driver's last recorded health."""
    return [
        HealthRecord(driver, state, from_us(since), error, failures)
        for driver, state, since, error, failures in database.connection.execute(
            "SELECT driver, state, since_us, last_error, failures FROM health ORDER BY driver"
        )
    ]
