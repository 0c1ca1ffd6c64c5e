"""The fleet's numbers for the council IoT team's Prometheus (the hub's ``/metrics``).

The nodes sit behind hall routers and mobile links where no Prometheus can reach them,
so the hub exposes what their heartbeats say, one series per node, next to its own
totals. Everything comes from the hub store in one pass (:meth:`fleet`), so a scrape
costs three queries however many nodes there are.

What the team asks and the expression that answers it:

- is every node alive? ``hallsense_hub_node_online == 0``
- is a node falling behind? ``hallsense_hub_node_backlog_readings > 50000`` or
  ``time() - hallsense_hub_node_backlog_waiting_since_timestamp_seconds > 6*3600`` (by
  the hub's clock: the oldest-reading timestamp is the node's, which may be wrong)
- the hub's ingest rate: ``sum(rate(hallsense_hub_readings_stored_total[5m]))``
- rejected batches: ``increase(hallsense_hub_rejected_batches_total[1h]) > 0``
- a device over a quota, or sending what the hub refuses:
  ``increase(hallsense_hub_refused_messages_total[1h]) > 0`` (label ``reason``)
- messages kept aside: ``increase(hallsense_hub_quarantined_messages_total[1h]) > 0``

Written with ``prometheus_client``'s metric families and a one-off registry per scrape:
the values live in the hub store, not in this process.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from hub.backlog_age import waiting_since_us
from hub.store import DeviceState

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def node_status(state: DeviceState) -> dict[str, Any]:
    """The node's last status message as a dict ({} before the first or if unreadable)."""
    if not state.status:
        return {}
    try:
        status = json.loads(state.status)
    except ValueError:
        return {}
    return status if isinstance(status, dict) else {}


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    return None


def _timestamp(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


class FleetCollector(Collector):
    """Metric families for one snapshot of the fleet."""

    def __init__(self, fleet: Sequence[DeviceState]) -> None:
        self.fleet = fleet

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        """Every family, each node one sample (a node that never said a figure has none)."""
        online = sum(1 for node in self.fleet if node.online)
        nodes = GaugeMetricFamily(
            "hallsense_hub_nodes", "Registered nodes by state.", labels=["state"]
        )
        nodes.add_metric(["online"], online)
        nodes.add_metric(["offline"], len(self.fleet) - online)
        yield nodes

        def gauge(name: str, text: str) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, text, labels=["device", "site"])

        def counter(name: str, text: str) -> CounterMetricFamily:
            return CounterMetricFamily(name, text, labels=["device", "site"])

        up = gauge("hallsense_hub_node_online", "1 if the node is connected to the broker.")
        seen = gauge(
            "hallsense_hub_node_last_seen_timestamp_seconds",
            "Unix time the hub last heard from the node.",
        )
        backlog = gauge(
            "hallsense_hub_node_backlog_readings",
            "Readings the node holds that the hub has not acknowledged, from its heartbeat.",
        )
        held = gauge(
            "hallsense_hub_node_held_back_readings",
            "Readings the node holds back until its clock is synchronised.",
        )
        oldest = gauge(
            "hallsense_hub_node_oldest_unacknowledged_timestamp_seconds",
            "Unix time of the oldest reading the node still waits to deliver.",
        )
        waiting = gauge(
            "hallsense_hub_node_backlog_waiting_since_timestamp_seconds",
            "Unix time (the hub's clock) the hub first heard of the node's oldest waiting reading.",
        )
        clock = gauge(
            "hallsense_hub_node_clock_synchronised", "1 if the node's clock is synchronised."
        )
        store_bytes = gauge("hallsense_hub_node_store_bytes", "Size of the node's store.")
        missing = gauge(
            "hallsense_hub_node_missing_readings",
            "Readings not yet received between ones that were (gaps the node will fill).",
        )
        stored = counter(
            "hallsense_hub_readings_stored", "Readings from the node stored at the hub."
        )
        rejected = counter(
            "hallsense_hub_rejected_batches", "Batches from the node the hub refused."
        )
        quarantined = counter(
            "hallsense_hub_quarantined_messages",
            "Messages from the node the hub could not handle and kept aside.",
        )
        refused = CounterMetricFamily(
            "hallsense_hub_refused_messages",
            "Messages from the node the hub refused, by reason (quotas included).",
            labels=["device", "site", "reason"],
        )
        for node in self.fleet:
            labels = [node.device_id, node.name]
            quarantined.add_metric(labels, node.quarantined)
            for refusal in node.refusals:
                refused.add_metric([*labels, refusal.reason], refusal.count)
            status = node_status(node)
            up.add_metric(labels, 1 if node.online else 0)
            if node.last_seen_us is not None:
                seen.add_metric(labels, node.last_seen_us / 1e6)
            stored.add_metric(labels, node.readings)
            rejected.add_metric(labels, node.rejected_batches)
            missing.add_metric(labels, sum(last - first + 1 for _, first, last in node.missing))
            for family, key in (
                (backlog, "backlog"),
                (held, "held_back"),
                (clock, "clock_synchronised"),
                (store_bytes, "store_bytes"),
            ):
                value = _number(status.get(key))
                if value is not None:
                    family.add_metric(labels, value)
            when = _timestamp(status.get("oldest_unacknowledged"))
            if when is not None:
                oldest.add_metric(labels, when)
            since = waiting_since_us(status)
            if since is not None:
                waiting.add_metric(labels, since / 1e6)
        yield from (up, seen, backlog, held, oldest, waiting, clock, store_bytes, missing)
        yield from (stored, rejected)
        yield from (quarantined, refused)


def exposition(fleet: Sequence[DeviceState]) -> bytes:
    """The Prometheus text exposition of a fleet snapshot."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FleetCollector(fleet))
    return generate_latest(registry)
