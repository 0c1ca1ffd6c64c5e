"""A clerk's edit of a hall's settings: checked as the node checks, sent, and kept by the hub."""

import json

import pytest

from hub.config_downlink import build_config
from hub.hall_settings import (
    HallSettings,
    HallSettingsError,
    apply_edit,
    checked_edit,
    hall_settings,
    in_effect_public_metrics,
    offered_metrics,
    sensor_words,
)
from hub_sync.node_config import decode_config
from presentation.vocabulary import DEFAULT_PUBLIC_METRICS, METRICS, metric_words


def sender(store, sent):
    def send(device_id, payload):
        sent.append(decode_config(payload))
        store.save_config(
            device_id, json.loads(payload)["revision"], payload.decode(), actor="clerk"
        )

    return send


def test_an_edit_keeps_what_was_sent_before_and_waits_for_the_node(hub_store):
    hub_store.add_device("askrigg", "Askrigg Village Hall")
    _, first = build_config(100, {"simulated": 30.0}, {"sensor_labels": {"door": "Main door"}})
    hub_store.save_config("askrigg", 100, first.decode(), actor="team")
    sent = []

    before = hall_settings(hub_store, "askrigg")
    assert before.state == "waiting"
    revision = apply_edit(
        before, {"opening_hours": "Mon to Sat, 9:00 to 22:00"}, sender(hub_store, sent), now_s=50
    )
    assert revision == 101  # above the last, even with a clock behind it
    (config,) = sent
    assert dict(config.intervals) == {"simulated": 30.0}
    assert dict(config.page)["opening_hours"] == "Mon to Sat, 9:00 to 22:00"
    assert dict(dict(config.page)["sensor_labels"]) == {"door": "Main door"}

    after = hall_settings(hub_store, "askrigg")
    assert (after.revision, after.sent_by, after.state) == (101, "clerk", "waiting")
    hub_store.record_status("askrigg", True, '{"v":1,"state":"online","config_revision":101}', 7)
    assert hall_settings(hub_store, "askrigg").state == "applied"


def test_a_form_is_checked_field_by_field():
    form = {
        "hall_name": "  Askrigg   Village Hall ",
        "opening_hours": "",
        "label:door": "Front door",
        "label:co2": "",
        "public:temperature": "on",
    }
    page = checked_edit(form, ["door", "co2"], ["temperature", "co2"])
    assert page == {
        "hall_name": "Askrigg Village Hall",
        "opening_hours": "",
        "public_metrics": ["temperature"],
        "sensor_labels": {"door": "Front door"},
    }
    with pytest.raises(HallSettingsError, match="hall_name: must not be empty"):
        checked_edit({"hall_name": "  "}, [], [])
    with pytest.raises(HallSettingsError, match="label:door"):
        checked_edit({"hall_name": "A", "label:door": "x" * 81}, ["door"], [])


def test_an_empty_selection_of_public_measurements_is_refused_at_the_first_box():
    """Nothing ticked would blank the hall's page: the clerk is asked to tick one."""
    with pytest.raises(HallSettingsError, match="tick at least one") as refused:
        checked_edit({"hall_name": "A"}, [], ["temperature", "co2"])
    assert refused.value.field == "public:temperature"
    assert checked_edit({"hall_name": "A", "public:co2": "on"}, [], ["temperature", "co2"])[
        "public_metrics"
    ] == ["co2"]


def test_the_form_starts_from_what_the_hall_shows_and_offers_only_real_metrics():
    never_sent = HallSettings("askrigg")
    assert in_effect_public_metrics(never_sent) == DEFAULT_PUBLIC_METRICS
    sent = HallSettings("askrigg", page={"public_metrics": ["co2"]}, revision=1)
    assert in_effect_public_metrics(sent) == ("co2",)
    offered = offered_metrics(never_sent)
    assert set(DEFAULT_PUBLIC_METRICS) <= set(offered)
    assert all(metric in METRICS for metric in offered)
    assert "humidity" not in offered
    assert metric_words("relative_humidity") == "Relative humidity"
    assert sensor_words("sim-co2", {"co2"}) == (
        "the sensor measuring carbon dioxide concentration (sim-co2)"
    )


def test_nothing_is_recorded_when_the_broker_cannot_be_reached(hub_store):
    hub_store.add_device("askrigg", "Askrigg Village Hall")

    def down(device_id, payload):
        raise ConnectionError("broker unreachable")

    with pytest.raises(ConnectionError):
        apply_edit(hall_settings(hub_store, "askrigg"), {"hall_name": "Askrigg"}, down)
    assert hall_settings(hub_store, "askrigg").state == "none"
    with pytest.raises(HallSettingsError, match="contact"):
        apply_edit(hall_settings(hub_store, "askrigg"), {"contact": "x"}, down)
