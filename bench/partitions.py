"""PostgreSQL readings partitioned by month against one table (issue #20 part 4).

A year of readings from 1,000 halls, stored in one PostgreSQL database twice: in the
partitioned ``readings`` the hub store makes (schema version 9, one partition a UTC
month, :mod:`hub.store_postgres_partitions`), and in the one unpartitioned table of
schema version 8 (in a schema ``flat`` of the same database, read through the
``search_path``: the rollup tables, the received ranges and the registry are the same
rows for both). Measured, the unpartitioned table as the baseline:

- the insert rate of live batches (``store_batch``, as ingestion stores them) into the
  newest month, a year already stored;
- the latency (p50, p95) of typical queries: one hall's last day of raw readings, one
  hall's month of raw readings and of hourly rollups, the fleet's newest reading of each
  hall from the raw readings, and from the ``latest`` table the hub reads it from;
- retention: a month of readings dropped (``prune`` on the partitioned table) against
  the same month deleted (``prune`` on the unpartitioned one);
- the migration of the unpartitioned table to version 9, at the end.

Scaled down to run in minutes on two cores: one reading an hour per hall
(:data:`READINGS_PER_HOUR`) where a hall sends about 600 (10 sensors, one a minute):
8.76 million readings a year instead of 5.3 billion, 1/600. Query latencies of one hall's
data scale with the rows per hall (600 times the rows read); the scans of the
unpartitioned table (the fleet's raw newest, retention's DELETE) scale with the whole
table, so their gap grows with the real rate, while dropping a partition stays a
catalogue change. Uses a throwaway cluster (tests/support/postgres.py). Run from the
repository root::

    .venv/bin/python -m bench partitions
"""

from __future__ import annotations

import os
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from hub.store_postgres import SCHEMA, PostgresHubStore
from hub.store_sql_base import DAY_US, HOUR_US
from hub.store_sql_rollups import RollupTables
from hub_sync.batch_codec import Batch, WireReading

HALLS = int(os.environ.get("HALLSENSE_BENCH_HALLS", "1000"))
READINGS_PER_HOUR = 1
REPEATS = int(os.environ.get("HALLSENSE_BENCH_REPEATS", "100"))
ROUNDS = 3
LIVE_BATCH = 60
SERIES = ("bme-1", "temperature", "°C")


def us(year: int, month: int, day: int) -> int:
    return int(datetime(year, month, day, tzinfo=UTC).timestamp()) * 1_000_000


NOW = us(2026, 12, 7)
START = NOW - 365 * DAY_US
STEP = HOUR_US // READINGS_PER_HOUR
YEAR = 365 * 24 * READINGS_PER_HOUR


class UnpartitionedStore(PostgresHubStore):
    """The hub store over the version 8 table: no partitions made, retention by DELETE."""

    def _partition_readings(self) -> None:
        pass

    def _cover(self, first_us: int, last_us: int, months: Any = None) -> None:
        pass

    def prune(self, before_us: int) -> int:
        return RollupTables.prune(self, before_us)


def hall(n: int) -> str:
    return f"hall-{n:04d}"


def load_year(store: PostgresHubStore) -> float:
    """A year of every hall's readings, their rollups and received ranges; seconds taken."""
    began = time.perf_counter()
    store._cover(START, NOW + 30 * DAY_US)
    series = store._series_id(*SERIES)
    for n in range(1, HALLS + 1):
        store._run(
            "INSERT INTO devices (device_id, name, added_at_us) VALUES (?, ?, ?)",
            (hall(n), f"Hall {n}", START),
        )
    params = {"series": series, "start": START, "step": STEP, "k": YEAR, "halls": HALLS}
    # Time-ordered, every hall's hour before the next hour's, as live ingestion writes.
    store._connect().execute(
        "INSERT INTO readings SELECT 'hall-' || lpad(h::text, 4, '0'), 1, k, %(series)s, "
        "%(start)s::bigint + (k - 1) * %(step)s::bigint + h * 1000, 15 + (k %% 24) * 0.5, "
        "NULL, 0, NULL, %(start)s::bigint + k * %(step)s::bigint "
        "FROM generate_series(1, %(k)s) k "
        "CROSS JOIN LATERAL generate_series(1, %(halls)s + 0 * k) h",
        params,
    )
    store._run(
        f"INSERT INTO hourly SELECT device_id, series_id, ts_us / {HOUR_US} * {HOUR_US}, COUNT(*), "  # noqa: S608
        "SUM(value), MIN(value), MAX(value) FROM readings GROUP BY 1, 2, 3"
    )
    store._run(
        f"INSERT INTO seq_hours SELECT device_id, ts_us / {HOUR_US} * {HOUR_US}, store_epoch, "  # noqa: S608
        "MIN(seq), MAX(seq) FROM readings GROUP BY 1, 2, 3"
    )
    store._run("INSERT INTO received SELECT device_id, 1, 1, ? FROM devices", (YEAR,))
    store._run(
        "INSERT INTO latest SELECT DISTINCT ON (device_id) device_id, series_id, ts_us, value "
        "FROM readings WHERE ts_us >= ? ORDER BY device_id, ts_us DESC",
        (NOW - DAY_US,),
    )
    store._run("CREATE SCHEMA flat")
    (ddl,) = [s for s in SCHEMA if "CREATE TABLE readings" in s]
    store._run(ddl.replace("CREATE TABLE readings", "CREATE TABLE flat.readings"))
    store._run("INSERT INTO flat.readings SELECT * FROM public.readings")
    store._connect().execute("VACUUM ANALYZE")
    return time.perf_counter() - began


