"""The hub data benchmark (``python -m bench hub``) in miniature, so its code cannot rot.

Four hours of one hall's one-minute data instead of a year and a fleet of a few nodes,
stored in SQLite and in a real PostgreSQL (the benchmark's own throwaway cluster), each
served by the hub web app over HTTP, one timed request a query, and the table. No latency
is asserted (that is the benchmark's job, by command, never a timed test): only that every
query and both naive baselines are measured on both backends in the same run, and that
the two backends answer the same queries with the same data.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from bench.hub_data import SERIES, main

ROW = re.compile(
    r"^\| (SQLite|PostgreSQL) \| (.+?) \| ([\d.]+) \| ([\d.]+) \| ([\d,]+) \| (met|NOT MET|—) \|$",
    re.MULTILINE,
)
QUERIES = (
    "year of daily rollups, every series",
    "year of hourly rollups, one metric",
    "week of hourly rollups, every series",
    "day of raw readings as CSV",
    "fleet page, 5 nodes",
    "fleet page, 5 nodes, needing attention",
    "/metrics, 5 nodes",
)
NAIVE = ("naive: year of daily means from raw", "naive: fleet gaps, a query per node")


@pytest.mark.slow  # a PostgreSQL cluster of its own (initdb), and the hub web app twice
def test_every_query_and_the_naive_baselines_on_both_backends(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The data ends at the last 02:00 UTC, so the day of raw readings (the day before
    # the data ends) holds its last hours, whatever the time of the run.
    now = datetime.now(UTC).replace(hour=2, minute=0, second=0, microsecond=0)
    if now > datetime.now(UTC):
        now -= timedelta(days=1)
    main(days=4 / 24, fleet=5, requests=1, now=now)
    out = capsys.readouterr().out

    stored = 4 * 60 * len(SERIES)
    assert f"SQLite: stored {stored:,} readings in " in out
    assert f"PostgreSQL: stored {stored:,} readings in " in out
    assert (
        "| backend | query | median ms | p95 ms | bytes | goal p95 < 300 ms (fleet 200 ms) |" in out
    )
    rows = {(backend, query): rest for backend, query, *rest in ROW.findall(out)}
    assert set(rows) == {(b, q) for b in ("SQLite", "PostgreSQL") for q in QUERIES + NAIVE}, out
    for (backend, query), (median, p95, size, verdict) in rows.items():
        assert 0 <= float(median) <= float(p95), (backend, query)
        if query in NAIVE:
            # A query per node of a fleet of 5 can take less than the 0.1 ms shown.
            assert verdict == "—", (backend, query)
        else:
            assert float(median) > 0, (backend, query)
            assert int(size.replace(",", "")) > 0, (backend, query)
            assert verdict in ("met", "NOT MET"), (backend, query)
    # The same data, stored through each backend, comes back the same over the API.
    for query in QUERIES[:4]:
        assert rows["SQLite", query][2] == rows["PostgreSQL", query][2], query
    # The day of raw readings holds the hours before midnight of every series.
    csv_bytes = int(rows["SQLite", "day of raw readings as CSV"][2].replace(",", ""))
    assert csv_bytes > 60 * len(SERIES) * 30
