"""The hub's DCAT-AP catalogue, served by the real hub web over a real SQLite hub store.

Parsed by rdflib from both formats, validated against DCAT-AP shapes with pyshacl
(tests/hub/dcat_ap_shapes.ttl), and read for what a council's CKAN harvests: licence,
publisher, spatial and temporal coverage, frequency, a distribution per format.
"""

from __future__ import annotations

import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pyshacl import validate
from rdflib import Graph, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, SKOS

from hub.dcat import FILE_TYPE, HOURLY
from hub.exports import hub_exporters
from hub.open_data_catalog import CatalogueSettings
from hub.presenter import NodePresenter
from hub.settings import OGL_V3, HubSettings
from hub.store_sqlite import SqliteHubStore
from hub.web import HubPages, create_hub_web
from provisioning.enrolment_tokens import TokenStore
from tests.hub.open_data_halls import HOUR_US, THIS_HOUR_US, add_hall, add_hours
from tests.hub.web_support import Kept

SHAPES = Graph().parse(Path(__file__).with_name("dcat_ap_shapes.ttl"))
BASE = "http://localhost/"
ASKRIGG = URIRef(f"{BASE}open-data/askrigg-village-hall#dataset")
REETH = URIRef(f"{BASE}open-data/reeth-memorial-hall#dataset")
COUNTY = URIRef(f"{BASE}open-data/catalog#county")
COUNCIL = CatalogueSettings(
    publisher="North Yorkshire Council",
    publisher_url="https://www.northyorks.gov.uk/",
    contact="mailto:opendata@northyorks.example",
)
FIRST_HOUR_US = THIS_HOUR_US - 48 * HOUR_US


def make_app(tmp_path, store, catalogue=COUNCIL):
    pages = HubPages(
        open_store=lambda: Kept(store),
        exporters=hub_exporters("Europe/London"),
        presenter=NodePresenter(),
        send_config=lambda device_id, payload, actor: None,
        secure_cookies=False,
        catalogue=catalogue,
    )
    return create_hub_web(TokenStore(tmp_path / "enrolment"), lambda device_id: {}, pages=pages)


@pytest.fixture
def store(tmp_path):
    store = SqliteHubStore(tmp_path / "hub.db")
    add_hall(
        store,
        "askrigg",
        "Askrigg Village Hall",
        ("temperature", "co2"),
        location="Main Street, Askrigg DL8 3HT",
    )
    add_hours(store, "askrigg", "temperature", "°C", FIRST_HOUR_US, 48)
    add_hours(store, "askrigg", "noise", "dBA", FIRST_HOUR_US - 100 * HOUR_US, 200, seq=100)
    add_hall(store, "reeth", "Reeth Memorial Hall", ("footfall",))  # publishes, no readings
    add_hall(store, "bainbridge", "Bainbridge Institute", ())  # publishes nothing
    add_hours(store, "bainbridge", "temperature", "°C", FIRST_HOUR_US, 5)
    yield store
    store.close()


def fetch(client, url, **headers):
    answer = client.get(url, headers=headers)
    assert answer.status_code == 200, answer.text[:300]
    return answer


def catalogue(app, fmt="turtle"):
    url = "/open-data/catalog.ttl" if fmt == "turtle" else "/open-data/catalog.jsonld"
    text = fetch(app.test_client(), url).text
    with warnings.catch_warnings():
        # rdflib 7.6's own JSON-LD parser builds the ConjunctiveGraph it deprecates.
        warnings.filterwarnings("ignore", "ConjunctiveGraph is deprecated", DeprecationWarning)
        return Graph().parse(data=text, format=fmt)


def moment(us):
    return datetime.fromtimestamp(us / 1e6, UTC)


def test_turtle_and_json_ld_are_the_same_graph(tmp_path, store):
    app = make_app(tmp_path, store)
    turtle, jsonld = catalogue(app, "turtle"), catalogue(app, "json-ld")
    assert len(turtle) > 50
    assert isomorphic(turtle, jsonld)


