"""The question corpus against a real store of the simulated hall: ≥ 90 % right, none wrong."""

from __future__ import annotations

import pytest

from edge.store import EdgeStore
from tests.support.question_corpus import load, score, tally
from tests.support.question_hall import build_hall_store


@pytest.fixture(scope="module")
def hall_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("questions") / "hallsense.db"
    build_hall_store(path)
    store = EdgeStore(path, readonly=True)
    yield store
    store.close()


def test_the_corpus_is_large_and_covers_every_kind_of_question():
    corpus = load()
    assert len(corpus.questions) >= 200
    kinds = {e["expect"]["kind"] for e in corpus.questions if e["expect"] != "declined"}
    assert kinds == {
        "busiest",
        "quietest",
        "comfort",
        "people_total",
        "compare",
        "threshold",
        "average",
        "extreme",
        "current",
        "opening_hours",
    }
    assert sum(e["expect"] == "declined" for e in corpus.questions) >= 40


@pytest.mark.slow  # builds a year of the simulated hall through EdgeStore.append (~3 s)
def test_the_corpus_is_answered_right_nine_times_in_ten_and_never_wrongly(hall_store):
    corpus = load()
    verdicts = {e["question"]: score(e, corpus, hall_store) for e in corpus.questions}
    wrong = [q for q, v in verdicts.items() if v == "wrong"]
    counts = tally(list(verdicts.values()))
    assert wrong == []
    assert counts["right"] >= 0.9 * len(corpus.questions), counts
