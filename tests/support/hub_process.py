"""Run `hallsense hub run` as a real subprocess for system tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


class HubProcess:
    """`python -m hallsense hub run --env FILE` with its output kept in a file."""

    def __init__(self, env_file: Path, log_path: Path) -> None:
        self.env_file = env_file
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self._started_before = 0

    STARTED = "ingestion worker "
    """The start of the line `hub run` logs (at INFO) once it takes messages."""

    def start(self, prefix: tuple[str, ...] = ()) -> HubProcess:
        """Start it (after ``prefix``, e.g. `ip netns exec NS` to run on another machine)."""
        self._started_before = self._started_lines()
        env = {k: v for k, v in os.environ.items() if not k.startswith("HALLSENSE_")}
        with self.log_path.open("ab") as log:
            command = [*prefix, sys.executable, "-m", "hallsense", "hub", "run"]
            self.proc = subprocess.Popen(
                [*command, "--env", str(self.env_file)], stdout=log, stderr=log, env=env
            )
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _started_lines(self) -> int:
        return sum(
            1 for line in self.log().splitlines() if self.STARTED in line and "started" in line
        )

    def wait_started(self, timeout: float = 20.0) -> None:
        """Wait until this start has logged that it runs (its signal handlers are set)."""
        deadline = time.monotonic() + timeout
        while self._started_lines() <= self._started_before:
            assert self.alive(), self.log()[-3000:]
            assert time.monotonic() < deadline, self.log()[-3000:]
            time.sleep(0.05)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def wait(self, timeout: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
