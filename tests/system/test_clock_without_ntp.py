"""A node whose network blocks NTP takes its time from the hub, over TLS pinned to the CA.

A real ``hallsense edge run`` in its own network namespace, UDP 123 dropped there, its
clock check trusting nothing but the hub's time (``HALLSENSE_CLOCK_CHECK=hub``: there is
no NTP daemon in a namespace, and the machine's own kernel may well be synchronised).
The hub's web app is served over real TLS (cheroot, a certificate from the council CA
for the hub's address on the namespace's link) and its clock runs :data:`SKEW` ahead of
this machine's: as far as the node can tell, its own system clock is :data:`SKEW` behind
the truth, as a Pi's is after a power cut. The truth the test knows is this machine's
clock plus :data:`SKEW`.

The hub is out of reach at first (its port rejected in the namespace): readings are held
back. Then the link opens: the node's next ask gets the hub's time, the held readings are
released with corrected times, and new readings are stamped right, all within the bound
the node states.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.web import create_hub_web
from presentation.reading_flags import Quality
from provisioning.certificates import issue_server_certificate, new_ca
from provisioning.enrolment_tokens import TokenStore
from tests.provisioning.test_enrolment import TlsServer
from tests.support.edge_process import EdgeProcess, wait_for, write_env
from tests.support.netns import lossy_node_host

pytestmark = pytest.mark.slow

SKEW = 2 * 3600 + 13.5
"""How far the hub's clock (the truth) is ahead of the node's system clock, in seconds."""
SLEW_S = 0.02
"""Slack for this machine's clock being slewed by its own NTP while the test runs (at most
500 ppm over the test's seconds) against the node's monotonic clock."""


def in_namespace(host, *args: str) -> None:
    subprocess.run(host.command(*args), check=True, capture_output=True)


def rows(db: Path) -> list[tuple[int, int, int, bool]]:
    """(seq, ts_us, quality, held back) of every reading, read-only."""
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [
            (seq, ts_us, quality, bool(held))
            for seq, ts_us, quality, held in conn.execute(
                "SELECT r.seq, r.ts_us, r.quality, h.seq IS NOT NULL FROM readings r "
                "LEFT JOIN held h ON h.seq = r.seq ORDER BY r.seq"
            )
        ]
    except sqlite3.OperationalError:  # not made yet
        return []
    finally:
        conn.close()


def hub_serving(tmp_path: Path, ca, address: str) -> TlsServer:
    """The hub's web app, its clock SKEW ahead, over TLS with a council CA certificate."""
    issued = issue_server_certificate(ca, ips=[address])
    cert, key = tmp_path / "hub.crt", tmp_path / "hub.key"
    cert.write_bytes(issued.certificate_pem())
    key.write_bytes(issued.private_key_pem())
    key.chmod(0o600)
    app = create_hub_web(
        TokenStore(tmp_path / "enrolment"),
        lambda device_id: {},
        time_source=lambda: time.time() + SKEW,
    )
    return TlsServer(app, cert, key, host=address)


def test_a_node_without_ntp_takes_the_hubs_time_and_corrects_its_held_readings(tmp_path):
    ca = new_ca("council CA")
    ca_file = tmp_path / "ca.crt"
    ca_file.write_bytes(ca.certificate_pem())
    with lossy_node_host(rate="1mbit", drop=0.0) as host:
        hub = hub_serving(tmp_path, ca, host.hub_address)
        edge = None
        try:
            ntp = ["OUTPUT", "-p", "udp", "--dport", "123", "-j", "DROP"]
            in_namespace(host, "iptables", "-A", *ntp)  # the council blocks NTP
            to_hub = ["OUTPUT", "-p", "tcp", "-d", host.hub_address, "--dport", str(hub.port),
                      "-j", "REJECT", "--reject-with", "tcp-reset"]  # fmt: skip
            in_namespace(host, "iptables", "-A", *to_hub)
            data = tmp_path / "node"
            env = write_env(
                tmp_path / "edge.env",
                data_dir=data,
                drivers="counter",
                counter_interval_s=0.1,
                commit_interval_s=0.2,
                clock_check="hub",
                clock_hub_url=hub.url,
                broker_ca_file=ca_file,
                clock_hub_every_s=60,
            )
            started = time.time()
            edge = EdgeProcess(env, tmp_path / "edge.log").start(prefix=tuple(host.command()))
            db = data / "hallsense.db"
            wait_for(
                lambda: sum(held for *_, held in rows(db)) >= 10,
                30,
                f"no readings held back:\n{edge.log()}",
            )
            assert (
                f"no time from the hub at {host.hub_address}:{hub.port} (the node keeps asking): "
                f"cannot reach the hub at {hub.url}/time" in edge.log()
            )
            before = {seq: ts for seq, ts, _, held in rows(db) if held}
            assert all(abs(ts / 1e6 - time.time()) < 60 for ts in before.values())

            in_namespace(host, "iptables", "-D", *to_hub)  # the link to the hub opens
            opened = time.time()
            wait_for(
                lambda: rows(db) and not any(held for *_, held in rows(db)),
                60,
                f"held readings never released:\n{edge.log()}",
            )
            wait_for(
                lambda: len(rows(db)) >= len(before) + 20, 30, f"no new readings:\n{edge.log()}"
            )
            edge.terminate()
            stopped = time.time()
        finally:
            if edge is not None:
                edge.stop()
            hub.stop()

    log = edge.log()
    said = re.search(
        r"taking the time from the hub at (\S+), 2 h 0 min 13\.\d{3} s ahead of the system "
        r"clock, to within (\d+\.\d{3}) s",
        log,
    )
    assert said, log
    assert said.group(1) == f"{host.hub_address}:{hub.port}"
    bound = float(said.group(2))
    assert bound <= 2.0  # HALLSENSE_CLOCK_HUB_MAX_ERROR_S's default
    assert "clock synchronised: corrected the time of" in log

    stored = rows(db)
    # Every reading held back is released, its time moved onto the hub's, within the bound.
    corrected = {seq: (ts, quality) for seq, ts, quality, _ in stored if seq in before}
    assert corrected.keys() == before.keys()
    for seq, (ts, quality) in corrected.items():
        assert Quality(quality) == Quality.CLOCK_CORRECTED
        assert abs(ts / 1e6 - (before[seq] / 1e6 + SKEW)) <= bound + SLEW_S, seq
    # Readings taken once the hub's time arrived are stamped with it, never held back.
    later = [(seq, ts, quality) for seq, ts, quality, _ in stored if seq not in before]
    assert len(later) >= 20
    for seq, ts, quality in later:
        # (Any held in the instant before the sample are released corrected, as above.)
        assert not quality & (Quality.CLOCK_UNSYNCED | Quality.CLOCK_UNCORRECTABLE), seq
        assert started + SKEW - bound - SLEW_S <= ts / 1e6 <= stopped + SKEW + bound + SLEW_S
    # And in sequence order, the times only go forwards (no reading on the old clock).
    stamps = [ts for _, ts, _, _ in stored]
    assert stamps == sorted(stamps)
    assert min(stamps) / 1e6 >= started + SKEW - bound - SLEW_S
    assert datetime.fromtimestamp(max(stamps) / 1e6, UTC).timestamp() <= stopped + SKEW + bound
    assert opened < stopped
