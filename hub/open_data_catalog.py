"""The open data catalogue's public routes: DCAT-AP as JSON-LD and Turtle, for data portals.

- ``/open-data/catalog.jsonld`` and ``/open-data/catalog.ttl``: the catalogue
  (:mod:`hub.dcat`) in each format;
- ``/open-data/catalog``: either, by the request's ``Accept`` (``text/turtle``, or
  JSON-LD for anything else), so a harvester given one address gets what it asks for.

One dataset per hall that publishes open data (the halls :func:`hub.open_data.published_halls`
lists, so the catalogue never names a metric a clerk has not made public) and one for the
whole county, each with a distribution per download format. Addresses in it are absolute,
from the request's host and scheme (behind a proxy, set ``behind_proxy`` so they are the
public ones). Public and read-only, answered for GET and HEAD only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import urlencode

from flask import Blueprint, Response, request, url_for
from werkzeug.exceptions import BadRequest

from hub.dcat import (
    Catalogue,
    CatalogueDataset,
    Distribution,
    Place,
    Publisher,
    catalogue_graph,
    to_jsonld,
    to_turtle,
)
from hub.open_data import OpenDataStore, PublishedHall, published_halls
from hub.open_data_coverage import published_span
from hub.settings import OGL_V3, HubSettings
from hub.store import RegisteredDevice
from presentation.vocabulary import metric_words

CACHE_S = 3600
"""How long a harvester or proxy may keep the catalogue: it changes by the hour at most."""

TURTLE = "text/turtle"
JSONLD = "application/ld+json"


@dataclass(frozen=True)
class CatalogueSettings:
    """The catalogue's licence and publisher (``HALLSENSE_OPEN_DATA_*``)."""

    licence: str = OGL_V3
    publisher: str = ""
    publisher_url: str = ""
    contact: str = ""

    @classmethod
    def from_settings(cls, settings: HubSettings) -> CatalogueSettings:
        """The catalogue settings of the hub's settings."""
        return cls(
            settings.open_data_licence,
            settings.open_data_publisher,
            settings.open_data_publisher_url,
            settings.open_data_contact,
        )


DEFAULT_CATALOGUE = CatalogueSettings()
"""The Open Government Licence, and no publisher named."""


class CatalogueStore(OpenDataStore, Protocol):
    """What the catalogue reads of the hub store (the open data's own reads)."""


