"""A real HTTP proxy for one test: tinyproxy on a free port, CONNECT only to given ports.

scripts/setup installs tinyproxy (``--tests``). ``credentials`` turns on its BasicAuth, so
a wrong password gets tinyproxy's own 407.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from tests.support.broker import free_port


class TinyProxy:
    """tinyproxy in the foreground; start, stop and restart it (same port)."""

    def __init__(
        self,
        directory: Path,
        *,
        connect_ports: tuple[int, ...],
        credentials: tuple[str, str] | None = None,
        listen: str = "127.0.0.1",
        port: int | None = None,
        prefix: list[str] | None = None,
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.listen = listen
        self.port = port or free_port()
        self.prefix = prefix or []
        self.log_path = directory / "tinyproxy.log"
        self.conf_path = directory / "tinyproxy.conf"
        lines = [
            "User root",
            "Group root",
            f"Port {self.port}",
            f"Listen {listen}",
            "Timeout 600",
            f'LogFile "{self.log_path}"',
            "LogLevel Connect",
            "MaxClients 50",
            "DisableViaHeader Yes",
            *(f"ConnectPort {p}" for p in connect_ports),
        ]
        if credentials is not None:
            lines.append(f"BasicAuth {credentials[0]} {credentials[1]}")
        self.conf_path.write_text("\n".join(lines) + "\n")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.listen}:{self.port}"

    def url_with(self, user: str, password: str) -> str:
        return f"http://{user}:{password}@{self.listen}:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self) -> TinyProxy:
        self.proc = subprocess.Popen(
            [*self.prefix, "tinyproxy", "-d", "-c", str(self.conf_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"tinyproxy exited:\n{self.log()}")
            if self.prefix:  # inside a namespace: the test's own check
                time.sleep(0.3)
                return self
            try:
                with socket.create_connection((self.listen, self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.02)
        raise AssertionError(f"tinyproxy did not listen on {self.port}:\n{self.log()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def restart(self) -> TinyProxy:
        self.stop()
        return self.start()
