"""Device ids made from site names, and the hub store as the registry provisioning uses."""

import pytest

from hub.store_sqlite import SqliteHubStore
from hub_sync.topics import check_device_id
from hub_sync.wire_errors import ProtocolError
from provisioning.registry import DeviceRegistry, device_id_from_site


@pytest.mark.parametrize(
    ("site", "expected"),
    [
        ("Askrigg Village Hall", "askrigg-village-hall"),
        ("St Mary's Church Hall, Bainbridge", "st-mary-s-church-hall-bainbridge"),
        ("Ysgol Gynradd Llanfair-ym-Muallt", "ysgol-gynradd-llanfair-ym-muallt"),
        ("Café Düsseldorf / Rooms", "cafe-dusseldorf-rooms"),
        ("Great Ayton and Little Ayton Memorial Institute", "great-ayton-and-little-ayton"),
        ("X" * 40, "x" * 32),
    ],
)
def test_a_site_name_makes_a_valid_device_id(site, expected):
    assert device_id_from_site(site) == expected
    check_device_id(expected)


def test_a_taken_id_gets_a_number_and_still_fits():
    taken = {"askrigg-village-hall", "askrigg-village-hall-2"}
    assert device_id_from_site("Askrigg Village Hall", taken) == "askrigg-village-hall-3"
    long = "great-ayton-and-little-ayton"
    assert len(device_id_from_site("Great Ayton and Little Ayton Memorial", {long})) <= 32


@pytest.mark.parametrize("site", ["", "!!!", "—"])
def test_a_name_with_nothing_to_make_an_id_from_is_refused(site):
    with pytest.raises(ProtocolError, match="give one with --id"):
        device_id_from_site(site)


def test_the_hub_store_is_a_device_registry(tmp_path):
    store: DeviceRegistry = SqliteHubStore(tmp_path / "hub.db")
    store.add_device("askrigg", "Askrigg Village Hall", actor="test")
    assert [d.device_id for d in store.registered()] == ["askrigg"]
    store.close()  # type: ignore[attr-defined]
