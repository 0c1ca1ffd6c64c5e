"""Other machines on this one: network namespaces joined by veth links, one of them lossy and
rate-limited (a node's poor link), and a way to cut a machine off as if it had died."""

from __future__ import annotations

import random
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


def _run(*args: str) -> None:
    subprocess.run(list(args), check=True, capture_output=True)


@dataclass(frozen=True)
class NodeHost:
    """The namespace's name, the hub side's address and the node side's address."""

    name: str
    hub_address: str
    node_address: str

    def command(self, *args: str) -> list[str]:
        """``args`` run inside the namespace."""
        return ["ip", "netns", "exec", self.name, *args]


@contextmanager
def _namespace_host() -> Iterator[tuple[NodeHost, list[str], str]]:
    """A namespace joined to this host by a veth pair: (host, the command prefix inside it,
    the namespace's end of the pair)."""
    tag = random.randrange(1 << 16)
    name, host_if, node_if = f"hs{tag}", f"hsh{tag}", f"hsn{tag}"
    octet = tag % 250 + 1
    hub_address, node_address = f"10.231.{octet}.1", f"10.231.{octet}.2"
    _run("ip", "netns", "add", name)
    try:
        _run("ip", "link", "add", host_if, "type", "veth", "peer", "name", node_if)
        _run("ip", "link", "set", node_if, "netns", name)
        _run("ip", "addr", "add", f"{hub_address}/30", "dev", host_if)
        _run("ip", "link", "set", host_if, "up")
        inside = ["ip", "netns", "exec", name]
        _run(*inside, "ip", "addr", "add", f"{node_address}/30", "dev", node_if)
        _run(*inside, "ip", "link", "set", node_if, "up")
        _run(*inside, "ip", "link", "set", "lo", "up")
        yield NodeHost(name, hub_address, node_address), inside, node_if
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
        subprocess.run(["ip", "link", "del", host_if], capture_output=True)


@contextmanager
def machine() -> Iterator[NodeHost]:
    """Another machine on this host's network: a namespace whose only link is a veth pair.

    What runs there reaches this host at ``hub_address``; :func:`cut` takes the machine
    off the network, as a machine that dies does (nothing tells the other end).
    """
    with _namespace_host() as (host, _, _):
        yield host


def cut(host: NodeHost) -> None:
    """Take the machine's link down: its connections go silent, with no FIN or RST."""
    _run("ip", "netns", "exec", host.name, "iptables", "-A", "OUTPUT", "-j", "DROP")
    _run("ip", "netns", "exec", host.name, "iptables", "-A", "INPUT", "-j", "DROP")


@contextmanager
def lossy_node_host(*, rate: str = "256kbit", drop: float = 0.05) -> Iterator[NodeHost]:
    """A namespace whose only link to this host is a veth pair with ``tbf`` shaping its
    uplink to ``rate`` and iptables dropping a random ``drop`` share of its packets.

    Needs root, iproute2 and iptables (scripts/setup installs them). The addresses are
    the project's own, inside this machine.
    """
    with _namespace_host() as (host, inside, node_if):
        _run(
            *inside, "tc", "qdisc", "add", "dev", node_if, "root", "tbf", "rate", rate,
            "burst", "16kbit", "latency", "500ms",
        )  # fmt: skip
        _run(
            *inside, "iptables", "-A", "OUTPUT", "-m", "statistic", "--mode", "random",
            "--probability", str(drop), "-j", "DROP",
        )  # fmt: skip
        yield host
