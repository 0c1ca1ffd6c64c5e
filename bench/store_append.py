"""Store append throughput at the default batching, beside raw executemany into the same shape."""

import platform
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from edge.clock import ClockSample
from edge.settings import EdgeSettings
from edge.store import EdgeStore
from sensors.reading import Reading

TOTAL = 100_000
SENSORS = 10
BATCH = EdgeSettings(data_dir=Path(".")).commit_max_readings
METRICS = [
    ("temperature", "°C"),
    ("relative_humidity", "%"),
    ("co2", "ppm"),
    ("pm2_5", "µg/m³"),
    ("pm10", "µg/m³"),
    ("noise", "dBA"),
    ("footfall", "count"),
    ("occupancy", "bool"),
    ("pressure", "hPa"),
    ("battery", "V"),
]


def make_readings(total: int = TOTAL) -> list[Reading]:
    start = datetime(2026, 11, 24, tzinfo=UTC)
    readings = []
    for i in range(total):
        metric, unit = METRICS[i % SENSORS]
        moment = start + timedelta(seconds=i // SENSORS)
        readings.append(Reading(f"s{i % SENSORS}", metric, 20.0 + (i % 97) / 10, unit, moment))
    return readings


def bench_store(path: Path, readings: list[Reading]) -> float:
    store = EdgeStore(path)
    sample = ClockSample(datetime.now(UTC), time.monotonic_ns(), True, "bench")
    try:
        started = time.perf_counter()
        for i in range(0, len(readings), BATCH):
            store.append(readings[i : i + BATCH], sample)
        return time.perf_counter() - started
    finally:
        store.close()


def bench_raw(path: Path, readings: list[Reading]) -> float:
    """The limit: prepared tuples, one executemany and commit per batch, same pragmas."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(
        "CREATE TABLE readings (seq INTEGER PRIMARY KEY AUTOINCREMENT, series_id INTEGER, "
        "ts_us INTEGER, value REAL, quality INTEGER)"
    )
    rows = [
        (i % SENSORS, int(r.timestamp.timestamp() * 1e6), r.value, 0)
        for i, r in enumerate(readings)
    ]
    started = time.perf_counter()
    for i in range(0, len(rows), BATCH):
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO readings (series_id, ts_us, value, quality) VALUES (?, ?, ?, ?)",
            rows[i : i + BATCH],
        )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def main(total: int = TOTAL, rounds: int = 3) -> None:
    readings = make_readings(total)
    with tempfile.TemporaryDirectory() as scratch:
        raw_s = min(bench_raw(Path(scratch) / f"raw{i}.db", readings) for i in range(rounds))
        store_s = min(bench_store(Path(scratch) / f"store{i}.db", readings) for i in range(rounds))
    raw_rate = total / raw_s
    store_rate = total / store_s
    print(f"\nStore append, {total:,} readings from {SENSORS} sensors, batches of {BATCH}, ")
    print(
        f"WAL + synchronous=FULL, best of {rounds} "
        f"({platform.python_version()}, {platform.machine()})"
    )
    print(f"| {'method':<52} | {'readings/s':>12} |")
    print(f"| {'-' * 52} | {'-' * 12}:|")
    print(f"| {'raw executemany of prepared tuples (the limit)':<52} | {raw_rate:>12,.0f} |")
    print(f"| {'EdgeStore.append (rollups, series, clock state)':<52} | {store_rate:>12,.0f} |")
    ratio = store_rate / raw_rate
    verdict = "meets" if ratio >= 0.5 else "MISSES"
    print(f"\nEdgeStore reaches {ratio:.0%} of the limit: {verdict} the goal of at least 50 %.")


if __name__ == "__main__":
    main()
