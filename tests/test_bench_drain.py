"""The drain benchmark (``python -m bench drain``) in miniature, so its code cannot rot.

A few hundred readings, one round: a real Mosquitto, `hub run` and `edge run` processes,
the old tick-driven node beside the ack-driven one. No rate is asserted (that is the
benchmark's job, by command, never a timed test): only that both drain and the table prints.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_the_drain_benchmark_runs_end_to_end_at_a_tiny_size() -> None:
    env = {
        **os.environ,
        "HALLSENSE_BENCH_DRAIN_READINGS": "600",
        "HALLSENSE_BENCH_ROUNDS": "1",
    }
    result = subprocess.run(
        [sys.executable, "-m", "bench", "drain"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "A deployed node's drain: 600 readings" in result.stdout
    assert "tick-driven (before #18)" in result.stdout
    assert "ack-driven" in result.stdout
    assert "Goal at least 50,000 readings/s" in result.stdout
