"""Write stored readings as CSV for spreadsheets or as SenML JSON (RFC 8428), streamed."""

from __future__ import annotations

import csv
import functools
import io
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Protocol, TextIO
from zoneinfo import ZoneInfo

from presentation.reading_flags import Censor, Quality

CSV_HEADER = ("time", "sensor", "metric", "value", "unit", "quality", "seq")
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


def _cell(text: str) -> str:
    """Text safe from spreadsheet formula injection."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def local_iso(moment: datetime, zone: ZoneInfo) -> str:
    """ISO 8601 in the hall's time with its offset; microseconds only when there are some."""
    local = moment.astimezone(zone)
    return local.isoformat(timespec="microseconds" if local.microsecond else "seconds")


def write_csv(rows: Iterable[ExportRow], out: TextIO, *, timezone: str = "Europe/London") -> int:
    """Write ``rows`` as CSV that opens as is in Excel and LibreOffice; returns rows written.

    UTF-8 with a byte-order mark (so °C and µg/m³ show right in Excel), RFC 4180 line
    ends, times in the hall's local time with their UTC offset, NaN as an empty cell,
    censored values as ``<3``. Open files with ``newline=""``.
    """
    count = 0
    for chunk in csv_chunks(rows, timezone=timezone):
        out.write(chunk)
        count += chunk.rows
    return count


class Chunk(str):
    """A piece of an export, knowing how many readings it holds."""

    rows: int = 0


def _take(buffer: io.StringIO, rows: int) -> Chunk:
    chunk = Chunk(buffer.getvalue())
    chunk.rows = rows
    buffer.seek(0)
    buffer.truncate()
    return chunk


def csv_chunks(
    rows: Iterable[ExportRow], *, timezone: str = "Europe/London", per_chunk: int = 1000
) -> Iterator[Chunk]:
    """The CSV of :func:`write_csv` in pieces of at most ``per_chunk`` rows.

    The header comes first, on its own, so a download streams without being held in
    memory.
    """
    zone = ZoneInfo(timezone)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow(CSV_HEADER)
    yield _take(buffer, 0)
    pending = 0
    for row in rows:
        value = plain_number(row.value)
        if row.censor is not None:
            value = row.censor.value + value
        writer.writerow(
            (
                local_iso(row.timestamp, zone),
                _cell(row.sensor_id),
                _cell(row.metric),
                value,
                _cell(row.unit),
                quality_text(row.quality),
                row.seq,
            )
        )
        pending += 1
        if pending == per_chunk:
            yield _take(buffer, pending)
            pending = 0
    if pending:
        yield _take(buffer, pending)


def write_senml(
    rows: Iterable[ExportRow],
    out: TextIO,
    *,
    base_name: str,
    senml_units: Mapping[str, str | None] | None = None,
) -> int:
    """Write ``rows`` as a SenML pack in JSON (RFC 8428); returns records written.

    The first record carries ``bn`` (``base_name``) and ``bt`` (the first reading's time);
    every record has ``n`` = ``<sensor_id>:<metric>``, ``t`` relative to ``bt``, ``u``
    when ``senml_units`` maps the metric to a registered SenML unit, and ``v`` (``vb``
    for 0/1 states). JSON has no NaN or infinity, so those values travel as the string
    value ``vs`` ("nan", "inf", "-inf"). Two extension fields carry what SenML has no
    field for; their labels do not end in "_", so RFC 8428 lets a decoder that does not
    know them ignore them: ``q``, the quality flags (as in the CSV, present only when not
    ok), and ``c``, "<" or ">" for a censored value.
    """
    count = 0
    for chunk in senml_chunks(rows, base_name=base_name, senml_units=senml_units):
        out.write(chunk)
        count += chunk.rows
    return count


def senml_chunks(
    rows: Iterable[ExportRow],
    *,
    base_name: str,
    senml_units: Mapping[str, str | None] | None = None,
    per_chunk: int = 1000,
) -> Iterator[Chunk]:
    """The SenML pack of :func:`write_senml` in pieces of at most ``per_chunk`` records."""
    units = senml_units or {}
    buffer = io.StringIO()
    buffer.write("[")
    base_time: float | None = None
    pending = 0
    for count, row in enumerate(rows):
        stamp = row.timestamp.timestamp()
        record: dict[str, object] = {}
        if base_time is None:
            base_time = math.floor(stamp)
            record["bn"] = base_name
            record["bt"] = base_time
        record["n"] = f"{row.sensor_id}:{row.metric}"
        unit = units.get(row.metric)
        if unit:
            record["u"] = unit
        record["t"] = round(stamp - base_time, 6)
        if not math.isfinite(row.value):
            record["vs"] = "nan" if math.isnan(row.value) else ("inf" if row.value > 0 else "-inf")
        elif row.unit == "bool":
            record["vb"] = bool(row.value)
        else:
            record["v"] = row.value
        if row.quality:
            record["q"] = quality_text(row.quality)
        if row.censor is not None:
            record["c"] = row.censor.value
        buffer.write(("," if count else "") + "\n" + json.dumps(record, ensure_ascii=False))
        pending += 1
        if pending == per_chunk:
            yield _take(buffer, pending)
            pending = 0
    buffer.write("\n]\n")
    yield _take(buffer, pending)
