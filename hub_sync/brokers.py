"""More than one broker: their addresses, and the rule by which a node moves between them.

A county may run a second broker (on another machine) so that losing one loses nothing:
``HALLSENSE_OTHER_BROKERS`` names the others, ``host[:port]`` comma-separated, on both
ends. The hub's workers subscribe on every broker (:mod:`hub.service`); a node talks to
one at a time, by this rule (:class:`BrokerRotation`):

- it starts with ``HALLSENSE_BROKER_HOST`` (the first of the list);
- after :data:`MOVES_AFTER` failed connection attempts in a row to one broker (whatever
  the transport: the ``auto`` fallback between MQTT/TLS and WebSockets has had its turn
  within them), it tries the next broker, and after the last the first again;
- a connection that is lost is tried again at the same broker first (a broker restart
  takes seconds); it stays with whichever broker answers, so when a broker comes back the
  nodes that moved away stay where they are until that one fails in turn.

Exactly-once does not care which broker carried a batch: the node forgets a reading only
on the hub's ack, and the hub stores each reading once however often it arrives.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

MOVES_AFTER = 6
"""Failed attempts in a row at one broker before a node tries the next: twice the
transport fallback's three, so that both transports are tried first."""

Address = tuple[str, int]


def parse_brokers(text: str, default_port: int) -> tuple[Address, ...]:
    """``host[:port]`` items, comma-separated (the port defaults to ``default_port``).

    Raises:
        ValueError: an item that is not a host with an optional port from 1 to 65535.
    """
    found: list[Address] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        host, _, port_text = item.rpartition(":") if item.count(":") == 1 else (item, "", "")
        if not host or any(c.isspace() or c in "/@[]" for c in item):
            raise ValueError(f"{item[:60]!r} is not host[:port]")
        if port_text and not (port_text.isdigit() and 1 <= int(port_text) <= 65535):
            raise ValueError(f"{item[:60]!r}: the port must be a number from 1 to 65535")
        found.append((host, int(port_text) if port_text else default_port))
    return tuple(found)


class BrokerRotation:
    """Which broker a node tries next (called from paho's network thread only).

    ``log(words)`` is told of each move.
    """

    def __init__(self, addresses: Sequence[Address], *, log: Callable[[str], None]) -> None:
        if not addresses:
            raise ValueError("at least one broker")
        self.addresses = tuple(addresses)
        self.index = 0
        self.failures = 0
        self._log = log

    @property
    def current(self) -> Address:
        """The broker tried now."""
        return self.addresses[self.index]

    def failed(self) -> Address | None:
        """An attempt failed; the broker to try next, or None to stay."""
        self.failures += 1
        if len(self.addresses) == 1 or self.failures < MOVES_AFTER:
            return None
        before = self.current
        self.index = (self.index + 1) % len(self.addresses)
        self.failures = 0
        host, port = self.current
        self._log(
            f"no connection to the broker at {before[0]}:{before[1]} in {MOVES_AFTER} "
            f"attempts: trying the broker at {host}:{port}"
        )
        return self.current

    def connected(self) -> None:
        """An attempt connected: stay with this broker."""
        self.failures = 0
