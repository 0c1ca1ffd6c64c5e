"""The hub's rollup source answers the corpus's questions with the node's very figures.

The simulated hall is written on a node (``EdgeStore.append``) and its outbox stored at a
real hub store through ``store_batch``, as ingestion stores it; the same questions are
then answered from both stores by the same :mod:`presentation.questions` code.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from edge.store import EdgeStore
from hub.question_source import HallRollups, to_us
from hub.store_sqlite import SqliteHubStore
from hub_sync.batch_codec import Batch, WireReading
from presentation.questions import Declined, answer, parse
from sensors.simulated import METRIC_NAMES
from tests.support.hub_question_hall import DEVICE, FIRST, build_both
from tests.support.question_corpus import load, score
from tests.support.question_hall import NOW, ZONE

CORPUS = load()
SAMPLE_SIZE = 40


def _inside(entry) -> bool:
    """An answerable corpus question about times the hub's copy of the hall covers."""
    if entry["expect"] == "declined":
        return False
    parsed = parse(entry["question"], CORPUS.now, CORPUS.zone, CORPUS.opening_hours)
    if isinstance(parsed, Declined) or parsed.kind in ("current", "opening_hours"):
        return False
    periods = [p for p in (parsed.period, parsed.other) if p is not None]
    return all(p.start >= FIRST + timedelta(days=1) for p in periods)


def _kind(entry) -> str:
    return str(entry["expect"]["kind"])


def _sample(entries, size: int):
    """Up to ``size`` entries, taken from each kind in turn, in corpus order."""
    by_kind: dict[str, list] = {}
    for entry in entries:
        by_kind.setdefault(_kind(entry), []).append(entry)
    taken: list = []
    while len(taken) < size and any(by_kind.values()):
        for group in by_kind.values():
            if group and len(taken) < size:
                taken.append(group.pop(0))
    return taken


INSIDE = [entry for entry in CORPUS.questions if _inside(entry)]
SAMPLE = _sample(INSIDE, SAMPLE_SIZE)


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """The node's store and a SQLite hub store holding the same readings (made once)."""
    directory = tmp_path_factory.mktemp("question-hub")
    hub = SqliteHubStore(directory / "hub.db")
    build_both(directory / "edge.db", hub)
    edge = EdgeStore(directory / "edge.db", timezone=ZONE.key, readonly=True)
    yield edge, HallRollups(hub, [DEVICE], METRIC_NAMES)
    edge.close()
    hub.close()


def test_the_sample_is_broad_enough():
    kinds = {_kind(e) for e in SAMPLE}
    assert len(SAMPLE) >= 30
    assert {"busiest", "comfort", "threshold", "extreme", "average", "people_total"} <= kinds


@pytest.mark.parametrize("entry", SAMPLE, ids=[e["question"][:50] for e in SAMPLE])
def test_the_hub_answers_as_the_node_does_from_the_same_readings(both, entry):
    edge, hub = both
    intent = parse(entry["question"], CORPUS.now, CORPUS.zone, CORPUS.opening_hours)
    assert not isinstance(intent, Declined)
    at_node = answer(intent, edge, CORPUS.now, CORPUS.zone)
    at_hub = answer(intent, hub, CORPUS.now, CORPUS.zone)
    assert at_hub.text == at_node.text
    assert at_hub.figures == at_node.figures
    assert at_hub.declined == at_node.declined
    assert (at_hub.link.view if at_hub.link else None) == (
        at_node.link.view if at_node.link else None
    )
    assert score(entry, CORPUS, hub) == "right"


def test_hourly_rows_are_the_nodes_rollups(both):
    edge, hub = both
    start, end = NOW - timedelta(days=3), NOW
    for metric in ("co2", "footfall", "temperature"):
        at_node = edge.rollups("hour", start, end, metric=metric)
        at_hub = hub.rollups("hour", start, end, metric=metric)
        assert [(r.sensor_id, r.start, r.count, r.min, r.max) for r in at_hub] == [
            (r.sensor_id, r.start, r.count, r.min, r.max) for r in at_node
        ]
        assert all(
            a.mean == pytest.approx(b.mean, rel=1e-12) for a, b in zip(at_hub, at_node, strict=True)
        )


def test_only_hours_of_the_metrics_it_is_given_are_offered(hub_store):
    hub_store.add_device("reeth", "Reeth Memorial Hall")
    hour = to_us(NOW) - 5 * 3_600_000_000
    readings = (
        WireReading(1, "scd-1", "co2", "ppm", hour + 60_000_000, 800.0),
        WireReading(2, "scd-1", "co2", "ppm", hour + 120_000_000, 900.0),
        WireReading(3, "door", "footfall", "people", hour + 60_000_000, 4.0),
    )
    hub_store.store_batch(Batch("reeth", 7, readings), to_us(NOW))
    source = HallRollups(hub_store, ["reeth"], ("co2",))
    start, end = NOW - timedelta(hours=6), NOW
    (row,) = source.rollups("hour", start, end, metric="co2")
    assert (row.sensor_id, row.count, row.min, row.max, row.mean) == ("scd-1", 2, 800, 900, 850)
    assert row.start == NOW - timedelta(hours=5)
    assert source.rollups("hour", start, end, metric="footfall") == []
    assert [r.metric for r in source.rollups("hour", start, end)] == ["co2"]
    assert source.rollups("minute", start, end, metric="co2") == []
    assert source.rollups("day", start, end, metric="co2") == []
    assert source.rollups("hour", start, end, metric="co2", sensor_id="other") == []
    assert source.rollups("hour", end, start, metric="co2") == []


def test_two_devices_of_one_hall_keep_their_sensors_apart(hub_store):
    first = to_us(NOW) - 15 * 3_600_000_000  # midnight, the hall's time (GMT in November)
    for n, device in enumerate(("hall-a", "hall-b")):
        hub_store.add_device(device, "Bainbridge Hall")
        readings = tuple(
            WireReading(h + 1, "door", "footfall", "people", first + h * 3_600_000_000, 3.0 + n)
            for h in range(15)
        )
        hub_store.store_batch(Batch(device, 1, readings), to_us(NOW))
    source = HallRollups(hub_store, ["hall-a", "hall-b"], ("footfall",))
    rows = source.rollups("hour", NOW - timedelta(hours=1), NOW, metric="footfall")
    assert [(r.sensor_id, r.mean) for r in rows] == [("hall-a/door", 3.0), ("hall-b/door", 4.0)]
    intent = parse("How many people came today?", NOW, ZONE)
    assert not isinstance(intent, Declined)
    assert answer(intent, source, NOW, ZONE).figures == ("105",)


def test_each_backend_answers_as_the_node_does(hub_store, tmp_path):
    build_both(tmp_path / "edge.db", hub_store, first=NOW - timedelta(days=9))
    source = HallRollups(hub_store, [DEVICE], METRIC_NAMES)
    with EdgeStore(tmp_path / "edge.db", timezone=ZONE.key, readonly=True) as edge:
        for question in (
            "How many people came this week?",
            "When was the hall busiest this week?",
            "Was it too cold yesterday evening?",
            "When did the CO2 go over 1000 this week?",
            "What was the highest PM2.5 yesterday?",
            "What was the average temperature yesterday?",
            "Was it busier this week than last week?",
        ):
            intent = parse(question, NOW, ZONE, "")
            assert not isinstance(intent, Declined), question
            at_node = answer(intent, edge, NOW, ZONE)
            assert not at_node.declined, (question, at_node.text)
            assert answer(intent, source, NOW, ZONE) == at_node, question
