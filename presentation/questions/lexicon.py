"""The words a question may use, and how a question becomes tokens: case, typos, numbers.

Every word of a question must be known here (or be one small slip away from exactly one
known word); a question with a word nobody taught the answerer is declined rather than
guessed at, so "tomorrow", "forecast" or "electricity" never get a confident answer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal

Stat = Literal["max", "min", "mean"]
"""What is asked of a metric: its highest, lowest or average."""


def _words(text: str) -> frozenset[str]:
    """The words of ``text``."""
    return frozenset(text.split())


FILLER = _words(
    "a an the was were is are it its it's be been being did do does has have had in on at "
    "during for of to our my me us i we you your can could would please tell show about "
    "so and or by any ever there hall room village get got go gone went how what whats "
    "which when where time times day days any all inside indoors level levels reading "
    "readings value values sensor get getting much many did that then were while whilst "
    "well enough rather very really just still yet be been up from with into happen "
    "happened measured recorded number count counted total altogether through door doors "
    "building place use used hour hours with"
)
"""Words that carry no meaning of their own in a question the answerer can take."""

METRIC_WORDS: Mapping[str, str] = MappingProxyType(
    {
        **dict.fromkeys(
            _words(
                "temperature temp temps warm warmer warmest hot hotter hottest cold colder "
                "coldest chilly freezing heating degrees celsius c"
            ),
            "temperature",
        ),
        **dict.fromkeys(
            _words("co2 carbon dioxide ppm ventilation ventilated stuffy stuffier stuffiest"), "co2"
        ),
        **dict.fromkeys(_words("humidity humid damp"), "relative_humidity"),
        **dict.fromkeys(
            _words("noise noisy noisier noisiest loud louder loudest decibels db dba"), "noise"
        ),
        **dict.fromkeys(
            _words("pm2_5 particulates particulate particles dust smoke smoky"), "pm2_5"
        ),
        **dict.fromkeys(_words("pm10"), "pm10"),
        **dict.fromkeys(_words("air"), "air"),
        **dict.fromkeys(
            _words(
                "people person visitors footfall busy busier busiest quieter quietest "
                "attendance attended turnout crowded came come visited turned out"
            ),
            "people",
        ),
    }
)
"""Words naming what was measured; ``air`` means CO2 and PM2.5 together."""

EXTREME_WORDS: Mapping[str, Stat] = MappingProxyType(
    {
        **dict.fromkeys(
            _words(
                "highest max maximum peak peaked top most worst warmest hottest busiest "
                "noisiest loudest stuffiest"
            ),
            "max",
        ),
        **dict.fromkeys(_words("lowest min minimum least coldest quietest"), "min"),
        **dict.fromkeys(_words("average mean typical usual like"), "mean"),
    }
)
"""Words asking for the highest, the lowest or the average."""

ABOVE_WORDS = frozenset({"over", "above", "exceed", "exceeded", "exceeding", "exceeds", "past"})
BELOW_WORDS = frozenset({"under", "below", "beneath"})
MORE_WORDS = frozenset({"more", "higher", "greater"})
LESS_WORDS = frozenset({"less", "lower", "fewer"})
"""Threshold words: "over 1500", "more than 1500", "under 18", "less than 18"."""

COMPARE_WORDS = frozenset(
    {
        "than",
        "compared",
        "compare",
        "versus",
        "vs",
        "against",
        "better",
        "worse",
        "cleaner",
        "fresher",
        "improved",
        "changed",
    }
)
"""Words of a comparison between two times."""

NOW_WORDS = frozenset({"now", "currently", "nowadays", "recently", "lately", "these"})
"""Words for "the recent past" on the near side of a comparison."""

OPENING_WORDS = frozenset({"open", "opening", "opens", "close", "closes", "closing", "hours"})
"""Words of a question about the opening hours."""

SESSION_WORDS = _words(
    "coffee club group session class meeting market yoga badminton toddler toddlers "
    "council parish event party quiz dance bingo choir sale fair clinic lesson lessons "
    "playgroup social"
)
"""Names of what goes on in a hall: they say nothing of when, so a day must come with them."""

PERIOD_WORDS = _words(
    "today yesterday tonight this last past previous week weeks weekend month months year "
    "years fortnight spring summer autumn fall winter morning mornings afternoon "
    "afternoons evening evenings night nights overnight lunchtime lunch over of"
)
"""Words of a time (the weekday and month names are below)."""

FUTURE_WORDS = frozenset({"tomorrow", "next", "will", "forecast", "going", "coming", "later"})
"""Words about the future: the answerer knows only what has been measured."""

TOO_WORDS = frozenset({"too"})
YES_NO_WORDS = frozenset({"ok", "okay", "fine", "comfortable", "safe", "healthy", "good", "bad"})
"""Words of judgement the answerer cannot make on its own (declined unless with "too")."""

WEEKDAYS: Mapping[str, int] = MappingProxyType(
    {
        **dict.fromkeys(("monday", "mon"), 0),
        **dict.fromkeys(("tuesday", "tue", "tues"), 1),
        **dict.fromkeys(("wednesday", "wed", "weds"), 2),
        **dict.fromkeys(("thursday", "thu", "thur", "thurs"), 3),
        **dict.fromkeys(("friday", "fri"), 4),
        **dict.fromkeys(("saturday", "sat"), 5),
        **dict.fromkeys(("sunday", "sun"), 6),
    }
)
"""Weekday names and their usual short forms, 0 for Monday."""

WEEKDAY_PLURALS = frozenset(f"{name}s" for name in WEEKDAYS if len(name) > 4)
"""'on Saturdays': every Saturday, which the answerer does not take yet."""

_MONTHS_TEXT = (
    "january february march april may june july august september october november december"
)
_MONTH_NAMES = tuple(_MONTHS_TEXT.split())
MONTHS: Mapping[str, int] = MappingProxyType(
    {
        **{name: number for number, name in enumerate(_MONTH_NAMES, start=1)},
        **{name[:3]: number for number, name in enumerate(_MONTH_NAMES, start=1)},
        "sept": 9,
    }
)
"""Month names and their short forms, 1 for January."""

KNOWN = frozenset(
    FILLER
    | set(METRIC_WORDS)
    | set(EXTREME_WORDS)
    | ABOVE_WORDS
    | BELOW_WORDS
    | MORE_WORDS
    | LESS_WORDS
    | COMPARE_WORDS
    | NOW_WORDS
    | OPENING_WORDS
    | SESSION_WORDS
    | PERIOD_WORDS
    | FUTURE_WORDS
    | TOO_WORDS
    | YES_NO_WORDS
    | set(WEEKDAYS)
    | WEEKDAY_PLURALS
    | set(MONTHS)
)
"""Every word the answerer knows."""

# Long words that typo correction must not reach for: a slip of a short word is too
# likely to land on another real word ("sat" → "say").
_CORRECTABLE = sorted(word for word in KNOWN if len(word) >= 4 and word.isalpha())

_SPELLINGS = (
    (re.compile(r"co\s*₂|co\s+2\b|c02"), "co2"),
    (re.compile(r"pm\s*2[.,]5|pm\s*25\b|pm2_5"), "pm2_5"),
    (re.compile(r"pm\s+10\b"), "pm10"),
    (re.compile(r"(\d),(\d{3})\b"), r"\1\2"),
    (re.compile(r"(\d)(ppm|c|°c|db|dba|degrees|%)\b"), r"\1 \2"),
    (re.compile("[\u2018\u2019']"), ""),
    (re.compile(r"°"), " degrees "),
)
_TOKEN = re.compile(r"\d{1,2}/\d{1,2}(?:/\d{2,4})?|\d+(?:\.\d+)?(?:st|nd|rd|th)?|[a-z0-9_]+")


def edit_distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein distance (adjacent swaps count one), or ``limit + 1`` beyond it."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, char_b in enumerate(b, start=1):
            cost = 0 if char_a == char_b else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def correct(word: str) -> str | None:
    """``word`` if known, else the one known word a small slip away from it, else None.

    A slip is one edit for words of four to six letters and two for longer ones; words of
    three letters or fewer are not corrected. Two known words equally near mean None:
    "tursday" could be Tuesday or Thursday, and the answerer will not pick one.
    """
    if word in KNOWN or not word.isalpha():
        return word if word in KNOWN else None
    if len(word) < 4:
        return None
    limit = 1 if len(word) <= 6 else 2
    best, nearest = limit + 1, []
    for known in _CORRECTABLE:
        distance = edit_distance(word, known, limit)
        if distance < best:
            best, nearest = distance, [known]
        elif distance == best:
            nearest.append(known)
    return nearest[0] if best <= limit and len(nearest) == 1 else None


def tokens(question: str) -> list[str]:
    """The question as lower-case tokens: words, numbers, ordinals and d/m/y dates.

    Spellings are normalised first ("CO₂" and "co 2" are ``co2``, "PM2.5" is ``pm2_5``,
    "1,500" is ``1500``, "1500ppm" is ``1500 ppm``); words are not yet corrected.
    """
    text = question.lower()
    for pattern, replacement in _SPELLINGS:
        text = pattern.sub(replacement, text)
    return _TOKEN.findall(text)
