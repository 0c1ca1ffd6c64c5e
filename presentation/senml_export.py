"""Stored readings as a SenML pack in JSON (RFC 8428), streamed."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from typing import TextIO

from presentation.export_rows import Chunk, ExportRow, quality_text, take_chunk


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
            yield take_chunk(buffer, pending)
            pending = 0
    buffer.write("\n]\n")
    yield take_chunk(buffer, pending)
