"""What the node's heartbeat calls an error: a part that fails, never a backlog on its way."""

from __future__ import annotations

from datetime import UTC, datetime

from edge.settings import EdgeSettings
from edge.store import EdgeStore
from hallsense.wiring import build_uplink


def test_only_a_failing_part_is_the_heartbeats_last_error(tmp_path):
    settings = EdgeSettings(data_dir=tmp_path, broker_host="127.0.0.1", device_id="askrigg")
    store = EdgeStore(settings.db_path)
    try:
        uplink = build_uplink(settings, store)
        assert uplink.status is not None
        now = datetime.now(UTC)
        store.record_health("counter", "ok", "", 0, now)
        store.record_health("uplink", "sending", "13 readings (about 0 KB) wait", 0, now)
        store.record_health("uplink", "waiting", "no link to the hub's broker", 0, now)
        assert uplink.status()["last_error"] == ""
        store.record_health("scd4x", "failing", "no reply", 3, now)
        assert uplink.status()["last_error"] == "scd4x: no reply"
    finally:
        store.close()