def test_the_catalogue_conforms_to_the_dcat_ap_shapes(tmp_path, store):
    conforms, _, report = validate(
        catalogue(make_app(tmp_path, store)), shacl_graph=SHAPES, allow_warnings=False
    )
    assert conforms, report


def test_the_shapes_refuse_a_catalogue_without_its_mandatory_properties(tmp_path, store):
    graph = catalogue(make_app(tmp_path, store))
    graph.remove((ASKRIGG, DCTERMS.title, None))
    for distribution in graph.objects(ASKRIGG, DCAT.distribution):
        graph.remove((distribution, DCAT.accessURL, None))
    conforms, _, report = validate(graph, shacl_graph=SHAPES)
    assert not conforms
    assert "dcat:accessURL" in report
    assert "dct:title" in report


def test_licence_publisher_and_frequency_are_what_the_settings_say(tmp_path, store):
    graph = catalogue(make_app(tmp_path, store))
    (root,) = graph.subjects(RDF.type, DCAT.Catalog)
    assert graph.value(root, DCTERMS.license) == URIRef(OGL_V3)
    publisher = graph.value(root, DCTERMS.publisher)
    assert publisher == URIRef("https://www.northyorks.gov.uk/")
    assert str(graph.value(publisher, FOAF.name)) == "North Yorkshire Council"
    for dataset in (ASKRIGG, REETH, COUNTY):
        assert graph.value(dataset, DCTERMS.publisher) == publisher
        assert graph.value(dataset, DCTERMS.accrualPeriodicity) == HOURLY
        contact = graph.value(dataset, DCAT.contactPoint)
        assert str(graph.value(contact, URIRef("http://www.w3.org/2006/vcard/ns#hasEmail"))) == (
            "mailto:opendata@northyorks.example"
        )
        for distribution in graph.objects(dataset, DCAT.distribution):
            assert graph.value(distribution, DCTERMS.license) == URIRef(OGL_V3)


def test_another_licence_is_set_by_the_setting(tmp_path, store):
    cc_by = "https://creativecommons.org/licenses/by/4.0/"
    graph = catalogue(make_app(tmp_path, store, CatalogueSettings(licence=cc_by)))
    assert set(graph.objects(None, DCTERMS.license)) == {URIRef(cc_by)}
    (root,) = graph.subjects(RDF.type, DCAT.Catalog)
    name = graph.value(graph.value(root, DCTERMS.publisher), FOAF.name)
    assert str(name) == "not named (set HALLSENSE_OPEN_DATA_PUBLISHER)"
    assert graph.value(ASKRIGG, DCAT.contactPoint) is None


def test_each_hall_has_its_site_and_the_hours_it_published(tmp_path, store):
    graph = catalogue(make_app(tmp_path, store))
    place = graph.value(ASKRIGG, DCTERMS.spatial)
    assert str(graph.value(place, SKOS.prefLabel)) == "Askrigg Village Hall"
    assert "DL8 3HT" in str(
        graph.value(place, URIRef(str(graph.namespace_manager.expand_curie("rdfs:comment"))))
    )
    period = graph.value(ASKRIGG, DCTERMS.temporal)
    # Temperature only: the noise it does not publish began earlier and ended later.
    assert graph.value(period, DCAT.startDate).toPython() == moment(FIRST_HOUR_US)
    assert graph.value(period, DCAT.endDate).toPython() == moment(THIS_HOUR_US)
    county = graph.value(COUNTY, DCTERMS.temporal)
    assert graph.value(county, DCAT.startDate).toPython() == moment(FIRST_HOUR_US)
    assert set(graph.objects(COUNTY, DCTERMS.spatial)) == {
        place,
        graph.value(REETH, DCTERMS.spatial),
    }


