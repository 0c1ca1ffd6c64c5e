"""The outbox as the uplink sees it: the store's readings to send, and where acks go.

The edge store offers exactly this (``edge.outbox.OutboxRow`` rows); the uplink depends
only on these Protocols, so ``hub_sync`` never imports the node's tower.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol


class OutboxReading(Protocol):
    """One reading waiting in the outbox, read by name (the edge store's ``OutboxRow``)."""

    @property
    def seq(self) -> int: ...  # noqa: D102

    @property
    def sensor_id(self) -> str: ...  # noqa: D102

    @property
    def metric(self) -> str: ...  # noqa: D102

    @property
    def unit(self) -> str: ...  # noqa: D102

    @property
    def ts_us(self) -> int: ...  # noqa: D102

    @property
    def value(self) -> float: ...  # noqa: D102

    @property
    def quality(self) -> int: ...  # noqa: D102

    @property
    def censor(self) -> str | None: ...  # noqa: D102


class Outbox(Protocol):
    """The durable store the uplink sends from (the edge store offers exactly this)."""

    @property
    def store_epoch(self) -> int: ...  # noqa: D102

    def outbox_rows(
        self, limit: int, *, newest_first: bool = True, skip: Sequence[tuple[int, int]] = ()
    ) -> Sequence[OutboxReading]:
        """Up to ``limit`` readings to send; ``skip`` lists the ranges already in flight."""
        ...

    def acknowledge(self, ranges: Iterable[tuple[int, int]]) -> int:
        """Record the hub's acknowledgement."""
        ...

    def reject(self, ranges: Iterable[tuple[int, int]], reason: str) -> int:
        """Record the hub's refusal."""
        ...
