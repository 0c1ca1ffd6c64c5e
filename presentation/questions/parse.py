"""Questions in plain English turned into intents, deterministically, or declined.

``parse(question, now, timezone, opening_hours)`` knows a small grammar: a metric
(temperature, CO2, humidity, noise, PM2.5, PM10, "the air", people), a time (see
:mod:`presentation.questions.periods`), and what is asked of them: how many, when most,
too cold or too warm, over or under a number, the highest, lowest or average, one time
against another, or when the hall is open. Every word must be known or a small slip from
exactly one known word; anything else, and anything ambiguous, is declined.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from presentation.questions.intent import Declined, Direction, Intent
from presentation.questions.lexicon import (
    ABOVE_WORDS,
    BELOW_WORDS,
    COMPARE_WORDS,
    EXTREME_WORDS,
    FUTURE_WORDS,
    LESS_WORDS,
    METRIC_WORDS,
    MORE_WORDS,
    NOW_WORDS,
    OPENING_WORDS,
    SESSION_WORDS,
    YES_NO_WORDS,
    correct,
    tokens,
)
from presentation.questions.periods import Period, find_time

MAX_QUESTION_CHARS = 200
"""The longest question taken; longer ones are declined (nobody asks in a paragraph)."""


def question_problem(question: str) -> str | None:
    """What is wrong with a question as typed, in a sentence for the page, or None."""
    if not question.strip():
        return "Please type a question in the box."
    if len(question) > MAX_QUESTION_CHARS:
        return (
            f"That question is {len(question):,} characters long; please keep it to "
            f"{MAX_QUESTION_CHARS} characters or fewer."
        )
    if any(not ch.isprintable() for ch in question):
        return "That question holds control characters; please type it again in plain words."
    return None


_COLD = frozenset({"cold", "colder", "coldest", "chilly", "freezing"})
_WARM = frozenset({"warm", "warmer", "warmest", "hot", "hotter", "hottest"})
_WARMER = frozenset({"warmer", "hotter", "busier", "noisier", "louder", "stuffier"})
_COLDER = frozenset({"colder", "quieter"})
_LOWER_IS_BETTER = frozenset({"air", "co2", "pm2_5", "pm10"})
_COMPARATIVES = {
    "warmer": "temperature",
    "hotter": "temperature",
    "colder": "temperature",
    "busier": "people",
    "quieter": "people",
    "noisier": "noise",
    "louder": "noise",
    "stuffier": "co2",
    "better": "air",
    "worse": "air",
    "cleaner": "air",
    "fresher": "air",
}
_RECENT_DAYS = 28


def _number(word: str) -> float | None:
    try:
        return float(word)
    except ValueError:
        return None


def _recent(now: datetime, zone: ZoneInfo) -> Period:
    local = now.astimezone(zone)
    return Period(local - timedelta(days=_RECENT_DAYS), local, "over the last 4 weeks")


def parse(
    question: str, now: datetime, timezone: str | ZoneInfo, opening_hours: str = ""
) -> Intent | Declined:
    """What ``question`` asks, resolved against ``now`` in the hall's ``timezone``.

    Args:
        question: the question as typed.
        now: an aware datetime; relative times ("yesterday") count from it.
        timezone: the hall's time zone (an IANA name or a ZoneInfo).
        opening_hours: the hall's opening hours in words, as its page shows them.

    Returns:
        An :class:`Intent`, or :class:`Declined` with the reason when the question is not
        one the answerer can take with certainty.
    """
    zone = timezone if isinstance(timezone, ZoneInfo) else ZoneInfo(timezone)
    text = question.strip()
    if not text:
        return Declined("There was no question to answer.")
    if len(text) > MAX_QUESTION_CHARS:
        return Declined(f"That question is longer than {MAX_QUESTION_CHARS} characters.")
    if not any(ch.isalpha() for ch in text):
        return Declined("That does not look like a question in words.")
    words: list[str] = []
    for token in tokens(text):
        if token[0].isdigit():
            words.append(token)
            continue
        known = correct(token)
        if known is None:
            return Declined(f"I don't know the word '{token[:30]}' yet.")
        words.append(known)
    if any(word in FUTURE_WORDS for word in words):
        return Declined("I only know what the sensors have measured, not what is to come.")
    found = find_time(words, now, zone)
    if found.problem:
        return Declined(f"I could not tell which time you mean ({found.problem}).")
    rest = [(i, w) for i, w in enumerate(words) if i not in found.used]
    plain = [w for _, w in rest]
    metrics = []
    for word in plain:
        metric = METRIC_WORDS.get(word)
        if metric and metric not in metrics:
            metrics.append(metric)
    if "air" in metrics and len(metrics) > 1:
        metrics.remove("air")
    if len(metrics) > 1:
        return Declined("That asks about more than one measurement at once.")
    metric = metrics[0] if metrics else None
    periods = found.periods
    part = found.part

    if any(w in OPENING_WORDS for w in plain):
        if metric is None and not periods:
            return Intent("opening_hours", assumed=opening_hours)
        return Declined("I can't yet look at only the hours the hall was open.")
    if any(w in SESSION_WORDS for w in plain) and not periods:
        return Declined("I can't tell which booking that is: please say the day.")

    # Thresholds: "over 1500", "more than 1500", "under 18", "less than 18".
    direction: Direction | None = None
    threshold: float | None = None
    numbers = [(i, _number(w)) for i, w in rest if w[0].isdigit()]
    for i, value in numbers:
        before = words[i - 1] if i else ""
        before2 = words[i - 2] if i >= 2 else ""
        if before in ABOVE_WORDS or (before == "than" and before2 in MORE_WORDS | _WARMER):
            direction, threshold = "above", value
        elif before in BELOW_WORDS or (before == "than" and before2 in LESS_WORDS | _COLDER):
            direction, threshold = "below", value
        else:
            return Declined(f"I could not tell what the number {words[i]} means.")
    if len(numbers) > 1:
        return Declined("That question has more than one number in it.")

    if threshold is not None:
        if metric is None or metric == "air":
            return Declined("Please say which measurement the number is for (CO2, temperature …).")
        if len(periods) > 1:
            return Declined("That names two times; please ask about one.")
        period = periods[0] if periods else None
        assumed = ""
        if period is None:
            period, assumed = _recent(now, zone), "the last 4 weeks"
        return Intent(
            "threshold", metric, period, part, None, direction, threshold, assumed=assumed
        )

    if any(w in YES_NO_WORDS for w in plain) and "too" not in plain:
        return Declined("I can't judge that in a word; ask for the numbers instead.")

    if "too" in plain:
        if metric == "temperature" and (set(plain) & (_COLD | _WARM)):
            if len(periods) != 1:
                return Declined("Please say when: for example 'on Tuesday evening'.")
            cold = bool(set(plain) & _COLD) and not set(plain) & _WARM
            warm = bool(set(plain) & _WARM) and not set(plain) & _COLD
            if not cold and not warm:
                return Declined("That asks whether it was too cold and too warm at once.")
            return Intent(
                "comfort", metric, periods[0], part, direction="below" if cold else "above"
            )
        if metric == "co2" and "stuffy" in plain:
            period = periods[0] if len(periods) == 1 else None
            if period is None:
                return Declined("Please say when: for example 'this week'.")
            return Intent("threshold", "co2", period, part, None, "above", 1500.0)
        return Declined("I only know when it is too cold, too warm or too stuffy.")

    comparing = [w for w in plain if w in COMPARE_WORDS or w in _COMPARATIVES]
    if set(plain) & {"than", "compared", "compare", "versus", "vs"}:
        named = [_COMPARATIVES[w] for w in plain if w in _COMPARATIVES]
        kinds = set(named)
        if metric is None and len(kinds) == 1:
            metric = named[0]
        if (
            metric is None
            or len(kinds) > 1
            or (
                kinds
                and metric not in kinds
                and not (metric in _LOWER_IS_BETTER and kinds <= {"air"})
            )
        ):
            return Declined("I could not tell what to compare.")
        if ("better" in plain or "worse" in plain) and metric not in _LOWER_IS_BETTER:
            return Declined("I can't say what 'better' means for that measurement.")
        if len(periods) == 2:
            return Intent("compare", metric, periods[0], part, periods[1])
        if len(periods) == 1:
            than_at = next(
                i
                for i, w in enumerate(words)
                if w in ("than", "compared", "compare", "versus", "vs", "against")
            )
            period_at = min(
                i for i in found.used if words[i] not in ("this", "last", "past", "previous")
            )
            if period_at < than_at:
                return Declined("Please say what to compare it with: for example 'than last week'.")
            return Intent(
                "compare",
                metric,
                _recent(now, zone),
                part,
                periods[0],
                assumed="over the last 4 weeks",
            )
        return Declined("Please say which times to compare: for example 'than last winter'.")
    if comparing:
        return Declined("Please say what to compare it with: for example 'than last week'.")

    if metric is None:
        return Declined("I could not tell which measurement you mean.")
    if len(periods) > 1:
        return Declined("That names two times; please ask about one, or compare them with 'than'.")
    stats = [EXTREME_WORDS[w] for w in plain if w in EXTREME_WORDS]
    stat = stats[0] if stats and len(set(stats)) == 1 else None
    if len(set(stats)) > 1:
        return Declined("That asks for the highest and the lowest at once.")
    if metric == "air" and stat not in (None, "mean"):
        return Declined("Please say which part of the air: CO2 or PM2.5.")

    if any(w in NOW_WORDS for w in plain) and not periods:
        if stat not in (None, "mean"):
            return Declined("Please say when.")
        if metric == "people":
            return Declined("I can count people over a time, not right now: try 'today'.")
        return Intent("current", metric)

    period = periods[0] if periods else None
    if metric == "people":
        if stat == "max" or stat == "min":
            assumed = ""
            if period is None:
                period, assumed = _recent(now, zone), "the last 4 weeks"
            return Intent(
                "busiest" if stat == "max" else "quietest", "people", period, part, assumed=assumed
            )
        if stat == "mean" or "when" in plain:
            return Declined("I can count people over a time, or say when it was busiest.")
        if period is None:
            return Declined("Please say when: for example 'last Saturday'.")
        return Intent("people_total", "people", period, part)
    if period is None:
        if part is not None:
            return Declined("Please say which day.")
        return Declined("Please say when: for example 'yesterday' or 'last week'.")
    if stat == "max" or stat == "min":
        return Intent("extreme", metric, period, part, stat=stat)
    if "when" in plain:
        return Declined("I could not tell what to look for: the highest, or over a number?")
    return Intent("average", metric, period, part, stat="mean")
