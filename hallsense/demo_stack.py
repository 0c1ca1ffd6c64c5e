"""The demo's whole stack on one machine: a Mosquitto, the hub and three simulated halls.

Provisioned as the council would: TLS, a password per hall, one-time enrolment.
"""

from __future__ import annotations

import getpass
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from edge.settings import EdgeSettings
from hallsense.settings import load_settings
from hallsense.wiring import drain_to_hub, open_edge_store
from hub.store_factory import open_hub_store
from hub_sync.batch_codec import WireReading
from provisioning.broker_config import HUB_ACCOUNT
from provisioning.bundle import env_file_text
from provisioning.enrolment_policy import enrolment_tokens
from provisioning.passwords import write_private_file
from provisioning.state import init_state
from sensors.counter import METRIC as COUNTER_METRIC
from sensors.counter import read_tally

SETUP_CODE = re.compile(r"one-time set-up code (\S+)")
"""How `hallsense hub web` announces the code for the first account."""

ALL_TIME = (datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC))
"""A range of reading times that holds every reading."""


ENROL_WAIT_S = 30.0
"""How long the end of the demo waits for a hall still enrolling (on a slow or busy machine)."""


class DemoFailed(Exception):
    """A part of the demo could not start; the message says which and where its log is."""


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


def _env_file(path: Path, values: dict[str, object]) -> Path:
    # Quoted and escaped as provisioning writes a bundle's, so any path reads back exactly.
    text = env_file_text({f"HALLSENSE_{key.upper()}": str(value) for key, value in values.items()})
    path.write_text(text, encoding="utf-8")
    return path


