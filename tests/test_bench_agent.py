"""The agent benchmark (``python -m bench agent``) in miniature, so its code cannot rot.

A real Mosquitto, ``hallsense edge run`` loaded and idle, and the naive agent, each
measured for a moment after a short warm-up, and the table. No figure is held to its goal
(that is the benchmark's job, by command, never a timed test): only that every row is
measured in the same run and its figures are ones a process could have.
"""

from __future__ import annotations

import os
import re

import pytest

from bench.agent_resources import main
from sensors.simulated import METRIC_NAMES

ROW = re.compile(r"^\| (.+?) +\| +([\d.]+) \| +([\d.]+) \|$", re.MULTILINE)


@pytest.mark.slow  # two edge runs and the naive agent, one after another
def test_the_table_measures_edge_run_loaded_idle_and_the_naive_agent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The warm-up outlasts edge run's start-up (about half a second), so what is measured
    # is the running agent, not its imports.
    main(measure_s=0.1, warm_up_s=0.6)
    out = capsys.readouterr().out

    assert "Agent resources over 0.1 s after a 0.6 s warm-up" in out
    rows = {label: (float(rss), float(cpu)) for label, rss, cpu in ROW.findall(out)}
    loaded = re.search(r"hallsense edge run \+ uplink, (\d+) simulated sensors at 1/s", out)
    assert loaded, out
    # Every metric of the simulated hall reached the store (and the Pi's own beside them).
    assert int(loaded.group(1)) >= len(METRIC_NAMES)
    assert set(rows) == {
        loaded.group(0),
        "hallsense edge run + uplink, idle (drivers due hourly)",
        "naive agent: 10 readings/s, one commit per reading",
    }, out
    for label, (rss, cpu) in rows.items():
        assert 1 < rss < 1000, label  # MB: a Python process, not nothing, not the machine
        assert 0 <= cpu <= 100 * (os.cpu_count() or 1), label
    assert re.search(
        r"^Goals: RSS under 40 MB: (met|MISSED); under 2 % of a core at load: (met|MISSED); "
        r"under 1 % idle: (met|MISSED)$",
        out,
        re.MULTILINE,
    ), out
