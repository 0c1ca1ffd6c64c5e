"""The hub's open data catalogue as DCAT-AP RDF (JSON-LD and Turtle), built from plain values.

A council's data portal (CKAN with ckanext-dcat, as data.gov.uk runs) harvests a catalogue
like this one: a ``dcat:Catalog`` with one ``dcat:Dataset`` per hall that publishes open
data, and one for the whole county, each with its licence (the Open Government Licence
v3.0 unless the hub's settings say otherwise), publisher, spatial coverage (the hall's
site), temporal coverage (its first and last published hour), update frequency and a
``dcat:Distribution`` per download format (CSV, SenML JSON, a Datasette-ready SQLite
file). Controlled values are the EU vocabularies DCAT-AP names (frequency, file type,
data theme, language).

Nothing here reads the store or a request: :mod:`hub.open_data_catalog` gathers the
values and serves the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, RDFS, SKOS, XSD

EU = "http://publications.europa.eu/resource/authority/"
FREQUENCY = Namespace(EU + "frequency/")
FILE_TYPE = Namespace(EU + "file-type/")
DATA_THEME = Namespace(EU + "data-theme/")
LANGUAGE = Namespace(EU + "language/")
IANA = "https://www.iana.org/assignments/media-types/"
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")

HOURLY = FREQUENCY["HOURLY"]
"""The update frequency: open data is hourly means, a new hour as each hall's readings arrive."""

CONTEXT = {
    "dcat": str(DCAT),
    "dct": str(DCTERMS),
    "foaf": str(FOAF),
    "vcard": str(VCARD),
    "skos": str(SKOS),
    "rdfs": str(RDFS),
    "xsd": str(XSD),
}
"""The JSON-LD context, inline: a harvester needs fetch nothing to read the catalogue."""


@dataclass(frozen=True)
class Publisher:
    """Who publishes the catalogue (the council), from the hub's settings."""

    name: str
    url: str = ""
    contact: str = ""
    """A mailto: or https: URI to ask about the data ("" for none)."""


@dataclass(frozen=True)
class Distribution:
    """One way to download a dataset."""

    uri: str
    title: str
    download_url: str
    media_type: str
    """An IANA media type: ``text/csv``, ``application/senml+json``, ``application/vnd.sqlite3``."""
    file_type: str
    """The EU file-type code (``CSV``, ``JSON``), or "" where it has none (then the media type)."""
    description: str


@dataclass(frozen=True)
class Place:
    """Where a hall is, as the hub knows it: its site's name and the location it was given."""

    uri: str
    name: str
    location: str = ""


@dataclass(frozen=True)
class CatalogueDataset:
    """One hall's (or the county's) published data."""

    uri: str
    identifier: str
    title: str
    description: str
    landing_page: str
    keywords: tuple[str, ...]
    places: tuple[Place, ...]
    first: datetime | None
    """The start of its first published hour (None: nothing published yet)."""
    last: datetime | None
    """The end of its last published hour."""
    distributions: tuple[Distribution, ...]


@dataclass(frozen=True)
class Catalogue:
    """The whole catalogue."""

    uri: str
    title: str
    description: str
    homepage: str
    licence: str
    publisher: Publisher
    datasets: Sequence[CatalogueDataset]


def catalogue_graph(catalogue: Catalogue) -> Graph:
    """The catalogue as an RDF graph in DCAT-AP terms."""
    graph = Graph()
    for prefix, namespace in CONTEXT.items():
        graph.bind(prefix, namespace)
    root = URIRef(catalogue.uri)
    licence = URIRef(catalogue.licence)
    graph.add((licence, RDF.type, DCTERMS.LicenseDocument))
    publisher = _publisher(graph, catalogue)
    graph.add((root, RDF.type, DCAT.Catalog))
    graph.add((root, DCTERMS.title, Literal(catalogue.title, lang="en")))
    graph.add((root, DCTERMS.description, Literal(catalogue.description, lang="en")))
    graph.add((root, DCTERMS.publisher, publisher))
    graph.add((root, DCTERMS.license, licence))
    graph.add((root, FOAF.homepage, URIRef(catalogue.homepage)))
    graph.add((root, DCTERMS.language, LANGUAGE["ENG"]))
    graph.add((root, DCAT.themeTaxonomy, URIRef(EU + "data-theme")))
    newest = [d.last for d in catalogue.datasets if d.last is not None]
    if newest:
        graph.add((root, DCTERMS.modified, Literal(max(newest), datatype=XSD.dateTime)))
    for dataset in catalogue.datasets:
        graph.add((root, DCAT.dataset, _dataset(graph, dataset, licence, publisher, catalogue)))
    return graph


