"""Link profiles: each named profile's values, unknown names refused, explicit settings first."""

from typing import get_type_hints

import pytest

from edge.link_profiles import DEFAULT_PROFILE, PROFILES, link_profile, resolve
from edge.settings import EdgeSettings
from hallsense.settings import load_settings
from hallsense.wiring import node_link


@pytest.mark.parametrize(
    ("name", "window_s", "keepalive_s", "heartbeat_s"),
    [
        ("live", 120.0, 300, 600.0),
        ("metered", 1800.0, 2700, 7200.0),
        ("satellite", 3600.0, 5400, 10800.0),
    ],
)
def test_each_profile_sets_its_values_together(name, window_s, keepalive_s, heartbeat_s):
    profile = link_profile(name)
    assert (profile.batch_window_s, profile.keepalive_s, profile.heartbeat_s) == (
        window_s,
        keepalive_s,
        heartbeat_s,
    )


def test_live_is_the_default_and_the_settings_know_exactly_the_profiles(tmp_path):
    assert DEFAULT_PROFILE == "live"
    assert EdgeSettings(data_dir=tmp_path).link_profile == "live"
    hint = get_type_hints(EdgeSettings)["link_profile"]
    assert hint.__args__ == tuple(PROFILES)


def test_an_unknown_profile_is_refused_with_the_known_names():
    with pytest.raises(ValueError, match="'dialup'; known profiles: live, metered, satellite"):
        link_profile("dialup")


def test_explicit_settings_override_the_profile_one_by_one():
    profile = resolve("metered", heartbeat_s=120.0)
    assert (profile.batch_window_s, profile.keepalive_s, profile.heartbeat_s) == (
        1800.0,
        2700,
        120.0,
    )
    profile = resolve("metered", batch_window_s=0.0, keepalive_s=60)
    assert (profile.batch_window_s, profile.keepalive_s, profile.heartbeat_s) == (
        0.0,
        60,
        7200.0,
    )


def test_the_nodes_wiring_takes_the_profile_and_its_overrides_from_the_settings(tmp_path):
    env = tmp_path / "edge.env"
    env.write_text(
        f"HALLSENSE_DATA_DIR={tmp_path}\nHALLSENSE_LINK_PROFILE=metered\n"
        "HALLSENSE_UPLINK_HEARTBEAT_S=600\n"
    )
    link = node_link(load_settings(EdgeSettings, env, environ={}))
    assert (link.name, link.batch_window_s, link.keepalive_s, link.heartbeat_s) == (
        "metered",
        1800.0,
        2700,
        600.0,
    )


def test_freshness_is_said_in_words():
    assert PROFILES["metered"].freshness == "metered link: readings reach the hub within 30 minutes"
    assert PROFILES["live"].freshness == "live link: readings reach the hub within 2 minutes"
    assert PROFILES["satellite"].freshness == "satellite link: readings reach the hub within 1 hour"


def test_the_nodes_uplink_is_built_with_its_profile_and_drain_sends_at_once(tmp_path):
    from edge.store import EdgeStore
    from hallsense.wiring import build_uplink

    settings = EdgeSettings(
        data_dir=tmp_path,
        device_id="askrigg",
        broker_host="127.0.0.1",
        broker_password="not-used",  # noqa: S106 - never connects
        link_profile="metered",
    )
    store = EdgeStore(tmp_path / "edge.db")
    try:
        uplink = build_uplink(settings, store)
        assert (uplink.settings.batch_window_s, uplink.settings.heartbeat_s) == (1800.0, 7200.0)
        assert uplink.client.broker.keepalive_s == 2700
        assert build_uplink(settings, store, hold=False).settings.batch_window_s == 0
    finally:
        store.close()


def test_the_uplinks_daily_budget_counts_what_the_updater_downloaded_as_it_changes(tmp_path):
    from datetime import UTC, datetime

    from edge.store import EdgeStore
    from edge.update_files import UpdateState, write_update_state
    from hallsense.wiring import build_uplink
    from hub_sync.metering import local_day

    settings = EdgeSettings(
        data_dir=tmp_path,
        device_id="askrigg",
        broker_host="127.0.0.1",
        broker_password="not-used",  # noqa: S106 - never connects
        uplink_daily_budget_mb=1,
    )
    today = local_day(datetime.now(UTC), settings.timezone)
    store = EdgeStore(tmp_path / "edge.db")
    try:
        meter = build_uplink(settings, store).meter
        assert meter is not None
        assert meter.budget_left() == 1_000_000  # no update yet
        for took in (600_000, 900_000):  # the updater, another process, writes as it goes
            write_update_state(
                settings.layout.update_state,
                UpdateState(download_day=today, downloaded_today=took),
            )
            assert meter.budget_left() == 1_000_000 - took
        write_update_state(
            settings.layout.update_state,
            UpdateState(download_day="2020-01-01", downloaded_today=999_999),
        )
        assert meter.budget_left() == 1_000_000  # another day's download counts for nothing
    finally:
        store.close()
