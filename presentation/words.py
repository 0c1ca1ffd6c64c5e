"""How long something took or how long ago it was, as people say it."""

from __future__ import annotations

from datetime import datetime


def duration_words(seconds: float) -> str:
    """A duration as people say it: "3 minutes", "2 hours", "4 days" (negative is 0)."""
    whole = max(0, int(seconds))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if whole >= size:
            count = whole // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{whole} second{'s' if whole != 1 else ''}"


def ago(moment: datetime, now: datetime) -> str:
    """'12 seconds ago', '3 minutes ago', '2 days ago' — how long ago ``moment`` was."""
    seconds = (now - moment).total_seconds()
    if seconds < 0:
        return "in the future (clock not yet set?)"
    return f"{duration_words(seconds)} ago"
