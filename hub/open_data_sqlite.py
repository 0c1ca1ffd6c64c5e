"""The Datasette-ready SQLite download of the open data, and its metadata.json: public routes.

- ``/open-data/<site>/datasette.db``: one hall's published hourly data
  (:mod:`hub.datasette_export`), the last :data:`DEFAULT_DAYS` days unless ``from`` and
  ``to`` say otherwise (at most :data:`MAX_DAYS`);
- ``/open-data/datasette.db``: every publishing hall's, likewise;
- ``.../datasette.metadata.json`` beside each: the Datasette metadata (licence, source,
  descriptions) for ``datasette FILE --metadata FILE.metadata.json``, for the same range.

Only the metrics each hall publishes go in, as on the open data pages; a hall that
publishes nothing answers 404. The file is built in a temporary directory, streamed,
then deleted; it holds at most :data:`MAX_ROWS` hours of series (a hall's year is about
130,000), and a larger request is a 400 naming ``from, to``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, request, url_for
from werkzeug.exceptions import BadRequest, NotFound

from hub.data_api import parse_range
from hub.datasette_export import ExportedHall, ExportInfo, datasette_metadata, write_database
from hub.open_data import OpenDataStore, PublishedHall, published_halls
from hub.open_data_catalog import CatalogueSettings
from hub.store import HourlyRollup

DEFAULT_DAYS = 31
MAX_DAYS = 400
MAX_ROWS = 500_000
"""Hourly rows in one file: about 50 MB, four years of a hall or a month of 70."""
CHUNK = 256 * 1024
LICENCE_NAMES = {
    "http://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/": (
        "Open Government Licence v3.0"
    ),
}


def _us(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _check(allowed: set[str]) -> None:
    unknown = sorted(set(request.args) - allowed)
    if unknown:
        raise BadRequest(
            description=f"{unknown[0][:40]}: not a parameter here "
            f"(use {', '.join(sorted(allowed))})"
        )


def _bounded(
    store: OpenDataStore, halls: Sequence[PublishedHall], start_us: int, end_us: int
) -> Iterator[HourlyRollup]:
    """Each hall's rollups in turn (one hall in memory at a time), refusing past MAX_ROWS."""
    count = 0
    for hall in halls:
        rows = store.hourly(hall.device_ids, start_us, end_us, hall.metrics)
        count += len(rows)
        if count > MAX_ROWS:
            raise BadRequest(
                description=f"from, to: more than {MAX_ROWS:,} hours of data in one file; ask "
                "for a shorter range, or one hall at a time"
            )
        yield from rows


def _streamed(directory: str, path: Path) -> Iterator[bytes]:
    try:
        with path.open("rb") as file:
            while chunk := file.read(CHUNK):
                yield chunk
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def open_data_sqlite_blueprint(
    store: Callable[[], OpenDataStore],
    catalogue: CatalogueSettings,
    *,
    timezone: str = "Europe/London",
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Blueprint:
    """The SQLite downloads' routes over the request's hub store."""
    zone = ZoneInfo(timezone)
    blueprint = Blueprint("open_data_sqlite", __name__)

    def chosen(slug: str | None) -> tuple[str, list[PublishedHall]]:
        halls = published_halls(store())
        if slug is None:
            return "hallsense-county", halls
        found = [h for h in halls if h.slug == slug]
        if not found:
            raise NotFound(description=f"no hall {slug[:40]!r} publishes open data here")
        return f"hallsense-{slug}", found

    def metadata(
        name: str, halls: Sequence[PublishedHall], start: datetime, end: datetime
    ) -> dict[str, Any]:
        info = ExportInfo(
            title="Village hall sensors: " + (halls[0].site if len(halls) == 1 else "every hall"),
            licence=LICENCE_NAMES.get(catalogue.licence, catalogue.licence),
            licence_url=catalogue.licence,
            source=catalogue.publisher or "hallsense hub",
            source_url=url_for("open_data.index", _external=True),
        )
        metrics = sorted({m for hall in halls for m in hall.metrics})
        return datasette_metadata(name, info, metrics, start, end)

    def range_asked() -> tuple[datetime, datetime]:
        _check({"from", "to"})
        return parse_range(request.args, zone, now(), default_days=DEFAULT_DAYS, max_days=MAX_DAYS)

    def database(slug: str | None) -> Response:
        start, end = range_asked()
        name, halls = chosen(slug)
        registered = {d.device_id: d for d in store().registered()}
        exported = [
            ExportedHall(
                hall.slug,
                hall.site,
                "; ".join(sorted({registered[d].location for d in hall.device_ids} - {""})),
                hall.device_ids,
                hall.metrics,
            )
            for hall in halls
        ]
        directory = tempfile.mkdtemp(prefix="hallsense-datasette-")
        path = Path(directory) / f"{name}.db"
        try:
            write_database(
                path,
                exported,
                _bounded(store(), halls, _us(start), _us(end)),
                metadata(name, halls, start, end),
                timezone=timezone,
            )
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        response = Response(_streamed(directory, path), mimetype="application/vnd.sqlite3")
        response.headers["Content-Length"] = str(path.stat().st_size)
        response.headers["Content-Disposition"] = f'attachment; filename="{name}.db"'
        response.headers["Cache-Control"] = "public, max-age=300"
        return response

    def metadata_json(slug: str | None) -> Response:
        start, end = range_asked()
        name, halls = chosen(slug)
        body = json.dumps(metadata(name, halls, start, end), ensure_ascii=False, indent=2)
        response = Response(body, mimetype="application/json")
        response.headers["Content-Disposition"] = f'attachment; filename="{name}.metadata.json"'
        response.headers["Cache-Control"] = "public, max-age=300"
        return response

    blueprint.add_url_rule("/open-data/datasette.db", "county", lambda: database(None))
    blueprint.add_url_rule(
        "/open-data/datasette.metadata.json", "county_metadata", lambda: metadata_json(None)
    )
    blueprint.add_url_rule("/open-data/<slug>/datasette.db", "hall", database)
    blueprint.add_url_rule(
        "/open-data/<slug>/datasette.metadata.json", "hall_metadata", metadata_json
    )
    return blueprint
