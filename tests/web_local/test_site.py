"""Page settings: the file's values over the defaults, the hub's over both, bad ones refused."""

import json

import pytest

from web_local.site import PageConfigError, resolve_page_settings, validate_page_config


def test_defaults_then_the_file_then_the_hub_each_saying_where_it_came_from(tmp_path):
    downlink = tmp_path / "page-settings.json"
    page = resolve_page_settings({"hall_name": "From the file", "contact": "Clerk"}, downlink)
    assert (page.hall_name, page.source("hall_name")) == ("From the file", "settings file")
    assert page.source("opening_hours") == "default"
    downlink.write_text(json.dumps({"hall_name": "From the hub", "sensor_labels": {"a": "Door"}}))
    page = resolve_page_settings({"hall_name": "From the file", "contact": "Clerk"}, downlink)
    assert (page.hall_name, page.source("hall_name")) == ("From the hub", "hub")
    assert (page.contact, page.source("contact")) == ("Clerk", "settings file")
    assert page.label("a", "footfall") == "Door"
    assert page.label("b", "footfall") == "People through the door"  # the vocabulary's


@pytest.mark.parametrize("damage", [b"{not json", b'{"public_metrics": ["teleportation"]}', b""])
def test_a_damaged_downlink_file_is_ignored_not_fatal(tmp_path, damage):
    downlink = tmp_path / "page-settings.json"
    downlink.write_bytes(damage)
    page = resolve_page_settings({"hall_name": "From the file"}, downlink)
    assert page.hall_name == "From the file"


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"hall_name": ""}, "hall_name: must not be empty"),
        ({"hall_name": "x" * 201}, "hall_name: must be text"),
        ({"public_metrics": ["co2", "teleportation"]}, "unknown metrics teleportation"),
        ({"public_metrics": "co2"}, "public_metrics: must be a list"),
        ({"sensor_labels": {"a": "x" * 81}}, "sensor_labels"),
        ({"colour": "red"}, "colour: not a page setting"),
    ],
)
def test_bad_page_settings_are_refused_naming_the_key(values, words):
    with pytest.raises(PageConfigError, match=words):
        validate_page_config(values)
