"""Run `hallsense edge run` as a real subprocess, to start, signal and kill it in tests."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

LINK_KEYS = ("HALLSENSE_LINK_PROFILE", "HALLSENSE_UPLINK_BATCH_WINDOW_S")
"""Settings that choose a node's batch window (edge/link_profiles.py)."""


def write_env(path: Path, **settings: object) -> Path:
    """Write a .env file of HALLSENSE_* settings (keys given in lower case, no prefix)."""
    lines = []
    for key, value in settings.items():
        if isinstance(value, tuple | list):
            value = ",".join(str(item) for item in value)
        lines.append(f"HALLSENSE_{key.upper()}={value}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class EdgeProcess:
    """`python -m hallsense edge run --env FILE` (or another ``edge`` command, such as
    ``web``) with its stderr kept in a file."""

    def __init__(self, env_file: Path, log_path: Path, *, command: str = "run") -> None:
        self.command = command
        self.env_file = env_file
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.prefix: tuple[str, ...] = ()

    def start(self, *, real_gpio: bool = False, prefix: tuple[str, ...] = ()) -> EdgeProcess:
        """Start the process (after ``prefix``, e.g. `ip netns exec NS`); GPIO uses
        gpiozero's mock pins unless ``real_gpio``; a restart keeps the first prefix."""
        if prefix:
            self.prefix = prefix
        env = {k: v for k, v in os.environ.items() if not k.startswith("HALLSENSE_")}
        env.pop("GPIOZERO_PIN_FACTORY", None)
        if not real_gpio:
            env["GPIOZERO_PIN_FACTORY"] = "mock"
        settings = self.env_file.read_text() if self.env_file.exists() else ""
        if not any(key in settings for key in LINK_KEYS):
            # Tests time delivery in seconds: no batch window (the live profile's holds
            # readings up to 2 minutes), unless the test's settings choose one.
            env["HALLSENSE_UPLINK_BATCH_WINDOW_S"] = "0"
        self._log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    *self.prefix,
                    sys.executable,
                    "-m",
                    "hallsense",
                    "edge",
                    self.command,
                    "--env",
                    str(self.env_file),
                ],
                stdout=log,
                stderr=log,
                env=env,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def kill(self) -> int:
        """SIGKILL: no flush, no clean-up, as a crash or an OOM kill would."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        return self.proc.wait(10)

    def started(self) -> bool:
        """Whether this start has got as far as running its agent (or has exited)."""
        if not self.alive():
            return True
        with self.log_path.open("rb") as log:
            log.seek(getattr(self, "_log_start", 0))
            return b"agent started" in log.read()

    def terminate(self, timeout: float = 15) -> int:
        """SIGTERM, as systemd stops the unit, once the agent runs; returns the exit code.

        Waiting for the agent first keeps a loaded machine's slow start from turning a
        clean stop into a test of Python's start-up.
        """
        assert self.proc is not None
        wait_for(self.started, 30, f"edge run never started:\n{self.log()}")
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError(
                f"edge run ignored SIGTERM for {timeout} s:\n{self.log()}"
            ) from None

    def wait(self, timeout: float = 30) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait(5)


def stored_counter_values(db_path: Path) -> list[tuple[int, float]]:
    """(seq, value) of every test_counter reading in seq order, through a read-only store."""
    from edge.store import EdgeStore

    start = datetime(1970, 1, 2, tzinfo=UTC)
    end = datetime(9000, 1, 1, tzinfo=UTC)
    with EdgeStore(db_path, readonly=True) as store:
        rows = [
            (row.seq, row.value)
            for row in store.readings_between(start, end)
            if row.metric == "test_counter"
        ]
    return sorted(rows)


def integrity(db_path: Path) -> str:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def wait_for(predicate, timeout: float, message: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(message)
