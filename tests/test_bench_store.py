"""The store benchmark (``python -m bench store``) in miniature, so its code cannot rot.

A few batches of readings, appended through ``EdgeStore.append`` and through the raw
``executemany`` limit into real SQLite files, then the whole table at that size. No rate
is asserted (that is the benchmark's job, by command, never a timed test): only that both
sides store every reading and both rates are measured and printed.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from bench.store_append import BATCH, SENSORS, bench_raw, bench_store, main, make_readings
from edge.store import EdgeStore

TOTAL = 2 * BATCH + 7  # two full batches and a part of one


def test_both_sides_store_every_reading_in_the_same_shape(tmp_path: Path) -> None:
    readings = make_readings(TOTAL)
    assert len(readings) == TOTAL
    assert len({(r.sensor_id, r.metric) for r in readings}) == SENSORS

    store_s = bench_store(tmp_path / "store.db", readings)
    raw_s = bench_raw(tmp_path / "raw.db", readings)

    assert store_s > 0
    assert raw_s > 0
    with EdgeStore(tmp_path / "store.db", readonly=True) as store:
        assert store.stats().readings_stored == TOTAL
        assert len(store.latest()) == SENSORS
    conn = sqlite3.connect(tmp_path / "raw.db")
    try:
        assert conn.execute("SELECT COUNT(*) FROM readings").fetchone() == (TOTAL,)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        conn.close()


def test_the_table_has_the_limit_and_the_store_side_by_side(
    capsys: pytest.CaptureFixture[str],
) -> None:
    main(total=TOTAL, rounds=1)
    out = capsys.readouterr().out

    assert f"Store append, {TOTAL:,} readings from {SENSORS} sensors, batches of {BATCH}" in out
    assert "best of 1 " in out
    rates = {}
    for label in ("raw executemany of prepared tuples (the limit)", "EdgeStore.append"):
        row = re.search(rf"^\| {re.escape(label)}.*\| +([\d,]+) \|$", out, re.MULTILINE)
        assert row, out
        rates[label] = int(row.group(1).replace(",", ""))
        assert rates[label] > 0, out
    verdict = re.search(r"EdgeStore reaches (\d+)% of the limit: (meets|MISSES) the goal", out)
    assert verdict, out
    assert int(verdict.group(1)) > 0
