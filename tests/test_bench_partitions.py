"""The partitions benchmark (``bench.partitions``) in miniature, so it cannot rot: a few
halls' year in both tables, every figure measured, the same month pruned from each."""

from __future__ import annotations

import pytest

from bench import partitions


@pytest.mark.slow  # a PostgreSQL cluster of its own and a year of five halls: seconds
def test_the_partitions_bench_measures_both_tables_and_prunes_the_same_month(monkeypatch):
    monkeypatch.setattr(partitions, "HALLS", 5)
    monkeypatch.setattr(partitions, "REPEATS", 4)
    rows, figures = partitions.measure()
    names = [name for name, _, _, _ in rows]
    assert names[0] == "live batches into the newest month"
    assert names[-1].startswith("retention")
    assert len(rows) == 12
    assert all(flat > 0 and parted > 0 for _, flat, parted, _ in rows)
    assert figures["january_rows"] == 5 * 31 * 24  # one reading an hour per hall
    # The one table's year, less December's week and January, and the live batches.
    assert figures["migrated_rows"] == 5 * (365 - 25 - 31) * 24 + 5 * 3 * 60
    assert figures["migration_s"] > 0
    # A reading's row and its share of the indexes: tens of bytes a column, not kilobytes.
    assert figures["readings"] > 5 * 300 * 24
    for bytes_each in (figures["bytes_parted"], figures["bytes_flat"]):
        assert 50 < bytes_each < 400, figures
    assert 50 < figures["bytes_hourly"] < 400, figures