def _us(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _moment(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1e6, UTC)


def _distributions(uri: str, title: str, download: str, sqlite: str) -> tuple[Distribution, ...]:
    """CSV, SenML and SQLite; ``uri`` is the dataset's, each distribution's is ``uri-<format>``."""
    return (
        Distribution(
            f"{uri}-csv",
            f"{title}: hourly means as CSV",
            f"{download}&format=csv",
            "text/csv",
            "CSV",
            "Hourly count, mean, lowest and highest of each published metric, the last "
            "week (from= and to= ask for other days, up to 31 at a time).",
        ),
        Distribution(
            f"{uri}-senml",
            f"{title}: hourly means as SenML JSON",
            f"{download}&format=senml",
            "application/senml+json",
            "JSON",
            "Hourly means as a SenML pack (RFC 8428), the last week (from= and to= as for CSV).",
        ),
        Distribution(
            f"{uri}-sqlite",
            f"{title}: SQLite for Datasette",
            sqlite,
            "application/vnd.sqlite3",
            "",
            "A SQLite file of the hourly data, a view per metric with its unit, ready for "
            "Datasette (its metadata.json is served beside it).",
        ),
    )


def build_catalogue(
    store: CatalogueStore, settings: CatalogueSettings, base: str, now: datetime
) -> Catalogue:
    """The catalogue of the halls publishing now; ``base`` is the hub's address ("https://…/")."""
    halls = published_halls(store)
    registered = {d.device_id: d for d in store.registered()}
    datasets: list[CatalogueDataset] = []
    county_places: list[Place] = []
    spans: list[tuple[int, int]] = []
    for hall in halls:
        dataset, place, span = _hall_dataset(store, hall, registered, base, now)
        datasets.append(dataset)
        county_places.append(place)
        if span is not None:
            spans.append(span)
    county = CatalogueDataset(
        uri=f"{base}open-data/catalog#county",
        identifier="county",
        title="Village hall sensors: every hall",
        description="Hourly environmental and footfall data from every village hall that "
        "publishes open data: " + (", ".join(h.site for h in halls) or "none yet") + ".",
        landing_page=f"{base}open-data",
        keywords=("village hall", "sensors", "air quality", "footfall"),
        places=tuple(county_places),
        first=_moment(min(s[0] for s in spans)) if spans else None,
        last=_moment(max(s[1] for s in spans)) if spans else None,
        distributions=_distributions(
            f"{base}open-data/catalog#county",
            "Every hall",
            f"{base}open-data/download?",
            f"{base}open-data/datasette.db",
        ),
    )
    return Catalogue(
        uri=f"{base}open-data/catalog",
        title="Village hall sensors: open data",
        description="Environmental and footfall readings from sensors in village halls, "
        "as hourly means, for everyone to use.",
        homepage=f"{base}open-data",
        licence=settings.licence,
        publisher=Publisher(settings.publisher, settings.publisher_url, settings.contact),
        datasets=[*datasets, county],
    )


def _hall_dataset(
    store: CatalogueStore,
    hall: PublishedHall,
    registered: Mapping[str, RegisteredDevice],
    base: str,
    now: datetime,
) -> tuple[CatalogueDataset, Place, tuple[int, int] | None]:
    devices = [registered[d] for d in hall.device_ids if d in registered]
    locations = sorted({d.location for d in devices} - {""})
    added = min((d.added_at_us for d in devices), default=_us(now))
    span = published_span(
        store, hall.device_ids, hall.metrics, registered_us=added, now_us=_us(now)
    )
    page = f"{base}open-data/{hall.slug}"
    place = Place(f"{page}#place", hall.site, "; ".join(locations))
    words = [metric_words(m) for m in hall.metrics]
    dataset = CatalogueDataset(
        uri=f"{page}#dataset",
        identifier=hall.slug,
        title=f"{hall.site}: sensor data",
        description=f"Hourly data from the sensors in {hall.site}: "
        + ", ".join(w.lower() for w in words)
        + ".",
        landing_page=page,
        keywords=("village hall", *words),
        places=(place,),
        first=_moment(span[0]) if span else None,
        last=_moment(span[1]) if span else None,
        distributions=_distributions(
            f"{page}#dataset",
            hall.site,
            f"{base}open-data/download?{urlencode({'site': hall.slug})}",
            f"{base}open-data/{hall.slug}/datasette.db",
        ),
    )
    return dataset, place, span


def open_data_catalog_blueprint(
    store: Callable[[], CatalogueStore],
    settings: CatalogueSettings,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Blueprint:
    """The catalogue's routes over the request's hub store."""
    blueprint = Blueprint("open_data_catalog", __name__)

    def answer(kind: str) -> Response:
        if request.args:
            name = sorted(request.args)[0][:40]
            raise BadRequest(description=f"{name}: not a parameter here (use none)")
        base = url_for("open_data.index", _external=True).removesuffix("open-data")
        graph = catalogue_graph(build_catalogue(store(), settings, base, now()))
        if kind == TURTLE:
            response = Response(to_turtle(graph), mimetype=TURTLE)
        else:
            response = Response(to_jsonld(graph), mimetype=JSONLD)
        response.headers["Cache-Control"] = f"public, max-age={CACHE_S}"
        response.headers["Vary"] = "Accept"
        return response

    @blueprint.get("/open-data/catalog")
    def catalog() -> Response:
        best = request.accept_mimetypes.best_match([JSONLD, TURTLE, "application/json"])
        return answer(TURTLE if best == TURTLE else JSONLD)

    @blueprint.get("/open-data/catalog.jsonld")
    def jsonld() -> Response:
        return answer(JSONLD)

    @blueprint.get("/open-data/catalog.ttl")
    def turtle() -> Response:
        return answer(TURTLE)

    return blueprint