def live_rate(stores: dict[str, PostgresHubStore]) -> dict[str, float]:
    """Readings/s of live batches (a minute apart) into the newest month: best of ROUNDS."""
    best = dict.fromkeys(stores, 0.0)
    for r in range(ROUNDS):
        for epoch, (label, store) in enumerate(stores.items(), start=2):
            batches = [
                Batch(
                    hall(n),
                    epoch,
                    tuple(
                        WireReading(
                            r * LIVE_BATCH + i + 1, *SERIES,
                            NOW + (r * LIVE_BATCH + i) * 60_000_000 + n, 20.0 + i % 7,
                        )
                        for i in range(LIVE_BATCH)
                    ),
                )
                for n in range(1, HALLS + 1)
            ]  # fmt: skip
            began = time.perf_counter()
            for batch in batches:
                store.store_batch(batch, NOW + DAY_US)
            rate = HALLS * LIVE_BATCH / (time.perf_counter() - began)
            best[label] = max(best[label], rate)
    return best


def latencies(call: Callable[[int], object], repeats: int) -> tuple[float, float]:
    """(p50, p95) milliseconds of ``call`` on random halls (the same halls for each store)."""
    picks = random.Random(20).choices(range(1, HALLS + 1), k=repeats)
    call(picks[0])  # warm-up
    times = []
    for n in picks:
        began = time.perf_counter()
        call(n)
        times.append((time.perf_counter() - began) * 1000)
    cuts = statistics.quantiles(times, n=20)
    return statistics.median(times), cuts[18]


