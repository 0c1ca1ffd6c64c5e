"""Questions in plain English: the share of the corpus answered right, declined and wrong.

Builds the simulated hall's year (tests/support/question_hall.py) in a real store
through ``EdgeStore.append``, asks every question of the corpus
(tests/presentation/question_corpus.json) at its fixed "now", and prints how many were
answered right, declined and wrong, beside a naive keyword-matching baseline scored
against the same expectations in the same run. Run from the repository root::

    .venv/bin/python -m bench questions
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from edge.store import EdgeStore
from tests.support.question_corpus import Corpus, Verdict, keyword_baseline, load, run, score, tally
from tests.support.question_hall import build_hall_store

GOAL_RIGHT = 0.9


def _row(name: str, counts: Mapping[Verdict, int], total: int, seconds: float) -> str:
    def share(key: Verdict) -> str:
        return f"{counts[key]:>4} ({counts[key] / total:6.1%})"

    per_ms = seconds / total * 1000
    return (
        f"| {name:<24} | {total:>9} | {share('right')} | {share('declined')} | "
        f"{share('wrong')} | {per_ms:>8.2f} |"
    )


def table(corpus: Corpus, store: EdgeStore) -> str:
    """The results table for ``corpus`` asked of ``store``."""
    total = len(corpus.questions)
    started = time.perf_counter()
    ours = tally(run(corpus, lambda entry: score(entry, corpus, store)))
    ours_s = time.perf_counter() - started
    started = time.perf_counter()
    naive = tally(run(corpus, lambda entry: keyword_baseline(entry, corpus)))
    naive_s = time.perf_counter() - started
    lines = [
        "| answerer                 | questions | right         | declined      "
        "| wrong         | ms/q     |",
        "|--------------------------|-----------|---------------|---------------|---------------|----------|",
        _row("hallsense grammar", ours, total, ours_s),
        _row("naive keywords", naive, total, naive_s),
    ]
    met = ours["wrong"] == 0 and ours["right"] >= GOAL_RIGHT * total
    lines.append(
        f"Goal: at least {GOAL_RIGHT:.0%} right and none wrong: {'met' if met else 'MISSED'}"
    )
    return "\n".join(lines)


def main(store_path: Path | None = None) -> None:
    """Print the table; builds the hall's store in a temporary directory unless given one."""
    corpus = load()
    with tempfile.TemporaryDirectory() as folder:
        path = store_path
        if path is None:
            path = Path(folder) / "hallsense.db"
            print(f"Building the simulated hall's year: {build_hall_store(path):,} readings")
        store = EdgeStore(path, readonly=True)
        try:
            print(table(corpus, store))
        finally:
            store.close()


if __name__ == "__main__":
    main()
