"""A hall's (or the county's) published hourly data as a SQLite file that Datasette opens as is.

Made with sqlite-utils, for people who explore data rather than open it in a spreadsheet
(``datasette hallsense-askrigg-village-hall.db --metadata
hallsense-askrigg-village-hall.metadata.json``):

- ``halls``: each hall (slug, name, where, its devices, what it publishes), with
  full-text search on its name and location (``halls_fts``, FTS5);
- ``metrics``: each published metric's name, what it measures in words, and its unit;
- ``hourly``: one row per hall, sensor, metric and hour: the count, mean, lowest and
  highest of the readings, the unit beside every value, the hour in UTC and local time;
- one view per metric (``temperature``, ``co2`` …) with the columns named for people,
  the unit in the heading ("Mean (°C)");
- ``_metadata``: the Datasette metadata (title, licence, source, each table's and view's
  description) as JSON, the same document :func:`datasette_metadata` returns and the hub
  serves beside the file, so a copy of the file alone still says what it is and whose.

Only what :func:`write_database` is given goes in: the caller (:mod:`hub.open_data_sqlite`)
passes the hours of the metrics each hall publishes, and bounds how many.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils

from hub.store import HourlyRollup
from presentation.vocabulary import METRICS, metric_words

BATCH_ROWS = 10_000


@dataclass(frozen=True)
class ExportedHall:
    """A hall as it goes into the file."""

    slug: str
    name: str
    location: str
    device_ids: tuple[str, ...]
    metrics: tuple[str, ...]


@dataclass(frozen=True)
class ExportInfo:
    """What the file says about itself (Datasette shows it on every page)."""

    title: str
    licence: str
    licence_url: str
    source: str
    source_url: str


def _iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _rows(
    halls: Sequence[ExportedHall], rollups: Iterable[HourlyRollup], zone: ZoneInfo
) -> Iterator[dict[str, Any]]:
    hall_of = {d: hall.slug for hall in halls for d in hall.device_ids}
    for r in rollups:
        hour = datetime.fromtimestamp(r.hour_us / 1e6, UTC)
        yield {
            "hall": hall_of.get(r.device_id, ""),
            "device": r.device_id,
            "sensor": r.sensor_id,
            "metric": r.metric,
            "hour_start_utc": _iso_utc(hour),
            "hour_start_local": hour.astimezone(zone).isoformat(),
            "readings": r.readings,
            "mean": r.mean,
            "lowest": r.low,
            "highest": r.high,
            "unit": r.unit,
        }


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _metric_view(metric: str, units: Sequence[str]) -> str:
    """The SQL of a metric's view: its hours, each column named for people."""
    unit = f" ({units[0]})" if len(units) == 1 else ""
    columns = [
        ("halls.name", "Hall"),
        ("hourly.sensor", "Sensor"),
        ("hourly.hour_start_local", "Hour starting (local time)"),
        ("hourly.hour_start_utc", "Hour starting (UTC)"),
        ("hourly.mean", f"Mean{unit}"),
        ("hourly.lowest", f"Lowest{unit}"),
        ("hourly.highest", f"Highest{unit}"),
        ("hourly.unit", "Unit"),
        ("hourly.readings", "Readings"),
    ]
    select = ", ".join(f"{expression} AS {_quoted(heading)}" for expression, heading in columns)
    escaped = metric.replace("'", "''")
    return (
        f"SELECT {select} FROM hourly JOIN halls ON halls.slug = hourly.hall "  # noqa: S608 - names from the vocabulary
        f"WHERE hourly.metric = '{escaped}' ORDER BY halls.name, hourly.sensor, "
        "hourly.hour_start_utc"
    )


