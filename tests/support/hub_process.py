"""Run `hallsense hub run` as a real subprocess for system tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path


class HubProcess:
    """`python -m hallsense hub run --env FILE` with its output kept in a file."""

    def __init__(self, env_file: Path, log_path: Path) -> None:
        self.env_file = env_file
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> HubProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HALLSENSE_")}
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "hallsense", "hub", "run", "--env", str(self.env_file)],
                stdout=log,
                stderr=log,
                env=env,
            )
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

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
