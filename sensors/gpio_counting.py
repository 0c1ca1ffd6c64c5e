"""Telling people from bounce: the GPIO driver's debounce and the beam pair's direction rule.

Pure logic on a clock of seconds, no pins: the GPIO driver (sensors/gpio.py) feeds it
each edge it gets from gpiozero.
"""

from __future__ import annotations

from typing import Literal

Beam = Literal["beam", "outer", "inner"]
Passage = Literal["entry", "exit"]

PAIR_WINDOW_S = 2.0
"""Outer then inner (or inner then outer) within this many seconds is one person passing."""


class BeamDebouncer:
    """Tells a new break of one beam from contact bounce and a flickering beam.

    A break counts only if the beam had been steady (no edge either way) for
    ``window_s`` before it: the chatter of a receiver as a coat edge crosses the beam,
    and the flicker as it clears, count once or not at all.
    """

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._last_edge: float | None = None

    def edge(self, at: float, broken: bool) -> bool:
        """Record an edge at ``at`` seconds; True if it is a new break to count.

        Args:
            at: seconds on any steadily increasing clock.
            broken: True for the beam being broken, False for it clearing.
        """
        last, self._last_edge = self._last_edge, at
        return broken and (last is None or at - last >= self.window_s)


class DirectionTracker:
    """Tells entries from exits on a pair of beams a few centimetres apart.

    Someone coming in breaks the outer (street-side) beam and then the inner one within
    ``window_s``; someone leaving breaks them the other way round. A break with no
    partner in time (a hand, a bag, someone turning back) counts as no one.
    """

    def __init__(self, window_s: float = PAIR_WINDOW_S) -> None:
        self.window_s = window_s
        self._pending: tuple[Literal["outer", "inner"], float] | None = None

    def broken(self, beam: Literal["outer", "inner"], at: float) -> Passage | None:
        """Beam ``beam`` was broken at ``at`` seconds: an entry, an exit, or not yet known."""
        pending, self._pending = self._pending, None
        if pending is not None and pending[0] != beam and at - pending[1] <= self.window_s:
            return "entry" if pending[0] == "outer" else "exit"
        self._pending = (beam, at)
        return None
