"""`hallsense edge run` imports only what the node needs: no Flask, hub, cryptography or segno.

The agent runs for weeks on a Pi with 512 MB; the hub's web and the signing libraries it
once carried in memory (issue #18: 57.6 MB RSS) are for other commands.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.broker import free_port
from tests.support.edge_process import EdgeProcess, write_env

NEVER_SENT = "no-broker-listens-there"

HEAVY = ("flask", "werkzeug", "jinja2", "cryptography", "segno", "tuf", "hub", "psycopg")
"""Top-level packages `edge run` must not import (``hub`` is the hub's tower, its web too)."""


def imported_modules(importtime_log: str) -> set[str]:
    """Module names from ``-X importtime`` lines ("import time: self | cumulative | name")."""
    names = set()
    for line in importtime_log.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+\d+ \|\s+(\S+)", line)
        if match:
            names.add(match.group(1))
    return names


@pytest.mark.slow
def test_edge_run_as_deployed_imports_nothing_of_the_hub_or_its_web(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPROFILEIMPORTTIME", "1")  # the same as python -X importtime
    env = write_env(
        tmp_path / "edge.env",
        data_dir=tmp_path / "node",
        drivers="gpio,simulated",
        gpio_beam_pair_pins=(5, 6),
        gpio_pir_pin=17,
        device_id="hall-1",
        broker_host="127.0.0.1",
        broker_port=free_port(),
        broker_password=NEVER_SENT,
    )
    edge = EdgeProcess(env, tmp_path / "edge.log").start()
    try:
        assert edge.terminate() == 0, edge.log()
    finally:
        edge.stop()
    modules = imported_modules(edge.log())
    assert "edge.agent" in modules, edge.log()[-2000:]
    assert "hub_sync.uplink" in modules  # the uplink is what a deployed node runs
    assert "gpiozero" in modules
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert heavy == [], f"edge run imported {heavy}"


def test_the_command_tree_is_still_whole_without_importing_it_up_front() -> None:
    from hallsense.cli import LazyCommands, cli

    assert isinstance(cli.commands, LazyCommands)
    assert sorted(cli.commands) == ["demo", "edge", "hub", "provision"]
    assert "run" in cli.commands["edge"].commands  # type: ignore[attr-defined]