def test_a_distribution_per_format_and_each_downloads(tmp_path, store):
    app = make_app(tmp_path, store)
    graph = catalogue(app)
    client = app.test_client()
    for dataset in (ASKRIGG, REETH, COUNTY):
        found = {}
        for distribution in graph.objects(dataset, DCAT.distribution):
            media = str(graph.value(distribution, DCAT.mediaType)).rsplit("/", 2)
            found["/".join(media[-2:])] = (
                graph.value(distribution, DCTERMS.format),
                str(graph.value(distribution, DCAT.downloadURL)),
            )
        assert set(found) == {"text/csv", "application/senml+json", "application/vnd.sqlite3"}
        assert found["text/csv"][0] == FILE_TYPE["CSV"]
        assert found["application/senml+json"][0] == FILE_TYPE["JSON"]
        for media_type, (_, url) in found.items():
            answer = fetch(client, url.removeprefix(BASE.rstrip("/")))
            assert answer.mimetype == media_type
            answer.close()


def test_a_hall_without_readings_is_listed_without_temporal_coverage(tmp_path, store):
    graph = catalogue(make_app(tmp_path, store))
    assert (REETH, RDF.type, DCAT.Dataset) in graph
    assert graph.value(REETH, DCTERMS.temporal) is None
    assert graph.value(REETH, DCTERMS.spatial) is not None


def test_a_hall_that_publishes_nothing_is_not_in_the_catalogue(tmp_path, store):
    text = fetch(make_app(tmp_path, store).test_client(), "/open-data/catalog.ttl").text
    assert "bainbridge" not in text.lower()
    assert "Bainbridge" not in text


def test_the_catalogue_address_answers_the_format_asked_for(tmp_path, store):
    client = make_app(tmp_path, store).test_client()
    turtle = fetch(client, "/open-data/catalog", Accept="text/turtle")
    assert turtle.mimetype == "text/turtle"
    assert turtle.headers["Vary"] == "Accept"
    for accept in ("application/ld+json", "application/json", "*/*", "text/html"):
        assert fetch(client, "/open-data/catalog", Accept=accept).mimetype == "application/ld+json"
    assert "public" in turtle.headers["Cache-Control"]


def test_the_catalogue_needs_no_login_and_takes_no_parameters(tmp_path, store):
    client = make_app(tmp_path, store).test_client()
    for url in ("/open-data/catalog", "/open-data/catalog.ttl", "/open-data/catalog.jsonld"):
        answer = client.get(f"{url}?format=xml")
        assert answer.status_code == 400
        assert "<p>format: not a parameter here (use none)</p>" in answer.text
        assert client.post(url).status_code == 405


def test_a_county_of_many_halls_is_catalogued_quickly(tmp_path):
    store = SqliteHubStore(tmp_path / "hub.db")
    try:
        for n in range(60):
            add_hall(store, f"hall-{n}", f"Hall {n:02d}", ("temperature", "footfall"))
            add_hours(store, f"hall-{n}", "temperature", "°C", FIRST_HOUR_US - n * HOUR_US, 24)
        app = make_app(tmp_path, store)
        started = time.perf_counter()
        graph = catalogue(app)
        took = time.perf_counter() - started
        assert len(set(graph.subjects(RDF.type, DCAT.Dataset))) == 61
        assert len(set(graph.subjects(RDF.type, DCAT.Distribution))) == 61 * 3
        period = graph.value(COUNTY, DCTERMS.temporal)
        assert graph.value(period, DCAT.startDate).toPython() == moment(
            FIRST_HOUR_US - 59 * HOUR_US
        )
        assert took < 1.0, took
    finally:
        store.close()


def test_the_settings_refuse_a_licence_or_publisher_that_is_not_a_web_address():
    settings = HubSettings(
        hub_store="hub.db",
        open_data_licence="OGL",
        open_data_publisher_url="https://council.example/",
        open_data_contact="opendata@council.example",
    )
    assert settings.check() == [
        ("open_data_licence", "'OGL' is not a http:// or https:// URI"),
        (
            "open_data_contact",
            "'opendata@council.example' is not a mailto: or http:// or https:// URI",
        ),
        ("open_data_publisher", "name the publisher whose web site is given"),
    ]
    assert HubSettings(hub_store="hub.db").check() == []
    assert CatalogueSettings.from_settings(HubSettings(hub_store="hub.db")).licence == OGL_V3
