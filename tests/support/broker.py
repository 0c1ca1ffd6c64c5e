"""A real Mosquitto for one test, on a free port, with the configuration hallsense generates."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import time
from pathlib import Path

from provisioning.broker_config import MAX_QUEUED_MESSAGES, BrokerConfig, write_broker_files
from provisioning.passwords import mosquitto_hash

# Ports are picked below the kernel's ephemeral range (32768 up), in a band of their own
# for each xdist worker, and never handed out twice in one process: asking the kernel for
# port 0 gave two listeners of one broker the same port when the first was closed before
# the second was asked for, and another worker can be given a port just let go.
_BAND_START, _BAND_END = 10000, 32000
_handed_out: set[int] = set()


def _worker_band() -> range:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    index = int(worker) if worker.isdigit() else 0
    width = (_BAND_END - _BAND_START) // max(count, index + 1, 1)
    start = _BAND_START + index * width
    return range(start, start + width)


def free_port() -> int:
    """A port nothing listens on, never one this process has been given before."""
    band = _worker_band()
    for _ in range(200):
        port = random.choice(band)
        if port in _handed_out:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port in {band}")


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
        max_queued_messages: int = MAX_QUEUED_MESSAGES,
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
