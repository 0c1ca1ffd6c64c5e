"""Waiting for a process the test started to listen on its port."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path


def wait_listening(
    port: int,
    proc: subprocess.Popen[bytes],
    log: Path,
    *,
    host: str = "127.0.0.1",
    timeout: float = 20.0,
) -> None:
    """Return once ``host:port`` accepts a connection.

    Fails, showing ``log``, if ``proc`` exits first or nothing listens within ``timeout``.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"exited with {proc.returncode}:\n{log.read_text(errors='replace')}"
            )
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise AssertionError(f"nothing listens on {port}:\n{log.read_text(errors='replace')}")
