"""A real Mosquitto for one test, on a free port, with the configuration hallsense generates."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path

from provisioning.broker_config import BrokerConfig, write_broker_files
from provisioning.passwords import mosquitto_hash


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bind_address_of(broker: Broker) -> str:
    return broker.config.bind_address


class Broker:
    """Mosquitto with accounts ``{user: password}``; start, stop, kill and restart it."""

    def __init__(
        self,
        directory: Path,
        accounts: dict[str, str],
        *,
        persistence: bool = True,
        max_queued_messages: int = 1000,
        bind_address: str = "127.0.0.1",
    ) -> None:
        self.accounts = accounts
        self.port = free_port()
        self.log_path = directory / "mosquitto.log"
        self.config = BrokerConfig(
            directory=directory,
            port=self.port,
            bind_address=bind_address,
            persistence=persistence,
            max_queued_messages=max_queued_messages,
            run_as="root",
            log_path=self.log_path,
        )
        write_broker_files(self.config, {user: mosquitto_hash(pw) for user, pw in accounts.items()})
        self.proc: subprocess.Popen[bytes] | None = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self) -> Broker:
        out = self.config.directory / "mosquitto.out"
        with out.open("ab") as sink:
            self.proc = subprocess.Popen(
                ["mosquitto", "-c", str(self.config.conf_path)], stdout=sink, stderr=sink
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"mosquitto exited:\n{out.read_text()}\n{self.log()}")
            try:
                with socket.create_connection((bind_address_of(self), self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.01)
        raise AssertionError(f"mosquitto did not listen on {self.port}:\n{self.log()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL: no persistence save, in-memory queues lost."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)
        self.proc = None

    def restart(self) -> Broker:
        self.stop()
        return self.start()
