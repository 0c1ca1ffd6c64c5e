"""The hub's /metrics text: what Prometheus parses from a real fleet in the hub store."""

import json
import time

from prometheus_client.parser import text_string_to_metric_families

from hub.metrics import exposition
from hub_sync.batch_codec import Batch, WireReading

NOW_US = time.time_ns() // 1000


def samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text.decode("utf-8"))
        for s in family.samples
    }


def test_every_node_reports_its_heartbeat_figures_and_the_hub_its_totals(hub_store):
    hub_store.add_device("askrigg", 'Askrigg "Village" Hall')
    hub_store.add_device("reeth", "Reeth Memorial Hall")
    readings = tuple(
        WireReading(s, "t", "temperature", "°C", NOW_US - 1000 + s, 20.0) for s in (1, 2, 5)
    )
    hub_store.store_batch(Batch("askrigg", 7, readings), NOW_US)
    status = {
        "v": 1,
        "state": "online",
        "backlog": 1200,
        "held_back": 3,
        "oldest_unacknowledged": "2026-11-24T09:00:00+00:00",
        "clock_synchronised": True,
        "store_bytes": 4096,
    }
    hub_store.record_status("askrigg", True, json.dumps(status), NOW_US)
    hub_store.count_refused("reeth", "malformed payload", "bad payload", NOW_US)
    hub_store.count_refused("reeth", "over its quota of messages a minute", "600", NOW_US, 40)
    hub_store.quarantine("reeth", "hallsense/v1/reeth/readings", b"HS?", "bug", NOW_US)

    found = samples(exposition(hub_store.fleet()))
    askrigg = (("device", "askrigg"), ("site", 'Askrigg "Village" Hall'))
    reeth = (("device", "reeth"), ("site", "Reeth Memorial Hall"))
    assert found[("hallsense_hub_nodes", (("state", "online"),))] == 1
    assert found[("hallsense_hub_nodes", (("state", "offline"),))] == 1
    assert found[("hallsense_hub_node_online", askrigg)] == 1
    assert found[("hallsense_hub_node_online", reeth)] == 0
    assert found[("hallsense_hub_node_backlog_readings", askrigg)] == 1200
    assert found[("hallsense_hub_node_held_back_readings", askrigg)] == 3
    assert found[("hallsense_hub_node_clock_synchronised", askrigg)] == 1
    oldest = ("hallsense_hub_node_oldest_unacknowledged_timestamp_seconds", askrigg)
    assert found[oldest] == 1_795_510_800.0  # 2026-11-24 09:00 UTC
    assert found[("hallsense_hub_node_missing_readings", askrigg)] == 2
    assert found[("hallsense_hub_readings_stored_total", askrigg)] == 3
    assert found[("hallsense_hub_rejected_batches_total", reeth)] == 1
    assert found[("hallsense_hub_quarantined_messages_total", reeth)] == 1
    assert found[("hallsense_hub_quarantined_messages_total", askrigg)] == 0

    def by_reason(reason):
        return tuple(sorted((*reeth, ("reason", reason))))

    refused = "hallsense_hub_refused_messages_total"
    assert found[(refused, by_reason("over its quota of messages a minute"))] == 40
    assert found[(refused, by_reason("malformed payload"))] == 1
    assert found[(refused, by_reason("quarantined"))] == 1
    # A node that never sent a heartbeat has no backlog sample rather than a made-up 0.
    assert ("hallsense_hub_node_backlog_readings", reeth) not in found