@dataclass(frozen=True)
class NodeSummary:
    """What one hall produced (every sensor's readings) and what the hub holds of it."""

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
        self.hub_url = ""
        self.hub_ca: Path | None = None
        self.setup_code = ""

    # --- start ---

    def start(self) -> DemoStack:
        """Provision as the council would, then start the broker, the hub and the halls.

        The broker speaks only TLS with the demo's own council CA; each hall enrols with
        a one-time token through the hub's enrolment page and gets its own password.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        state = init_state(
            self.directory / "provision",
            hostnames=["localhost"],
            ips=["127.0.0.1"],
            port_tls=self.port,
            service_port=free_port(),
            bind_address="127.0.0.1",
            run_as="root" if os.geteuid() == 0 else getpass.getuser(),
        )
        layout = state.layout
        pid_file = self.directory / "broker" / "mosquitto.pid"
        pid_file.parent.mkdir(exist_ok=True)
        conf = self.directory / "broker" / "mosquitto.conf"
        conf.write_text(layout.conf_path.read_text() + f"pid_file {pid_file}\n")
        self._spawn("broker", ["mosquitto", "-c", str(conf)])
        self._wait_for_port(self.port, "broker")

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
                "broker_host": "localhost",
                "broker_port": state.settings.service_port,
                "broker_password_file": layout.account_password_path(HUB_ACCOUNT),
                "broker_ca_file": layout.ca_cert,
                "log_level": "WARNING",
            },
        )
        self._spawn("hub", self._hallsense("hub", "run", "--env", str(self.hub_env)))
        web_port = free_port()
        self._spawn(
            "hub-web",
            self._hallsense(
                "hub", "web", "--env", str(self.hub_env), "--state-dir", str(layout.root),
                "--host", "127.0.0.1", "--port", str(web_port),
                "--broker-pid-file", str(pid_file),
            ),
        )  # fmt: skip
        self._wait_for_port(web_port, "hub-web")
        self.hub_url = f"https://localhost:{web_port}/"
        self.hub_ca = layout.ca_cert
        self.setup_code = self._setup_code()
        tokens = enrolment_tokens(state)
        for seed, (device, name) in enumerate(HALLS, start=1):
            node_dir = self.directory / device
            node_dir.mkdir(exist_ok=True)
            token_file = node_dir / "hallsense-enrol.token"
            write_private_file(token_file, (tokens.issue(device).token + "\n").encode("ascii"))
            _env_file(
                self.node_envs[device],
                {
                    "data_dir": node_dir,
                    "hall_name": name,
                    "drivers": "simulated,counter",
                    "simulated_interval_s": 1,
                    "simulated_seed": seed,
                    "counter_interval_s": 0.2,
                    "counter_tally_path": node_dir / "produced.txt",
                    "commit_interval_s": 1,
                    "clock_check": self.clock_check,
                    "device_id": device,
                    "broker_host": "localhost",
                    "broker_port": self.port,
                    "broker_ca_file": layout.ca_cert,
                    "enrol_url": f"https://localhost:{web_port}",
                    "enrol_token_file": token_file,
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

    def _setup_code(self) -> str:
        """The one-time set-up code `hub web` printed in its log on its first start."""
        log = self.directory / "hub-web.log"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            found = SETUP_CODE.search(log.read_text(encoding="utf-8", errors="replace"))
            if found:
                return found.group(1)
            time.sleep(0.05)
        raise DemoFailed(f"hub-web printed no set-up code: see {log}")

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

    def _wait_for_port(self, port: int, name: str) -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.procs[name].poll() is not None:
                raise DemoFailed(
                    f"{name} stopped at once: see " + str(self.directory / f"{name}.log")
                )
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        raise DemoFailed(f"{name} did not start listening on port {port}")

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

    def unenrolled(self) -> list[str]:
        """The names of the halls that have no broker password from the hub yet."""
        return [
            name
            for device, name in HALLS
            if not load_settings(EdgeSettings, self.node_envs[device]).layout.credentials.exists()
        ]

    def finish(
        self, *, drain_timeout_s: float = 60.0, enrol_timeout_s: float = ENROL_WAIT_S
    ) -> list[NodeSummary]:
        """Let the halls finish enrolling, stop the sensors, drain every node, stop, count.

        A hall stopped before it has enrolled has no password to drain with: the demo
        waits for its enrolment first (up to ``enrol_timeout_s``), and does not try to
        drain a hall that never enrolled (the summary counts its readings as missing).
        """
        deadline = time.monotonic() + enrol_timeout_s
        while self.unenrolled() and not self.dead() and time.monotonic() < deadline:
            time.sleep(0.1)
        unenrolled = set(self.unenrolled())
        for device, _ in HALLS:
            self._stop(device)
        for device, name in HALLS:
            if name in unenrolled:
                continue
            settings = load_settings(EdgeSettings, self.node_envs[device])
            drain_to_hub(settings, timeout_s=drain_timeout_s)
        for device, _ in HALLS:
            self._stop(f"{device}-web")
        self._stop("hub-web")
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
        """Every reading each hall produced, of all its sensors, against what the hub stored.

        Produced is what the hall's store took (its last sequence number: every reading
        gets the next one), plus any value the counter driver's own tally, kept outside
        the store, handed over that the store lacks. Stored counts the hub's readings
        with the hall's identity (store epoch and sequence number); duplicates are
        counted by content, so a reading stored twice under two identities shows too.
        The hub table the demo prints while it runs counts the same readings.
        """
        store = open_hub_store(str(self.directory / "hub.db"))
        try:
            return [self._summary(store.readings(device), device, name) for device, name in HALLS]
        finally:
            store.close()

    def _summary(
        self, at_hub: list[tuple[int, WireReading]], device: str, name: str
    ) -> NodeSummary:
        settings = load_settings(EdgeSettings, self.node_envs[device])
        with open_edge_store(settings, readonly=True) as node:
            stats = node.stats()
            counted = {
                int(reading.value)
                for reading in node.readings_between(*ALL_TIME, metrics={COUNTER_METRIC})
                if reading.value is not None
            }
        tallied = {value for value, _ in read_tally(self.directory / device / "produced.txt")}
        last_seq = stats.last_seq or 0
        produced = last_seq + len(tallied - counted)
        stored = len(
            {r.seq for epoch, r in at_hub if epoch == stats.store_epoch and 1 <= r.seq <= last_seq}
        )
        copies = Counter((r.sensor_id, r.metric, r.ts_us, r.value) for _, r in at_hub)
        return NodeSummary(
            name, produced, stored, produced - stored, sum(n - 1 for n in copies.values())
        )
