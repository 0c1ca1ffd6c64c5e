"""The hall's status page says how fresh the hub's copy can be under the node's link profile."""

from edge.settings import EdgeSettings
from hallsense.wiring_web import build_site
from tests.web_local.conftest import HALL, NOW
from web_local.app import create_app
from web_local.site import PageSettings, Site


def page(store_path, freshness: str) -> str:
    settings = PageSettings(hall_name=HALL)
    site = Site(store_path, lambda: settings, lambda: NOW, freshness=freshness)
    response = create_app(site).test_client().get("/status")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_status_page_says_how_fresh_the_hubs_copy_can_be(hall_db):
    words = "metered link: readings reach the hub within 30 minutes"
    assert f"This hall's {words}." in page(hall_db, words)
    assert "This hall's" not in page(hall_db, "")


def test_the_site_takes_the_words_from_the_nodes_profile_and_its_overrides(tmp_path):
    linked = EdgeSettings(
        data_dir=tmp_path,
        broker_host="hub.example",
        link_profile="metered",
        uplink_batch_window_s=600.0,
    )
    assert build_site(linked).freshness == "metered link: readings reach the hub within 10 minutes"
    assert build_site(EdgeSettings(data_dir=tmp_path)).freshness == ""  # no hub: nothing to say