def queries(store: PostgresHubStore) -> list[tuple[str, tuple[float, float]]]:
    june, july = us(2026, 6, 1), us(2026, 7, 1)
    fleet_repeats = max(10, REPEATS // 4)
    return [
        (
            "one hall's last day, raw",
            latencies(lambda n: store.readings_between([hall(n)], NOW - DAY_US, NOW), REPEATS),
        ),
        (
            "one hall's month (June), raw",
            latencies(lambda n: store.readings_between([hall(n)], june, july), REPEATS),
        ),
        (
            "one hall's month (June), hourly",
            latencies(lambda n: store.hourly([hall(n)], june, july), REPEATS),
        ),
        (
            "fleet's newest, from raw (last hour)",
            latencies(
                lambda n: store._query(
                    "SELECT device_id, MAX(ts_us) FROM readings WHERE ts_us >= ? GROUP BY 1",
                    (NOW - HOUR_US,),
                ),
                fleet_repeats,
            ),
        ),
        (
            "fleet's newest, from `latest`",
            latencies(lambda n: store._query("SELECT * FROM latest"), REPEATS),
        ),
    ]


def timed(call: Callable[[], object]) -> float:
    began = time.perf_counter()
    call()
    return time.perf_counter() - began


def disk_bytes(store: PostgresHubStore) -> dict[str, float]:
    """Bytes on disk (heap, TOAST and indexes) per reading, each table; per hourly rollup row."""
    ((readings,),) = store._query("SELECT COUNT(*) FROM public.readings")
    ((parted,),) = store._query(
        "SELECT SUM(pg_total_relation_size(inhrelid)) FROM pg_inherits "
        "WHERE inhparent = 'public.readings'::regclass"
    )
    ((flat,),) = store._query("SELECT pg_total_relation_size('flat.readings')")
    ((hours, hourly),) = store._query(
        "SELECT COUNT(*), pg_total_relation_size('hourly') FROM hourly"
    )
    return {
        "readings": readings,
        "bytes_flat": flat / readings,
        "bytes_parted": int(parted) / readings,
        "bytes_hourly": hourly / hours,
    }


def measure() -> tuple[list[tuple[str, float, float, str]], dict[str, float]]:
    """(rows of the table, other figures) from a throwaway cluster."""
    from tests.support.postgres import PostgresCluster

    cluster = PostgresCluster()
    cluster.settings = {"shared_buffers": "512MB", "max_wal_size": "4GB"}
    cluster.start()
    try:
        url = cluster.new_database()
        parted = PostgresHubStore(url)
        figures = {"load_s": load_year(parted), **disk_bytes(parted)}
        flat = UnpartitionedStore(url + "?options=-csearch_path%3Dflat,public")
        stores: dict[str, PostgresHubStore] = {"flat": flat, "parted": parted}
        rows: list[tuple[str, float, float, str]] = []
        rates = live_rate(stores)
        rows.append(("live batches into the newest month", rates["flat"], rates["parted"], "/s"))
        answers = {label: queries(store) for label, store in stores.items()}
        for (name, (f50, f95)), (_, (p50, p95)) in zip(
            answers["flat"], answers["parted"], strict=True
        ):
            rows.append((f"{name}, p50", f50, p50, "ms"))
            rows.append((f"{name}, p95", f95, p95, "ms"))
        first_month = us(2026, 1, 1)
        for store in stores.values():  # December's few days first: not timed
            store.prune(first_month)
        january: dict[str, int] = {}
        seconds: dict[str, float] = {}
        for label, store in stores.items():
            began = time.perf_counter()
            january[label] = store.prune(us(2026, 2, 1))
            seconds[label] = time.perf_counter() - began
        figures["january_rows"] = january["parted"]
        if january["flat"] != january["parted"]:
            raise RuntimeError(f"the two tables pruned different readings: {january}")
        rows.append(
            (
                "retention: January gone (drop vs DELETE)",
                seconds["flat"] * 1000,
                seconds["parted"] * 1000,
                "ms",
            )
        )
        ((figures["migrated_rows"],),) = flat._query("SELECT COUNT(*) FROM flat.readings")
        flat.close()
        parted._run("DROP TABLE public.readings")
        parted._run("ALTER TABLE flat.readings SET SCHEMA public")
        began = time.perf_counter()
        with parted._transaction():
            parted._partition_readings()
        figures["migration_s"] = time.perf_counter() - began
        parted.close()
        return rows, figures
    finally:
        cluster.destroy()


def main() -> None:
    """Print the table: the unpartitioned table as the baseline, the partitioned one beside."""
    began = time.perf_counter()
    rows, figures = measure()
    print(
        f"\nPostgreSQL readings by month: {HALLS:,} halls, a year at {READINGS_PER_HOUR} "
        f"reading an hour each ({HALLS * YEAR:,} readings; 1/600 of 10 sensors a minute), "
        f"loaded in {figures['load_s']:.0f} s"
    )
    print(f"| {'measure':<48} | {'one table':>11} | {'by month':>11} | {'ratio':>6} |")
    print(f"| {'-' * 48} | {'-' * 10}: | {'-' * 10}: | {'-' * 5}: |")
    for name, flat, parted, unit in rows:
        ratio = parted / flat if unit == "/s" else flat / parted if parted else float("inf")
        print(f"| {name + f' ({unit})':<48} | {flat:>11,.1f} | {parted:>11,.1f} | {ratio:>5.1f}x |")
    print(
        f"\nRetention: {figures['january_rows']:,} readings. Migration of the one table "
        f"({figures['migrated_rows']:,} readings) to version 9: "
        f"{figures['migration_s']:.1f} s. Ratio: how many times better by month is "
        f"(rate over rate, time over time). Whole run: {time.perf_counter() - began:.0f} s."
    )
    print(
        f"On disk (table, TOAST and indexes, after VACUUM): {figures['bytes_parted']:.0f} bytes "
        f"a reading by month, {figures['bytes_flat']:.0f} in one table "
        f"({figures['readings']:,.0f} readings); {figures['bytes_hourly']:.0f} bytes an hourly "
        "rollup row (one a series an hour, however many readings it counts)."
    )


if __name__ == "__main__":
    main()
