"""The hub side of the fleet bench: a provisioned broker, the hub store and `hallsense hub run`.

Everything as a council would run it: ``provision init``'s state (the CA, the broker's
certificate and its configuration: TLS for the halls, the hub's own TLS listener), one
broker account per hall made in bulk (:func:`provisioning.state.add_device_accounts`),
Mosquitto on that configuration, every hall registered in the hub store (SQLite, or a
throwaway PostgreSQL), and ``hallsense hub run`` with its default writers and quotas.
Also the figures the bench reads off those processes: CPU seconds and resident memory
from ``/proc``, a process and its children together (PostgreSQL's server processes).
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.fleet_halls import Target
from hub.store_factory import open_hub_store
from provisioning.device_accounts import add_device_accounts
from provisioning.state import ProvisioningState, init_state
from tests.support.broker import free_port
from tests.support.hub_process import HubProcess
from tests.support.ports import wait_listening
from tests.support.postgres import postgres_for_tests
from tests.support.provisioned import provisioned_hub_env

TICKS = os.sysconf("SC_CLK_TCK")


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def _tree(pid: int) -> list[int]:
    tree = _children()
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(tree.get(current, []))
    return found


def cpu_s(pid: int, *, children: bool = False) -> float:
    """CPU seconds (user and system) a process has used, with its children's if asked."""
    total = 0
    for each in _tree(pid) if children else [pid]:
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def rss_mb(pid: int) -> float:
    """A process's resident memory in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextmanager
def hub_location(kind: str, scratch: Path) -> Iterator[tuple[str, int | None]]:
    """(the hub store's location, its server's pid or None) for ``sqlite`` or ``postgres``."""
    if kind == "sqlite":
        yield str(scratch / "hub.db"), None
        return
    server = postgres_for_tests()
    try:
        pid = None
        data = getattr(server, "data", None)  # a throwaway cluster, not HALLSENSE_TEST_PG_DSN
        if data is not None:
            pid = int((Path(data) / "postmaster.pid").read_text().split()[0])
        yield server.new_database(), pid
    finally:
        server.destroy()


@dataclass
class FleetStack:
    """The broker, the hub store and the hub, for ``halls`` hall accounts."""

    scratch: Path
    state: ProvisioningState
    passwords: dict[str, str]
    target: Target
    location: str
    conf: Path
    broker: subprocess.Popen[bytes] | None = None
    hub: HubProcess | None = None

    @classmethod
    def provision(cls, scratch: Path, device_ids: list[str], location: str) -> FleetStack:
        """The state, every hall's broker account and hub registration; nothing started."""
        device_port, service_port = free_port(), free_port()
        state = init_state(
            scratch / "state",
            hostnames=["localhost"],
            ips=["127.0.0.1"],
            port_tls=device_port,
            service_port=service_port,
            run_as="root",
        )
        passwords = add_device_accounts(state, device_ids)
        conf = state.layout.conf_path  # as generated: its logging is part of the cost
        store = open_hub_store(location)
        try:
            for device_id in device_ids:
                store.add_device(device_id, f"Village Hall {device_id.rsplit('-', 1)[-1]}")
        finally:
            store.close()
        target = Target("localhost", device_port, state.layout.ca_cert)
        return cls(scratch, state, passwords, target, location, conf)

    def start_broker(self) -> None:
        """Start Mosquitto and wait until it listens."""
        out = self.scratch / "mosquitto.out"
        with out.open("ab") as sink:
            self.broker = subprocess.Popen(
                ["mosquitto", "-c", str(self.conf)], stdout=sink, stderr=sink
            )
        wait_listening(self.target.port, self.broker, out, timeout=30)

    def stop_broker(self) -> None:
        """Stop Mosquitto as a service manager does (SIGTERM: it saves its sessions)."""
        if self.broker is not None:
            self.broker.send_signal(signal.SIGTERM)
            self.broker.wait(60)
            self.broker = None

    def start_hub(self) -> None:
        """Start `hallsense hub run` and wait until it takes messages."""
        env = provisioned_hub_env(
            self.scratch,
            self.state,
            self.state.settings.service_port,
            self.location,
            session_expiry_s=600,
        )
        self.hub = HubProcess(env, self.scratch / "hub.log").start()
        self.hub.wait_started(timeout=60)

    def stop(self) -> None:
        """Stop the hub and the broker."""
        if self.hub is not None:
            self.hub.stop()
        if self.broker is not None and self.broker.poll() is None:
            self.broker.kill()
            self.broker.wait(10)
