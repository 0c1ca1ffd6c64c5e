"""The fleet benchmark (``python -m bench fleet``) in miniature, so its code cannot rot.

Forty virtual halls, reading every second instead of every minute, through every phase
of a size's run: provisioning, the connect ramp, the steady state with the fleet page,
``/metrics`` and the alert check timed, a broker restart with jittered reconnects and
one with the naive baseline's. No figure is held to the goal (that is the benchmark's
job, by command): only that the figures are measured, and that what the halls counted
as acknowledged is in the hub store, each reading once by its content.
"""

from __future__ import annotations

import math
import sqlite3

import pytest

from bench.fleet import FleetResult, print_table, run_fleet


@pytest.mark.slow  # a broker, a hub, a process of halls and two broker restarts
def test_a_small_fleet_runs_every_phase_and_its_acks_match_the_hub_store(
    tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_fleet(
        40, "sqlite", steady_s=3, settle_s=1, outage_s=1, read_every_s=1, scratch=tmp_path
    )

    assert result.readings_per_s > 0
    assert 0 <= result.lag_p50_s <= result.lag_p99_s < 30
    for figure in (
        result.connect_s,
        result.reconnect_s,
        result.caught_up_s,
        result.naive_reconnect_s,
        result.naive_caught_up_s,
        result.fleet_p95_ms,
        result.metrics_p95_ms,
        result.alerts_ms,
    ):
        assert math.isfinite(figure), result
    assert result.broker_cpu > 0
    assert result.hub_cpu > 0
    assert result.hall_kb > 0

    with sqlite3.connect(tmp_path / "hub.db") as db:
        stored = db.execute("SELECT COUNT(*) FROM readings").fetchone()[0]
        twice = db.execute(
            "SELECT COUNT(*) FROM (SELECT 1 FROM readings "
            "GROUP BY device_id, series_id, ts_us, value HAVING COUNT(*) > 1)"
        ).fetchone()[0]
        halls = db.execute("SELECT COUNT(DISTINCT device_id) FROM readings").fetchone()[0]
    assert twice == 0
    assert halls == 40
    # Everything acknowledged is stored; at most what was still on its way is stored too.
    assert result.acked <= stored <= result.taken, result

    print_table([result], 3)
    table = capsys.readouterr().out
    assert "| 40 | sqlite |" in table
    assert "40 halls, sqlite: p99 lag under 5 s" in table


def test_the_table_says_when_a_goal_is_missed(capsys: pytest.CaptureFixture[str]) -> None:
    slow = FleetResult(
        10_000, "postgres", 20.0, 833.0, 0.5, 7.5, 0.1, 20.0, 0.3, 100.0, 0.2, 0.1, 90.0,
        50.0, 60.0, 70.0, 10.0, 130.0, 30.0, 200.0,
    )  # fmt: skip
    print_table([slow], 120)
    said = capsys.readouterr().out
    assert "p99 lag under 5 s MISSED" in said
    assert "caught up within 120 s of the restart MISSED" in said
