"""Community page latency and memory with a year of one-minute data, beside a naive app.

Builds a store holding a year of one-minute readings from 10 sensors (the simulated
hall's 8 and the Pi's own 2, about 5.26 million readings) through ``EdgeStore.append``,
starts the real ``hallsense edge web`` process over it, and times sequential HTTP
requests (after a warm-up) for the home page, a year trend and a month's CSV export.
The naive baseline is a small Flask app over the same file that aggregates raw
readings on every request, served by waitress in its own process the same way.

``HALLSENSE_BENCH_KEEP=DIR`` builds the store in DIR and keeps it, or reuses the store
already there (its data then ends when it was built, not now); without it, everything
is made in a temporary directory and removed. Run from the repository root::

    .venv/bin/python -m bench web
"""

from __future__ import annotations

import csv
import io
import math
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.error import URLError
from urllib.parse import urlencode, urljoin
from zoneinfo import ZoneInfo

from flask import Flask, Response, abort, render_template_string, request

from sensors.simulated import METRIC_NAMES

KEEP_ENV = "HALLSENSE_BENCH_KEEP"
ZONE = ZoneInfo("Europe/London")
DAYS = 365
STEP_MIN = 10  # the simulation runs every 10 minutes; the minutes between are interpolated
BATCH_MINUTES = 5000  # 50,000 readings per append
SEED = 1
SIM_METRICS = METRIC_NAMES  # what the simulated hall reports
GAUGES = SIM_METRICS[:6]
PUBLIC = SIM_METRICS  # the Pi's own two are not public, so the CSV holds these 8
TREND = ("sim-temperature", "temperature")
GOAL_P95_MS = 100.0
GOAL_HOME_BYTES = 100 * 1024


# --- the store ---


def _series() -> list[tuple[str, str, str]]:
    from presentation.vocabulary import METRICS

    sim = [(f"sim-{m.replace('_', '-')}", m, METRICS[m].unit) for m in SIM_METRICS]
    pi = [("pi-cpu-temperature", "cpu_temperature", "°C"), ("pi-load-1m", "load_1m", "1")]
    return sim + pi


