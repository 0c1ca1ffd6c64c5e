"""Start several jobs at the same moment, each in a thread of its own, and collect what
they return: the race a test wants to see happen (two writers, two senders)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def at_once(*jobs: Callable[[], Any], timeout: float = 120.0) -> list[Any]:
    """What each job returned, in the order they finished."""
    start = threading.Barrier(len(jobs))
    outcomes: list[Any] = []

    def run(job: Callable[[], Any]) -> None:
        start.wait()
        outcomes.append(job())

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return outcomes
