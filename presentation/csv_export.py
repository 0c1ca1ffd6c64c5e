"""Stored readings as CSV for spreadsheets (Excel and LibreOffice open it as is), streamed."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import TextIO
from zoneinfo import ZoneInfo

from presentation.export_rows import (
    Chunk,
    ExportRow,
    local_iso,
    plain_number,
    quality_text,
    spreadsheet_cell,
    take_chunk,
)

CSV_HEADER = ("time", "sensor", "metric", "value", "unit", "quality", "seq")


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
    yield take_chunk(buffer, 0)
    pending = 0
    for row in rows:
        value = plain_number(row.value)
        if row.censor is not None:
            value = row.censor.value + value
        writer.writerow(
            (
                local_iso(row.timestamp, zone),
                spreadsheet_cell(row.sensor_id),
                spreadsheet_cell(row.metric),
                value,
                spreadsheet_cell(row.unit),
                quality_text(row.quality),
                row.seq,
            )
        )
        pending += 1
        if pending == per_chunk:
            yield take_chunk(buffer, pending)
            pending = 0
    if pending:
        yield take_chunk(buffer, pending)
