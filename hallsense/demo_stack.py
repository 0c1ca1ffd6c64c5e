"""The demo's whole stack on one machine: a Mosquitto, a hub worker and three simulated halls."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from edge.settings import EdgeSettings
from hallsense.settings import load_settings
from hallsense.wiring import drain_to_hub
from hub.store import open_hub_store
from provisioning.broker_config import HUB_ACCOUNT, BrokerConfig, write_broker_files
from provisioning.passwords import mosquitto_hash, new_password
from sensors.counter import read_tally

HALLS = (
    ("askrigg", "Askrigg Village Hall"),
    ("bainbridge", "Bainbridge Village Hall"),
    ("reeth", "Reeth Memorial Hall"),
)


def free_port() -> int:
    """A TCP port nobody listens on now (bind to 0 and let the kernel choose)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _secret_file(path: Path, secret: str) -> Path:
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(secret, encoding="utf-8")
    return path


def _env_file(path: Path, values: dict[str, object]) -> Path:
    lines = [f"HALLSENSE_{key.upper()}={value}" for key, value in values.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass(frozen=True)
class NodeSummary:
    """What one hall produced and what the hub holds of it."""

    name: str
    produced: int
    stored: int
    missing: int
    duplicated: int

    def line(self) -> str:
        """``<name>: P produced, S stored at the hub, M missing, D duplicated``."""
        return (
            f"{self.name}: {self.produced:,} produced, {self.stored:,} stored at the hub, "
            f"{self.missing:,} missing, {self.duplicated:,} duplicated"
        )


class DemoStack:
    """Starts and stops the demo's processes; everything lives under ``directory``."""

    def __init__(self, directory: Path, *, clock_check: str = "trust") -> None:
        self.directory = directory
        self.clock_check = clock_check
        self.port = free_port()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.hub_env = directory / "hub.env"
        self.node_envs = {device: directory / device / "edge.env" for device, _ in HALLS}
        self.page_ports = {device: free_port() for device, _ in HALLS}

    # --- start ---

    def start(self) -> DemoStack:
        """Write the configuration (fresh random passwords), then start every process."""
        self.directory.mkdir(parents=True, exist_ok=True)
        passwords = {user: new_password() for user in (HUB_ACCOUNT, *(d for d, _ in HALLS))}
        config = BrokerConfig(
            directory=self.directory / "broker",
            port=self.port,
            run_as="root" if os.geteuid() == 0 else None,
            log_path=self.directory / "broker" / "mosquitto.log",
        )
        write_broker_files(config, {u: mosquitto_hash(p) for u, p in passwords.items()})
        self._spawn("broker", ["mosquitto", "-c", str(config.conf_path)])
        self._wait_for_broker()

        hub_store = self.directory / "hub.db"
        store = open_hub_store(str(hub_store))
        try:
            for device, name in HALLS:
                store.add_device(device, name)
        finally:
            store.close()
        _env_file(
            self.hub_env,
            {
                "hub_store": hub_store,
                "broker_host": "127.0.0.1",
                "broker_port": self.port,
                "broker_password_file": _secret_file(
                    self.directory / "hub.password", passwords[HUB_ACCOUNT]
                ),
                "log_level": "WARNING",
            },
        )
        self._spawn("hub", self._hallsense("hub", "run", "--env", str(self.hub_env)))
        for seed, (device, name) in enumerate(HALLS, start=1):
            node_dir = self.directory / device
            node_dir.mkdir(exist_ok=True)
            _env_file(
                self.node_envs[device],
                {
                    "data_dir": node_dir,
                    "hall_name": f'"{name}"',
                    "drivers": "simulated,counter",
                    "simulated_interval_s": 1,
                    "simulated_seed": seed,
                    "counter_interval_s": 0.2,
                    "counter_tally_path": node_dir / "produced.txt",
                    "commit_interval_s": 1,
                    "clock_check": self.clock_check,
                    "device_id": device,
                    "broker_host": "127.0.0.1",
                    "broker_port": self.port,
                    "broker_password_file": _secret_file(
                        node_dir / "broker.password", passwords[device]
                    ),
                    "uplink_resend_s": 5,
                    "uplink_start_jitter_s": 1,
                    "web_host": "127.0.0.1",
                    "web_port": self.page_ports[device],
                    "log_level": "WARNING",
                },
            )
            env_arg = str(self.node_envs[device])
            self._spawn(device, self._hallsense("edge", "run", "--env", env_arg))
            self._spawn(f"{device}-web", self._hallsense("edge", "web", "--env", env_arg))
        return self

    def page_urls(self) -> list[tuple[str, str]]:
        """(hall name, address) of each hall's community page."""
        return [(name, f"http://127.0.0.1:{self.page_ports[device]}/") for device, name in HALLS]

    @staticmethod
    def _hallsense(*args: str) -> list[str]:
        return [sys.executable, "-m", "hallsense", *args]

    def _spawn(self, name: str, command: list[str]) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HALLSENSE_")}
        with (self.directory / f"{name}.log").open("ab") as log:
            # The commands are this Python and mosquitto with paths the demo made itself.
            self.procs[name] = subprocess.Popen(  # noqa: S603
                command, stdout=log, stderr=log, env=env
            )

    def _wait_for_broker(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.procs["broker"].poll() is not None:
                raise RuntimeError(
                    "mosquitto stopped at once: see " + str(self.directory / "broker.log")
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"mosquitto did not start listening on port {self.port}")

    # --- while running ---

    def hub_table(self) -> str:
        """The hub's view of the halls, as `hallsense hub status` prints it."""
        store = open_hub_store(str(self.directory / "hub.db"))
        try:
            fleet = store.fleet()
        finally:
            store.close()
        lines = [f"  {'hall':<26} {'state':<8} {'readings at the hub':>20} {'missing':>8}"]
        for state in fleet:
            missing = sum(last - first + 1 for _, first, last in state.missing)
            lines.append(
                f"  {state.name:<26} {'online' if state.online else 'offline':<8} "
                f"{state.readings:>20,} {missing:>8,}"
            )
        return "\n".join(lines)

    def dead(self) -> list[str]:
        """Processes that have stopped by themselves."""
        return [name for name, proc in self.procs.items() if proc.poll() is not None]

    # --- stop ---

    def finish(self, *, drain_timeout_s: float = 60.0) -> list[NodeSummary]:
        """Stop the sensors, let every node drain to the hub, stop everything, count."""
        for device, _ in HALLS:
            self._stop(device)
        for device, _ in HALLS:
            settings = load_settings(EdgeSettings, self.node_envs[device])
            drain_to_hub(settings, timeout_s=drain_timeout_s)
        for device, _ in HALLS:
            self._stop(f"{device}-web")
        self._stop("hub")
        self._stop("broker")
        return self.summaries()

    def _stop(self, name: str) -> None:
        proc = self.procs.get(name)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def stop_all(self) -> None:
        """Stop whatever still runs (after an error)."""
        for name in list(self.procs):
            self._stop(name)

    def summaries(self) -> list[NodeSummary]:
        """Produced (by each counter driver's own tally) against what the hub stored."""
        store = open_hub_store(str(self.directory / "hub.db"))
        try:
            result = []
            for device, name in HALLS:
                produced = {v for v, _ in read_tally(self.directory / device / "produced.txt")}
                at_hub = [
                    (r.sensor_id, r.metric, r.ts_us, r.value)
                    for _, r in store.readings(device)
                    if r.metric == "test_counter"
                ]
                copies = Counter(at_hub)
                stored = {int(value) for (_, _, _, value) in copies}
                result.append(
                    NodeSummary(
                        name,
                        len(produced),
                        len(stored & produced),
                        len(produced - stored),
                        sum(n - 1 for n in copies.values()),
                    )
                )
            return result
        finally:
            store.close()