def datasette_metadata(
    database: str, info: ExportInfo, metrics: Sequence[str], start: datetime, end: datetime
) -> dict[str, Any]:
    """The Datasette metadata of a file (``--metadata``): licence, source, descriptions."""
    span = f"from {_iso_utc(start)} to {_iso_utc(end)}"
    tables: dict[str, Any] = {
        "halls": {
            "description": "The halls in this file: search their names and places.",
            "fts_table": "halls_fts",
            "label_column": "name",
        },
        "metrics": {"description": "What each metric measures, and its unit."},
        "hourly": {
            "description": f"Hourly count, mean, lowest and highest of each published series, "
            f"{span}; the unit is beside every value.",
            "sort": "hour_start_utc",
        },
        "_metadata": {"description": "This file's Datasette metadata, as JSON.", "hidden": True},
    }
    for metric in metrics:
        tables[metric] = {
            "description": f"{metric_words(metric)}: hourly values of every hall, {span}."
        }
    return {
        "title": info.title,
        "description": f"Hourly open data from village hall sensors, {span}.",
        "license": info.licence,
        "license_url": info.licence_url,
        "source": info.source,
        "source_url": info.source_url,
        "databases": {database: {"tables": tables}},
    }


def write_database(
    path: Path,
    halls: Sequence[ExportedHall],
    rollups: Iterable[HourlyRollup],
    metadata: dict[str, Any],
    *,
    timezone: str = "Europe/London",
) -> int:
    """Write the halls and their hourly rollups into a new SQLite file; returns the hours.

    Args:
        path: the file to create (it must not exist).
        halls: the halls, each with the metrics it publishes.
        rollups: their hourly rollups (of published metrics only).
        metadata: :func:`datasette_metadata`'s document, kept in ``_metadata``.
        timezone: the hub's time zone, for the local hour column.
    """
    db = sqlite_utils.Database(path)
    try:
        # Tables made before rows go in: a county where no hall publishes yet still gets
        # every table (sqlite-utils makes none from no rows).
        db["halls"].create(  # type: ignore[union-attr]
            {"slug": str, "name": str, "location": str, "devices": str, "metrics": str},
            pk="slug",
        )
        db["metrics"].create(  # type: ignore[union-attr]
            {"metric": str, "measures": str, "unit": str}, pk="metric"
        )
        db["halls"].insert_all(  # type: ignore[union-attr]
            (
                {
                    "slug": hall.slug,
                    "name": hall.name,
                    "location": hall.location,
                    "devices": ", ".join(hall.device_ids),
                    "metrics": ", ".join(hall.metrics),
                }
                for hall in halls
            ),
        )
        db["halls"].enable_fts(["name", "location"])  # type: ignore[union-attr]
        published = sorted({m for hall in halls for m in hall.metrics})
        db["metrics"].insert_all(  # type: ignore[union-attr]
            (
                {
                    "metric": m,
                    "measures": metric_words(m),
                    "unit": METRICS[m].unit if m in METRICS else "",
                }
                for m in published
            ),
        )
        hourly = db.table("hourly")
        hourly.create(
            {
                "hall": str,
                "device": str,
                "sensor": str,
                "metric": str,
                "hour_start_utc": str,
                "hour_start_local": str,
                "readings": int,
                "mean": float,
                "lowest": float,
                "highest": float,
                "unit": str,
            },
            foreign_keys=[("hall", "halls", "slug"), ("metric", "metrics", "metric")],
        )
        hourly.insert_all(_rows(halls, rollups, ZoneInfo(timezone)), batch_size=BATCH_ROWS)
        count = hourly.count
        hourly.create_index(["metric", "hall", "hour_start_utc"])
        for metric in published:
            units = [
                u
                for (u,) in db.execute(
                    "SELECT DISTINCT unit FROM hourly WHERE metric = ?", [metric]
                )
            ]
            db.create_view(metric, _metric_view(metric, units))
        db["_metadata"].insert(  # type: ignore[union-attr]
            {"name": "datasette", "json": json.dumps(metadata, ensure_ascii=False)}, pk="name"
        )
        db.execute("PRAGMA user_version = 1")
        db.conn.commit()
        db.vacuum()
        return count
    finally:
        db.close()
