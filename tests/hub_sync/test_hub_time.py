"""The hub's time, taken by a node over real HTTPS (cheroot with TLS) pinning the council CA.

The hub's own web app (hub.web.create_hub_web) answers; the round trip's bound is tested
at its limits with the node's monotonic clock injected, over the same real TLS.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask

from edge.clock import SystemClock
from hub.store_sqlite import SqliteHubStore
from hub.web import PUBLIC_ENDPOINTS, create_hub_web
from hub_sync.hub_time import HubTimeRefused, fetch_hub_time, hub_time_source
from provisioning.enrolment_tokens import TokenStore
from tests.hub.web_support import make_app
from tests.provisioning.test_enrolment import Ca, TlsServer, make_ca
from tests.provisioning.test_enrolment import make_server_cert as make_cert

SKEW_S = 3 * 3600 + 17.25
"""The hub of some tests is this far ahead of this machine's clock: what the node takes
must be the hub's time, not its own."""


@pytest.fixture
def council_ca(tmp_path: Path) -> Ca:
    return make_ca(tmp_path / "ca", "council-ca")


def serve(tmp_path: Path, ca: Ca, app: Flask, name: str = "hub") -> TlsServer:
    cert, key = make_cert(ca, tmp_path / f"tls-{name}", name)
    return TlsServer(app, cert, key)


@pytest.fixture
def hub(tmp_path: Path, council_ca: Ca) -> Iterator[TlsServer]:
    app = create_hub_web(
        TokenStore(tmp_path / "enrolment"),
        lambda device_id: {},
        time_source=lambda: time.time() + SKEW_S,
    )
    server = serve(tmp_path, council_ca, app)
    yield server
    server.stop()


def fake_monotonic(*values: int) -> Callable[[], int]:
    """A monotonic clock answering ``values`` in turn (the start, then the answer)."""
    answers = iter(values)
    return lambda: next(answers)


def test_a_node_takes_the_hubs_time_within_the_bound(hub: TlsServer, council_ca: Ca) -> None:
    before = time.time_ns()
    sample = fetch_hub_time(hub.url, ca_file=council_ca.pem_path)
    after = time.time_ns()
    skew_ns = int(SKEW_S * 1e9)
    error_ns = int(sample.error_s * 1e9)
    assert before + skew_ns - error_ns <= sample.unix_ns <= after + skew_ns + error_ns
    assert sample.error_s == pytest.approx(sample.round_trip_s / 2 + 0.001, abs=1e-9)
    assert 0 < sample.round_trip_s < 2
    assert sample.source == f"{hub.url}/time"


def test_a_bound_exactly_at_the_limit_is_taken_and_one_nanosecond_over_is_refused(
    hub: TlsServer, council_ca: Ca
) -> None:
    # Half the round trip plus the 1 ms of unix_ms: 1.999 s + 0.001 s = the 2 s accepted.
    start = 5 * 10**9
    at_limit = fetch_hub_time(
        hub.url,
        ca_file=council_ca.pem_path,
        max_error_s=2.0,
        monotonic_ns=fake_monotonic(start, start + 3_998_000_000),
    )
    assert at_limit.error_s == 2.0
    assert at_limit.monotonic_ns == start + 1_999_000_000
    with pytest.raises(HubTimeRefused) as refused:
        fetch_hub_time(
            hub.url,
            ca_file=council_ca.pem_path,
            max_error_s=2.0,
            monotonic_ns=fake_monotonic(start, start + 3_998_000_001),
        )
    assert str(refused.value) == (
        "the hub's time is known only to within 2.000 s (a round trip of 3.998 s), more "
        "than the 2 s accepted"
    )


def test_a_round_trip_over_ten_seconds_is_refused_whatever_the_bound(
    hub: TlsServer, council_ca: Ca
) -> None:
    start = 7 * 10**9
    taken = fetch_hub_time(
        hub.url,
        ca_file=council_ca.pem_path,
        max_error_s=60,
        monotonic_ns=fake_monotonic(start, start + 10 * 10**9),
    )
    assert taken.error_s == 5.001
    with pytest.raises(HubTimeRefused, match=r"^the hub took 10\.000 s to answer, longer than"):
        fetch_hub_time(
            hub.url,
            ca_file=council_ca.pem_path,
            max_error_s=60,
            monotonic_ns=fake_monotonic(start, start + 10 * 10**9 + 1),
        )


