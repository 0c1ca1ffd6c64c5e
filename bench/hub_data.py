"""Hub data queries over a year of one-minute data for a hall, SQLite and PostgreSQL.

Builds a hub store holding a year of one-minute readings from one hall's 10 sensors
(5.26 million readings, through ``store_batch`` as ingestion stores them, so the hourly
rollups are made the same way), serves the hub web app's data API over HTTP (cheroot, in
a thread, as ``hallsense hub web`` serves it), and times sequential GETs:

- a year of daily rollups of every series (``bucket=day``),
- a year of hourly rollups of one metric,
- a week of hourly rollups of every series,
- a day of raw readings as CSV.

The naive baseline answers the year of daily means with one ``GROUP BY`` over the raw
readings per request, which is what a hub without rollups would have to do. Goal: p95
under 300 ms for every query, on both backends. Run from the repository root::

    .venv/bin/python -m bench hub
"""

from __future__ import annotations

import json
import math
import statistics
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cheroot import wsgi

from hub.exports import hub_exporters
from hub.logins import Logins
from hub.presenter import NodePresenter
from hub.store_postgres import PostgresHubStore
from hub.store_sql import SqlHubStore
from hub.store_sqlite import SqliteHubStore
from hub.web import HubPages, create_hub_web
from hub_sync.batch_codec import Batch, WireReading
from provisioning.enrolment_tokens import TokenStore

DAYS = 365
SERIES = (
    ("bme-1", "temperature", "°C", 19.0, 3.0),
    ("bme-1", "humidity", "%", 55.0, 10.0),
    ("bme-1", "pressure", "hPa", 1010.0, 8.0),
    ("scd-1", "co2", "ppm", 650.0, 250.0),
    ("sps-1", "pm2_5", "µg/m³", 6.0, 4.0),
    ("sps-1", "pm10", "µg/m³", 9.0, 5.0),
    ("mic-1", "noise", "dB(A)", 45.0, 12.0),
    ("door-1", "footfall", "people", 1.0, 1.0),
    ("pi", "cpu_temperature", "°C", 48.0, 5.0),
    ("pi", "disk_used", "%", 30.0, 1.0),
)
BATCH = 10_000
GOAL_MS = 300.0
FLEET_GOAL_MS = 200.0
FLEET = 1000
REQUESTS = 30


def year_batches(end_us: int, days: float = DAYS) -> Iterator[Batch]:
    """A year (or ``days``) of one-minute readings of every series, in batches as a node sends
    them."""
    minutes = int(days * 24 * 60)
    start = end_us - minutes * 60_000_000
    seq = 0
    readings: list[WireReading] = []
    for minute in range(minutes):
        ts = start + minute * 60_000_000
        day_phase = math.sin(2 * math.pi * (minute % 1440) / 1440)
        for sensor, metric, unit, base, swing in SERIES:
            seq += 1
            readings.append(
                WireReading(seq, sensor, metric, unit, ts, round(base + swing * day_phase, 2))
            )
        if len(readings) >= BATCH:
            yield Batch("askrigg", 1, tuple(readings))
            readings = []
    if readings:
        yield Batch("askrigg", 1, tuple(readings))


def fill(store: SqlHubStore, end_us: int, days: float = DAYS) -> tuple[int, float]:
    """Store the year (or ``days``); returns how many readings and the seconds it took."""
    store.add_device("askrigg", "Askrigg Village Hall")
    started = time.monotonic()
    count = 0
    for batch in year_batches(end_us, days):
        store.store_batch(batch, end_us)
        count += len(batch.readings)
    return count, time.monotonic() - started


@contextmanager
def served(app: Any) -> Iterator[str]:
    server = wsgi.Server(("127.0.0.1", 0), app, numthreads=4)
    server.prepare()
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.bind_addr[1]}"
    finally:
        server.stop()
        thread.join(10)


def timed(url: str, headers: dict[str, str]) -> tuple[float, int]:
    started = time.perf_counter()
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - our own server
    with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
        size = len(response.read())
        if response.status != 200:
            raise RuntimeError(f"{url}: {response.status}")
    return (time.perf_counter() - started) * 1000, size


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def naive_year_of_days(store: SqlHubStore, start_us: int, end_us: int) -> Callable[[], int]:
    """The baseline: daily means straight from the raw readings, on every request."""

    def query() -> int:
        rows = store._query(  # the baseline, on the same connection
            "SELECT series_id, ts_us / 86400000000, COUNT(*), AVG(value), MIN(value), "
            "MAX(value) FROM readings WHERE device_id = ? AND ts_us >= ? AND ts_us < ? "
            "GROUP BY 1, 2",
            ("askrigg", start_us, end_us),
        )
        return len(rows)

    return query


def fill_fleet(store: SqlHubStore, now_us: int, nodes: int = FLEET) -> None:
    """Register ``nodes`` more halls with heartbeats, a tenth of them in trouble."""
    for n in range(1, nodes):
        device = f"hall-{n:04d}"
        store.add_device(device, f"Village Hall {n}")
        status: dict[str, Any] = {"v": 1, "state": "online", "backlog": n % 7, "version": "0.1"}
        if n % 10 == 0:
            status.update(backlog=80_000, last_error="co2: no reply")
        store.record_status(device, n % 13 != 0, json.dumps(status), now_us - (n % 50) * 60_000_000)


