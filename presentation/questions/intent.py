"""What a question asks, once understood: an :class:`Intent`, or why it was :class:`Declined`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from presentation.questions.lexicon import Stat
from presentation.questions.periods import DayPart, Period

IntentKind = Literal[
    "people_total",
    "busiest",
    "quietest",
    "comfort",
    "threshold",
    "extreme",
    "average",
    "compare",
    "current",
    "opening_hours",
]
"""``people_total``: how many came; ``busiest``/``quietest``: when most or fewest came;
``comfort``: too cold or too warm while in use; ``threshold``: when a metric went over or
under a number; ``extreme``: the highest or lowest and when; ``average``: the average and
range; ``compare``: one period against another; ``current``: the latest reading;
``opening_hours``: when the hall is open."""

Direction = Literal["above", "below"]

EXAMPLES = (
    "When was the hall busiest last month?",
    "Was it too cold on Tuesday evening?",
    "How many people came on Saturday morning?",
    "Is the air better than last winter?",
    "When did the CO2 go over 1500 this week?",
    "What was the average temperature yesterday?",
    "When was it warmest on 3rd March?",
)
"""What the answerer can take, shown when it declines."""


@dataclass(frozen=True, slots=True)
class Intent:
    """A question understood: what to look up, over which time, and how to answer.

    ``metric`` is a vocabulary metric name, ``people`` (the door counts) or ``air`` (CO2
    and PM2.5 together), or None for the opening hours. ``period`` is the time asked
    about; ``part`` a part of each of its days; ``other`` the period compared against.
    ``direction`` and ``threshold`` are set for comfort and threshold questions; ``stat``
    is ``max``, ``min`` or ``mean`` for extremes and averages. ``assumed`` says what the
    answerer took for granted ("over the last 4 weeks" when no time was given), or, for
    ``opening_hours``, the hours as the hall's settings word them.
    """

    kind: IntentKind
    metric: str | None = None
    period: Period | None = None
    part: DayPart | None = None
    other: Period | None = None
    direction: Direction | None = None
    threshold: float | None = None
    stat: Stat | None = None
    assumed: str = ""


@dataclass(frozen=True, slots=True)
class Declined:
    """A question the answerer will not guess at: ``reason`` says why, in a sentence."""

    reason: str
    examples: tuple[str, ...] = EXAMPLES