def test_a_hub_signed_by_another_ca_is_refused(
    tmp_path: Path, hub: TlsServer, council_ca: Ca
) -> None:
    rogue_ca = make_ca(tmp_path / "rogue", "council-ca")  # the same name, another key
    with pytest.raises(HubTimeRefused, match="not signed by the council CA") as refused:
        fetch_hub_time(hub.url, ca_file=rogue_ca.pem_path)
    assert str(refused.value).startswith(f"TLS with {hub.url}/time failed")
    # And a server with a certificate from another CA, pinned to the council's.
    rogue = serve(tmp_path, rogue_ca, Flask("rogue"), "rogue")
    try:
        with pytest.raises(HubTimeRefused, match="not signed by the council CA"):
            fetch_hub_time(rogue.url, ca_file=council_ca.pem_path)
    finally:
        rogue.stop()


def test_plain_http_and_unreachable_hubs_are_refused_in_words(council_ca: Ca) -> None:
    with pytest.raises(HubTimeRefused, match="is not an https:// address"):
        fetch_hub_time("http://127.0.0.1:1", ca_file=council_ca.pem_path)
    with pytest.raises(
        HubTimeRefused, match=r"^cannot reach the hub at https://127\.0\.0\.1:1/time"
    ):
        fetch_hub_time("https://127.0.0.1:1", ca_file=council_ca.pem_path)


def test_a_hub_without_time_is_read_from_its_date_header_to_the_second(
    tmp_path: Path, council_ca: Ca
) -> None:
    older = Flask("older-hub")  # /time answers 404, dated as every answer is
    server = serve(tmp_path, council_ca, older, "older")
    try:
        before = time.time_ns()
        sample = fetch_hub_time(server.url, ca_file=council_ca.pem_path)
        after = time.time_ns()
    finally:
        server.stop()
    assert sample.source == f"the Date of {server.url}/time"
    assert sample.error_s == pytest.approx(sample.round_trip_s / 2 + 1.0, abs=1e-9)
    error_ns = int(sample.error_s * 1e9)
    assert before - error_ns <= sample.unix_ns <= after + error_ns


def test_an_answer_that_is_no_time_is_refused(tmp_path: Path, council_ca: Ca) -> None:
    odd = Flask("odd-hub")
    odd.add_url_rule("/time", "time", lambda: {"unix_ms": "soon"}, methods=["POST"])
    server = serve(tmp_path, council_ca, odd, "odd")
    try:
        with pytest.raises(HubTimeRefused, match="is not a time: no unix_ms in it"):
            fetch_hub_time(server.url, ca_file=council_ca.pem_path)
    finally:
        server.stop()


def test_time_is_public_on_a_hub_with_logins(tmp_path: Path) -> None:
    store = SqliteHubStore(tmp_path / "hub.db")
    try:
        client = make_app(tmp_path, store).test_client()
        for answer in (client.get("/time"), client.post("/time")):
            assert answer.status_code == 200
            assert answer.json is not None
            assert abs(answer.json["unix_ms"] - time.time() * 1000) < 5000
            assert answer.headers["Cache-Control"] == "no-store"
        assert client.get("/fleet").status_code == 302  # the rest still needs a log-in
    finally:
        store.close()
    assert "hub_time.now" in PUBLIC_ENDPOINTS


def test_the_nodes_clock_takes_the_hubs_time_where_ntp_never_answers(
    hub: TlsServer, council_ca: Ca
) -> None:
    clock = SystemClock(
        "hub",
        reference=hub_time_source(hub.url, ca_file=council_ca.pem_path),
        start=lambda work: work(),
    )
    sample = clock.sample()
    assert sample.synchronised
    assert sample.error_s is not None
    assert sample.error_s < 1
    skewed = datetime.fromtimestamp(time.time() + SKEW_S, UTC)
    assert abs((sample.wall - skewed).total_seconds()) < sample.error_s + 0.5
    assert abs(sample.correction_us / 1e6 - SKEW_S) < sample.error_s + 0.5
    assert clock.describe(sample).startswith("Clock set from the hub's time (to within")