def _publisher(graph: Graph, catalogue: Catalogue) -> URIRef:
    given = catalogue.publisher
    agent = URIRef(given.url or f"{catalogue.uri}#publisher")
    graph.add((agent, RDF.type, FOAF.Agent))
    name = given.name or "not named (set HALLSENSE_OPEN_DATA_PUBLISHER)"
    graph.add((agent, FOAF.name, Literal(name, lang="en")))
    if given.url:
        graph.add((agent, FOAF.homepage, URIRef(given.url)))
    graph.add((agent, DCTERMS.type, URIRef("http://purl.org/adms/publishertype/LocalAuthority")))
    return agent


def _contact(graph: Graph, catalogue: Catalogue) -> BNode | None:
    given = catalogue.publisher
    if not given.contact:
        return None
    card = BNode()
    graph.add((card, RDF.type, VCARD.Kind))
    graph.add((card, RDF.type, VCARD.Organization))
    graph.add((card, VCARD.fn, Literal(given.name or catalogue.title, lang="en")))
    key = VCARD.hasEmail if given.contact.startswith("mailto:") else VCARD.hasURL
    graph.add((card, key, URIRef(given.contact)))
    return card


def _dataset(
    graph: Graph,
    dataset: CatalogueDataset,
    licence: URIRef,
    publisher: URIRef,
    catalogue: Catalogue,
) -> URIRef:
    node = URIRef(dataset.uri)
    graph.add((node, RDF.type, DCAT.Dataset))
    graph.add((node, DCTERMS.identifier, Literal(dataset.identifier)))
    graph.add((node, DCTERMS.title, Literal(dataset.title, lang="en")))
    graph.add((node, DCTERMS.description, Literal(dataset.description, lang="en")))
    graph.add((node, DCTERMS.publisher, publisher))
    graph.add((node, DCAT.landingPage, URIRef(dataset.landing_page)))
    graph.add((node, DCTERMS.accrualPeriodicity, HOURLY))
    graph.add((HOURLY, RDF.type, DCTERMS.Frequency))
    graph.add((node, DCAT.theme, DATA_THEME["ENVI"]))
    graph.add((node, DCTERMS.language, LANGUAGE["ENG"]))
    contact = _contact(graph, catalogue)
    if contact is not None:
        graph.add((node, DCAT.contactPoint, contact))
    for word in dataset.keywords:
        graph.add((node, DCAT.keyword, Literal(word, lang="en")))
    for place in dataset.places:
        where = URIRef(place.uri)
        graph.add((where, RDF.type, DCTERMS.Location))
        graph.add((where, SKOS.prefLabel, Literal(place.name, lang="en")))
        if place.location:
            graph.add((where, RDFS.comment, Literal(place.location, lang="en")))
        graph.add((node, DCTERMS.spatial, where))
    if dataset.first is not None and dataset.last is not None:
        period = BNode()
        graph.add((period, RDF.type, DCTERMS.PeriodOfTime))
        graph.add((period, DCAT.startDate, Literal(dataset.first, datatype=XSD.dateTime)))
        graph.add((period, DCAT.endDate, Literal(dataset.last, datatype=XSD.dateTime)))
        graph.add((node, DCTERMS.temporal, period))
        graph.add((node, DCTERMS.modified, Literal(dataset.last, datatype=XSD.dateTime)))
    for given in dataset.distributions:
        graph.add((node, DCAT.distribution, _distribution(graph, given, licence)))
    return node


def _distribution(graph: Graph, given: Distribution, licence: URIRef) -> URIRef:
    node = URIRef(given.uri)
    media = URIRef(IANA + given.media_type)
    graph.add((node, RDF.type, DCAT.Distribution))
    graph.add((node, DCTERMS.title, Literal(given.title, lang="en")))
    graph.add((node, DCTERMS.description, Literal(given.description, lang="en")))
    graph.add((node, DCAT.accessURL, URIRef(given.download_url)))
    graph.add((node, DCAT.downloadURL, URIRef(given.download_url)))
    graph.add((node, DCAT.mediaType, media))
    graph.add((media, RDF.type, DCTERMS.MediaType))
    file_format = FILE_TYPE[given.file_type] if given.file_type else media
    graph.add((node, DCTERMS.format, file_format))
    graph.add((file_format, RDF.type, DCTERMS.MediaTypeOrExtent))
    graph.add((node, DCTERMS.license, licence))
    return node


def to_turtle(graph: Graph) -> str:
    """The graph as Turtle."""
    return graph.serialize(format="turtle")


def to_jsonld(graph: Graph) -> str:
    """The graph as compact JSON-LD with an inline context."""
    return graph.serialize(format="json-ld", context=CONTEXT, indent=2)
