"""The limit of failed attempts per client address, for every route a stranger may try.

Enrolment, rotation and the hub's log-ins count each failed attempt here, and refuse a
client (429, or a wait) once it has failed too often within a window. Clients are
bucketed by address: IPv4 as is, IPv6 by its /64 network, so one host cannot dodge the
limit by walking its own network's addresses.

:class:`FailureLimiter` lives in the process's memory (a test, a single process);
:class:`SharedFailureLimiter` keeps the counts in the hub store, so that every ``hub web``
process (several behind one proxy, on one machine or several) limits a client together,
which is what ``hub web`` uses. Behind a reverse proxy the app must take the client
address from the proxy (werkzeug's ``ProxyFix``), or every client shares the proxy's
budget.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Protocol

from provisioning.log_limit import LogLimiter

Clock = Callable[[], float]


def client_key(address: str) -> str:
    """The rate-limit bucket of a client address: IPv4 as is, IPv6 by its /64 network."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class FailureLimiter:
    """At most ``max_failures`` failed attempts per client in any ``window_s`` seconds.

    It also keeps the log quiet: :meth:`log_refusal` writes at most one line per client
    every ``log_interval_s`` seconds, and the next line it writes says how many it left
    out, so a client failing in a loop costs one line a minute, not one a request.

    Thread-safe; memory is bounded by ``max_clients`` (the least recently failing are
    forgotten first).
    """

    def __init__(
        self,
        max_failures: int = 5,
        window_s: float = 60.0,
        *,
        clock: Clock = time.monotonic,
        max_clients: int = 10_000,
        log_interval_s: float = 60.0,
    ) -> None:
        if max_failures < 1 or window_s <= 0:
            raise ValueError("max_failures must be at least 1 and window_s positive")
        self.max_failures = max_failures
        self.window_s = window_s
        self.log_interval_s = log_interval_s
        self._clock = clock
        self._max_clients = max_clients
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._log_limits: dict[str, LogLimiter] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def retry_after(self, client: str) -> float | None:
        """Seconds until ``client`` may try again, or None if it may try now."""
        key = client_key(client)
        with self._lock:
            now = self._clock()
            times = self._recent(key, now)
            if times is None or len(times) < self.max_failures:
                return None
            return times[-self.max_failures] + self.window_s - now

    def failed(self, client: str) -> None:
        """Count one failed attempt of ``client``."""
        key = client_key(client)
        with self._lock:
            now = self._clock()
            times = self._recent(key, now) or deque(maxlen=self.max_failures)
            times.append(now)
            self._failures[key] = times
            self._failures.move_to_end(key)
            while len(self._failures) > self._max_clients:
                self._failures.popitem(last=False)

    def log_refusal(self, logger: logging.Logger, client: str, what: str, code: str) -> bool:
        """Log "``what`` from ``client`` refused: ``code``", at most once per interval.

        Nothing is written when this client's last such line is less than
        ``log_interval_s`` old; returns whether a line was written. ``what`` and ``code``
        must be the caller's own words or checked values: they go into the log as they are.
        """
        limiter = self._log_limits.get(logger.name)
        if limiter is None:
            limiter = self._log_limits.setdefault(
                logger.name,
                LogLimiter(
                    logger, self.log_interval_s, clock=self._clock, max_keys=self._max_clients
                ),
            )
        return limiter.log(
            client_key(client), logging.WARNING, "%s from %s refused: %s", what, client, code
        )


class FailureCounts(Protocol):
    """Failed attempts as the hub store keeps them, shared by every ``hub web`` process."""

    def add_failure(self, kind: str, key: str, at_us: int, forget_before_us: int) -> None:
        """Count one failure of ``key``, forgetting its failures at or before the second time."""
        ...

    def forget_failures(self, kind: str, before_us: int) -> int:
        """Forget every failure of ``kind`` at or before ``before_us``; returns how many."""
        ...

    def failures_since(self, kind: str, key: str, since_us: int, limit: int) -> list[int]:
        """The times of ``key``'s latest failures after ``since_us``, newest first (``limit``)."""
        ...


FORGET_EVERY = 100
"""How many failures a :class:`SharedFailureLimiter` counts between sweeps of old ones."""


def stored_key(client: str) -> str:
    """What the store keeps of a client: the SHA-256 of its bucket, never the text itself.

    A log-in name that failed may be a password typed in the wrong box, and may hold any
    character (a NUL, which PostgreSQL's text refuses); its digest is neither.
    """
    return hashlib.sha256(client_key(client).encode("utf-8", "backslashreplace")).hexdigest()


class SharedFailureLimiter(FailureLimiter):
    """A :class:`FailureLimiter` whose counts live in the hub store, not in this process.

    Several ``hub web`` processes behind one proxy (or on several machines) then refuse a
    client together: five wrong passwords spread over two processes are still five. Times
    are wall-clock (every process must agree on them), in the store's microseconds.
    ``counts()`` gives a store connection to use now; ``kind`` keeps the limiters that
    share it apart (log-ins by name, by address, enrolment). The log-quietening stays in
    each process: it only saves log lines.
    """

    def __init__(
        self,
        counts: Callable[[], FailureCounts],
        kind: str,
        max_failures: int = 5,
        window_s: float = 60.0,
        *,
        clock: Clock = time.time,
        log_interval_s: float = 60.0,
    ) -> None:
        super().__init__(max_failures, window_s, clock=clock, log_interval_s=log_interval_s)
        self.counts = counts
        self.kind = kind
        self._counted = 0

    def retry_after(self, client: str) -> float | None:
        """Seconds until ``client`` may try again, or None if it may try now."""
        now = self._clock()
        window_us = int(self.window_s * 1_000_000)
        recent = self.counts().failures_since(
            self.kind, stored_key(client), int(now * 1_000_000) - window_us, self.max_failures
        )
        if len(recent) < self.max_failures:
            return None
        return (recent[-1] + window_us) / 1_000_000 - now

    def failed(self, client: str) -> None:
        """Count one failed attempt of ``client``.

        Every :data:`FORGET_EVERY` failures this process counts, the store also forgets
        every client's failures that have left the window, so the table holds only what
        can still hold someone back, however many addresses have tried.
        """
        now_us = int(self._clock() * 1_000_000)
        forget_before = now_us - int(self.window_s * 1_000_000)
        counts = self.counts()
        counts.add_failure(self.kind, stored_key(client), now_us, forget_before)
        self._counted += 1
        if self._counted % FORGET_EVERY == 0:
            counts.forget_failures(self.kind, forget_before)