def team_headers(store: Any) -> dict[str, str]:
    """The headers of a council IoT team account's API token, made in ``store``."""
    logins = Logins(lambda: store)
    team = logins.create_account("bench-team", "a long benchmark passphrase", "team")
    return {"Authorization": f"Bearer {logins.issue_token(team, 'bench')}"}


def bench_app(open_store: Callable[[], Any], tokens: Path) -> Any:
    """The hub web app as ``hub web`` makes it, on ``open_store``, no config sent anywhere."""
    pages = HubPages(
        open_store=open_store,
        exporters=hub_exporters("Europe/London"),
        presenter=NodePresenter(),
        send_config=lambda device_id, payload, actor: None,
        secure_cookies=False,
    )
    return create_hub_web(TokenStore(tokens), lambda device_id: {}, pages=pages)


def measure(
    label: str,
    store: SqlHubStore,
    open_store: Callable[[], Any],
    now: datetime,
    fleet: int = FLEET,
    requests: int = REQUESTS,
) -> list[tuple[str, str, float, float, int]]:
    headers = team_headers(store)
    with tempfile.TemporaryDirectory() as tokens:
        app = bench_app(open_store, Path(tokens))
        year_ago = (now - timedelta(days=364)).date().isoformat()
        today = now.date().isoformat()
        week_ago = (now - timedelta(days=6)).date().isoformat()
        yesterday = (now - timedelta(days=1)).date().isoformat()
        api = "/api/v1/devices/askrigg"
        queries = [
            (
                "year of daily rollups, every series",
                f"{api}/rollups?bucket=day&from={year_ago}&to={today}",
            ),
            (
                "year of hourly rollups, one metric",
                f"{api}/rollups?metric=temperature&from={year_ago}&to={today}",
            ),
            ("week of hourly rollups, every series", f"{api}/rollups?from={week_ago}&to={today}"),
            (
                "day of raw readings as CSV",
                f"{api}/readings?format=csv&from={yesterday}&to={yesterday}",
            ),
            (f"fleet page, {fleet:,} nodes", "/fleet"),
            (f"fleet page, {fleet:,} nodes, needing attention", "/fleet?attention=1"),
            (f"/metrics, {fleet:,} nodes", "/metrics"),
        ]
        rows = []
        with served(app) as base:
            for name, path in queries:
                timed(base + path, headers)  # warm-up
                times = []
                size = 0
                for _ in range(requests):
                    ms, size = timed(base + path, headers)
                    times.append(ms)
                rows.append((label, name, statistics.median(times), p95(times), size))
    start_us = int((now - timedelta(days=365)).timestamp() * 1e6)
    naive = naive_year_of_days(store, start_us, int(now.timestamp() * 1e6))
    times = []
    for _ in range(5):
        started = time.perf_counter()
        naive()
        times.append((time.perf_counter() - started) * 1000)
    rows.append(
        (label, "naive: year of daily means from raw", statistics.median(times), p95(times), 0)
    )
    times = []
    for _ in range(5):  # the fleet as first written: one gaps query per node
        started = time.perf_counter()
        for device in store.registered():
            store.missing(device.device_id)
        times.append((time.perf_counter() - started) * 1000)
    rows.append(
        (label, "naive: fleet gaps, a query per node", statistics.median(times), p95(times), 0)
    )
    return rows


def main(
    days: float = DAYS,
    fleet: int = FLEET,
    requests: int = REQUESTS,
    now: datetime | None = None,
) -> None:
    """Fill both backends with ``days`` of data up to ``now`` (this hour), time, print."""
    from tests.support.postgres import PostgresCluster

    now = now or datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    end_us = int(now.timestamp() * 1e6)
    results = []
    with tempfile.TemporaryDirectory(prefix="hallsense-bench-hub-") as scratch:
        path = Path(scratch) / "hub.db"
        sqlite = SqliteHubStore(path)
        count, seconds = fill(sqlite, end_us, days)
        fill_fleet(sqlite, end_us, fleet)
        print(f"SQLite: stored {count:,} readings in {seconds:.0f} s")
        results += measure("SQLite", sqlite, lambda: SqliteHubStore(path), now, fleet, requests)
        sqlite.close()
    cluster = PostgresCluster().start()
    try:
        url = cluster.new_database()
        postgres = PostgresHubStore(url)
        count, seconds = fill(postgres, end_us, days)
        fill_fleet(postgres, end_us, fleet)
        print(f"PostgreSQL: stored {count:,} readings in {seconds:.0f} s")
        results += measure(
            "PostgreSQL", postgres, lambda: PostgresHubStore(url), now, fleet, requests
        )
        postgres.close()
    finally:
        cluster.destroy()
    print()
    print(
        f"| backend | query | median ms | p95 ms | bytes | goal p95 < {GOAL_MS:.0f} ms "
        f"(fleet {FLEET_GOAL_MS:.0f} ms) |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for label, name, median, worst, size in results:
        goal = FLEET_GOAL_MS if "nodes" in name else GOAL_MS
        verdict = "—" if name.startswith("naive") else ("met" if worst < goal else "NOT MET")
        print(f"| {label} | {name} | {median:.1f} | {worst:.1f} | {size:,} | {verdict} |")
