"""What the CSV and SenML exports share: the rows they take and how they write a value."""

from __future__ import annotations

import functools
import io
import math
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from presentation.reading_flags import Censor, Quality

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ExportRow(Protocol):
    """What an export needs of a stored reading."""

    @property
    def seq(self) -> int: ...  # noqa: D102
    @property
    def sensor_id(self) -> str: ...  # noqa: D102
    @property
    def metric(self) -> str: ...  # noqa: D102
    @property
    def value(self) -> float: ...  # noqa: D102
    @property
    def unit(self) -> str: ...  # noqa: D102
    @property
    def timestamp(self) -> datetime: ...  # noqa: D102
    @property
    def quality(self) -> Quality: ...  # noqa: D102
    @property
    def censor(self) -> Censor | None: ...  # noqa: D102


@functools.lru_cache(maxsize=256)
def quality_text(quality: Quality) -> str:
    """``ok``, or the flags' names joined by ``;`` (``out_of_range;stuck``).

    Cached: an export asks for the same few combinations hundreds of thousands of times.
    """
    names = [flag.name.lower() for flag in Quality if flag and flag in quality and flag.name]
    return ";".join(names) if names else "ok"


def plain_number(value: float) -> str:
    """A float as plain decimal text that reads back as exactly the same float.

    ``3.0`` is ``3``; no scientific notation, which spreadsheets may mangle.
    """
    if math.isnan(value):
        return ""
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    text = repr(value)
    if "e" in text or "E" in text:
        # repr's digits are the shortest that round-trip; spell them out in full.
        digits = len(text.split("e")[0].replace("-", "").replace(".", ""))
        exponent = int(text.split("e")[1])
        text = f"{value:.{max(digits - 1 - exponent, 0)}f}"
    return text


def spreadsheet_cell(text: str) -> str:
    """Text safe from spreadsheet formula injection."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def local_iso(moment: datetime, zone: ZoneInfo) -> str:
    """ISO 8601 in the hall's time with its offset; microseconds only when there are some."""
    local = moment.astimezone(zone)
    return local.isoformat(timespec="microseconds" if local.microsecond else "seconds")


class Chunk(str):
    """A piece of an export, knowing how many readings it holds."""

    rows: int = 0


def take_chunk(buffer: io.StringIO, rows: int) -> Chunk:
    """What ``buffer`` holds, as a chunk of ``rows`` readings; the buffer is emptied."""
    chunk = Chunk(buffer.getvalue())
    chunk.rows = rows
    buffer.seek(0)
    buffer.truncate()
    return chunk