def year_batches(end: datetime, days: float = DAYS) -> Iterator[list[object]]:
    """A year (or ``days``) of one-minute readings up to ``end`` from 10 sensors, in batches.

    The hall's 8 metrics come from ``sensors.simulated.simulate`` every 10 minutes (its
    bookings, heating and door counts); gauges are interpolated between those samples, a
    window's door count is spread over its minutes and occupancy holds. The Pi's CPU
    temperature and load are cheap waves. ``simulate`` takes about 3 s of the year.
    """
    from sensors.reading import Reading
    from sensors.simulated import simulate

    series = _series()
    start = end - timedelta(days=days)
    step = timedelta(minutes=STEP_MIN)
    minute = timedelta(minutes=1)
    window_s = STEP_MIN * 60.0
    after = simulate(start, seed=SEED, zone=ZONE, window_s=window_s)
    slot = start
    batch: list[object] = []
    k = 0
    while slot < end:
        before, after = after, simulate(slot + step, seed=SEED, zone=ZONE, window_s=window_s)
        people = int(after["footfall"])
        occupied = before["occupancy"]
        moment = slot
        for j in range(STEP_MIN):
            if moment >= end:
                break
            frac = j / STEP_MIN
            values = [before[m] + (after[m] - before[m]) * frac for m in GAUGES]
            values.append(float(people // STEP_MIN + (j < people % STEP_MIN)))
            values.append(occupied)
            wave = math.sin((k * STEP_MIN + j) * (2 * math.pi / 1440))
            values.append(round(48.0 + 4.0 * wave + 0.1 * (j % 3), 1))
            values.append(round(0.2 + 0.1 * wave + 0.01 * ((k + j) % 7), 2))
            for (sensor, metric, unit), value in zip(series, values, strict=True):
                batch.append(Reading(sensor, metric, value, unit, moment))
            moment += minute
        slot += step
        k += 1
        if len(batch) >= BATCH_MINUTES * len(series):
            yield batch
            batch = []
    if batch:
        yield batch


def build_store(path: Path, end: datetime, days: float = DAYS) -> int:
    """Fill a new store at ``path`` with ``days`` of readings up to ``end``; returns how many."""
    from edge.clock import ClockSample
    from edge.store import EdgeStore
    from sensors.simulated import SimulatedDriver

    sample = ClockSample(datetime.now(UTC), time.monotonic_ns(), True, "bench")
    count = 0
    with EdgeStore(path) as store:
        store.register_sensors(SimulatedDriver(interval_s=60).sensors())
        for batch in year_batches(end, days):
            store.append(batch, sample)  # type: ignore[arg-type]
            count += len(batch)
    return count


def data_end(path: Path) -> datetime:
    """The newest reading's time in the store at ``path``."""
    from edge.store import EdgeStore

    with EdgeStore(path, readonly=True) as store:
        return max(r.timestamp for r in store.latest())


# --- HTTP ---


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> tuple[float, int, int]:
    """GET ``url`` on a new connection, reading the whole body: (seconds, body, header bytes)."""
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as response:  # noqa: S310 - our own server
        body = response.read()
        status = response.status
        headers = len(str(response.headers).encode("latin-1"))
    elapsed = time.perf_counter() - started
    if status != 200:
        raise RuntimeError(f"{url}: HTTP {status}")
    return elapsed, len(body), headers


def wait_until_up(base: str, proc: subprocess.Popen[bytes], timeout_s: float = 60.0) -> float:
    """Poll ``base`` until it answers; returns the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise RuntimeError(f"the server exited with {proc.returncode}: {err}")
        try:
            get(base + "robots.txt")
        except (URLError, ConnectionError, RuntimeError):
            time.sleep(0.1)
        else:
            return time.monotonic() - started
    raise RuntimeError(f"{base} did not answer within {timeout_s:g} s")


def sample(
    url: str, *, warm_up: int, most: int, budget_s: float, least: int
) -> tuple[list[float], int]:
    """Latencies (ms) of sequential GETs, ``most`` of them or fewer past ``budget_s``
    (but at least ``least``), after ``warm_up`` untimed ones; and the body's size."""
    size = 0
    for _ in range(warm_up):
        size = get(url)[1]
    out: list[float] = []
    started = time.monotonic()
    while len(out) < most and (len(out) < least or time.monotonic() - started < budget_s):
        seconds, size, _ = get(url)
        out.append(seconds * 1000)
    return out, size


def p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def memory_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of ``pid`` in MB."""
    found: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(rest.split()[0]) / 1024
    return found["VmRSS"], found["VmHWM"]


class _Assets(HTMLParser):
    """The same-origin stylesheets, icons, scripts and images a page loads."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        rel = (a.get("rel") or "").split()
        if tag == "link" and {"stylesheet", "icon"} & set(rel) and a.get("href"):
            self.urls.append(a["href"] or "")
        elif tag in ("script", "img") and a.get("src"):
            self.urls.append(a["src"] or "")


def page_weight(url: str) -> tuple[int, int, int]:
    """(HTML body bytes, total bytes with headers and assets, number of assets) of a page."""
    with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - our own server
        html = response.read()
        headers = len(str(response.headers).encode("latin-1"))
    parser = _Assets()
    parser.feed(html.decode("utf-8"))
    total = len(html) + headers
    for asset in parser.urls:
        _, body, asset_headers = get(urljoin(url, asset))
        total += body + asset_headers
    return len(html), total, len(parser.urls)


@contextmanager
def server(label: str, command: list[str], env: dict[str, str], base: str) -> Iterator[int]:
    """Run a page server until the block ends; yields its pid once it answers."""
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        up = wait_until_up(base, proc)
        print(f"  {label}: answering {base} after {up:.1f} s")
        yield proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()


# --- the naive baseline ---

NAIVE_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{{ title }}</title></head><body><h1>{{ title }}</h1>
<table><tr><th>when</th><th>sensor</th><th>metric</th><th>value</th><th>min</th>
<th>mean</th><th>max</th></tr>
{% for r in rows %}<tr>{% for c in r %}<td>{{ c }}</td>{% endfor %}</tr>
{% endfor %}</table></body></html>"""


def naive_app(db: Path) -> Flask:
    """The first prototype's page: every request aggregates the raw readings table."""
    app = Flask(__name__)

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(f"file:{db}?mode=ro", uri=True)

    @app.get("/robots.txt")
    def robots() -> Response:
        return Response("User-agent: *\nDisallow: /\n", mimetype="text/plain")

    @app.get("/")
    def home() -> str:
        since = int((time.time() - 86400) * 1e6)
        conn = connect()
        try:
            latest = {
                sid: (ts, value)
                for sid, value, ts in conn.execute(
                    "SELECT series_id, value, MAX(ts_us) FROM readings GROUP BY series_id"
                )
            }
            day = conn.execute(
                "SELECT s.id, s.sensor_id, s.metric, MIN(r.value), AVG(r.value), MAX(r.value), "
                "SUM(r.value) FROM readings r JOIN series s ON s.id = r.series_id "
                "WHERE r.ts_us >= ? GROUP BY s.id ORDER BY s.sensor_id",
                (since,),
            ).fetchall()
        finally:
            conn.close()
        rows = []
        for sid, sensor, metric, low, mean, high, total in day:
            ts, value = latest[sid]
            when = datetime.fromtimestamp(ts / 1e6, ZONE).strftime("%H:%M")
            shown_mean = total if metric == "footfall" else mean
            rows.append((when, sensor, metric, value, low, round(shown_mean, 1), high))
        return render_template_string(NAIVE_PAGE, title="Now and the last 24 hours", rows=rows)

    @app.get("/trends/<sensor_id>/<metric>")
    def trend(sensor_id: str, metric: str) -> str:
        days = {"day": 1, "week": 7, "month": 30, "year": 365}.get(request.args.get("period", ""))
        if days is None:
            abort(400)
        since = int((time.time() - days * 86400) * 1e6)
        conn = connect()
        try:
            found = conn.execute(
                "SELECT date(r.ts_us / 1000000, 'unixepoch') AS day, MIN(r.value), "
                "AVG(r.value), MAX(r.value) FROM readings r JOIN series s ON s.id = r.series_id "
                "WHERE s.sensor_id = ? AND s.metric = ? AND r.ts_us >= ? GROUP BY day "
                "ORDER BY day",
                (sensor_id, metric, since),
            ).fetchall()
        finally:
            conn.close()
        rows = [
            (d, sensor_id, metric, "", low, round(mean, 2), high) for d, low, mean, high in found
        ]
        return render_template_string(NAIVE_PAGE, title=f"{metric}, {days} days", rows=rows)

    @app.get("/data/download")
    def download() -> Response:
        first = date.fromisoformat(request.args["from"])
        last = date.fromisoformat(request.args["to"])
        start = datetime.combine(first, datetime.min.time(), ZONE)
        end = datetime.combine(last + timedelta(days=1), datetime.min.time(), ZONE)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(["time", "sensor", "metric", "value", "unit", "quality", "seq"])
        public = set(PUBLIC)
        conn = connect()
        try:
            for ts, sensor, metric, value, unit, quality, seq in conn.execute(
                "SELECT r.ts_us, s.sensor_id, s.metric, r.value, s.unit, r.quality, r.seq "
                "FROM readings r JOIN series s ON s.id = r.series_id "
                "WHERE r.ts_us >= ? AND r.ts_us < ? ORDER BY r.seq",
                (int(start.timestamp() * 1e6), int(end.timestamp() * 1e6)),
            ):
                if metric in public:
                    when = datetime.fromtimestamp(ts / 1e6, ZONE).isoformat()
                    writer.writerow((when, sensor, metric, value, unit, quality, seq))
        finally:
            conn.close()
        return Response(out.getvalue(), mimetype="text/csv; charset=utf-8")

    return app


def serve_naive(db: Path, port: int) -> None:
    """Serve the naive app the way ``hallsense edge web`` is served (waitress, 4 threads)."""
    import waitress

    waitress.serve(naive_app(db), host="127.0.0.1", port=port, threads=4, ident="naive")


# --- the run ---


Latencies = dict[str, list[float]]


def measure(
    base: str, pages: list[tuple[str, str]], *, slow: bool, most: int = 50
) -> tuple[Latencies, int]:
    """Latencies (ms) per page, and the last page's body size.

    Fast pages get 5 warm-up requests and ``most`` (50) timed ones; slow ones (CSV exports,
    every naive page) one warm-up and as many as fit in 8 s, at least 3, to keep the run short.
    """
    out: Latencies = {}
    size = 0
    for name, path in pages:
        out[name], size = sample(
            base + path,
            warm_up=1 if slow else min(5, most),
            most=most,
            budget_s=8.0 if slow else 60.0,
            least=min(3, most) if slow else most,
        )
    return out, size


def edge_env(data_dir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HALLSENSE_")}
    env.update(
        HALLSENSE_DATA_DIR=str(data_dir),
        HALLSENSE_WEB_HOST="127.0.0.1",
        HALLSENSE_WEB_PORT=str(port),
        HALLSENSE_LOG_LEVEL="WARNING",
    )
    return env


def run(data_dir: Path, days: float = DAYS, requests: int = 50) -> None:
    """Build (or reuse) the store in ``data_dir``, time both servers and print the tables."""
    db = data_dir / "hallsense.db"
    if db.exists():
        end = data_end(db)
        print(
            f"\nReusing the store in {data_dir} ({KEEP_ENV}); data up to {end:%Y-%m-%d %H:%M} UTC"
        )
    else:
        end = datetime.now(UTC).replace(second=0, microsecond=0)
        started = time.perf_counter()
        count = build_store(db, end, days)
        took = time.perf_counter() - started
        print(
            f"\nBuilt a store of {count:,} readings ({days:g} days x 1,440 minutes x "
            f"{len(_series())} sensors) through EdgeStore.append in {took:.1f} s "
            f"({count / took:,.0f} readings/s); {db.stat().st_size / 1e6:,.0f} MB"
        )
    last_day = end.astimezone(ZONE).date() - timedelta(days=1)
    month = {"from": (last_day - timedelta(days=29)).isoformat(), "to": last_day.isoformat()}
    home = ("home /", "")
    trend = ("year trend", f"trends/{TREND[0]}/{TREND[1]}?period=year")
    csv_page = (
        f"CSV of 30 days ({month['from']} to {month['to']})",
        "data/download?" + urlencode({**month, "format": "csv"}),
    )
    pages = [home, trend, csv_page]
    env_file = data_dir / "bench-web.env"
    env_file.write_text('HALLSENSE_HALL_NAME="Askrigg Village Hall (benchmark)"\n', "utf-8")
    load_before = os.getloadavg()[0]

    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    ours_cmd = [sys.executable, "-m", "hallsense", "edge", "web", "--env", str(env_file)]
    with server("hallsense edge web", ours_cmd, edge_env(data_dir, port), base) as pid:
        mem_start = memory_mb(pid)
        html_bytes, home_total, assets = page_weight(base)
        ours, _ = measure(base, [home, trend], slow=False, most=requests)
        mem_pages = memory_mb(pid)
        csv_ours, csv_bytes = measure(base, [csv_page], slow=True, most=requests)
        ours.update(csv_ours)
        mem_end = memory_mb(pid)

    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    naive_cmd = [sys.executable, "-m", "bench.web", "naive", str(db), str(port)]
    with server("naive app", naive_cmd, dict(os.environ), base) as pid:
        naive, naive_csv_bytes = measure(base, pages, slow=True, most=requests)
        naive_mem = memory_mb(pid)
    load_after = os.getloadavg()[0]

    width = max(len(n) for n, _ in pages)
    print("\nPage latency over HTTP, sequential GETs after a warm-up; n = requests timed")
    print(
        f"| {'page':<{width}} | {'hallsense p50 ms':>16} | {'p95 ms':>8} | {'n':>3} "
        f"| {'naive p50 ms':>12} | {'p95 ms':>8} | {'n':>3} |"
    )
    print(
        f"| {'-' * width} | {'-' * 15}: | {'-' * 7}: | {'-' * 2}: "
        f"| {'-' * 11}: | {'-' * 7}: | {'-' * 2}: |"
    )
    for name, _ in pages:
        a, b = ours[name], naive[name]
        print(
            f"| {name:<{width}} | {statistics.median(a):>16.1f} | {p95(a):>8.1f} | {len(a):>3} "
            f"| {statistics.median(b):>12.1f} | {p95(b):>8.1f} | {len(b):>3} |"
        )
    print("\nMemory (MB, from /proc/<pid>/status)")
    print(f"| {'process, when':<52} | {'VmRSS':>6} | {'VmHWM':>6} |")
    print(f"| {'-' * 52} | {'-' * 5}: | {'-' * 5}: |")
    for label, (rss, hwm) in [
        ("hallsense edge web, first answer", mem_start),
        ("hallsense edge web, after home and year trend", mem_pages),
        ("hallsense edge web, after the CSV exports (end)", mem_end),
        ("naive app, end", naive_mem),
    ]:
        print(f"| {label:<52} | {rss:>6.1f} | {hwm:>6.1f} |")
    print(
        f"\nHome page: {html_bytes:,} bytes of HTML; {home_total:,} bytes with headers and its "
        f"{assets} assets. CSV of 30 days: {csv_bytes:,} bytes (naive {naive_csv_bytes:,})."
    )
    print(f"Load average (1 min) before and after the servers: {load_before:.2f}, {load_after:.2f}")
    goals = [
        ("home under 100 KB transferred", home_total < GOAL_HOME_BYTES),
        ("home p95 under 100 ms", p95(ours[home[0]]) < GOAL_P95_MS),
        ("year trend p95 under 100 ms", p95(ours[trend[0]]) < GOAL_P95_MS),
    ]
    print("Goals: " + "; ".join(f"{name}: {'met' if ok else 'MISSED'}" for name, ok in goals))


def main(days: float = DAYS, requests: int = 50) -> None:
    started = time.monotonic()
    keep = os.environ.get(KEEP_ENV)
    if keep:
        directory = Path(keep)
        directory.mkdir(parents=True, exist_ok=True)
        run(directory, days, requests)
    else:
        with tempfile.TemporaryDirectory(prefix="hallsense-bench-web-") as scratch:
            run(Path(scratch), days, requests)
    print(f"(the whole benchmark took {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    if sys.argv[1:2] == ["naive"]:
        serve_naive(Path(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
