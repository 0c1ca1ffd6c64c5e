"""What the pages say in plain words: how long ago, how loud, on or off, what a metric is.

Durations: "just now", "3 minutes ago", "2 days". Sound levels: "35 decibels", "Quiet".
On/off metrics: "In use" / "Not in use", never "0.00". Plain names where the metric
vocabulary's description is technical ("Sound level", not "A-weighted sound level").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

JUST_NOW = "just now"
"""What :func:`ago` says of a moment less than a minute ago."""

UNDER_A_MINUTE = "less than a minute"
"""What :func:`duration_words` says of a duration shorter than a minute."""


def duration_words(seconds: float) -> str:
    """A duration as people say it: "3 minutes", "2 hours", "4 days", "less than a minute".

    Under a minute it is "less than a minute" (negative counts as 0), so "Offline for
    less than a minute" and "the latest less than a minute ago" read well; whole units
    are rounded down.
    """
    whole = max(0, int(seconds)) if math.isfinite(seconds) else 0
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if whole >= size:
            count = whole // size
            return f"{count:,} {unit}{'s' if count != 1 else ''}"
    return UNDER_A_MINUTE


def ago(moment: datetime, now: datetime) -> str:
    """'just now', '3 minutes ago', '2 days ago': how long ago ``moment`` was.

    Under a minute (and up to a second in the future, clock jitter between processes) it
    is "just now"; further in the future the clock is not right yet.
    """
    seconds = (now - moment).total_seconds()
    if seconds < -1:
        return "in the future (clock not yet set?)"
    if seconds < 60:
        return JUST_NOW
    return f"{duration_words(seconds)} ago"


PLAIN_LABELS = {
    "noise": "Sound level",
    "occupancy": "Room",
}
"""What a visitor calls a metric where the vocabulary's description is technical or reads
as a sentence; other metrics keep the vocabulary's description."""


def plain_label(metric: str, description: str) -> str:
    """The name a visitor reads for ``metric``: a plain one, else its ``description``."""
    return PLAIN_LABELS.get(metric, description)


ON_OFF_WORDS = {
    "occupancy": ("In use", "Not in use"),
}
"""Words for the on (1) and off (0) values of on/off metrics; others read "Yes"/"No"."""


def on_off_words(value: float, metric: str | None = None) -> str:
    """An on/off (0/1) reading in words: "In use"/"Not in use" for occupancy, else "Yes"/"No".

    A value of 0.5 or more is on (an on/off value is 0 or 1; anything between is read
    to the nearer); NaN or infinity is "no data".
    """
    if not math.isfinite(value):
        return "no data"
    on, off = ON_OFF_WORDS.get(metric or "", ("Yes", "No"))
    return on if value >= 0.5 else off


@dataclass(frozen=True, slots=True)
class SoundLevel:
    """A sound level as a visitor reads it.

    ``text`` ("35 decibels"), a ``band`` word ("Quiet"), a stable ``level`` key and an
    ``explanation`` to compare it with.
    """

    text: str
    band: str
    level: str
    explanation: str


SOUND_BANDS = (
    (45.0, "Quiet", "quiet", "About as loud as a library or a quiet office."),
    (65.0, "Moderate", "moderate", "About as loud as people talking."),
    (80.0, "Loud", "loud", "About as loud as a busy café or a party."),
    (math.inf, "Very loud", "very_loud", "Loud enough to harm hearing if it lasts for hours."),
)
"""(below this many dB(A), band, level key, explanation), quietest first."""


def sound_level(decibels: float) -> SoundLevel:
    """An A-weighted sound level in plain words: "35 decibels", "Quiet".

    Bands, on the level rounded to a whole decibel (halves up): under 45 dB(A) quiet
    (a library), under 65 moderate (conversation), under 80 loud (a busy café), from 80
    very loud (the UK's lower exposure action value at work).
    NaN or infinity reads "no data" with no band.
    """
    if not math.isfinite(decibels):
        return SoundLevel("no data", "", "none", "")
    rounded = math.floor(decibels + 0.5)
    text = f"{rounded:,} decibel{'s' if rounded != 1 else ''}"
    for upper, band, level, explanation in SOUND_BANDS:
        if rounded < upper:
            return SoundLevel(text, band, level, explanation)
    raise AssertionError("unreachable: the last band has no upper bound")  # pragma: no cover
