"""The hub's time, authenticated: the contract of ``/time`` and the node's sample of it.

Where a council network blocks NTP, a node takes its time from the hub instead, over the
same TLS the node trusts for everything else it gets from the hub: the council CA pinned
by :func:`hub_sync.hub_https.post_to_hub`. The hub answers ``/time`` with
``{"unix_ms": …}`` (and every answer of the hub's web carries a ``Date`` header, to the
second, which serves from a hub too old to have ``/time``).

The node measures the round trip with its monotonic clock. The hub read its clock at some
instant between the request leaving and the answer arriving, so its time at the midpoint
is known to within half the round trip, plus the resolution of what it sent (1 ms, or 1 s
for a ``Date``). A sample whose bound is over what the node accepts, whose round trip is
too long, or that did not come over the pinned TLS is refused, saying why.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from hub_sync.enrolment_contract import EnrolmentError
from hub_sync.hub_https import answer_json, post_to_hub

TIME_PATH = "/time"
"""The hub's time route (GET for people, POST for nodes: the one helper nodes call)."""
UNIX_MS = "unix_ms"
"""The answer's field: the hub's time, milliseconds since 1970-01-01 UTC."""

MS_RESOLUTION_NS = 1_000_000
DATE_RESOLUTION_NS = 1_000_000_000
MAX_ROUND_TRIP_S = 10.0
"""A sample whose round trip is longer than this is refused, whatever its bound."""
DEFAULT_MAX_ERROR_S = 2.0
DEFAULT_TIMEOUT_S = 5.0
_LATEST_MS = 2**53
"""Larger is no time (and not exact in JSON's numbers)."""


class HubTimeRefused(Exception):
    """No usable time from the hub; the message says why, in words."""


@dataclass(frozen=True, slots=True)
class HubTime:
    """The hub's time at one instant of the node's monotonic clock.

    ``unix_ns`` is the hub's time (ns since 1970 UTC) at ``monotonic_ns`` (the node's
    CLOCK_MONOTONIC at the midpoint of the round trip), known to within ``error_s``.
    """

    unix_ns: int
    monotonic_ns: int
    error_s: float
    round_trip_s: float
    source: str


def fetch_hub_time(
    hub_url: str,
    *,
    ca_file: str | os.PathLike[str],
    max_error_s: float = DEFAULT_MAX_ERROR_S,
    max_round_trip_s: float = MAX_ROUND_TRIP_S,
    timeout: float = DEFAULT_TIMEOUT_S,
    proxies: Mapping[str, str] | None = None,
    monotonic_ns: Callable[[], int] = time.monotonic_ns,
) -> HubTime:
    """Ask the hub at ``hub_url`` (``https://host[:port][/prefix]``) its time.

    Trusts only the council CA in ``ca_file``. ``monotonic_ns`` is an advanced
    injection point for tests.

    Raises:
        HubTimeRefused: not https, the TLS or the connection failed, the round trip took
            longer than ``max_round_trip_s``, the bound is over ``max_error_s``, or the
            answer carries no time.
    """
    if not hub_url.startswith("https://"):
        raise HubTimeRefused(f"{hub_url!r} is not an https:// address: the hub's time is over TLS")
    url = hub_url.rstrip("/") + TIME_PATH
    start = monotonic_ns()
    try:
        response = post_to_hub(url, ca_file=ca_file, timeout=timeout, proxies=proxies)
    except (EnrolmentError, requests.RequestException, OSError) as error:  # TLS, no route
        raise HubTimeRefused(str(error)) from error
    end = monotonic_ns()
    round_trip_ns = end - start
    round_trip_s = round_trip_ns / 1e9
    if round_trip_ns > round(max_round_trip_s * 1e9):
        raise HubTimeRefused(
            f"the hub took {round_trip_s:.3f} s to answer, longer than the "
            f"{max_round_trip_s:g} s a time sample may take"
        )
    unix_ns, resolution_ns, source = _time_in(response, url)
    error_ns = (round_trip_ns + 1) // 2 + resolution_ns
    if error_ns > round(max_error_s * 1e9):
        raise HubTimeRefused(
            f"the hub's time is known only to within {error_ns / 1e9:.3f} s (a round trip of "
            f"{round_trip_s:.3f} s), more than the {max_error_s:g} s accepted"
        )
    return HubTime(
        unix_ns=unix_ns,
        monotonic_ns=start + round_trip_ns // 2,
        error_s=error_ns / 1e9,
        round_trip_s=round_trip_s,
        source=source,
    )


def _time_in(response: requests.Response, url: str) -> tuple[int, int, str]:
    """(the hub's time in ns, its resolution in ns, where it came from) of an answer."""
    if response.status_code == 200:
        answer: Any = answer_json(response)
        value = answer.get(UNIX_MS) if isinstance(answer, dict) else None
        if type(value) is not int or not 0 < value < _LATEST_MS:
            raise HubTimeRefused(f"the hub's answer at {url} is not a time: no {UNIX_MS} in it")
        return value * 1_000_000, MS_RESOLUTION_NS, url
    # A hub without /time (404, 405) still dates its answer, to the second.
    date = response.headers.get("Date", "")
    try:
        when = parsedate_to_datetime(date)
    except (TypeError, ValueError, IndexError):
        raise HubTimeRefused(
            f"the hub answered {url} with {response.status_code} and no usable Date header"
        ) from None
    if when.tzinfo is None:
        raise HubTimeRefused(f"the hub's Date header {date!r} gives no time zone")
    return int(when.timestamp()) * 1_000_000_000, DATE_RESOLUTION_NS, f"the Date of {url}"


def hub_time_source(
    hub_url: str,
    *,
    ca_file: str | os.PathLike[str],
    max_error_s: float = DEFAULT_MAX_ERROR_S,
    proxies: Mapping[str, str] | None = None,
) -> Callable[[], HubTime]:
    """A callable taking one sample of the hub's time each call (for the node's clock)."""

    def sample() -> HubTime:
        return fetch_hub_time(hub_url, ca_file=ca_file, max_error_s=max_error_s, proxies=proxies)

    return sample
