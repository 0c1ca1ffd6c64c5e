"""The question corpus (tests/presentation/question_corpus.json) and how an answer is scored.

Each entry is a question as people ask it and what it should get: ``"declined"``, or the
intent (kind, metric, period and day part in words, the compared period, threshold) and
the figures the answer quotes for the simulated hall of :mod:`tests.support.question_hall`
at the corpus's fixed "now". An answer is *right* when its intent and figures match,
*declined* when the answerer declined a question it should have answered, and *wrong*
when it answered with anything else (or answered a question it should have declined).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from presentation.questions import Declined, Intent, RollupSource, answer, parse

CORPUS = Path(__file__).parents[1] / "presentation" / "question_corpus.json"
Verdict = Literal["right", "declined", "wrong"]


@dataclass(frozen=True)
class Corpus:
    now: datetime
    zone: ZoneInfo
    opening_hours: str
    questions: list[dict[str, Any]]


def load(path: Path = CORPUS) -> Corpus:
    data = json.loads(path.read_text("utf-8"))
    return Corpus(
        datetime.fromisoformat(data["now"]),
        ZoneInfo(data["timezone"]),
        data["opening_hours"],
        data["questions"],
    )


def intent_fields(intent: Intent) -> dict[str, Any]:
    fields = {
        "kind": intent.kind,
        "metric": intent.metric,
        "period": intent.period.words if intent.period else None,
        "part": intent.part.name if intent.part else None,
        "other": intent.other.words if intent.other else None,
        "direction": intent.direction,
        "threshold": intent.threshold,
    }
    return {k: v for k, v in fields.items() if v is not None}


def score(entry: dict[str, Any], corpus: Corpus, source: RollupSource) -> Verdict:
    """How the answerer did on one corpus entry."""
    parsed = parse(entry["question"], corpus.now, corpus.zone, corpus.opening_hours)
    expected = entry["expect"]
    if isinstance(parsed, Declined):
        return "right" if expected == "declined" else "declined"
    if expected == "declined" or intent_fields(parsed) != expected:
        return "wrong"
    reply = answer(parsed, source, corpus.now, corpus.zone)
    if reply.declined:
        return "declined"
    figures = list(reply.figures)
    if figures != entry["figures"] or not all(
        f in reply.text for f in figures if f not in ("yes", "no")
    ):
        return "wrong"
    return "right"


_KIND_KEYWORDS = (
    ("busiest", "busiest"),
    ("quietest", "quietest"),
    ("too ", "comfort"),
    ("than", "compare"),
    ("over ", "threshold"),
    ("above", "threshold"),
    ("below", "threshold"),
    ("how many", "people_total"),
    ("open", "opening_hours"),
    ("highest", "extreme"),
    ("lowest", "extreme"),
    (" now", "current"),
)
_METRIC_KEYWORDS = (
    ("co2", "co2"),
    ("air", "air"),
    ("temperature", "temperature"),
    ("warm", "temperature"),
    ("cold", "temperature"),
    ("hot", "temperature"),
    ("humid", "relative_humidity"),
    ("nois", "noise"),
    ("pm2.5", "pm2_5"),
    ("pm10", "pm10"),
    ("people", "people"),
    ("busi", "people"),
    ("busy", "people"),
)


def _baseline_periods(now: datetime, zone: ZoneInfo) -> list[tuple[str, str]]:
    """The few fixed phrases a keyword matcher knows, as the corpus words them."""
    local = now.astimezone(zone)
    last_month = (local.replace(day=1) - timedelta(days=1)).strftime("%B %Y")
    return [
        ("last month", f"last month ({last_month})"),
        ("this week", "this week"),
        ("last week", "last week"),
        ("yesterday", "yesterday"),
        ("today", "today"),
    ]


def keyword_baseline(entry: dict[str, Any], corpus: Corpus) -> Verdict:
    """A naive answerer: keywords for the kind, the metric and a few fixed times, no grammar.

    It never declines: the first keyword of each list wins (the average of the first
    metric when no kind keyword is found), with no dates, day parts, typos or
    comparisons' second time. Scored against the same expectations as the grammar.
    """
    text = f" {entry['question'].lower()} "
    expected = entry["expect"]
    if expected == "declined":
        return "wrong"
    kind = next((k for word, k in _KIND_KEYWORDS if word in text), "average")
    metric = next((m for word, m in _METRIC_KEYWORDS if word in text), None)
    if kind == "opening_hours":
        metric = None
    periods = _baseline_periods(corpus.now, corpus.zone)
    period = next((words for phrase, words in periods if phrase in text), None)
    guess = {"kind": kind, "metric": metric, "period": period}
    wanted = {key: expected.get(key) for key in guess}
    if set(expected) - set(guess):
        return "wrong"  # a day part, a threshold or a second time: beyond keywords
    return "right" if guess == wanted else "wrong"


def tally(verdicts: list[Verdict]) -> dict[Verdict, int]:
    return {v: verdicts.count(v) for v in ("right", "declined", "wrong")}


def run(corpus: Corpus, judge: Callable[[dict[str, Any]], Verdict]) -> list[Verdict]:
    return [judge(entry) for entry in corpus.questions]
